import type { AuditBreakReason, AuditVerification } from '../../domain/store-port.ts';

const reasons: Record<'de' | 'en', Record<AuditBreakReason, string>> = {
  de: {
    hash_mismatch: 'der Inhalt des Eintrags passt nicht zu seinem Hash (nachträglich geändert)',
    prev_hash_mismatch: 'der Eintrag verweist nicht auf den Hash seines Vorgängers (Eintrag ersetzt oder eingefügt)',
    seq_gap: 'die Nummerierung springt (Einträge fehlen)',
  },
  en: {
    hash_mismatch: "the entry's content does not match its hash (altered after the fact)",
    prev_hash_mismatch: "the entry does not point to its predecessor's hash (entry replaced or inserted)",
    seq_gap: 'the sequence jumps (entries are missing)',
  },
};

// The text `lagebot audit verify` prints. Pure, so the CLI and a chat command say the same.
export function formatAuditVerification(result: AuditVerification, lang: 'de' | 'en'): string {
  if (result.ok) {
    return lang === 'de'
      ? `Protokoll intakt: ${result.count} Einträge geprüft, die Hash-Kette ist lückenlos.`
      : `Audit log intact: ${result.count} entries checked, the hash chain is unbroken.`;
  }
  const valid = result.count - 1;
  return lang === 'de'
    ? `Protokoll BESCHÄDIGT bei Eintrag Nr. ${result.brokenAtSeq}: ${reasons.de[result.reason]}. ` +
        `${valid} Einträge davor sind intakt; ab Nr. ${result.brokenAtSeq} ist dem Protokoll nicht mehr zu trauen.`
    : `Audit log BROKEN at entry #${result.brokenAtSeq}: ${reasons.en[result.reason]}. ` +
        `The ${valid} entries before it are intact; from #${result.brokenAtSeq} on the log cannot be trusted.`;
}
