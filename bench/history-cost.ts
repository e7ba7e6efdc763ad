/**
 * What the monitor's own history costs a probe cycle: the same cycle of 50 loopback HTTPS
 * targets, recorded into Table Storage (in-process Azurite), with history on (as serve and the
 * Functions runtime run it: one row cache per process) and off, alternating in one run. The
 * ratio of the medians is the figure (target <= 1.3): the bare time depends on the machine.
 */
import { parseSettings } from '../src/config/settings.js';
import { HistoryCache, readHistory } from '../src/history/history-repository.js';
import { startAzurite } from '../src/local/azurite.js';
import { cloudCheckId, runProbeCycle } from '../src/monitor/probe-cycle.js';
import { TableStore } from '../src/store/table-store.js';
import { startServerFarm } from './server-farm.js';
import { isMain, makeCerts, median, round } from './support.js';

export const HISTORY_COST_MAX_RATIO = 1.3;

export interface HistoryCostResult {
  readonly targets: number;
  readonly rounds: number;
  readonly onMs: number;
  readonly offMs: number;
  /** onMs / offMs */
  readonly ratio: number;
  /** History on without the row cache (a fresh instance: every row read first) / off: printed, no target. */
  readonly uncachedRatio: number;
  readonly maxRatio: number;
  /** Runs counted in one check's history after the run (every cycle with history on, once). */
  readonly countedRuns: number;
}

export async function benchHistoryCost(options: { targets?: number; rounds?: number } = {}): Promise<HistoryCostResult> {
  const count = options.targets ?? 50;
  const rounds = options.rounds ?? 9;
  const certs = makeCerts();
  const farm = await startServerFarm(certs, count, 5);
  const azurite = await startAzurite({});
  const store = TableStore.fromConnectionString(azurite.connectionString, { tableName: `historycost${Date.now().toString(36)}` });
  try {
    await store.ready();
    const settings = parseSettings({ WBMON_TARGETS: farm.urls.join(','), WBMON_PROBE_TIMEOUT_MS: '10000', WBMON_FAILURE_THRESHOLD: '1' });
    const cache = new HistoryCache();
    const cycle = async (history: boolean | 'uncached'): Promise<number> => {
      const t0 = performance.now();
      const outcome = await runProbeCycle(settings, store, 'bench', { extraCa: [certs.caPem], history: history === 'uncached' ? undefined : history ? cache : false });
      const ms = performance.now() - t0;
      const down = outcome.results.filter((r) => !r.ok);
      if (down.length) throw new Error(`history cost: ${down.length} probes failed, e.g. ${down[0]!.failure?.code}`);
      return ms;
    };
    // Warm-up: the checks exist, the rows of the day exist and are cached, as after a first cycle.
    await cycle(true);
    await cycle(false);
    const on: number[] = [];
    const off: number[] = [];
    const uncached: number[] = [];
    for (let r = 0; r < rounds; r++) {
      uncached.push(await cycle('uncached'));
      // Alternating order, so drift on the machine falls on both sides alike.
      if (r % 2 === 0) {
        on.push(await cycle(true));
        off.push(await cycle(false));
      } else {
        off.push(await cycle(false));
        on.push(await cycle(true));
      }
    }
    const rows = await readHistory(store, cloudCheckId(farm.urls[0]!));
    const onMs = median(on);
    const offMs = median(off);
    return { targets: count, rounds, onMs: round(onMs), offMs: round(offMs), ratio: round(onMs / offMs, 3), uncachedRatio: round(median(uncached) / offMs, 3), maxRatio: HISTORY_COST_MAX_RATIO, countedRuns: rows.reduce((n, r) => n + r.daily.runs, 0) };
  } finally {
    await store.close();
    await azurite.close();
    await farm.close();
  }
}

export function formatHistoryCost(r: HistoryCostResult): string {
  return [
    `history write cost: a probe cycle of ${r.targets} targets into Table Storage (Azurite), ${r.rounds} rounds each way, alternating`,
    `  history on ${r.onMs} ms, off ${r.offMs} ms (medians): ratio ${r.ratio.toFixed(3)} (target <= ${r.maxRatio})`,
    `  without the row cache (a fresh instance reads each row first): ratio ${r.uncachedRatio.toFixed(3)} (printed, no target)`,
    `  one check's history counted ${r.countedRuns} runs (${2 * r.rounds + 1} cycles with history on)`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  console.log(formatHistoryCost(await benchHistoryCost()));
}
