/**
 * The relay's own events in the Windows Application log, under its own source
 * (WritebackMonitorRelay, registered by Install-WritebackRelay.ps1), so that SCOM, Sentinel or
 * the Azure Monitor Agent can alert on the relay itself. The ids are a contract: docs/relay.md
 * lists them, and a test keeps that list equal to RELAY_EVENT_IDS.
 *
 * Two parts:
 *  - `RelayEventTracker`: pure. It turns what happened in a cycle (the CycleReport, the clock)
 *    into the events worth an administrator's attention, on transitions rather than every
 *    five minutes: refused (again at most hourly while it lasts), buffer growing (at 2, 4,
 *    8, ... heartbeats waiting), buffer full, keepalive failed, and the matching recoveries.
 *  - `createEventWriter`: the shell. On Windows it spawns Windows PowerShell (by its full path
 *    under %SystemRoot%, never found on PATH) to call
 *    `[System.Diagnostics.EventLog]::WriteEntry`; the message travels in an environment
 *    variable, never inside the command line, so no text from the monitor or the network can
 *    change the command. Elsewhere it writes nothing. A failed write never stops the relay:
 *    it is reported once through `onError`.
 */
import { spawn as nodeSpawn, type SpawnOptions } from 'node:child_process';
import { win32 } from 'node:path';
import type { CycleReport } from './agent.js';

export const EVENT_SOURCE = 'WritebackMonitorRelay';

export type EventLevel = 'Information' | 'Warning' | 'Error';

export interface RelayEvent {
  readonly id: number;
  readonly level: EventLevel;
  readonly message: string;
}

/** Every event the relay writes: stable ids, listed in docs/relay.md. */
export const RELAY_EVENT_IDS = {
  started: { id: 1000, level: 'Information' },
  stopped: { id: 1001, level: 'Information' },
  deliveringAgain: { id: 1002, level: 'Information' },
  refused: { id: 1100, level: 'Error' },
  rejected: { id: 1101, level: 'Warning' },
  bufferGrowing: { id: 1200, level: 'Warning' },
  bufferFull: { id: 1201, level: 'Error' },
  keepaliveFailed: { id: 1300, level: 'Warning' },
  keepalivePassed: { id: 1301, level: 'Information' },
  settingsError: { id: 1900, level: 'Error' },
  cycleFailed: { id: 1901, level: 'Error' },
} as const satisfies Record<string, { id: number; level: EventLevel }>;

type EventName = keyof typeof RELAY_EVENT_IDS;

function event(name: EventName, message: string): RelayEvent {
  return { ...RELAY_EVENT_IDS[name], message };
}

export function startedEvent(relayId: string, version: string, periodSeconds: number, monitorOrigin: string, stateDir: string): RelayEvent {
  return event('started', `Relay ${relayId} (writeback-monitor ${version}) started: a heartbeat every ${periodSeconds} s to ${monitorOrigin}, state in ${stateDir}.`);
}

export function stoppedEvent(relayId: string, reason: string): RelayEvent {
  return event('stopped', `Relay ${relayId} stopped (${reason}) after finishing its current cycle; buffered heartbeats stay on disk and are sent when it runs again.`);
}

export function settingsErrorEvent(problems: readonly string[]): RelayEvent {
  return event(
    'settingsError',
    `The relay did not start: its settings are wrong. Fix them in local.settings.json in the state folder (or re-run Install-WritebackRelay.ps1), then start the service.\n${problems.join('\n')}`,
  );
}

export function cycleFailedEvent(relayId: string, message: string): RelayEvent {
  return event('cycleFailed', `Relay ${relayId}: a cycle failed and no heartbeat was written: ${message}`);
}

/** How often a refusal that goes on is reported again. */
export const REPEAT_REFUSED_MS = 60 * 60 * 1000;

/** What the tracker remembers between cycles. */
interface TrackerState {
  /** The last cycle's delivery: everything went, the monitor refused, or it could not be reached. */
  delivery: 'ok' | 'refused' | 'unreachable';
  refusedReportedAt: number | undefined;
  /** The largest buffer threshold already reported in this episode. */
  bufferReported: number;
  droppedSeen: number | undefined;
  bufferFullReported: boolean;
  keepalivePassed: boolean | undefined;
}

/**
 * Pure: one `observe` per cycle, returning the events to write for it. The clock is passed in.
 */
export class RelayEventTracker {
  private state: TrackerState = { delivery: 'ok', refusedReportedAt: undefined, bufferReported: 1, droppedSeen: undefined, bufferFullReported: false, keepalivePassed: undefined };

  constructor(
    private readonly relayId: string,
    private readonly monitorOrigin: string,
    private readonly bufferMax: number,
  ) {}

  observe(report: CycleReport, now: Date): RelayEvent[] {
    const events: RelayEvent[] = [];
    const s = this.state;
    const blocking = report.blocked ?? (report.outcome.kind === 'buffered' ? undefined : report.outcome);
    const refused = blocking?.kind === 'unauthorized' ? blocking : undefined;
    const unreachable = blocking?.kind === 'retry' ? blocking : undefined;

    if (refused) {
      const again = s.refusedReportedAt !== undefined && now.getTime() - s.refusedReportedAt < REPEAT_REFUSED_MS;
      if (s.delivery !== 'refused' || !again) {
        events.push(
          event(
            'refused',
            `The monitor at ${this.monitorOrigin} refused relay ${this.relayId}'s heartbeats (HTTP ${refused.status}: ${refused.message}). ` +
              `Check that WBMON_RELAY_ID and WBMON_RELAY_SECRET match this relay's entry in WBMON_RELAYS on the monitor, that WBMON_MONITOR_KEY is the function key, and that this server's clock is right. ` +
              `${report.pending} heartbeat(s) wait in the buffer.`,
          ),
        );
        s.refusedReportedAt = now.getTime();
      }
    } else {
      s.refusedReportedAt = undefined;
    }

    if (report.outcome.kind === 'rejected') {
      events.push(
        event('rejected', `The monitor at ${this.monitorOrigin} refused heartbeat ${report.sequence} for good (HTTP ${report.outcome.status}: ${report.outcome.message}); it was dropped. A relay and monitor of different versions can cause this.`),
      );
    }

    const delivery: TrackerState['delivery'] = refused ? 'refused' : unreachable ? 'unreachable' : 'ok';
    if (delivery === 'ok' && s.delivery !== 'ok') {
      events.push(event('deliveringAgain', `The monitor at ${this.monitorOrigin} accepts relay ${this.relayId}'s heartbeats again; ${report.delivered} delivered from the buffer this cycle.`));
    }
    s.delivery = delivery;

    if (report.pending <= 1) {
      s.bufferReported = 1;
      s.bufferFullReported = false;
    } else {
      let threshold = s.bufferReported;
      while (threshold * 2 <= report.pending) threshold *= 2;
      if (threshold > s.bufferReported) {
        const why = refused ? 'the monitor refuses them (see event 1100)' : unreachable ? `the monitor cannot be reached (${unreachable.message})` : 'they wait behind older heartbeats';
        events.push(
          event(
            'bufferGrowing',
            `${report.pending} heartbeats of relay ${this.relayId} wait in the buffer (at most ${this.bufferMax} are kept): ${why}. ` +
              `The relay needs outbound HTTPS (443) to ${this.monitorOrigin}, through the same proxy and firewall as the ADSync service.`,
          ),
        );
        s.bufferReported = threshold;
      }
    }
    if (s.droppedSeen !== undefined && report.dropped > s.droppedSeen && !s.bufferFullReported) {
      events.push(event('bufferFull', `The buffer of relay ${this.relayId} is full (${this.bufferMax} heartbeats): the oldest are being dropped (${report.dropped} so far), so the monitor will miss that history.`));
      s.bufferFullReported = true;
    }
    s.droppedSeen = report.dropped;

    const keepalive = report.heartbeat.keepalive;
    if (keepalive) {
      if (!keepalive.passed) {
        const died = keepalive.results.filter((r) => !r.survived).map((r) => `${r.idleSeconds} s`);
        events.push(
          event(
            'keepaliveFailed',
            `The idle-keepalive test failed: a connection to ${keepalive.target} did not survive ${keepalive.requiredSeconds} s of idle${died.length ? ` (died at: ${died.join(', ')})` : ''}. ` +
              'Password writeback holds such a connection; the firewall, proxy or NAT must let idle connections live at least that long.',
          ),
        );
      } else if (s.keepalivePassed === false) {
        events.push(event('keepalivePassed', `The idle-keepalive test passes again: a connection to ${keepalive.target} survived ${keepalive.requiredSeconds} s of idle.`));
      }
      s.keepalivePassed = keepalive.passed;
    }
    return events;
  }
}

/** The longest message `EventLog.WriteEntry` takes. */
const MAX_MESSAGE = 31_839;

/** Control characters but the newline become spaces: one event, readable in Event Viewer. */
function eventText(message: string): string {
  // eslint-disable-next-line no-control-regex
  return message.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').slice(0, MAX_MESSAGE);
}

export interface EventCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to the environment: the message, out of the command line. */
  readonly env: Readonly<Record<string, string>>;
}

/** Pure: the exact program, arguments and extra environment that write `e` on Windows. */
export function eventLogCommand(e: RelayEvent, systemRoot = 'C:\\Windows'): EventCommand {
  return {
    command: win32.join(systemRoot, 'System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe'),
    args: [
      '-NoLogo',
      '-NoProfile',
      '-NonInteractive',
      '-ExecutionPolicy',
      'Bypass',
      '-Command',
      `[System.Diagnostics.EventLog]::WriteEntry('${EVENT_SOURCE}', $env:WBMON_EVENT_MESSAGE, '${e.level}', ${e.id})`,
    ],
    env: { WBMON_EVENT_MESSAGE: eventText(e.message) },
  };
}

/** The part of node:child_process.spawn the writer uses; tests pass a recording one. */
export type SpawnLike = (
  command: string,
  args: readonly string[],
  options: SpawnOptions,
) => { on(event: 'error', listener: (err: Error) => void): unknown; on(event: 'exit', listener: (code: number | null) => void): unknown; kill(): unknown };

export interface EventWriter {
  /** Queues one event; resolves when it has been written (or failed). */
  write(e: RelayEvent): Promise<void>;
  /** Resolves when everything queued so far has been written (or failed). */
  flush(): Promise<void>;
}

/** Writes nothing: off Windows, and for `relay --once`. */
export const NO_EVENTS: EventWriter = { write: async () => undefined, flush: async () => undefined };

export interface EventWriterOptions {
  readonly platform?: NodeJS.Platform;
  readonly spawn?: SpawnLike;
  readonly env?: NodeJS.ProcessEnv;
  /** Told once, the first time a write fails. */
  readonly onError?: (message: string) => void;
  readonly timeoutMs?: number;
}

export function createEventWriter(options: EventWriterOptions = {}): EventWriter {
  const platform = options.platform ?? process.platform;
  if (platform !== 'win32') return NO_EVENTS;
  const spawn = options.spawn ?? (nodeSpawn as unknown as SpawnLike);
  const env = options.env ?? process.env;
  const timeoutMs = options.timeoutMs ?? 15_000;
  let told = false;
  let queue: Promise<void> = Promise.resolve();
  const fail = (message: string): void => {
    if (told) return;
    told = true;
    options.onError?.(`could not write to the Windows Application log (source ${EVENT_SOURCE}; Install-WritebackRelay.ps1 registers it): ${message}`);
  };
  const writeOne = (e: RelayEvent): Promise<void> =>
    new Promise<void>((resolve) => {
      const { command, args, env: extra } = eventLogCommand(e, env.SystemRoot ?? env.SYSTEMROOT ?? 'C:\\Windows');
      let child: ReturnType<SpawnLike>;
      try {
        child = spawn(command, args, { env: { ...env, ...extra }, stdio: 'ignore', windowsHide: true });
      } catch (err) {
        fail((err as Error).message);
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        fail(`powershell.exe did not finish within ${timeoutMs} ms`);
        child.kill();
      }, timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        fail(err.message);
        resolve();
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (code !== 0) fail(`powershell.exe exited with ${code}`);
        resolve();
      });
    });
  return {
    write(e) {
      queue = queue.then(() => writeOne(e));
      return queue;
    },
    flush() {
      return queue;
    },
  };
}
