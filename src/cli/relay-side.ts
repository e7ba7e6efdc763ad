/**
 * The relay side of the command line: `probe`, `relay [--once]` and `keepalive`, shared by
 * `writeback-monitor` and by the relay executable (src/relay-cli.ts). Nothing here may import
 * the Function App side: the executable bundles this file and what it imports.
 */
import { ConfigError } from '../config/errors.js';
import { readEnvironment, type Settings } from '../config/settings.js';
import { probeAll } from '../monitor/probe-cycle.js';
import { parseRelaySettings } from '../relay/settings.js';
import { createEventWriter, NO_EVENTS, settingsErrorEvent, type EventWriter } from '../relay/windows-events.js';
import { probeTable } from './probe-table.js';
import { runRelay } from './relay-command.js';
import { runKeepalive } from './keepalive-command.js';
import { parse, settingsWith, timestampedLog, UsageError, type Command } from './common.js';

export const RELAY_SIDE_USAGE = `  probe [--target URL]... [--json] [--timeout MS]
                                    probe the targets once: exit 0 all up, 1 any down
  relay [--once [--keepalive]]      the on-prem relay agent
  keepalive --target URL --idle S[,S...]
                                    the idle-keepalive test alone`;

export async function probeCommand(args: string[]): Promise<number> {
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

/**
 * `relay [--once]`. The agent in its loop (the service) writes its events to the Windows
 * Application log, settings errors included (event 1900). `relay --once` is a console check
 * (the installer's pre-flight): its verdict is printed, and nothing goes to the event log.
 */
export async function relayCommand(args: string[], events: EventWriter = createEventWriter({ onError: timestampedLog })): Promise<number> {
  const values = parse(args, { once: { type: 'boolean' }, keepalive: { type: 'boolean' } });
  const once = values.once === true;
  if (once) events = NO_EVENTS;
  let settings;
  try {
    settings = parseRelaySettings(readEnvironment());
  } catch (err) {
    if (err instanceof ConfigError && !once) {
      await events.write(settingsErrorEvent(err.problems));
      await events.flush();
    }
    throw err;
  }
  return runRelay(settings, once, timestampedLog, { keepalive: values.keepalive === true }, events);
}

export async function keepaliveCommand(args: string[]): Promise<number> {
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

export const RELAY_SIDE_COMMANDS: Readonly<Record<string, Command>> = {
  probe: probeCommand,
  relay: (args) => relayCommand(args),
  keepalive: keepaliveCommand,
};
