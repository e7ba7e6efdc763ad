/**
 * The round trip's names, in a module of its own that loads nothing: the alert pass and the
 * heartbeat answer need them on every run, and must not pay for sign-in code to get them.
 */

/** The store collection of the round trip's state (see src/monitor/roundtrip-cycle.ts). */
export const ROUNDTRIP = 'roundtrip';
/** The test user's names, for the relays to match Connect's events by. */
export const SUBJECT_KEY = 'subject';

export function roundtripCheckId(userId: string): string {
  return `roundtrip:${userId}`;
}
