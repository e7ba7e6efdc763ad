/**
 * Page render: `/api/dashboard` for 50 checks with 90 days of history, against `/api/status`
 * for the same store, both as the server runs them (the route functions, no HTTP in between),
 * on an in-process Azurite through TableStore as `serve` uses it. The status page reads what
 * /api/status reads plus every check's history rows and draws them; the ratio says what that
 * costs over the bare status. Median of interleaved runs; the page's size against 200 KB.
 *
 * The store is made as the monitor makes it: 3 relays post a heartbeat (9 relay probes and a
 * keepalive report each) and one evaluation turns them into their checks; cloud probes fill up
 * to 50 checks through recordResult, two of them failing into down; then 89 earlier days of
 * history are written straight into the history rows (288 runs a day, hours for the last two
 * days, a few failures and ended incidents), as 90 days of the monitor would have left them.
 */
import { parseSettings, type Settings } from '../src/config/settings.js';
import { dashboard, dashboardModel } from '../src/api/dashboard.js';
import { status } from '../src/api/handlers.js';
import { type CheckIdentity } from '../src/checks/state.js';
import { historyKey, type Bucket, type HistoryRow, type Incident } from '../src/history/history.js';
import { HISTORY } from '../src/history/history-repository.js';
import { addDuration, EMPTY_SKETCH, mergeSketches, type Sketch } from '../src/history/sketch.js';
import { dayOf, DAY_MS, HOUR_MS } from '../src/history/time.js';
import { ingestHeartbeat, SequenceCache } from '../src/heartbeat/ingest.js';
import type { Heartbeat } from '../src/heartbeat/schema.js';
import { startAzurite } from '../src/local/azurite.js';
import { CHECKS, listChecks, recordResult } from '../src/monitor/checks-repository.js';
import { evaluateHeartbeats } from '../src/monitor/evaluate-heartbeats.js';
import { cloudCheckId } from '../src/monitor/probe-cycle.js';
import type { ProbeResult } from '../src/probes/result.js';
import type { Store } from '../src/store/store.js';
import { TableStore } from '../src/store/table-store.js';
import { renderDashboard } from '../src/web/dashboard.js';
import { isMain, median, round } from './support.js';

export const PAGE_MAX_BYTES = 200 * 1024;
export const PAGE_CHECKS = 50;
export const PAGE_DAYS = 90;

export interface DashboardRenderOptions {
  /** Timed runs of each route (interleaved), after WARMUP untimed ones. */
  readonly runs?: number;
}

export interface DashboardRenderResult {
  readonly checks: number;
  readonly days: number;
  readonly historyRows: number;
  /** What those rows weigh as stored (JSON), all of which the page reads; /api/status reads the check records only. */
  readonly historyBytes: number;
  readonly runs: number;
  /** Median server time of each route (ms) and their ratio. */
  readonly dashboardMs: number;
  readonly statusMs: number;
  readonly ratio: number;
  /** Of the dashboard's time: drawing the page from the model already read (ms, median). */
  readonly renderMs: number;
  readonly pageBytes: number;
  readonly maxBytes: number;
  readonly openIncidents: number;
}

const WARMUP = 3;
const RELAYS = ['connect01', 'connect02', 'connect03'];
const host = (i: number): string => `https://ssprdedicatedsbprod${String(i).padStart(3, '0')}.servicebus.windows.net/`;

export async function benchDashboardRender(options: DashboardRenderOptions = {}): Promise<DashboardRenderResult> {
  const runs = options.runs ?? 15;
  const azurite = await startAzurite({});
  const store = TableStore.fromConnectionString(azurite.connectionString);
  try {
    await store.ready();
    const now = new Date();
    const { settings, historyRows } = await seedFiftyChecks(store, now);
    const historyBytes = (await store.list(HISTORY)).reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e.value)), 0);

    const dashboardTimes: number[] = [];
    const statusTimes: number[] = [];
    const renderTimes: number[] = [];
    let pageBytes = 0;
    for (let i = 0; i < WARMUP + runs; i++) {
      const at = new Date();
      let t0 = performance.now();
      const page = await dashboard(store, settings, at);
      const dashboardMs = performance.now() - t0;
      if (page.status !== 200) throw new Error(`/api/dashboard answered ${page.status}: ${JSON.stringify(page.body)}`);
      pageBytes = Buffer.byteLength(String(page.body));
      t0 = performance.now();
      const state = await status(store, settings.targets, settings.relays, at, settings.alerting.maintenance, settings.relayProblems);
      const statusMs = performance.now() - t0;
      if (state.status !== 200) throw new Error(`/api/status answered ${state.status}`);
      if (i >= WARMUP) {
        dashboardTimes.push(dashboardMs);
        statusTimes.push(statusMs);
      }
    }
    const model = await dashboardModel(store, settings, now);
    if ('status' in model) throw new Error('the model could not be read');
    for (let i = 0; i < WARMUP + runs; i++) {
      const t0 = performance.now();
      renderDashboard(model);
      if (i >= WARMUP) renderTimes.push(performance.now() - t0);
    }
    const dashboardMs = median(dashboardTimes);
    const statusMs = median(statusTimes);
    return {
      checks: model.checks.length,
      days: model.days,
      historyRows,
      historyBytes,
      runs,
      dashboardMs,
      statusMs,
      ratio: dashboardMs / statusMs,
      renderMs: median(renderTimes),
      pageBytes,
      maxBytes: PAGE_MAX_BYTES,
      openIncidents: model.checks.reduce((n, c) => n + c.incidents.filter((x) => x.until === null).length, 0),
    };
  } finally {
    await store.close();
    await azurite.close();
  }
}

/** 3 relays' checks through a heartbeat and an evaluation, cloud probes up to 50 (two down), then 89 days of history each. */
async function seedFiftyChecks(store: Store, now: Date): Promise<{ settings: Settings; historyRows: number }> {
  const relays = Object.fromEntries(RELAYS.map((id) => [id, { secret: `secret-${id}-`.padEnd(40, 'x') }]));
  const sequences = new SequenceCache();
  for (const [r, relayId] of RELAYS.entries()) {
    const outcome = await ingestHeartbeat(store, relayId, relayHeartbeat(relayId, r, now), now, sequences);
    if (outcome.status !== 202) throw new Error(`seeding ${relayId} answered ${outcome.status}`);
  }
  const relaySettings = parseSettings({ WBMON_RELAYS: JSON.stringify(relays) });
  await evaluateHeartbeats(relaySettings, store, now);
  const relayChecks = (await listChecks(store)).length;
  const cloud = PAGE_CHECKS - relayChecks;
  if (cloud < 1) throw new Error(`the relays made ${relayChecks} checks, more than ${PAGE_CHECKS}`);
  const targets = Array.from({ length: cloud }, (_, i) => host(i));
  const settings = parseSettings({ WBMON_RELAYS: JSON.stringify(relays), WBMON_TARGETS: targets.join(',') });
  const thresholds = { failure: settings.failureThreshold, success: settings.successThreshold };
  for (const [i, target] of targets.entries()) {
    const identity: CheckIdentity = { id: cloudCheckId(target), kind: 'probe', target, location: 'westeurope' };
    const failing = i === 2 || i === 5;
    // Enough results for the thresholds: a failing target goes down (and records its incident).
    for (let n = 0; n < Math.max(thresholds.failure, thresholds.success); n++) {
      const startedAt = new Date(now.getTime() - (5 - n) * 60_000).toISOString();
      await recordResult(store, identity, probeResult(target, startedAt, failing), thresholds, now);
    }
  }
  const ids = (await store.list<{ id: string }>(CHECKS)).map((e) => e.value.id);
  if (ids.length !== PAGE_CHECKS) throw new Error(`seeded ${ids.length} checks, not ${PAGE_CHECKS}`);
  let historyRows = 0;
  for (const [i, id] of ids.entries()) historyRows += await seedHistory(store, id, now, { days: PAGE_DAYS, seed: i + 1 });
  return { settings, historyRows };
}

function relayHeartbeat(relayId: string, r: number, at: Date): Heartbeat {
  const startedAt = at.toISOString();
  const targets = Array.from({ length: 9 }, (_, i) => host(100 + r * 10 + i));
  return {
    version: 1,
    relayId,
    sequence: 1,
    sentAt: startedAt,
    host: `${relayId}.corp.example`,
    agentVersion: '0.1.0',
    results: targets.map((target) => ({ target, ok: true, startedAt, warnings: [], proxy: null, http: { status: 200 }, timings: { dns: 3, tcp: 10, tls: 20, ttfb: 40, total: 80 } })),
    buffer: { pending: r, dropped: 0 },
    keepalive: {
      target: targets[0]!,
      requiredSeconds: 180,
      passed: true,
      finishedAt: startedAt,
      results: [{ target: targets[0]!, idleSeconds: 180, startedAt, survived: true, serverKeepAliveSeconds: null, proxy: null }],
    },
  };
}

function probeResult(target: string, startedAt: string, failing: boolean): ProbeResult {
  return failing
    ? { target, ok: false, startedAt, failure: { code: 'tls_untrusted', phase: 'tls', message: 'the chain does not lead to a trusted root' }, warnings: [], timings: { dns: 2, tcp: 9, total: 31 }, proxy: null }
    : { target, ok: true, startedAt, warnings: [], timings: { dns: 3.2, tcp: 10.5, tls: 20.1, ttfb: 40.3, total: 80.7 }, proxy: null, http: { status: 200 } };
}

export interface SeedHistoryOptions {
  /** Days of history ending yesterday (today is left to the monitor): days - 1 rows. */
  readonly days: number;
  /** Runs per hour (12: every 5 minutes). */
  readonly runsPerHour?: number;
  /** Median of the total duration (ms); ttfb is about half. */
  readonly medianMs?: number;
  /** Varies the pattern between checks. */
  readonly seed?: number;
}

/**
 * Writes a check's history rows for the `days - 1` UTC days before today, as the monitor
 * would have recorded them: `runsPerHour` runs an hour, hourly buckets on the last two days
 * (older rows are compacted to their day), a few failed runs on some days and a 20-minute
 * incident with its recovery on a few. Inserts only: call before the monitor writes rows of
 * those days. Returns the rows written.
 */
export async function seedHistory(store: Store, checkId: string, now: Date, options: SeedHistoryOptions): Promise<number> {
  const perHour = options.runsPerHour ?? 12;
  const medianMs = options.medianMs ?? 80;
  const random = mulberry32(options.seed ?? 1);
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  let rows = 0;
  for (let ago = options.days - 1; ago >= 1; ago--) {
    const dayStart = today - ago * DAY_MS;
    const failedHour = random() < 0.05 ? Math.floor(random() * 24) : -1;
    const hours: Record<string, Bucket> = {};
    for (let h = 0; h < 24; h++) {
      let total: Sketch = EMPTY_SKETCH;
      let ttfb: Sketch = EMPTY_SKETCH;
      const failures = h === failedHour ? 1 + Math.floor(random() * 4) : 0;
      for (let n = 0; n < perHour - failures; n++) {
        const ms = medianMs * Math.exp(0.25 * gaussian(random)) * (1 + 0.15 * Math.sin((h / 24) * 2 * Math.PI));
        total = addDuration(total, ms);
        ttfb = addDuration(ttfb, ms / 2);
      }
      hours[String(h).padStart(2, '0')] = { runs: perHour, failures, total, ttfb };
    }
    const buckets = Object.values(hours);
    const daily: Bucket = {
      runs: buckets.reduce((n, b) => n + b.runs, 0),
      failures: buckets.reduce((n, b) => n + b.failures, 0),
      total: buckets.reduce((s, b) => mergeSketches(s, b.total!), EMPTY_SKETCH),
      ttfb: buckets.reduce((s, b) => mergeSketches(s, b.ttfb!), EMPTY_SKETCH),
    };
    const incidents: Incident[] = [];
    const recoveries: string[] = [];
    if (failedHour >= 0 && daily.failures >= 2) {
      const at = dayStart + failedHour * HOUR_MS + 10 * 60_000;
      incidents.push({ from: 'up', to: 'down', at: new Date(at).toISOString(), code: 'tcp_timeout', phase: 'tcp', message: 'no answer to SYN within 10000 ms' });
      recoveries.push(new Date(at + 20 * 60_000).toISOString());
    }
    const day = dayOf(new Date(dayStart));
    const row: HistoryRow = {
      v: 1,
      checkId,
      day,
      daily,
      ...(ago <= 2 && { hours }),
      incidents,
      ...(recoveries.length > 0 && { recoveries }),
    };
    await store.insert(HISTORY, historyKey(checkId, day), row);
    rows++;
  }
  return rows;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
}

export function formatDashboardRender(r: DashboardRenderResult): string {
  return [
    `page render: /api/dashboard vs /api/status, ${r.checks} checks with ${r.days} days of history, TableStore on in-process Azurite, median of ${r.runs}`,
    `  (the page reads ${r.historyRows} history rows, ${(r.historyBytes / 1e6).toFixed(2)} MB as stored, besides what /api/status reads)`,
    `  /api/dashboard  ${r.dashboardMs.toFixed(1).padStart(8)} ms   (drawing the page from the model: ${r.renderMs.toFixed(2)} ms)`,
    `  /api/status     ${r.statusMs.toFixed(1).padStart(8)} ms`,
    `  ratio           ${r.ratio.toFixed(2).padStart(8)}      (no target: printed)`,
    `  page            ${(r.pageBytes / 1024).toFixed(1).padStart(8)} KB   (target < ${r.maxBytes / 1024} KB; ${r.openIncidents} open incidents with their remediation)`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const result = await benchDashboardRender();
  console.log(formatDashboardRender(result));
  console.log(JSON.stringify({ ...result, ratio: round(result.ratio, 3) }));
}
