import type { TurnContext } from 'botbuilder';
import type { ParsedCommand } from './command-parser.ts';
import type { Lang } from './i18n.ts';

// One handler per kind of chat command, in a table the compiler checks: a command kind the parser
// learns without a handler here is a type error, not a message nobody answers.

export type CommandKind = ParsedCommand['kind'];
export type CommandOf<K extends CommandKind> = Extract<ParsedCommand, { kind: K }>;

/** Answers one command in the turn; returns the outcome for the commands metric. */
export type CommandHandler<K extends CommandKind> = (
  context: TurnContext,
  command: CommandOf<K>,
  lang: Lang,
) => Promise<string>;

export type CommandHandlers = { [K in CommandKind]: CommandHandler<K> };

export function dispatchCommand<K extends CommandKind>(
  handlers: CommandHandlers,
  context: TurnContext,
  command: CommandOf<K>,
  lang: Lang,
): Promise<string> {
  // TypeScript cannot relate handlers[command.kind] to command's own kind; the mapped type above does.
  const handler = handlers[command.kind] as CommandHandler<K>;
  return handler(context, command, lang);
}
