/**
 * The evaluation timer's whole run, the same under serve and the Functions host: every relay's
 * heartbeats into their checks, then the round trip the cloud accepted joined with what those
 * relays just reported of Connect's event log (recorded once a relay confirms it, or its window
 * ends). Returns the run's log line.
 */
import type { Settings } from '../config/settings.js';
import type { Store } from '../store/store.js';
import { evaluateHeartbeats, type EvaluateOptions } from './evaluate-heartbeats.js';
import { settleRoundtrip } from './roundtrip-cycle.js';
import { summarizeEvaluation, summarizeRoundtrip } from './summary.js';

export async function runEvaluation(settings: Settings, store: Store, now: Date, options: EvaluateOptions = {}): Promise<string> {
  const summary = summarizeEvaluation(await evaluateHeartbeats(settings, store, now, options));
  const settled = await settleRoundtrip(settings, store, {
    now: () => now,
    ...(options.log && { log: options.log }),
    ...(options.history !== undefined && { history: options.history }),
    ...(options.observe && { observe: options.observe }),
  });
  return settled && settled.kind !== 'pending' ? `${summary}; ${summarizeRoundtrip(settled)}` : summary;
}
