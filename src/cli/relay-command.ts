/** `writeback-monitor relay [--once]`: the on-prem agent, in a loop or for one heartbeat. */
import { RelayAgent, type CycleReport } from '../relay/agent.js';
import type { RelaySettings } from '../relay/settings.js';
import { VERSION } from '../version.js';
import {
  createEventWriter,
  cycleFailedEvent,
  RelayEventTracker,
  startedEvent,
  stoppedEvent,
  type EventWriter,
} from '../relay/windows-events.js';

export function describeCycle(relayId: string, r: CycleReport): string {
  const up = r.heartbeat.results.filter((x) => x.ok).length;
  const down = r.heartbeat.results.filter((x) => !x.ok).map((x) => `${x.target} ${x.failure?.code}`);
  const o = r.outcome;
  const outcome =
    o.kind === 'accepted' ? `accepted (HTTP ${o.status})` : `not accepted (${o.kind}${'status' in o && o.status ? `, HTTP ${o.status}` : ''}): ${o.message}`;
  return [
    `relay ${relayId}: heartbeat ${r.sequence} ${outcome}`,
    `${up}/${r.heartbeat.results.length} targets up${down.length ? ` (down: ${down.join(', ')})` : ''}`,
    `delivered ${r.delivered}, buffered ${r.pending}, dropped ${r.dropped}`,
  ].join('; ');
}

/**
 * `events` is the Windows Application log (a no-op elsewhere): started, stopped, and what the
 * tracker makes of each cycle. A service stop reaches the loop as SIGINT (WinSW sends Ctrl+C)
 * or SIGBREAK: the cycle in flight finishes, so the buffer and the sequence file stay whole.
 */
export async function runRelay(
  settings: RelaySettings,
  once: boolean,
  log: (line: string) => void,
  events: EventWriter = createEventWriter({ onError: log }),
): Promise<number> {
  const agent = new RelayAgent(settings, { log });
  const tracker = new RelayEventTracker(settings.relayId, settings.monitorUrl.origin, settings.bufferMax);
  const observe = (report: CycleReport): void => {
    for (const e of tracker.observe(report, new Date())) void events.write(e);
  };
  try {
    if (once) {
      const report = await agent.cycle();
      log(describeCycle(settings.relayId, report));
      return report.outcome.kind === 'accepted' ? 0 : 1;
    }
    let stopping: string | undefined;
    let wake: () => void = () => undefined;
    const stop = (signal: string): void => {
      if (stopping) return;
      log(`${signal}: stopping after the current cycle`);
      stopping = signal;
      wake();
    };
    const signals = ['SIGINT', 'SIGTERM', ...(process.platform === 'win32' ? ['SIGBREAK'] : [])] as NodeJS.Signals[];
    for (const signal of signals) process.once(signal, () => stop(signal));
    log(`relay ${settings.relayId}: heartbeat every ${settings.periodSeconds} s to ${settings.monitorUrl.origin}, state in ${settings.stateDir}`);
    void events.write(startedEvent(settings.relayId, VERSION, settings.periodSeconds, settings.monitorUrl.origin, settings.stateDir));
    while (!stopping) {
      const started = Date.now();
      try {
        const report = await agent.cycle({ keepalive: true });
        log(describeCycle(settings.relayId, report));
        observe(report);
      } catch (err) {
        log(`relay ${settings.relayId}: cycle failed: ${(err as Error).message}`);
        void events.write(cycleFailedEvent(settings.relayId, (err as Error).message));
      }
      if (stopping) break;
      const wait = Math.max(0, settings.periodSeconds * 1000 - (Date.now() - started));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    void events.write(stoppedEvent(settings.relayId, stopping ?? 'stopped'));
    return 0;
  } finally {
    await agent.close();
    await events.flush();
  }
}
