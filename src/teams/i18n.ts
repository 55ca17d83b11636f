// German is the default language of every reply and card; English where the Teams client's locale
// is English (PRODUCT.md). Keys are shared; a test checks both catalogues have the same keys.

export type Lang = 'de' | 'en';

const de = {
  'error.generic': 'Da ist etwas schiefgegangen. Bitte versuchen Sie es gleich noch einmal.',
  'error.too_long': 'Die Nachricht ist zu lang ({max} Zeichen höchstens). Bitte kürzer fassen.',
  'error.inventory_down': 'Inventar nicht erreichbar. Bitte in ein paar Minuten erneut versuchen.',
  'error.gateway_down': 'Mail-Gateway nicht erreichbar. Bitte in ein paar Minuten erneut versuchen.',
  'error.store_down':
    'Der Zustandsspeicher ist gerade nicht erreichbar; es wurde nichts geändert. Bitte später erneut versuchen.',
  'error.bad_card_data': 'Diese Kartenaktion ist ungültig oder veraltet. Bitte den Befehl neu senden.',
  'error.wrong_tenant': 'Dieser Mandant ist für Lagebot nicht freigeschaltet.',
  'error.rate_limited': 'Bitte etwas langsamer – zu viele Anfragen in kurzer Zeit. In {seconds} s geht es weiter.',
  'unknown.command': 'Den Befehl „{word}“ kenne ich nicht. Hier ist, was ich kann:',
  'scope.unknown': 'Die Region „{input}“ kenne ich nicht.',
  'scope.did_you_mean': 'Meinten Sie …?',
  'scope.ambiguous': '„{input}“ ist nicht eindeutig. Welche Region meinen Sie?',
  'scope.no_suggestion': 'Mit `status alle` sehen Sie alle Regionen.',
  'kind.verband': 'Verband',
  'kind.kreis': 'Kreis',
  'kind.kommune': 'Kommune',
  'kind.domain': 'Domäne',
  'kind.all': 'Alle',
  'all.name': 'Alle Regionen',
  'help.title': 'Lagebot – was ich kann',
  'help.intro': 'Lagebot zeigt den Patch-Stand der Kommunen und steuert die externe Mail (Vier-Augen-Prinzip).',
  'help.status':
    'Patch- und Mail-Lage einer Region: `status Kreis Olpe`, `status attendorn.de`, `status Südverband`, `status alle`',
  'help.release':
    'Freigabe externer Mail beantragen (Operator): `freigabe Nordverband eingehend Alle Clients gepatcht`',
  'help.block': 'Externe Mail sofort sperren (Operator): `sperren olpe.de beides Spam-Welle`',
  'help.requests': 'Offene Anträge: `anträge` – Protokoll: `protokoll Kreis Olpe`',
  'help.alerts': 'Spam-Alarme für diesen Kanal: `alarme an Südverband`, `alarme aus`, `alarme`',
  'help.language': 'Antworten kommen auf Deutsch; ist Ihr Teams auf Englisch eingestellt, auf Englisch.',
  'help.try_status': 'Lage alle Regionen',
  'status.title': 'Lage: {name}',
  'status.as_of': 'Stand {time}',
  'status.stale': 'Veraltete Daten vom {time} – das Inventar antwortet gerade nicht.',
  'status.clients': 'Clients',
  'status.servers': 'Server',
  'status.exchange': 'Exchange-Server',
  'status.installed_of': '{installed} von {total} ({pct})',
  'status.none': 'keine',
  'status.states':
    'ausstehend {pending} · Neustart nötig {pending_reboot} · fehlgeschlagen {failed} · unbekannt {unknown} · nicht gesehen >{staleHours} h {stale}',
  'status.breakdown': 'Aufschlüsselung (schlechteste zuerst)',
  'status.breakdown_chart': 'Clients gepatcht in %',
  'status.unpatched': 'Wichtigste ungepatchte Geräte ({shown} von {total})',
  'status.unpatched_none': 'Alle Geräte sind gepatcht.',
  'status.device_line': '{state} · zuletzt gesehen {lastSeen}',
  'status.trend': 'Trend',
  'status.trend_complete': 'Vollständig gepatcht.',
  'status.trend_progressing': '+{rate} Geräte/h – 100 % voraussichtlich {eta}',
  'status.trend_stalled': 'stockt – seit Stunden kein Fortschritt, {remaining} Geräte offen',
  'status.trend_no_data': 'noch keine Verlaufsdaten',
  'status.mail': 'Externe Mail ({count} Domänen)',
  'status.mail_inbound': 'Eingehend',
  'status.mail_outbound': 'Ausgehend',
  'status.mail_counts': 'offen {open} · gesperrt {blocked} · gehalten {held}',
  'status.mail_queue': 'Warteschlange: {inbound} eingehend, {outbound} ausgehend',
  'status.policy_ok': 'Erfüllt die Freigaberichtlinie (alle Server und Clients gepatcht).',
  'status.policy_fail': 'Erfüllt die Freigaberichtlinie nicht: {reasons}.',
  'status.policy_shortfall': '{kind} {patch} {pct} (nötig {required} %, {missing} offen)',
  'status.refresh': 'Aktualisieren',
  'status.chart_installed': 'gepatcht',
  'status.chart_open': 'offen',
  'state.installed': 'installiert',
  'state.pending': 'ausstehend',
  'state.pending_reboot': 'Neustart nötig',
  'state.failed': 'fehlgeschlagen',
  'state.unknown': 'unbekannt',
  'state.not_applicable': 'nicht relevant',
  'flow.open': 'offen',
  'flow.blocked': 'gesperrt',
  'flow.held': 'gehalten',
  'device.client': 'Client',
  'device.server': 'Server',
} as const;

export type MessageKey = keyof typeof de;

const en: Record<MessageKey, string> = {
  'error.generic': 'Something went wrong. Please try again in a moment.',
  'error.too_long': 'That message is too long (at most {max} characters). Please keep it shorter.',
  'error.inventory_down': 'Inventory unreachable. Please try again in a few minutes.',
  'error.gateway_down': 'Mail gateway unreachable. Please try again in a few minutes.',
  'error.store_down': 'The state store is unreachable right now; nothing was changed. Please try again later.',
  'error.bad_card_data': 'This card action is invalid or out of date. Please send the command again.',
  'error.wrong_tenant': 'This tenant is not enabled for Lagebot.',
  'error.rate_limited': 'Please slow down – too many requests in a short time. Try again in {seconds} s.',
  'unknown.command': 'I don’t know the command “{word}”. Here is what I can do:',
  'scope.unknown': 'I don’t know the region “{input}”.',
  'scope.did_you_mean': 'Did you mean …?',
  'scope.ambiguous': '“{input}” is ambiguous. Which region do you mean?',
  'scope.no_suggestion': 'Use `status all` to see every region.',
  'kind.verband': 'Association',
  'kind.kreis': 'District',
  'kind.kommune': 'Town',
  'kind.domain': 'Domain',
  'kind.all': 'All',
  'all.name': 'All regions',
  'help.title': 'Lagebot – what I can do',
  'help.intro': 'Lagebot shows the municipalities’ patch status and controls external mail (four-eyes principle).',
  'help.status':
    'Patch and mail status of a region: `status Kreis Olpe`, `status attendorn.de`, `status Südverband`, `status all`',
  'help.release': 'Request the release of external mail (operator): `release Nordverband inbound All clients patched`',
  'help.block': 'Block external mail immediately (operator): `block olpe.de both spam wave`',
  'help.requests': 'Open requests: `requests` – audit log: `audit Kreis Olpe`',
  'help.alerts': 'Spam alerts for this channel: `alerts on Südverband`, `alerts off`, `alerts`',
  'help.language': 'Replies are in German by default and in English when your Teams client is set to English.',
  'help.try_status': 'Status of all regions',
  'status.title': 'Status: {name}',
  'status.as_of': 'As of {time}',
  'status.stale': 'Stale data from {time} – the inventory is not answering right now.',
  'status.clients': 'Clients',
  'status.servers': 'Servers',
  'status.exchange': 'Exchange servers',
  'status.installed_of': '{installed} of {total} ({pct})',
  'status.none': 'none',
  'status.states':
    'pending {pending} · reboot needed {pending_reboot} · failed {failed} · unknown {unknown} · not seen >{staleHours} h {stale}',
  'status.breakdown': 'Breakdown (worst first)',
  'status.breakdown_chart': 'Clients patched in %',
  'status.unpatched': 'Most important unpatched devices ({shown} of {total})',
  'status.unpatched_none': 'All devices are patched.',
  'status.device_line': '{state} · last seen {lastSeen}',
  'status.trend': 'Trend',
  'status.trend_complete': 'Fully patched.',
  'status.trend_progressing': '+{rate} devices/h – 100 % expected {eta}',
  'status.trend_stalled': 'stalled – no progress for hours, {remaining} devices open',
  'status.trend_no_data': 'no history yet',
  'status.mail': 'External mail ({count} domains)',
  'status.mail_inbound': 'Inbound',
  'status.mail_outbound': 'Outbound',
  'status.mail_counts': 'open {open} · blocked {blocked} · held {held}',
  'status.mail_queue': 'Queue: {inbound} inbound, {outbound} outbound',
  'status.policy_ok': 'Meets the release policy (every server and client patched).',
  'status.policy_fail': 'Does not meet the release policy: {reasons}.',
  'status.policy_shortfall': '{kind} {patch} {pct} (required {required} %, {missing} open)',
  'status.refresh': 'Refresh',
  'status.chart_installed': 'patched',
  'status.chart_open': 'open',
  'state.installed': 'installed',
  'state.pending': 'pending',
  'state.pending_reboot': 'reboot needed',
  'state.failed': 'failed',
  'state.unknown': 'unknown',
  'state.not_applicable': 'not applicable',
  'flow.open': 'open',
  'flow.blocked': 'blocked',
  'flow.held': 'held',
  'device.client': 'Client',
  'device.server': 'Server',
};

export const catalogues: Record<Lang, Record<MessageKey, string>> = { de, en };

export function t(lang: Lang, key: MessageKey, params: Record<string, string | number> = {}): string {
  const template = catalogues[lang][key] ?? catalogues.de[key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    params[name] === undefined ? whole : String(params[name]),
  );
}

const numberFormats: Record<Lang, Intl.NumberFormat> = {
  de: new Intl.NumberFormat('de-DE'),
  en: new Intl.NumberFormat('en-GB'),
};
const pctFormats: Record<Lang, Intl.NumberFormat> = {
  de: new Intl.NumberFormat('de-DE', { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
  en: new Intl.NumberFormat('en-GB', { minimumFractionDigits: 1, maximumFractionDigits: 1 }),
};
// The estate is in Germany: times are shown in Europe/Berlin whatever the server's zone.
const timeFormats: Record<Lang, Intl.DateTimeFormat> = {
  de: new Intl.DateTimeFormat('de-DE', {
    timeZone: 'Europe/Berlin',
    weekday: 'short',
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  }),
  en: new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Berlin',
    weekday: 'short',
    day: '2-digit',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }),
};

export function formatNumber(lang: Lang, n: number): string {
  return numberFormats[lang].format(n);
}

export function formatPct(lang: Lang, pct: number | null): string {
  if (pct === null) return '–';
  return `${pctFormats[lang].format(pct)} %`;
}

export function formatTime(lang: Lang, iso: string | null): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '–';
  return timeFormats[lang].format(d);
}
