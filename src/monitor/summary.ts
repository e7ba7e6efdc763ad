import type { CycleOutcome } from './probe-cycle.js';

/** One line per cycle for logs: counts and any state changes, never settings or secrets. */
export function summarizeCycle(outcome: CycleOutcome): string {
  const up = outcome.results.filter((r) => r.ok).length;
  const slowest = Math.max(0, ...outcome.results.map((r) => r.timings.total));
  const changes = outcome.transitions.map((t) => `${t.checkId} ${t.from}->${t.to} (${t.reason})`);
  return [`probe cycle: ${up}/${outcome.results.length} up, slowest ${Math.round(slowest)} ms`, ...changes].join('; ');
}
