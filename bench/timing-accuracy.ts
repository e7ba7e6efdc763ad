/**
 * Timing accuracy: a server delays its first byte by a known amount; the probe's reported ttfb,
 * less the same probe's ttfb at 0 ms delay (the server's and loopback's own overhead), should
 * equal the injected delay.
 */
import { probeTarget } from '../src/probes/probe.js';
import { isMain, makeCerts, median, respondAfter, round, startHttps } from './support.js';

export interface TimingAccuracyOptions {
  readonly delaysMs?: readonly number[];
  readonly samples?: number;
}

export interface DelayAccuracy {
  readonly delayMs: number;
  readonly medianTtfbMs: number;
  /** (medianTtfb - baseline) - delay */
  readonly errorMs: number;
  readonly samplesMs: number[];
}

export interface TimingAccuracyResult {
  readonly samples: number;
  /** Median ttfb with no injected delay. */
  readonly baselineTtfbMs: number;
  readonly delays: DelayAccuracy[];
  /** Target: |errorMs| at most this for every delay. */
  readonly maxErrorMs: number;
}

export const TIMING_MAX_ERROR_MS = 5;

export async function benchTimingAccuracy(options: TimingAccuracyOptions = {}): Promise<TimingAccuracyResult> {
  const delays = options.delaysMs ?? [20, 80, 200];
  const samples = options.samples ?? 7;
  const certs = makeCerts();
  const server = await startHttps(certs, (req, res) => {
    const match = /^\/delay\/(\d+)$/.exec(req.url ?? '');
    respondAfter(res, match ? Number(match[1]) : 0);
  });
  try {
    const probeOptions = { timeoutMs: 10_000, extraCa: [certs.caPem] };
    const ttfb = async (delayMs: number): Promise<number> => {
      const result = await probeTarget(`${server.url}delay/${delayMs}`, probeOptions);
      if (!result.ok || result.timings.ttfb === undefined) {
        throw new Error(`probe with ${delayMs} ms delay failed: ${result.failure?.code} ${result.failure?.message}`);
      }
      return result.timings.ttfb;
    };

    await ttfb(0); // warm up
    // Interleave the delays so that drift in machine load affects each of them alike.
    const all = [0, ...delays];
    const collected = new Map<number, number[]>(all.map((d) => [d, []]));
    for (let i = 0; i < samples; i++) for (const d of all) collected.get(d)!.push(await ttfb(d));

    const baseline = median(collected.get(0)!);
    return {
      samples,
      baselineTtfbMs: round(baseline),
      maxErrorMs: TIMING_MAX_ERROR_MS,
      delays: delays.map((d) => {
        const m = median(collected.get(d)!);
        return { delayMs: d, medianTtfbMs: round(m), errorMs: round(m - baseline - d), samplesMs: collected.get(d)! };
      }),
    };
  } finally {
    await server.close();
  }
}

export function formatTimingAccuracy(r: TimingAccuracyResult): string {
  const lines = [`timing accuracy: ttfb vs injected first-byte delay (median of ${r.samples}; baseline ttfb at 0 ms = ${r.baselineTtfbMs.toFixed(2)} ms)`];
  for (const d of r.delays) {
    const sign = d.errorMs >= 0 ? '+' : '';
    lines.push(`  delay ${String(d.delayMs).padStart(3)} ms: median ttfb ${d.medianTtfbMs.toFixed(2)} ms, error ${sign}${d.errorMs.toFixed(2)} ms (target |error| <= ${r.maxErrorMs})`);
  }
  return lines.join('\n');
}

if (isMain(import.meta.url)) console.log(formatTimingAccuracy(await benchTimingAccuracy()));
