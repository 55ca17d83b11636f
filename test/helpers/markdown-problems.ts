import MarkdownIt from 'markdown-it';

// The oracle for "Teams shows it literally" (issue 13): a CommonMark renderer with every feature a Teams
// client might have switched on (raw HTML, tables, strikethrough), which is at least as eager to format as
// Teams' own. A text is plain when it renders to nothing but paragraphs of text.

const markdown = new MarkdownIt({ html: true, linkify: false });

export function renderMarkdown(text: string): string {
  return markdown.render(text);
}

/** The HTML elements other than paragraphs that `text` would render to; empty when it is plain. */
export function markdownProblems(text: string): string[] {
  const html = renderMarkdown(text).replace(/<\/?p>/g, '');
  return [...html.matchAll(/<\/?[a-z][^>]*>/gi)].map((m) => m[0]);
}

/** What a reader sees of `text` once rendered: the paragraphs' text, one per line, zero-width spaces removed. */
export function visibleText(text: string): string {
  return renderMarkdown(text)
    .split(/<\/p>\s*/)
    .map((p) => p.replace(/<\/?p>/g, '').trim())
    .filter(Boolean)
    .map((p) =>
      p
        .replaceAll('\u200b', '')
        .replaceAll('&lt;', '<')
        .replaceAll('&gt;', '>')
        .replaceAll('&quot;', '"')
        .replaceAll('&amp;', '&'),
    )
    .join('\n');
}

/** Every string in a card (or any JSON) together with where it is. */
export function stringsOf(value: unknown, path = '$'): Array<{ path: string; text: string }> {
  if (typeof value === 'string') return [{ path, text: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringsOf(v, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => stringsOf(v, `${path}.${k}`));
  }
  return [];
}
