/**
 * The round trip's names, in a module of its own that loads nothing: the alert pass and the
 * heartbeat answer need them on every run, and must not pay for sign-in code to get them.
 */

/** The store collection of the round trip's state (see src/monitor/roundtrip-cycle.ts). */
export const ROUNDTRIP = 'roundtrip';
/** The test user's names, for the relays to match Connect's events by. */
export const SUBJECT_KEY = 'subject';

/** A reset the cloud accepted, waiting for a relay's confirmation (src/monitor/roundtrip-cycle.ts). */
export const PENDING_KEY = 'pending';

export interface RoundtripPending {
  readonly userId: string;
  readonly target: string;
  readonly names: readonly string[];
  readonly requestedAt: string;
  readonly finishedAt: string;
  readonly operationId: string;
  /** Set when an evaluator claimed it to record it. */
  readonly settlingAt?: string;
}

export function roundtripCheckId(userId: string): string {
  return `roundtrip:${userId}`;
}
