/**
 * What the heartbeat evaluation asks of the store, counted (not timed) through a LatencyStore:
 * a bounded number of calls per relay and heartbeat, whatever the number of relays; and two
 * evaluators at once, on the in-memory store behind a latency and on Table Storage (Azurite),
 * record every result and every transition once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../src/config/settings.js';
import type { Heartbeat } from '../src/heartbeat/schema.js';
import { ingestHeartbeat, SequenceCache } from '../src/heartbeat/ingest.js';
import { startAzurite, type RunningAzurite } from '../src/local/azurite.js';
import { listChecks, listTransitions } from '../src/monitor/checks-repository.js';
import { evaluateHeartbeats } from '../src/monitor/evaluate-heartbeats.js';
import { LatencyStore } from '../src/store/latency-store.js';
import { MemoryStore } from '../src/store/memory-store.js';
import type { Store } from '../src/store/store.js';
import { TableStore } from '../src/store/table-store.js';
import { HistoryCache, readHistory } from '../src/history/history-repository.js';
import { incidentsOf } from '../src/history/history.js';
import { heartbeat } from './support/heartbeats.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (seconds: number): Date => new Date(T0 + seconds * 1000);
const TARGETS = ['https://passwordreset.microsoftonline.com/', 'https://a.servicebus.windows.net/', 'https://b.servicebus.windows.net/'];

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `relay-${String(i).padStart(3, '0')}`);
const settingsFor = (relays: readonly string[]) =>
  parseSettings({
    WBMON_RELAYS: JSON.stringify(Object.fromEntries(relays.map((id) => [id, { secret: `${id}-secret-`.padEnd(40, 'x') }]))),
    WBMON_FAILURE_THRESHOLD: '2',
    WBMON_SUCCESS_THRESHOLD: '1',
  });

/** A heartbeat from `relayId` sent at `second`, every target answering `ok`. */
function beat(relayId: string, sequence: number, second: number, ok = true): Heartbeat {
  const startedAt = at(second).toISOString();
  const template = heartbeat(0).results[0]!;
  return heartbeat(sequence, {
    relayId,
    sentAt: startedAt,
    results: TARGETS.map((target) =>
      ok ? { ...template, target, startedAt } : { ...template, target, startedAt, ok: false, http: undefined, failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer' } },
    ),
  });
}

async function ingestAll(store: Store, relays: readonly string[], sequence: number, second: number, ok = true): Promise<void> {
  for (const id of relays) expect(await ingestHeartbeat(store, id, beat(id, sequence, second, ok), at(second), new SequenceCache())).toEqual({ status: 202 });
}

describe('store calls of one evaluation', () => {
  it.each([10, 200])('are one batch and one relay record per heartbeat, for %i relays, plus the three listings', async (n) => {
    const relays = ids(n);
    const settings = settingsFor(relays);
    const inner = new MemoryStore();
    // The worker's history rows, as serve and the Functions runtime keep them across runs.
    const history = new HistoryCache();
    await ingestAll(inner, relays, 1, 0);
    await evaluateHeartbeats(settings, inner, at(5), { history }); // the last run: the checks exist
    await ingestAll(inner, relays, 2, 60);
    const store = new LatencyStore(inner, { latencyMs: 0 });
    const evaluations = await evaluateHeartbeats(settings, store, at(65), { history });
    expect(evaluations.every((e) => e.heartbeatsProcessed === 1 && e.errors.length === 0 && e.transitions.length === 0)).toBe(true);
    // Four checks a relay (three targets and the heartbeat), in one batch: no reads, no single
    // writes; their four history rows (known from the last run) in one more batch.
    expect(store.stats.calls).toEqual({ list: 3, batch: 2 * n, replace: n });
    expect(store.stats.entitiesWritten).toBe(9 * n);
    expect(store.stats.peakInFlight).toBeLessThanOrEqual(2 * 16);
  });

  it('cost nothing for a relay with nothing new, and one write for a relay whose heartbeat is missing', async () => {
    const relays = ids(3);
    const settings = settingsFor(relays);
    const inner = new MemoryStore();
    // The worker's history rows, as serve and the Functions runtime keep them across runs.
    const history = new HistoryCache();
    await ingestAll(inner, relays, 1, 0);
    await evaluateHeartbeats(settings, inner, at(5), { history });
    const store = new LatencyStore(inner, { latencyMs: 0 });
    await evaluateHeartbeats(settings, store, at(60), { history });
    expect(store.stats.calls).toEqual({ list: 3 });
    store.resetStats();
    const late = await evaluateHeartbeats(settings, store, at(421), { history }); // past period + grace
    expect(late.map((e) => e.state)).toEqual(['down', 'down', 'down']);
    // The heartbeat check's record and its history row, each relay.
    expect(store.stats.calls).toEqual({ list: 3, replace: 6 });
  });

  it('add one insert per transition, one batch and one record per further heartbeat, and a delete per heartbeat past the replay window', async () => {
    const relays = ids(1);
    const settings = settingsFor(relays);
    const inner = new MemoryStore();
    // The worker's history rows, as serve and the Functions runtime keep them across runs.
    const history = new HistoryCache();
    await ingestAll(inner, relays, 1, 0);
    await evaluateHeartbeats(settings, inner, at(5), { history });
    await ingestAll(inner, relays, 2, 300, false);
    await ingestAll(inner, relays, 3, 600, false);
    const store = new LatencyStore(inner, { latencyMs: 0 });
    const [evaluation] = await evaluateHeartbeats(settings, store, at(5 + 15 * 60 + 1), { history });
    expect(evaluation).toMatchObject({ heartbeatsProcessed: 2, errors: [] });
    expect(evaluation!.transitions.map((t) => `${t.checkId} ${t.from}->${t.to}`)).toEqual(TARGETS.map((t) => `relay:relay-000:${t} up->down`));
    // Two heartbeats: two batches, two relay records; three transitions; the first heartbeat is
    // past retention; the relay's history (results and incidents) in one batch at the end.
    expect(store.stats.calls).toEqual({ list: 3, batch: 3, replace: 2, insert: 3, delete: 1 });
  });
});

describe('LatencyStore', () => {
  it('waits a round trip per call and per list page, and counts calls, round trips and calls in flight', async () => {
    const store = new LatencyStore(new MemoryStore(), { latencyMs: 20, pageSize: 2 });
    const t0 = performance.now();
    await Promise.all([store.insert('c', 'a', 1), store.insert('c', 'b', 2), store.insert('c', 'c', 3)]);
    const one = performance.now() - t0;
    expect(one).toBeGreaterThanOrEqual(19);
    const t1 = performance.now();
    expect((await store.list('c')).map((e) => e.key)).toEqual(['a', 'b', 'c']); // two pages
    expect(performance.now() - t1).toBeGreaterThanOrEqual(39);
    await store.batch('c', [{ op: 'insert', key: 'd', value: 4 }, { op: 'insert', key: 'e', value: 5 }]);
    expect(store.stats).toEqual({ calls: { insert: 3, list: 1, batch: 1 }, roundTrips: 6, entitiesWritten: 5, entitiesByCollection: { c: 5 }, peakInFlight: 3 });
    expect(store.totalCalls).toBe(5);
  });
});

/** Heartbeat by heartbeat: ok or failing. Thresholds: down after 2 failures, up after 1 success. */
const PATTERN = [true, false, false, true, false, false, true, true];

/** The transitions and final counters the pattern gives a check fed one result per heartbeat. */
function expectedOf(pattern: readonly boolean[]): { to: string[]; state: string; failures: number; successes: number } {
  let state = 'new';
  let failures = 0;
  let successes = 0;
  const to: string[] = [];
  for (const ok of pattern) {
    failures = ok ? 0 : failures + 1;
    successes = ok ? successes + 1 : 0;
    const next = failures >= 2 && state !== 'down' ? 'down' : ok && state !== 'up' ? 'up' : state;
    if (next !== state) to.push(next);
    state = next;
  }
  return { to, state, failures, successes };
}

/** `evaluators` evaluations over the same store at once, each starting `offsetMs` after the one before. */
async function race(store: Store, offsetMs: number, evaluators = 2): Promise<void> {
  const relays = ids(4);
  const settings = settingsFor(relays);
  for (const [i, ok] of PATTERN.entries()) await ingestAll(store, relays, i + 1, i * 300, ok);
  const now = at(PATTERN.length * 300);
  const runs = await Promise.all(
    Array.from({ length: evaluators }, (_, i) => new Promise((resolve) => setTimeout(resolve, i * offsetMs)).then(() => evaluateHeartbeats(settings, store, now, { history: new HistoryCache() }))),
  );
  const all = runs.flat();
  expect(all.flatMap((e) => e.errors)).toEqual([]);
  const probe = expectedOf(PATTERN);
  const beatOnly = expectedOf(PATTERN.map(() => true));
  const expected = relays
    .flatMap((id) => [...TARGETS.flatMap((t) => probe.to.map((to) => `relay:${id}:${t} ${to}`)), ...beatOnly.to.map((to) => `heartbeat:${id} ${to}`)])
    .sort();
  // Each transition once, by whichever evaluator wrote it: the others found it recorded.
  expect(all.flatMap((e) => e.transitions.map((t) => `${t.checkId} ${t.to}`)).sort()).toEqual(expected);
  // Every heartbeat processed by one evaluator or another (one that found its results already
  // recorded and only moved the record on counts it too).
  expect(all.reduce((n, e) => n + e.heartbeatsProcessed, 0)).toBeGreaterThanOrEqual(relays.length * PATTERN.length);
  for (const check of await listChecks(store)) {
    const want = check.kind === 'heartbeat' ? beatOnly : probe;
    // Every result counted once: no more failures or successes in a row than were reported.
    expect(check).toMatchObject({ state: want.state, consecutiveFailures: want.failures, consecutiveSuccesses: want.successes });
    expect((await listTransitions(store, check.id)).map((t) => t.to)).toEqual(want.to);
    // Its history too: every run counted once, each outage one incident, closed.
    const pattern = check.kind === 'heartbeat' ? PATTERN.map(() => true) : PATTERN;
    const rows = await readHistory(store, check.id);
    expect(rows.map((r) => [r.daily.runs, r.daily.failures]), check.id).toEqual([[pattern.length, pattern.filter((ok) => !ok).length]]);
    expect(incidentsOf(rows).map((i) => [i.to, i.until !== null]), check.id).toEqual(want.to.filter((to) => to === 'down').map(() => ['down', true]));
  }
  const records = await store.list<{ lastSequence: number }>('relays');
  expect(records.map((r) => r.value.lastSequence)).toEqual(relays.map(() => PATTERN.length));
}

describe('evaluators at once', () => {
  it.each([
    [2, 0],
    [2, 3],
    [2, 7],
    [2, 16],
    [2, 40],
    [3, 5],
    [3, 11],
  ])('record every result and transition once: %i evaluators through a 5 ms store, %i ms apart', async (evaluators, offset) => {
    await race(new LatencyStore(new MemoryStore(), { latencyMs: 5 }), offset, evaluators);
  });

  describe('on Table Storage (Azurite)', () => {
    let azurite: RunningAzurite;
    let tables = 0;
    beforeAll(async () => {
      azurite = await startAzurite({});
    });
    afterAll(() => azurite.close());

    it.each([
      [2, 0],
      [2, 2],
      [3, 4],
    ])('record every result and transition once: %i evaluators, %i ms apart', async (evaluators, offset) => {
      const store = TableStore.fromConnectionString(azurite.connectionString, { tableName: `race${Date.now().toString(36)}t${++tables}` });
      await store.ready();
      await race(store, offset, evaluators);
    });
  });
});
