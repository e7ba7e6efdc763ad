/**
 * When a failed delivery is tried again, and when it is given up: a pure function of the
 * attempt, the receiver's answer and the clock. docs/alerts.md states these rules; the outbox
 * only carries them out.
 *
 * - A receiver's Retry-After is honoured as given, up to RETRY_AFTER_CAP_MS. Under throttling
 *   the receiver knows best, and an on-call engineer should not lose half a minute to a
 *   backoff when the receiver said one second.
 * - Without one, the backoff starts at FIRST_BACKOFF_MS and doubles to BACKOFF_CAP_MS.
 * - A wait up to IN_PASS_MAX_WAIT_MS is spent in the same alert pass, so the retry does not
 *   wait for the next timer run (a minute under Functions with the default schedule).
 * - A delivery still failing GIVE_UP_AFTER_MS after it was recorded fails for good. A problem
 *   that outlasts that is re-announced by the reminders (WBMON_REMIND_MINUTES) anyway.
 * - A permanent refusal (a 4xx other than 408/429, a rejected recipient) is never retried.
 */

export const FIRST_BACKOFF_MS = 5_000;
export const BACKOFF_CAP_MS = 10 * 60_000;
export const RETRY_AFTER_CAP_MS = 10 * 60_000;
export const IN_PASS_MAX_WAIT_MS = 15_000;
/** A pass retries one row at most this often: a receiver answering `Retry-After: 0` forever must not hold it. */
export const IN_PASS_MAX_RETRIES = 3;
export const GIVE_UP_AFTER_MS = 6 * 3_600_000;

export interface RetryPolicy {
  readonly firstBackoffMs: number;
  readonly backoffCapMs: number;
  readonly retryAfterCapMs: number;
  readonly inPassMaxWaitMs: number;
  readonly inPassMaxRetries: number;
  readonly giveUpAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  firstBackoffMs: FIRST_BACKOFF_MS,
  backoffCapMs: BACKOFF_CAP_MS,
  retryAfterCapMs: RETRY_AFTER_CAP_MS,
  inPassMaxWaitMs: IN_PASS_MAX_WAIT_MS,
  inPassMaxRetries: IN_PASS_MAX_RETRIES,
  giveUpAfterMs: GIVE_UP_AFTER_MS,
};

export interface FailedAttempt {
  /** Attempts made so far, this one included (1 after the first). */
  readonly attempts: number;
  /** When the delivery was recorded (ISO): the give-up clock starts there. */
  readonly createdAt: string;
  readonly permanent: boolean;
  /** The receiver's Retry-After, in ms from its answer. */
  readonly retryAfterMs?: number;
}

export type RetryDecision =
  | { readonly retry: true; readonly waitMs: number; readonly why: string }
  | { readonly retry: false; readonly why: string };

/** The backoff after `attempts` failures without a Retry-After: 5 s, 10 s, 20 s ... 10 min. */
export function backoffMs(attempts: number, policy: RetryPolicy = DEFAULT_RETRY_POLICY): number {
  return Math.min(policy.backoffCapMs, policy.firstBackoffMs * 2 ** Math.max(0, attempts - 1));
}

export function decideRetry(failed: FailedAttempt, now: Date, policy: RetryPolicy = DEFAULT_RETRY_POLICY): RetryDecision {
  if (failed.permanent) return { retry: false, why: 'the receiver refused it for good' };
  let waitMs: number;
  let why: string;
  if (failed.retryAfterMs === undefined) {
    waitMs = backoffMs(failed.attempts, policy);
    why = `backoff ${seconds(waitMs)}`;
  } else if (failed.retryAfterMs > policy.retryAfterCapMs) {
    waitMs = policy.retryAfterCapMs;
    why = `the receiver asked for ${seconds(failed.retryAfterMs)}; waiting the ${seconds(waitMs)} cap`;
  } else {
    waitMs = Math.max(0, failed.retryAfterMs);
    why = `Retry-After ${seconds(waitMs)}`;
  }
  const giveUpAt = Date.parse(failed.createdAt) + policy.giveUpAfterMs;
  if (now.getTime() + waitMs > giveUpAt) {
    return { retry: false, why: `still failing ${seconds(now.getTime() - Date.parse(failed.createdAt))} after it was recorded (gives up after ${seconds(policy.giveUpAfterMs)})` };
  }
  return { retry: true, waitMs, why };
}

function seconds(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 100) / 10} s`;
}
