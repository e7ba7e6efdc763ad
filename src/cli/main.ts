/**
 * `writeback-monitor`: serve | probe | relay | keepalive. Bad usage or settings print one line
 * per problem, naming the flag or setting, and exit 2; never a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config/errors.js';
import { readEnvironment, parseSettings, type Settings } from '../config/settings.js';
import { probeAll } from '../monitor/probe-cycle.js';
import { probeTable } from './probe-table.js';
import { serve } from '../local/serve.js';
import { parseRelaySettings } from '../relay/settings.js';
import { runRelay } from './relay-command.js';
import { runKeepalive } from './keepalive-command.js';
import { guardProcess } from '../local/process-guard.js';
import { configuredChannels } from '../alerting/channels/registry.js';
import { describeAnswers, sendTestAlert } from '../alerting/test-alert.js';
import { escapeControls, safeLog } from '../text/safe-text.js';

const USAGE = `usage: writeback-monitor <command>
  serve [--port N] [--data DIR]     the whole monitor on this machine (default port 7071)
  probe [--target URL]... [--json] [--timeout MS]
                                    probe the targets once: exit 0 all up, 1 any down
  relay [--once [--keepalive]]      the on-prem relay agent
  keepalive --target URL --idle S[,S...]
                                    the idle-keepalive test alone
  alert test                        one marked test alert through every configured channel`;

class UsageError extends ConfigError {}

function settingsWith(overrides: Record<string, string | undefined>, labels: Record<string, string>): Settings {
  const env = { ...readEnvironment(), ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  return parseSettings(env, labels);
}

type Flags = Record<string, string | string[] | boolean | undefined>;

function parse(args: string[], options: ParseArgsConfig['options']): Flags {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values as Flags;
  } catch (err) {
    throw new UsageError([(err as Error).message.split('\n')[0]!]);
  }
}

async function probeCommand(args: string[]): Promise<number> {
  const values = parse(args, {
    target: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  const targets = values.target as string[] | undefined;
  const settings = settingsWith(
    { WBMON_TARGETS: targets?.join(','), WBMON_PROBE_TIMEOUT_MS: values.timeout as string | undefined },
    { ...(targets && { WBMON_TARGETS: '--target' }), ...(values.timeout !== undefined && { WBMON_PROBE_TIMEOUT_MS: '--timeout' }) },
  );
  const results = await probeAll(settings.targets, settings);
  process.stdout.write(values.json ? `${JSON.stringify(results, null, 2)}\n` : `${probeTable(results)}\n`);
  return results.every((r) => r.ok) ? 0 : 1;
}

async function serveCommand(args: string[]): Promise<number> {
  const values = parse(args, { port: { type: 'string' }, data: { type: 'string' } });
  const portText = (values.port as string | undefined) ?? '7071';
  const port = Number(portText);
  const problems: string[] = [];
  if (!/^\d+$/.test(portText) || port > 65535) problems.push(`--port: "${portText}" must be a port number from 0 to 65535`);
  let settings: Settings | undefined;
  try {
    settings = settingsWith({}, {});
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0 || !settings) throw new UsageError(problems);

  const log = timestampedLog;
  guardProcess(log);
  const monitor = await serve({ settings, port, log, ...(values.data !== undefined && { dataDir: values.data as string }) });
  process.stdout.write(`writeback-monitor serving at ${monitor.url}/api\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log(`${signal}: stopping`);
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await monitor.stop();
  log('stopped');
  return 0;
}

async function relayCommand(args: string[]): Promise<number> {
  const values = parse(args, { once: { type: 'boolean' }, keepalive: { type: 'boolean' } });
  const settings = parseRelaySettings(readEnvironment());
  return runRelay(settings, values.once === true, timestampedLog, { keepalive: values.keepalive === true });
}

/** The log of serve and the relay agent: one timestamped line per call, whatever the text holds. */
const timestampedLog = safeLog((line: string): void => {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
});

async function keepaliveCommand(args: string[]): Promise<number> {
  const values = parse(args, { target: { type: 'string' }, idle: { type: 'string' }, timeout: { type: 'string' } });
  const problems: string[] = [];
  if (typeof values.target !== 'string') problems.push('--target: required, the URL to hold an idle connection to');
  const idleText = typeof values.idle === 'string' ? values.idle : '';
  const idle = idleText.split(',').map((t) => t.trim());
  if (!idleText || idle.some((t) => !/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 3600)) {
    problems.push(`--idle: "${idleText}" must be idle lengths in whole seconds from 1 to 3600, comma-separated`);
  }
  let settings: Settings | undefined;
  try {
    settings = settingsWith(
      { WBMON_TARGETS: values.target as string | undefined, WBMON_PROBE_TIMEOUT_MS: values.timeout as string | undefined },
      { WBMON_TARGETS: '--target', WBMON_PROBE_TIMEOUT_MS: '--timeout' },
    );
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  if (problems.length > 0 || !settings) throw new UsageError(problems);
  return runKeepalive(settings.targets[0]!, [...new Set(idle.map(Number))].sort((a, b) => a - b), settings, process.stdout);
}

async function alertCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'test') throw new UsageError([sub ? `alert: unknown subcommand "${sub}"; only "alert test"` : 'alert: say "alert test"']);
  parse(rest, {});
  const settings = settingsWith({}, {});
  const channels = configuredChannels(settings.alerting);
  if (channels.size === 0) {
    throw new UsageError(['alert test: no alert channel is configured: set WBMON_TEAMS_WEBHOOK_URL, WBMON_WEBHOOK_URL, or WBMON_SMTP_URL with WBMON_EMAIL_FROM and WBMON_EMAIL_TO']);
  }
  const answers = await sendTestAlert(channels, new Date());
  // The answers carry receivers' text: one safe line each.
  for (const line of describeAnswers(answers)) process.stdout.write(`${escapeControls(line)}\n`);
  return answers.every((a) => a.accepted) ? 0 : 1;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serveCommand(args);
      case 'probe':
        return await probeCommand(args);
      case 'relay':
        return await relayCommand(args);
      case 'keepalive':
        return await keepaliveCommand(args);
      case 'alert':
        return await alertCommand(args);
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return 0;
      default:
        throw new UsageError([command ? `unknown command "${command}"` : 'no command given', ...USAGE.split('\n')]);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.problems.join('\n')}\n`);
      return 2;
    }
    // Anything else is our bug or the machine's: one line, not a stack trace.
    process.stderr.write(`${escapeControls(`writeback-monitor ${command}: ${(err as Error).message}`)}\n`);
    return 1;
  }
}
