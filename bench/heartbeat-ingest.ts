/**
 * Heartbeat ingest throughput: heartbeats per second through the real HTTP API (signature
 * check, schema, replay guard, store writes) into an in-process Azurite, divided by raw
 * `upsertEntity` calls of the same entity size against the same Azurite, same concurrency,
 * same run. The ratio says how much of Azurite's own write rate the monitor keeps.
 *
 * Everything (client, monitor, Azurite) shares one process, so both sides pay the same CPU.
 */
import { TableClient, type TableEntity } from '@azure/data-tables';
import { Pool } from 'undici';
import { parseSettings } from '../src/config/settings.js';
import type { Heartbeat } from '../src/heartbeat/schema.js';
import { sign } from '../src/heartbeat/verify.js';
import { startAzurite } from '../src/local/azurite.js';
import { serve } from '../src/local/serve.js';
import { ROUNDTRIP, SUBJECT_KEY } from '../src/roundtrip/subject-names.js';
import { TableStore } from '../src/store/table-store.js';
import { isMain, median, round, percentile } from './support.js';

export interface HeartbeatIngestOptions {
  readonly relays?: number;
  /** Requests in flight at once, for both the API and the baseline. */
  readonly concurrency?: number;
  /** Heartbeats (and upserts) per measured round. */
  readonly count?: number;
  readonly rounds?: number;
  readonly warmup?: number;
  /** Seed the round trip's test user (store row roundtrip/subject), so every 202 carries roundtrip.users. */
  readonly roundtrip?: boolean;
}

export interface HeartbeatIngestResult {
  readonly relays: number;
  readonly concurrency: number;
  readonly count: number;
  readonly bodyBytes: number;
  /** Per round: API heartbeats/s, raw upserts/s, their ratio. */
  readonly rounds: { apiPerSec: number; rawPerSec: number; ratio: number }[];
  readonly medianApiPerSec: number;
  readonly medianRawPerSec: number;
  readonly medianRatio: number;
  /** Latency of one POST /api/heartbeat (all measured rounds pooled), and of one raw upsert. */
  readonly api: { p50Ms: number; p99Ms: number };
  readonly raw: { p50Ms: number; p99Ms: number };
  /** Target: medianRatio at least this. */
  readonly minRatio: number;
}

export const INGEST_MIN_RATIO = 0.7;
const TARGET = 'https://passwordreset.microsoftonline.com/';

/** Nearest-rank percentile of an unsorted sample. */
function heartbeat(relayId: string, sequence: number): Heartbeat {
  const at = new Date().toISOString();
  const result = (target: string) => ({
    target, ok: true, startedAt: at, warnings: [], proxy: null, http: { status: 200 },
    timings: { dns: 3, tcp: 10, tls: 20, ttfb: 40, total: 80 },
  });
  return {
    version: 1, relayId, sequence, sentAt: at, host: 'connect01.corp.example', agentVersion: '0.1.0',
    results: [result(TARGET), result('https://ssprdedicatedsbprodscu.servicebus.windows.net/'), result('https://ssprdedicatedsbprodncu.servicebus.windows.net/')],
    buffer: { pending: 0, dropped: 0 },
  };
}

/** Runs `count` jobs with `concurrency` workers; worker w runs jobs w, w+c, w+2c, ... in order. Returns per-job ms. */
async function drive(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<{ wallMs: number; latencies: number[] }> {
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = w; i < count; i += concurrency) {
        const t0 = performance.now();
        await job(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return { wallMs: performance.now() - start, latencies };
}

export async function benchHeartbeatIngest(options: HeartbeatIngestOptions = {}): Promise<HeartbeatIngestResult> {
  const relayCount = options.relays ?? 24;
  const concurrency = options.concurrency ?? 8;
  // Many short alternating rounds rather than a few long ones: this machine's noise comes in
  // bursts, and a median over more pairs is steadier (3 rounds of 2000 gave 0.58 to 0.82).
  const count = options.count ?? 800;
  const rounds = options.rounds ?? 9;
  const warmup = options.warmup ?? 1000;
  // Relay r is only ever sent by worker r % concurrency (see drive): one request in flight per
  // relay, so its sequence numbers arrive in order. That needs relays to be a multiple of it.
  if (relayCount % concurrency !== 0) throw new Error('relays must be a multiple of concurrency');

  const relays = Array.from({ length: relayCount }, (_, i) => ({ id: `bench-r${i}`, secret: `bench-secret-${i}-`.padEnd(48, 'x') }));
  const azurite = await startAzurite({});
  const monitor = await serve({
    settings: parseSettings({
      WBMON_TARGETS: 'https://127.0.0.1:1/',
      WBMON_PROBE_SCHEDULE: '0 0 0 1 1 *',
      WBMON_EVALUATE_SCHEDULE: '0 0 0 1 1 *',
      WBMON_RELAYS: JSON.stringify(Object.fromEntries(relays.map((r) => [r.id, { secret: r.secret }]))),
      AzureWebJobsStorage: azurite.connectionString,
    }),
    port: 0,
    log: () => {},
  });
  const pool = new Pool(monitor.url, { connections: concurrency, pipelining: 1 });
  try {
    await monitor.firstCycle; // probes 127.0.0.1:1, fails at once; it also creates the table
    if (options.roundtrip) {
      const store = TableStore.fromConnectionString(azurite.connectionString);
      await store.insert(ROUNDTRIP, SUBJECT_KEY, { userId: 'bench-user', names: ['rt-test@contoso.com', 'rttest', 'rt-test@corp.contoso.com'], updatedAt: new Date().toISOString() });
      await store.close();
    }

    // --- the API path: bodies built and signed before the clock starts (a relay does that on its own machine)
    const sequences = relays.map(() => 0);
    const prepare = (n: number) =>
      Array.from({ length: n }, (_, i) => {
        const r = i % relayCount; // job i runs on worker i % concurrency, which owns relay r
        const relay = relays[r]!;
        const body = Buffer.from(JSON.stringify(heartbeat(relay.id, ++sequences[r]!)));
        const timestamp = String(Math.floor(Date.now() / 1000));
        const headers = { 'content-type': 'application/json', 'x-wbmon-relay': relay.id, 'x-wbmon-timestamp': timestamp, 'x-wbmon-signature': sign(relay.secret, timestamp, body) };
        return { body, headers };
      });
    const api = async (n: number) => {
      const requests = prepare(n);
      return drive(n, concurrency, async (i) => {
        const { statusCode, body } = await pool.request({ path: '/api/heartbeat', method: 'POST', ...requests[i]! });
        const text = await body.text();
        if (statusCode !== 202) throw new Error(`heartbeat answered ${statusCode}: ${text}`);
      });
    };

    // --- the baseline: one upsert per heartbeat, the same JSON size, split as TableStore splits it
    const sample = JSON.stringify(heartbeat(relays[0]!.id, 1));
    const chunks: Record<string, string> = {};
    for (let i = 0; i * 30_000 < sample.length; i++) chunks[i === 0 ? 'data' : `data${i}`] = sample.slice(i * 30_000, (i + 1) * 30_000);
    const client = TableClient.fromConnectionString(azurite.connectionString, 'benchraw', { allowInsecureConnection: true });
    await client.createTable();
    let rawKey = 0;
    const raw = (n: number) => {
      const base = rawKey;
      rawKey += n;
      return drive(n, concurrency, async (i) => {
        const entity: TableEntity = { partitionKey: 'raw', rowKey: String(base + i).padStart(16, '0'), ...chunks };
        await client.upsertEntity(entity);
      });
    };

    await api(warmup);
    await raw(warmup);
    const measured: HeartbeatIngestResult['rounds'] = [];
    const apiLatencies: number[] = [];
    const rawLatencies: number[] = [];
    // Alternate, and swap which goes first each round, so drift in load hits both alike.
    for (let r = 0; r < rounds; r++) {
      const a = r % 2 === 0 ? await api(count) : undefined;
      const b = await raw(count);
      const c = a ?? (await api(count));
      apiLatencies.push(...c.latencies);
      rawLatencies.push(...b.latencies);
      const apiPerSec = count / (c.wallMs / 1000);
      const rawPerSec = count / (b.wallMs / 1000);
      measured.push({ apiPerSec: round(apiPerSec, 1), rawPerSec: round(rawPerSec, 1), ratio: round(apiPerSec / rawPerSec, 3) });
    }
    return {
      relays: relayCount,
      concurrency,
      count,
      bodyBytes: Buffer.byteLength(sample),
      rounds: measured,
      medianApiPerSec: round(median(measured.map((m) => m.apiPerSec)), 1),
      medianRawPerSec: round(median(measured.map((m) => m.rawPerSec)), 1),
      medianRatio: round(median(measured.map((m) => m.ratio)), 3),
      api: { p50Ms: round(percentile(apiLatencies, 50)), p99Ms: round(percentile(apiLatencies, 99)) },
      raw: { p50Ms: round(percentile(rawLatencies, 50)), p99Ms: round(percentile(rawLatencies, 99)) },
      minRatio: INGEST_MIN_RATIO,
    };
  } finally {
    await pool.close();
    await monitor.stop();
    await azurite.close();
  }
}

export function formatHeartbeatIngest(r: HeartbeatIngestResult): string {
  const lines = [
    `heartbeat ingest: POST /api/heartbeat into Azurite vs raw upsertEntity of the same size (${r.bodyBytes} B body, ${r.relays} relays, ${r.concurrency} in flight, ${r.count} per round)`,
  ];
  r.rounds.forEach((m, i) => lines.push(`  round ${i + 1}: api ${m.apiPerSec.toFixed(1)}/s, raw ${m.rawPerSec.toFixed(1)}/s, ratio ${m.ratio.toFixed(3)}`));
  lines.push(`  median: api ${r.medianApiPerSec.toFixed(1)}/s, raw ${r.medianRawPerSec.toFixed(1)}/s, ratio ${r.medianRatio.toFixed(3)} (target >= ${r.minRatio})`);
  lines.push(`  latency api p50 ${r.api.p50Ms.toFixed(2)} ms, p99 ${r.api.p99Ms.toFixed(2)} ms; raw upsert p50 ${r.raw.p50Ms.toFixed(2)} ms, p99 ${r.raw.p99Ms.toFixed(2)} ms`);
  return lines.join('\n');
}

// WBMON_BENCH_ROUNDTRIP=1: with the round trip's row, so the answers carry its names.
if (isMain(import.meta.url)) console.log(formatHeartbeatIngest(await benchHeartbeatIngest({ roundtrip: process.env.WBMON_BENCH_ROUNDTRIP === '1' })));
