// One comparison key for everything a person types as a place name, a domain or a command word.
// German staff write umlauts three ways (Süd, Sued, SÜD), Teams may send decomposed or full-width
// characters, and official names carry punctuation people leave out ("Wickede (Ruhr)", "Siegen-
// Wittgenstein"). The key keeps letters, digits, '.' and '@' (domains, addresses) and folds every
// other character to a single space, so "„Olpe“?" and "olpe" compare equal.
//
// The result is only ever compared, never interpreted: "<script>" becomes the words "script", no
// more. normalizeName(normalizeName(s)) === normalizeName(s) (a property test checks it).

const UMLAUTS: Record<string, string> = { ä: 'ae', ö: 'oe', ü: 'ue', ß: 'ss' };

export function normalizeName(s: string): string {
  return (
    s
      // NFKC: full-width letters, ligatures, NBSP and composed/decomposed umlauts become one form.
      .normalize('NFKC')
      .toLowerCase()
      .replace(/[äöüß]/g, (c) => UMLAUTS[c] ?? c)
      // Other accents (é, č) are dropped rather than kept, so "Erndtebrueck" still equals itself
      // and a French keyboard's "Olpé" is one edit away at most. NFC afterwards re-composes
      // scripts whose letters decompose without marks (Hangul), keeping the key idempotent.
      .normalize('NFD')
      .replace(/\p{M}+/gu, '')
      .normalize('NFC')
      .replace(/[^\p{L}\p{N}.@]+/gu, ' ')
      .trim()
      // A trailing full stop ends a sentence ("status Olpe."), a leading one is never part of a name.
      .replace(/^[.\s]+|[.\s]+$/g, '')
  );
}

// The key without word breaks: "Siegen Wittgenstein", "Siegen-Wittgenstein" and "SiegenWittgenstein"
// are the same place.
export function compactName(s: string): string {
  return normalizeName(s).replace(/ /g, '');
}
