/** `writeback-monitor relay [--once]`: the on-prem agent, in a loop or for one heartbeat. */
import { RelayAgent, type CycleReport } from '../relay/agent.js';
import type { RelaySettings } from '../relay/settings.js';

/**
 * What to check, in order, when the monitor refuses a heartbeat: the function key first, as the
 * Functions host answers 401 before the monitor sees the request; then what the monitor checks.
 */
export const UNAUTHORIZED_HINT =
  'check WBMON_MONITOR_KEY first: a missing or wrong function key is refused by the Functions host before the monitor sees the heartbeat; then WBMON_RELAY_ID, WBMON_RELAY_SECRET against WBMON_RELAYS on the monitor, and the clock (within 300 s)';

export function describeCycle(relayId: string, r: CycleReport): string {
  const up = r.heartbeat.results.filter((x) => x.ok).length;
  const down = r.heartbeat.results.filter((x) => !x.ok).map((x) => `${x.target} ${x.failure?.code}`);
  const o = r.outcome;
  const outcome =
    o.kind === 'accepted'
      ? `accepted (HTTP ${o.status})`
      : `not accepted (${o.kind}${'status' in o && o.status ? `, HTTP ${o.status}` : ''}): ${o.message}${o.kind === 'unauthorized' ? ` (${UNAUTHORIZED_HINT})` : ''}`;
  return [
    `relay ${relayId}: heartbeat ${r.sequence} ${outcome}`,
    `${up}/${r.heartbeat.results.length} targets up${down.length ? ` (down: ${down.join(', ')})` : ''}`,
    `delivered ${r.delivered}, buffered ${r.pending}, dropped ${r.dropped}`,
  ].join('; ');
}

export async function runRelay(settings: RelaySettings, once: boolean, log: (line: string) => void): Promise<number> {
  const agent = new RelayAgent(settings, { log });
  try {
    if (once) {
      const report = await agent.cycle();
      log(describeCycle(settings.relayId, report));
      return report.outcome.kind === 'accepted' ? 0 : 1;
    }
    let stopping = false;
    let wake: () => void = () => undefined;
    const stop = (signal: string): void => {
      log(`${signal}: stopping after the current cycle`);
      stopping = true;
      wake();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    log(`relay ${settings.relayId}: heartbeat every ${settings.periodSeconds} s to ${settings.monitorUrl.origin}, state in ${settings.stateDir}`);
    while (!stopping) {
      const started = Date.now();
      try {
        log(describeCycle(settings.relayId, await agent.cycle({ keepalive: true })));
      } catch (err) {
        log(`relay ${settings.relayId}: cycle failed: ${(err as Error).message}`);
      }
      const wait = Math.max(0, settings.periodSeconds * 1000 - (Date.now() - started));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return 0;
  } finally {
    await agent.close();
  }
}
