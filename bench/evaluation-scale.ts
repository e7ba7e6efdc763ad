/**
 * Evaluation scaling: one evaluateHeartbeats run over N relays, each with one pending heartbeat
 * of 3 results (steady state: every relay sent one heartbeat since the last run, its checks and
 * relay record exist from that run, and the heartbeat that run processed is still kept for the
 * replay window). Targets: time(10,000) / time(1,000) <= 12 (about linear), and
 * 10,000 relays within one evaluation period (60 s, the default schedule of once a minute).
 *
 * Two stores: MemoryStore (the algorithm alone, no I/O) and TableStore on an in-process
 * Azurite. Seeding is timed separately and is not part of the ratio.
 *
 * Then a third: Table Storage as the Function App sees it, i.e. a MemoryStore behind a
 * LatencyStore adding 10 ms to every round trip (a storage account in the same region), 10,000
 * relays, the steady state above plus the heartbeat received 16 minutes ago now due for removal
 * (every heartbeat is removed once, after the replay window). Measured: the evaluation's time
 * against the 60 s period (target <= 1), store calls and round trips per relay, and the most
 * store calls in flight at once. Azurite cannot say this: it answers in about 1 ms, but slows
 * down with the table's size. Once more with writes paced per partition as TableStore paces
 * them (PARTITION_WRITES_PER_SECOND, under Table Storage's 2,000 entities/s for one
 * partition): what the Function App would take against a real account. `--latency` runs only
 * these two.
 */
import { parseSettings, type Settings } from '../src/config/settings.js';
import { ingestHeartbeat, SequenceCache } from '../src/heartbeat/ingest.js';
import type { Heartbeat } from '../src/heartbeat/schema.js';
import { startAzurite } from '../src/local/azurite.js';
import { evaluateHeartbeats } from '../src/monitor/evaluate-heartbeats.js';
import { LatencyStore } from '../src/store/latency-store.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Store } from '../src/store/store.js';
import { PARTITION_WRITES_PER_SECOND, TableStore } from '../src/store/table-store.js';
import { isMain, round } from './support.js';

export const EVAL_MAX_RATIO = 12;
export const EVAL_PERIOD_MS = 60_000;
/** Past this predicted time for a 10,000-relay Azurite run (seed + prime + evaluate), extrapolate instead. */
const AZURITE_BUDGET_MS = 180_000;
const TARGETS = ['https://passwordreset.microsoftonline.com/', 'https://ssprdedicatedsbprodscu.servicebus.windows.net/', 'https://ssprdedicatedsbprodncu.servicebus.windows.net/'];

export interface SizeRun {
  readonly relays: number;
  /** Seeding (ingest, and the priming evaluation): not in the ratio. */
  readonly seedMs: number;
  readonly evaluateMs: number;
  readonly heartbeatsPerSec: number;
  /** Store calls made by the timed evaluation, by method (get, insert, replace, delete, list). */
  readonly calls: Record<string, number>;
}

export interface StoreScale {
  readonly store: 'memory' | 'azurite';
  readonly runs: SizeRun[];
  readonly ms1k: number;
  readonly ms10k: number;
  /** ms10k was not measured but extrapolated from the two largest measured sizes. */
  readonly extrapolated?: { readonly from: [number, number]; readonly exponent: number };
  readonly ratio: number;
}

export interface LatencyScale {
  readonly relays: number;
  readonly latencyMs: number;
  /** Writes paced to this many entities a second per partition, as TableStore does; undefined: not paced. */
  readonly pacedPerSecond: number | undefined;
  /** The partition most written to, and its write rate over the run (Table Storage's target: 2,000/s). */
  readonly busiest: { readonly collection: string; readonly entities: number; readonly perSecond: number };
  readonly evaluateMs: number;
  /** evaluateMs / the evaluation period: <= 1 fits. */
  readonly ratio: number;
  readonly heartbeatsProcessed: number;
  readonly heartbeatsRemoved: number;
  /** Store calls of the timed run, by method, and in all. */
  readonly calls: Record<string, number>;
  readonly callsPerRelay: number;
  readonly roundTripsPerRelay: number;
  readonly entitiesWrittenPerRelay: number;
  readonly peakInFlight: number;
}

export interface EvaluationScaleResult {
  readonly stores: StoreScale[];
  readonly latency: LatencyScale;
  /** The same, writes paced per partition as TableStore paces them against a real account. */
  readonly paced: LatencyScale;
  readonly maxRatio: number;
  readonly periodMs: number;
}

/** The same store, counting calls by method into `counts`. */
function counting(store: Store, counts: Record<string, number>): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const member: unknown = Reflect.get(target, prop, receiver);
      if (typeof member !== 'function') return member;
      return (...args: unknown[]) => {
        counts[String(prop)] = (counts[String(prop)] ?? 0) + 1;
        return member.apply(target, args) as unknown;
      };
    },
  });
}

/** Runs `count` jobs, at most `limit` at once. */
async function pool(count: number, limit: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, count) }, async () => {
    while (next < count) await job(next++);
  }));
}

function heartbeat(relayId: string, sequence: number, at: Date): Heartbeat {
  const startedAt = at.toISOString();
  return {
    version: 1, relayId, sequence, sentAt: startedAt, host: 'connect01.corp.example', agentVersion: '0.1.0',
    results: TARGETS.map((target) => ({ target, ok: true, startedAt, warnings: [], proxy: null, http: { status: 200 }, timings: { dns: 3, tcp: 10, tls: 20, ttfb: 40, total: 80 } })),
    buffer: { pending: 0, dropped: 0 },
  };
}

/** Seeds n relays on a fresh store, primes their checks with one evaluation, seeds again, then times one evaluation. */
async function runSize(kind: StoreScale['store'], n: number, connectionString: string | undefined): Promise<SizeRun> {
  const ids = Array.from({ length: n }, (_, i) => `relay-${String(i).padStart(5, '0')}`);
  const settings: Settings = parseSettings({ WBMON_RELAYS: JSON.stringify(Object.fromEntries(ids.map((id) => [id, { secret: `secret-${id}-`.padEnd(40, 'x') }]))) });
  const calls: Record<string, number> = {};
  const inner: Store = connectionString ? TableStore.fromConnectionString(connectionString, { tableName: `evalscale${n}` }) : new MemoryStore();
  const store = counting(inner, calls);
  await store.ready();
  const t0 = Date.now() - 30_000;
  // As the HTTP API does: one cache of accepted sequence numbers per instance. The store is
  // fresh, so "nothing accepted yet" (0) is true, and each seeded heartbeat is one insert.
  const sequences = new SequenceCache();
  for (const id of ids) sequences.note(id, 0);
  const seed = (sequence: number) => pool(n, 32, async (i) => {
    const at = new Date(t0 + sequence * 10_000);
    const outcome = await ingestHeartbeat(store, ids[i]!, heartbeat(ids[i]!, sequence, at), at, sequences);
    if (outcome.status !== 202) throw new Error(`seeding ${ids[i]} answered ${outcome.status}`);
  });

  const s0 = performance.now();
  await seed(1);
  await evaluateHeartbeats(settings, store, new Date(t0 + 15_000)); // the "last run": checks exist
  await seed(2);
  const seedMs = performance.now() - s0;

  for (const method of Object.keys(calls)) delete calls[method]; // count the timed run only
  const e0 = performance.now();
  const evaluations = await evaluateHeartbeats(settings, store, new Date(t0 + 25_000));
  const evaluateMs = performance.now() - e0;
  const processed = evaluations.reduce((sum, e) => sum + e.heartbeatsProcessed, 0);
  if (processed !== n) throw new Error(`${kind} ${n}: processed ${processed} heartbeats, expected ${n}`);
  await inner.close();
  return { relays: n, seedMs: round(seedMs, 0), evaluateMs: round(evaluateMs, 1), heartbeatsPerSec: round(n / (evaluateMs / 1000), 0), calls: { ...calls } };
}

async function scaleMemory(): Promise<StoreScale> {
  await runSize('memory', 1000, undefined); // warm up the JIT
  const runs = [await runSize('memory', 1000, undefined), await runSize('memory', 10_000, undefined)];
  return { store: 'memory', runs, ms1k: runs[0]!.evaluateMs, ms10k: runs[1]!.evaluateMs, ratio: round(runs[1]!.evaluateMs / runs[0]!.evaluateMs, 2) };
}

/**
 * Azurite: 1k and 2k first; 10k only if the growth seen so far predicts it fits the budget,
 * else 5k and an extrapolation. (Azurite keeps a table in one LokiJS collection, whose
 * remove, used by every replace, is O(rows): its writes slow down as the table grows.)
 */
async function scaleAzurite(): Promise<StoreScale> {
  const azurite = await startAzurite({});
  try {
    const cs = azurite.connectionString;
    await runSize('azurite', 200, cs); // warm up
    const runs = [await runSize('azurite', 1000, cs), await runSize('azurite', 2000, cs)];
    const [a, b] = runs as [SizeRun, SizeRun];
    const exponent = (x: SizeRun, y: SizeRun) => Math.log((y.evaluateMs + y.seedMs) / (x.evaluateMs + x.seedMs)) / Math.log(y.relays / x.relays);
    const predicted = (b.evaluateMs + b.seedMs) * 5 ** Math.max(1, exponent(a, b));
    if (predicted <= AZURITE_BUDGET_MS) runs.push(await runSize('azurite', 10_000, cs));
    else runs.push(await runSize('azurite', 5000, cs));
    const last = runs[runs.length - 1]!;
    const base = { store: 'azurite' as const, runs, ms1k: a.evaluateMs };
    if (last.relays === 10_000) return { ...base, ms10k: last.evaluateMs, ratio: round(last.evaluateMs / a.evaluateMs, 2) };
    // Extrapolated: evaluate time grows as relays^k between 2k and 5k; assume the same k to 10k.
    const k = Math.log(last.evaluateMs / b.evaluateMs) / Math.log(last.relays / b.relays);
    const ms10k = round(last.evaluateMs * (10_000 / last.relays) ** k, 0);
    return { ...base, ms10k, ratio: round(ms10k / a.evaluateMs, 2), extrapolated: { from: [b.relays, last.relays], exponent: round(k, 2) } };
  } finally {
    await azurite.close();
  }
}

export const LATENCY_MS = 10;
export const LATENCY_RELAYS = 10_000;

/**
 * 10,000 relays through a 10 ms store. Seeding and the priming run go to the MemoryStore
 * directly (no latency); only the timed evaluation goes through the LatencyStore.
 */
export async function scaleLatency(n = LATENCY_RELAYS, latencyMs = LATENCY_MS, pacedPerSecond?: number): Promise<LatencyScale> {
  const ids = Array.from({ length: n }, (_, i) => `relay-${String(i).padStart(5, '0')}`);
  const settings: Settings = parseSettings({ WBMON_RELAYS: JSON.stringify(Object.fromEntries(ids.map((id) => [id, { secret: `secret-${id}-`.padEnd(40, 'x') }]))) });
  const inner = new MemoryStore();
  const now = Date.now();
  const sequences = new SequenceCache();
  for (const id of ids) sequences.note(id, 0);
  const seed = async (sequence: number, at: Date): Promise<void> => {
    for (const id of ids) {
      const outcome = await ingestHeartbeat(inner, id, heartbeat(id, sequence, at), at, sequences);
      if (outcome.status !== 202) throw new Error(`seeding ${id} answered ${outcome.status}`);
    }
  };
  await seed(1, new Date(now - 16 * 60_000)); // the last run's heartbeat, now past the replay window
  await evaluateHeartbeats(settings, inner, new Date(now - 16 * 60_000 + 5_000));
  await seed(2, new Date(now - 20_000)); // the one this run processes
  const store = new LatencyStore(inner, { latencyMs, ...(pacedPerSecond && { partitionWritesPerSecond: pacedPerSecond }) });
  const e0 = performance.now();
  const evaluations = await evaluateHeartbeats(settings, store, new Date(now));
  const evaluateMs = performance.now() - e0;
  const processed = evaluations.reduce((sum, e) => sum + e.heartbeatsProcessed, 0);
  const failed = evaluations.filter((e) => e.errors.length > 0);
  if (processed !== n || failed.length > 0) throw new Error(`latency ${n}: processed ${processed} heartbeats, expected ${n}; ${failed.length} relays with errors, e.g. ${failed[0]?.errors[0]}`);
  const left = (await inner.list('heartbeats')).length;
  const { stats } = store;
  const [collection, entities] = Object.entries(stats.entitiesByCollection).sort(([, a], [, b]) => b - a)[0] ?? ['none', 0];
  return {
    relays: n,
    latencyMs,
    pacedPerSecond,
    busiest: { collection, entities, perSecond: round(entities / (evaluateMs / 1000), 0) },
    evaluateMs: round(evaluateMs, 0),
    ratio: round(evaluateMs / EVAL_PERIOD_MS, 3),
    heartbeatsProcessed: processed,
    heartbeatsRemoved: 2 * n - left,
    calls: { ...stats.calls },
    callsPerRelay: round(store.totalCalls / n, 2),
    roundTripsPerRelay: round(stats.roundTrips / n, 2),
    entitiesWrittenPerRelay: round(stats.entitiesWritten / n, 2),
    peakInFlight: stats.peakInFlight,
  };
}

export async function benchEvaluationScale(): Promise<EvaluationScaleResult> {
  const stores = [await scaleMemory(), await scaleAzurite()];
  const latency = await scaleLatency();
  const paced = await scaleLatency(LATENCY_RELAYS, LATENCY_MS, PARTITION_WRITES_PER_SECOND);
  return { stores, latency, paced, maxRatio: EVAL_MAX_RATIO, periodMs: EVAL_PERIOD_MS };
}

export function formatLatencyScale(l: LatencyScale, periodMs = EVAL_PERIOD_MS): string {
  const calls = Object.entries(l.calls)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([m, c]) => `${m} ${c >= l.relays ? (c / l.relays).toFixed(2) : `${c} in all`}`)
    .join(', ');
  const paced = l.pacedPerSecond ? `, writes paced to ${l.pacedPerSecond} entities/s a partition as TableStore paces them` : '';
  return [
    `  latency ${String(l.relays).padStart(6)} relays, ${l.latencyMs} ms per round trip${paced}: evaluate ${(l.evaluateMs / 1000).toFixed(2)} s = ${l.ratio.toFixed(3)} of the ${periodMs / 1000} s period (target <= 1)`,
    `                         per relay: ${l.callsPerRelay.toFixed(2)} store calls (${calls}), ${l.roundTripsPerRelay.toFixed(2)} round trips, ${l.entitiesWrittenPerRelay.toFixed(2)} entities written; at most ${l.peakInFlight} calls in flight`,
    `                         ${l.heartbeatsProcessed} heartbeats processed, ${l.heartbeatsRemoved} removed; busiest partition '${l.busiest.collection}': ${l.busiest.entities} entities written, ${l.busiest.perSecond}/s (Table Storage's target for one partition: 2000/s)`,
  ].join('\n');
}

export function formatEvaluationScale(r: EvaluationScaleResult): string {
  const lines = [`evaluation scale: evaluateHeartbeats over N relays, 1 pending heartbeat x 3 results each (checks primed by an earlier run)`];
  for (const s of r.stores) {
    for (const run of s.runs) {
      lines.push(`  ${s.store.padEnd(7)} ${String(run.relays).padStart(6)} relays: evaluate ${(run.evaluateMs / 1000).toFixed(2)} s (${run.heartbeatsPerSec} heartbeats/s); seeding ${(run.seedMs / 1000).toFixed(1)} s, not counted`);
      const calls = Object.entries(run.calls).map(([m, c]) => `${m} ${c >= run.relays ? (c / run.relays).toFixed(2) + '/relay' : c}`);
      lines.push(`                         store calls in the timed run: ${calls.join(', ')}`);
    }
    const x = s.extrapolated;
    const ten = `${(s.ms10k / 1000).toFixed(2)} s${x ? ` EXTRAPOLATED from ${x.from[0]}->${x.from[1]} (time ~ relays^${x.exponent})` : ''}`;
    lines.push(`  ${s.store.padEnd(7)} 10000/1000 ratio ${s.ratio.toFixed(2)} (target <= ${r.maxRatio}); 10000 relays ${ten} (target <= ${r.periodMs / 1000} s)`);
  }
  lines.push(formatLatencyScale(r.latency, r.periodMs), formatLatencyScale(r.paced, r.periodMs));
  return lines.join('\n');
}

if (isMain(import.meta.url)) {
  if (process.argv.includes('--latency')) {
    console.log(formatLatencyScale(await scaleLatency()));
    console.log(formatLatencyScale(await scaleLatency(LATENCY_RELAYS, LATENCY_MS, PARTITION_WRITES_PER_SECOND)));
  }
  else console.log(formatEvaluationScale(await benchEvaluationScale()));
}
