import type { AuditBreakReason, AuditVerification } from '../../domain/store-port.ts';

const reasons: Record<'de' | 'en', Record<AuditBreakReason, string>> = {
  de: {
    hash_mismatch: 'der Inhalt des Eintrags passt nicht zu seinem Hash (nachträglich geändert)',
    prev_hash_mismatch: 'der Eintrag verweist nicht auf den Hash seines Vorgängers (Eintrag ersetzt oder eingefügt)',
    seq_gap: 'die Nummerierung springt (Einträge fehlen)',
    invalid_json: 'der Eintrag ist kein gültiges JSON mehr (nachträglich geändert)',
    mac_mismatch: 'der MAC des Eintrags stimmt nicht (geändert und die Hash-Kette neu berechnet)',
    mac_missing: 'dem Eintrag fehlt der MAC des Schlüssels (an der Anwendung vorbei geschrieben oder MACs entfernt)',
    unknown_key:
      'der MAC nennt einen Schlüssel, der nicht in AUDIT_KEY/AUDIT_KEY_FILE steht (alte Schlüssel nach einer Rotation behalten)',
    anchor_mismatch: 'der Eintrag weicht von seinem Anker ab (umgeschrieben)',
    truncated: 'ab hier fehlen Einträge, die ein Anker bezeugt (Ende gelöscht)',
    anchor_forged: 'ein Anker ist nicht mit dem Schlüssel signiert (Anker-Datei verändert)',
    request_state_mismatch:
      'der Antrag steht in der Tabelle nicht so, wie ihn dieser Eintrag festhält (an der Anwendung vorbei geändert)',
    request_unaudited: 'der Antrag hat keinen Eintrag im Protokoll (an der Anwendung vorbei angelegt)',
    request_missing: 'der Antrag, den dieser Eintrag festhält, fehlt in der Tabelle (gelöscht)',
  },
  en: {
    hash_mismatch: "the entry's content does not match its hash (altered after the fact)",
    prev_hash_mismatch: "the entry does not point to its predecessor's hash (entry replaced or inserted)",
    seq_gap: 'the sequence jumps (entries are missing)',
    invalid_json: 'the entry is no longer valid JSON (altered after the fact)',
    mac_mismatch: "the entry's MAC is wrong (altered and the hash chain recomputed)",
    mac_missing: 'the entry has no MAC of the key (written past the application, or the MACs were removed)',
    unknown_key: 'the MAC names a key that is not in AUDIT_KEY/AUDIT_KEY_FILE (keep old keys after a rotation)',
    anchor_mismatch: 'the entry differs from its anchor (rewritten)',
    truncated: 'entries an anchor vouches for are missing from here on (the end was deleted)',
    anchor_forged: 'an anchor is not signed with the key (the anchor file was altered)',
    request_state_mismatch: 'the request row is not what this entry recorded (changed past the application)',
    request_unaudited: 'the request has no entry in the log (created past the application)',
    request_missing: 'the request this entry recorded is missing from its table (deleted)',
  },
};

// The one line `lagebot audit verify` prints. Pure, so the CLI and a chat command say the same.
export function formatAuditVerification(result: AuditVerification, lang: 'de' | 'en'): string {
  const de = lang === 'de';
  if (result.ok) {
    const what = de
      ? `${result.count} Einträge geprüft, die Hash-Kette ist lückenlos`
      : `${result.count} entries checked, the hash chain is unbroken`;
    const macs =
      result.count === 0
        ? ''
        : result.macs === 0
          ? de
            ? '; ohne Schlüssel geprüft (nur die Hash-Kette)'
            : '; checked without a key (hash chain only)'
          : de
            ? `; ${result.macs} MACs stimmen`
            : `; ${result.macs} MACs match`;
    const more = de
      ? `; ${result.anchors} Anker und ${result.requests} Anträge stimmen überein`
      : `; ${result.anchors} anchors and ${result.requests} requests agree`;
    return de ? `Protokoll intakt: ${what}${macs}${more}.` : `Audit log intact: ${what}${macs}${more}.`;
  }
  const emptied = result.reason === 'truncated' && result.brokenAtSeq === 1;
  const reason = emptied
    ? de
      ? 'die Tabelle ist leer, aber ein Anker bezeugt Einträge (geleert)'
      : 'the table is empty, but an anchor vouches for entries (emptied)'
    : reasons[lang][result.reason];
  const where =
    result.brokenAtSeq === null
      ? de
        ? 'Protokoll BESCHÄDIGT'
        : 'Audit log BROKEN'
      : de
        ? `Protokoll BESCHÄDIGT bei Eintrag Nr. ${result.brokenAtSeq}`
        : `Audit log BROKEN at entry #${result.brokenAtSeq}`;
  const context = [
    result.requestId ? (de ? `Antrag ${result.requestId}` : `request ${result.requestId}`) : '',
    result.anchorLine ? (de ? `Anker-Datei Zeile ${result.anchorLine}` : `anchor file line ${result.anchorLine}`) : '',
  ].filter(Boolean);
  return `${where}: ${reason}${context.length > 0 ? ` (${context.join(', ')})` : ''}.`;
}
