/**
 * `writeback-monitor`: serve | probe | relay | keepalive | alert | --version. Bad usage or settings print one line
 * per problem, naming the flag or setting, and exit 2; never a stack trace.
 */
import { dashboardUrl } from '../web/links.js';
import { ConfigError } from '../config/errors.js';
import type { Settings } from '../config/settings.js';
import { serve } from '../local/serve.js';
import { guardProcess } from '../local/process-guard.js';
import { configuredChannels } from '../alerting/channels/registry.js';
import { describeAnswers, sendTestAlert } from '../alerting/test-alert.js';
import { escapeControls } from '../text/safe-text.js';
import { dispatch, parse, settingsWith, timestampedLog, UsageError } from './common.js';
import { roundtripCommand } from './roundtrip-command.js';
import { RELAY_SIDE_COMMANDS, RELAY_SIDE_USAGE } from './relay-side.js';

const USAGE = `usage: writeback-monitor <command>
  serve [--port N] [--data DIR]     the whole monitor on this machine (default port 7071)
${RELAY_SIDE_USAGE}
  alert test                        one marked test alert through every configured channel
  roundtrip login [--data DIR]      sign in once for the password round trip (device code)
  roundtrip test [--data DIR]       one password round trip now (docs/roundtrip.md)
  --version                         print the version`;

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
  process.stdout.write(`writeback-monitor serving at ${monitor.url}/api\nstatus page: ${dashboardUrl(monitor.url)}\n`);
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
  return dispatch('writeback-monitor', USAGE, { serve: serveCommand, ...RELAY_SIDE_COMMANDS, alert: alertCommand, roundtrip: (args) => roundtripCommand(args) }, argv);
}
