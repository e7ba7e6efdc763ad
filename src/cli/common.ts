/**
 * What every command of `writeback-monitor` and of the relay executable shares: flag parsing,
 * settings with command-line overrides, the timestamped log, and the one-line-per-problem
 * handling of bad usage. Nothing here may import the Function App side (Azurite, @azure/*,
 * OpenTelemetry): the relay executable bundles this file.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config/errors.js';
import { readEnvironment, parseSettings, type Settings } from '../config/settings.js';
import { escapeControls, safeLog } from '../text/safe-text.js';
import { VERSION } from '../version.js';

export class UsageError extends ConfigError {}

export type Flags = Record<string, string | string[] | boolean | undefined>;

export function parse(args: string[], options: ParseArgsConfig['options']): Flags {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values as Flags;
  } catch (err) {
    throw new UsageError([(err as Error).message.split('\n')[0]!]);
  }
}

export function settingsWith(overrides: Record<string, string | undefined>, labels: Record<string, string>): Settings {
  const env = { ...readEnvironment(), ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  return parseSettings(env, labels);
}

/** The log of serve and the relay agent: one timestamped line per call, whatever the text holds. */
export const timestampedLog = safeLog((line: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
});

export type Command = (args: string[]) => Promise<number>;

/**
 * Runs one command of `program`: `--version` and `help` for free, bad usage or settings as
 * one line per problem on stderr with exit 2, anything else as one line with exit 1.
 */
export async function dispatch(program: string, usage: string, commands: Readonly<Record<string, Command>>, argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command === '--version' || command === '-v' || command === 'version') {
      parse(args, {});
      process.stdout.write(`${program} ${VERSION}\n`);
      return 0;
    }
    if (command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    const run = command !== undefined && Object.hasOwn(commands, command) ? commands[command] : undefined;
    if (!run) throw new UsageError([command ? `unknown command "${command}"` : 'no command given', ...usage.split('\n')]);
    return await run(args);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.problems.join('\n')}\n`);
      return 2;
    }
    // Anything else is our bug or the machine's: one line, not a stack trace.
    process.stderr.write(`${escapeControls(`${program} ${command}: ${(err as Error).message}`)}\n`);
    return 1;
  }
}
