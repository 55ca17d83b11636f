import { CardFactory, MessageFactory, type TurnContext } from 'botbuilder';
import { DEFAULT_REPORT_TIME } from '../domain/report-slot.ts';
import type { DailyReports } from '../services/daily-report.ts';
import type { CommandHandlers } from './command-handlers.ts';
import { type Lang, t } from './i18n.ts';
import type { AdaptiveCardJson } from './render-card.ts';
import { callerOf } from './turn-context-info.ts';
import { buildNoticeCard } from './views/notice-card.ts';
import { plainText } from './views/plain-text.ts';
import { buildReportCard } from './views/report-card.ts';

// `bericht an [HH:MM] [werktags] <scope>`, `bericht aus`, `bericht jetzt`: parse → daily-report service →
// a notice or the report card. Bad input (a time that is none, a scope nobody knows) is answered and
// stores nothing.

async function sendCard(context: TurnContext, card: AdaptiveCardJson): Promise<void> {
  await context.sendActivity(MessageFactory.attachment(CardFactory.adaptiveCard(card)));
}

export function reportCommands(
  reports: DailyReports,
): Pick<CommandHandlers, 'report_on' | 'report_off' | 'report_now'> {
  return {
    async report_on(context, command, lang: Lang) {
      if (command.badTime !== null) {
        await sendCard(
          context,
          buildNoticeCard(t(lang, 'reports.bad_time', { time: plainText(command.badTime.slice(0, 20)) }), {
            color: 'Attention',
          }),
        );
        return 'bad_time';
      }
      const caller = callerOf(context);
      const r = await reports.schedule(caller, caller.conversationKey, {
        localTime: command.localTime ?? DEFAULT_REPORT_TIME,
        weekdaysOnly: command.weekdaysOnly,
        scopeText: command.scopeText,
        lang,
      });
      switch (r.kind) {
        case 'scheduled':
          await sendCard(
            context,
            buildNoticeCard(
              t(lang, 'reports.scheduled', {
                scope: r.schedule.scopeId === 'all' ? t(lang, 'all.name') : plainText(r.scopeName),
                time: r.schedule.localTime,
                days: t(lang, r.schedule.weekdaysOnly ? 'reports.days_weekdays' : 'reports.days_all'),
              }),
              { color: 'Good' },
            ),
          );
          return 'scheduled';
        case 'missing':
          await sendCard(context, buildNoticeCard(t(lang, 'reports.scope_missing')));
          return 'missing';
        case 'ambiguous':
        case 'unknown': {
          // No buttons: a choice card's buttons would run `status`, and the time typed would be lost.
          const input = plainText(r.input.slice(0, 80));
          const lead = t(lang, r.kind === 'ambiguous' ? 'scope.ambiguous' : 'scope.unknown', { input });
          const names = r.choices.slice(0, 5).map((c) => plainText(`${c.name} (${c.level[lang]})`));
          const hint = names.length > 0 ? t(lang, 'reports.scope_choices', { names: names.join(', ') }) : '';
          await sendCard(
            context,
            buildNoticeCard(`${lead} ${hint} ${t(lang, 'reports.scope_missing')}`.replace(/\s+/g, ' ').trim(), {
              color: 'Attention',
            }),
          );
          return r.kind;
        }
        case 'forbidden':
          await sendCard(context, buildNoticeCard(t(lang, 'reports.forbidden'), { color: 'Attention' }));
          return 'forbidden';
      }
    },
    async report_off(context, _command, lang) {
      const caller = callerOf(context);
      const removed = await reports.stop(caller, caller.conversationKey);
      await sendCard(context, buildNoticeCard(t(lang, removed ? 'reports.stopped' : 'reports.none')));
      return removed ? 'stopped' : 'none';
    },
    async report_now(context, _command, lang) {
      const view = await reports.now(callerOf(context).conversationKey);
      await sendCard(context, view ? buildReportCard(view, lang) : buildNoticeCard(t(lang, 'reports.none')));
      return view ? 'ok' : 'none';
    },
  };
}
