// Renders an Adaptive Card as plain text for the terminal client: texts, facts, columns side by
// side, buttons in brackets. Charts show their fallback's text (as a client without charts would).

export function cardToText(card: unknown, options: { showActions?: boolean } = {}): string {
  const lines: string[] = [];
  const root = card as { body?: unknown[]; actions?: unknown[] };
  const inputs: string[] = [];
  for (const el of root.body ?? []) renderElement(el, lines, '', inputs);
  const actions = (root.actions ?? []) as Array<{ title?: unknown; verb?: unknown; data?: unknown }>;
  if (actions.length && options.showActions) {
    // What `lagebot chat --invoke <verb> --data '<json>'` needs to click the button; a card's inputs
    // travel in the same data, so their ids are shown there to be filled in.
    lines.push('');
    for (const a of actions) {
      // An imBack button sends its text as a message: in the terminal, that is the text to type.
      const said = (a.data as { msteams?: { type?: unknown; value?: unknown } } | undefined)?.msteams;
      const data = { ...((a.data as Record<string, unknown>) ?? {}) };
      for (const id of inputs) data[id] = `<${id}>`;
      lines.push(
        said?.type === 'imBack'
          ? `[${String(a.title ?? '?')}]  "${String(said.value)}"`
          : `[${String(a.title ?? '?')}]  --invoke ${String(a.verb)} --data '${JSON.stringify(data)}'`,
      );
    }
  } else if (actions.length) {
    lines.push('', actions.map((a) => `[${String(a.title ?? '?')}]`).join(' '));
  }
  return lines.join('\n');
}

function renderElement(node: unknown, out: string[], indent: string, inputs: string[] = []): void {
  if (!node || typeof node !== 'object') return;
  const el = node as Record<string, unknown>;
  switch (el.type) {
    case 'Input.Text':
      // A text box: its label, whether it must be filled, and the data field it fills.
      inputs.push(String(el.id));
      out.push(`${indent}${String(el.label ?? el.placeholder ?? '')}${el.isRequired ? ' *' : ''}  ⟨${String(el.id)}⟩`);
      return;
    case 'TextBlock':
      out.push(indent + String(el.text ?? ''));
      return;
    case 'FactSet':
      for (const f of (el.facts as Array<{ title?: unknown; value?: unknown }>) ?? []) {
        out.push(`${indent}${String(f.title ?? '')}: ${String(f.value ?? '')}`);
      }
      return;
    case 'ColumnSet': {
      const cells = ((el.columns as Array<{ items?: unknown[] }>) ?? []).map((c) => {
        const inner: string[] = [];
        for (const item of c.items ?? []) renderElement(item, inner, '', inputs);
        return inner.join(' ');
      });
      out.push(indent + cells.filter(Boolean).join(' | '));
      return;
    }
    case 'Container':
      if (el.separator) out.push('');
      for (const item of (el.items as unknown[]) ?? []) renderElement(item, out, indent, inputs);
      return;
    default:
      // Chart.* and anything unknown: what a client without that element shows.
      if (el.fallback && typeof el.fallback === 'object') renderElement(el.fallback, out, indent, inputs);
  }
}
