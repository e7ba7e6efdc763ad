/**
 * Alert latency: from a check's state transition to a Teams message arriving, in one process.
 * t0 is the moment recordResult (into a TableStore on an in-process Azurite) returns with a
 * transition; an evaluateAlerts pass runs at once (policy, outbox insert, claim, send); the
 * sample ends when a loopback capture server standing in for the Teams Workflows webhook has
 * the whole request body. Target: median under 100 ms with the outbox on Azurite.
 *
 * Every sample uses a check of its own, so the policy always has a new `triggered` to say.
 * evaluateAlerts lists every check (and every outbox row) on each pass, so the cost grows with
 * the store: the number of checks at the last sample is reported with the result.
 *
 * Baseline, same run, interleaved with the samples: a bare `teamsChannel.send(event)` to the
 * same capture server, no store; latency from calling send to the body's arrival.
 */
import { createServer } from 'node:http';
import { teamsChannel } from '../src/alerting/channels/teams/index.js';
import type { Channel } from '../src/alerting/channels/channel.js';
import { evaluateAlerts } from '../src/alerting/evaluate-alerts.js';
import type { AlertEvent } from '../src/alerting/event.js';
import { ALERTS } from '../src/alerting/outbox.js';
import type { CheckIdentity, CheckResult } from '../src/checks/state.js';
import { parseSettings } from '../src/config/settings.js';
import { startAzurite } from '../src/local/azurite.js';
import { CHECKS, recordResult } from '../src/monitor/checks-repository.js';
import { TableStore } from '../src/store/table-store.js';
import { isMain, listenLoopback, median, round, percentile } from './support.js';

export const ALERT_MAX_MEDIAN_MS = 100;
/** Throttled: transition -> accepted delivery, over (Retry-After + unthrottled median). */
export const THROTTLED_MAX_RATIO = 1.5;
const RETRY_AFTER_S = 1;

export interface AlertLatencyOptions {
  readonly samples?: number;
  readonly warmup?: number;
  /** Samples whose first delivery is answered 429 with Retry-After: 1 (default 5). */
  readonly throttledSamples?: number;
}

export interface LatencyStats {
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly maxMs: number;
}

export interface AlertLatencyResult {
  readonly samples: number;
  readonly warmup: number;
  /** Checks (and outbox rows) in the store when the last sample ran. */
  readonly checksAtLast: number;
  readonly outboxRowsAtLast: number;
  /** Transition (recordResult returned) to the capture server holding the Teams body. */
  readonly pipeline: LatencyStats;
  /** The first and the last measured sample. */
  readonly firstMs: number;
  readonly lastMs: number;
  /** Bare teamsChannel.send to the same capture server, no store. */
  readonly baseline: LatencyStats;
  /** pipeline median / baseline median. */
  readonly ratio: number;
  /** recordResult itself (before t0, not in the latency): median ms, for reference. */
  readonly recordMedianMs: number;
  readonly maxMedianMs: number;
  /** Transition to the accepted delivery when the first try got 429 with Retry-After: 1. */
  readonly throttled: LatencyStats;
  readonly throttledSamples: number;
  readonly retryAfterMs: number;
  /** throttled median / (Retry-After + pipeline median). */
  readonly throttledRatio: number;
  readonly maxThrottledRatio: number;
}

/** Nearest-rank percentile of an unsorted sample. */
function stats(values: readonly number[]): LatencyStats {
  return { medianMs: round(median(values)), p90Ms: round(percentile(values, 90)), maxMs: round(Math.max(...values)) };
}

interface Capture {
  readonly url: string;
  /** performance.now() of every request accepted (202) whose body has fully arrived, in order. */
  readonly arrivals: number[];
  /** Requests to answer 429 with Retry-After before accepting again. */
  throttleNext: number;
  close(): Promise<void>;
}

/** A loopback stand-in for the Teams Workflows webhook: reads the body, notes the time, answers 202. */
async function startCapture(): Promise<Capture> {
  const arrivals: number[] = [];
  const capture = { throttleNext: 0 };
  const server = createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      if (capture.throttleNext > 0) {
        capture.throttleNext--;
        res.writeHead(429, { 'retry-after': String(RETRY_AFTER_S), 'content-length': '0' });
        res.end();
        return;
      }
      arrivals.push(performance.now());
      res.writeHead(202, { 'content-length': '0' });
      res.end();
    });
  });
  const port = await listenLoopback(server);
  return Object.assign(capture, {
    url: `http://127.0.0.1:${port}/workflows/bench/triggers/manual/paths/invoke`,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** The arrival time of the one request that came in after `before` arrivals. */
function arrivedOnce(capture: Capture, before: number, what: string): number {
  const got = capture.arrivals.length - before;
  if (got !== 1) throw new Error(`${what}: capture server got ${got} requests, expected 1`);
  return capture.arrivals[before]!;
}

export async function benchAlertLatency(options: AlertLatencyOptions = {}): Promise<AlertLatencyResult> {
  const samples = options.samples ?? 30;
  const warmup = options.warmup ?? 5;
  const throttledSamples = options.throttledSamples ?? 5;
  const azurite = await startAzurite({});
  const capture = await startCapture();
  const store = TableStore.fromConnectionString(azurite.connectionString, { tableName: 'alertlatency' });
  try {
    await store.ready();
    const channel = teamsChannel(capture.url);
    const channels = new Map<string, Channel>([['teams', channel]]);
    const settings = parseSettings({ WBMON_TEAMS_WEBHOOK_URL: capture.url, WBMON_FAILURE_THRESHOLD: '1', WBMON_SUCCESS_THRESHOLD: '1' });
    const thresholds = { failure: settings.failureThreshold, success: settings.successThreshold };

    let lastEvent: AlertEvent | undefined;
    const pipeline = async (i: number): Promise<{ latencyMs: number; recordMs: number }> => {
      const target = `https://bench-${i}.example/`;
      const identity: CheckIdentity = { id: `cloud:${target}`, kind: 'probe', target, location: 'bench' };
      const result: CheckResult = { ok: false, startedAt: new Date().toISOString(), failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer' } };
      const before = capture.arrivals.length;
      const r0 = performance.now();
      const recorded = await recordResult(store, identity, result, thresholds, new Date());
      const t0 = performance.now();
      if (!recorded.transition) throw new Error(`sample ${i}: recordResult made no transition`);
      const pass = await evaluateAlerts(settings, store, channels, new Date());
      if (pass.events.length !== 1 || pass.delivery.sent !== 1) {
        throw new Error(`sample ${i}: expected 1 event and 1 sent, got ${pass.events.length} and ${JSON.stringify(pass.delivery)}`);
      }
      lastEvent = pass.events[0];
      return { latencyMs: arrivedOnce(capture, before, `sample ${i}`) - t0, recordMs: t0 - r0 };
    };
    const bare = async (event: AlertEvent): Promise<number> => {
      const before = capture.arrivals.length;
      const s0 = performance.now();
      await channel.send(event);
      return arrivedOnce(capture, before, 'baseline') - s0;
    };

    for (let i = 0; i < warmup; i++) {
      await pipeline(i);
      await bare(lastEvent!);
    }
    const latencies: number[] = [];
    const records: number[] = [];
    const baselines: number[] = [];
    // Interleaved, one of each per round, so drift in load hits both alike.
    for (let i = warmup; i < warmup + samples; i++) {
      const p = await pipeline(i);
      latencies.push(p.latencyMs);
      records.push(p.recordMs);
      baselines.push(await bare(lastEvent!));
    }
    // Throttled: the receiver answers the first try 429 with Retry-After: 1; the outbox waits
    // that second inside the same pass and the second try is accepted.
    const throttled: number[] = [];
    for (let i = warmup + samples; i < warmup + samples + throttledSamples; i++) {
      capture.throttleNext = 1;
      throttled.push((await pipeline(i)).latencyMs);
      if (capture.throttleNext !== 0) throw new Error(`throttled sample ${i}: the capture server was never asked`);
    }
    const checksAtLast = (await store.list(CHECKS)).length;
    const outboxRowsAtLast = (await store.list(ALERTS)).length;
    const p = stats(latencies);
    const b = stats(baselines);
    return {
      samples,
      warmup,
      checksAtLast,
      outboxRowsAtLast,
      pipeline: p,
      firstMs: round(latencies[0]!),
      lastMs: round(latencies[latencies.length - 1]!),
      baseline: b,
      ratio: round(median(latencies) / median(baselines), 2),
      recordMedianMs: round(median(records)),
      maxMedianMs: ALERT_MAX_MEDIAN_MS,
      throttled: stats(throttled),
      throttledSamples,
      retryAfterMs: RETRY_AFTER_S * 1000,
      throttledRatio: round(median(throttled) / (RETRY_AFTER_S * 1000 + median(latencies)), 3),
      maxThrottledRatio: THROTTLED_MAX_RATIO,
    };
  } finally {
    await store.close();
    await capture.close();
    await azurite.close();
  }
}

export function formatAlertLatency(r: AlertLatencyResult): string {
  const row = (s: LatencyStats) => `median ${s.medianMs.toFixed(2)} ms, p90 ${s.p90Ms.toFixed(2)} ms, max ${s.maxMs.toFixed(2)} ms`;
  return [
    `alert latency: transition recorded in Azurite -> evaluateAlerts -> Teams body at a loopback capture server (${r.samples} samples after ${r.warmup} warm-ups, one new check each)`,
    `  pipeline: ${row(r.pipeline)} (target median < ${r.maxMedianMs} ms)`,
    `  first sample ${r.firstMs.toFixed(2)} ms (${r.warmup + 1} checks), last ${r.lastMs.toFixed(2)} ms (${r.checksAtLast} checks)`,
    `  baseline, bare teamsChannel.send: ${row(r.baseline)}`,
    `  ratio pipeline/baseline median ${r.ratio.toFixed(2)}; store at the last sample: ${r.checksAtLast} checks, ${r.outboxRowsAtLast} outbox rows (listed every pass)`,
    `  recordResult itself (before t0, not counted): median ${r.recordMedianMs.toFixed(2)} ms`,
    `  throttled (429, Retry-After ${r.retryAfterMs / 1000} s, then 202; ${r.throttledSamples} samples): ${row(r.throttled)}; / (Retry-After + pipeline median) = ${r.throttledRatio.toFixed(3)} (target <= ${r.maxThrottledRatio})`,
  ].join('\n');
}

if (isMain(import.meta.url)) console.log(formatAlertLatency(await benchAlertLatency()));
