/** Shared test helpers for history: a seeded random source and result builders. */
import type { Transition } from '../../src/checks/state.js';
import type { HistoryResult } from '../../src/history/history.js';

/** mulberry32: the same sequence every run, so a "random" distribution is a known one. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Log-normal durations around `medianMs` (probe latencies look like this). */
export function logNormal(random: () => number, medianMs: number, sigma: number): number {
  const u = Math.max(random(), 1e-12);
  const v = random();
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  return medianMs * Math.exp(sigma * z);
}

/** The nearest-rank q-quantile of the samples: what the sketch promises to approximate. */
export function nearestRank(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1]!;
}

export function ok(startedAt: string, total = 100, ttfb?: number): HistoryResult {
  return { ok: true, startedAt, timings: { total, ...(ttfb !== undefined && { ttfb }) } };
}

export function failed(startedAt: string, total = 10_000): HistoryResult & { failure: { code: string; phase: string; message: string } } {
  return { ok: false, startedAt, timings: { total }, failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer to SYN' } };
}

export function down(checkId: string, at: string, from: 'up' | 'new' = 'up'): Transition {
  return { checkId, from, to: 'down', at, reason: 'tcp_timeout in tcp: no answer to SYN' };
}

export function recovered(checkId: string, at: string): Transition {
  return { checkId, from: 'down', to: 'up', at, reason: 'answered HTTP 200' };
}
