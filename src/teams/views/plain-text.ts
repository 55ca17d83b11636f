// Text that a user typed or a back end sent (a reason, a justification, a display name, an echoed scope,
// a domain, a host, a region name) goes into cards and messages that Teams renders as Markdown. Left as
// it is, an operator's reason `[Prüfbericht.pdf](https://evil.example) **GENEHMIGT**` shows in the
// approvers' channel as a link and bold text (issue 13). plainText makes Teams show such a string
// literally; the bot's own texts do not go through it and keep their formatting.
//
// How, and why not backslash escapes: Teams clients disagree on them (Android and iOS have shown the
// backslashes: microsoft/AdaptiveCards#4677, #7474, MicrosoftDocs/msteams-docs#5793), and a zero-width
// space does not stop emphasis — CommonMark treats it as an ordinary character, so `*\u200bx*` is still
// emphasis. So:
// - emphasis, strikethrough and code delimiters (* _ ~ `) become look-alike characters that no Markdown
//   reads: ∗ ˍ ∼ ˋ;
// - a link needs `](` side by side, an HTML tag or autolink a letter or `/` right after `<`, an entity
//   something right after `&`, an escape punctuation right after `\`: a zero-width space goes between (and
//   after a `]` that ends a line, which the surrounding text could follow with `(`);
// - a line that would open a block (heading, list, quote, table, reference definition, setext underline)
//   starts with a zero-width space, which makes it a plain paragraph line; indentation is dropped;
// - line breaks are kept as paragraph breaks (Teams needs an empty line to break a TextBlock's line:
//   microsoft/AdaptiveCards#5538);
// - control characters and bidirectional overrides (which reorder what is shown) are removed.
// The result is idempotent, so text that went through it once may go through it again.

const ZWSP = '\u200b';

const lookAlikes: Record<string, string> = { '*': '\u2217', _: '\u02cd', '~': '\u223c', '`': '\u02cb' };

// C0/C1 controls except tab and line feed, and the bidi embeddings, overrides and isolates.
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const unwanted = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

// What opens a Markdown block at the start of a line (after the indentation, which is dropped). A line of
// digits alone counts too: the text the string is put into may go on with ". " or ") ", a list marker.
const blockStart = /^(?:[#>+\-=|:[]|\d{1,9}(?:[.)](?:\s|$)|$))/;

function plainLine(line: string): string {
  const text = line
    .trim()
    .replace(/[*_~`]/g, (c) => lookAlikes[c]!)
    .replace(/\]\(/g, `]${ZWSP}(`)
    .replace(/([<&\\])(?!\u200b)/g, `$1${ZWSP}`)
    // A `]` at the end could meet a `(` in the text the string is put into.
    .replace(/\]$/, `]${ZWSP}`);
  return blockStart.test(text) ? `${ZWSP}${text}` : text;
}

export function plainText(value: string): string {
  return value
    .replace(/\r\n?/g, '\n')
    .replace(/\t/g, ' ')
    .replace(unwanted, '')
    .split('\n')
    .map(plainLine)
    .filter((line) => line !== '')
    .join('\n\n');
}
