/** POST /api/heartbeat, independent of the host (see handlers.ts). */
import type { RelayMap } from '../config/relays.js';
import { ingestHeartbeat, type SequenceCache } from '../heartbeat/ingest.js';
import { MAX_BODY_BYTES, verifyHeartbeat, type HeartbeatRequest } from '../heartbeat/verify.js';
import type { SubjectNamesCache } from '../roundtrip/subject-names.js';
import type { Store } from '../store/store.js';
import { LineLimiter } from '../text/line-limiter.js';
import { unavailable, type ApiResponse } from './handlers.js';

export { MAX_BODY_BYTES };

/** Refusals need no secret, so anyone can cause them: their log lines are limited. */
export const REFUSALS_LOGGED_PER_MINUTE = 10;

/** One per process (serve) or worker (Functions), like the SequenceCache. */
export function refusalLimiter(): LineLimiter {
  return new LineLimiter({
    perMinute: REFUSALS_LOGGED_PER_MINUTE,
    summary: (held, since) => `heartbeat refused (401): ${held} more refused since ${since.toISOString()}, not logged one by one (at most ${REFUSALS_LOGGED_PER_MINUTE} a minute)`,
  });
}

export async function receiveHeartbeat(
  request: HeartbeatRequest,
  relays: RelayMap,
  store: () => Promise<Store>,
  now: Date,
  log: (line: string) => void,
  sequences: SequenceCache,
  refusals: LineLimiter,
  subject: SubjectNamesCache,
): Promise<ApiResponse> {
  const verified = verifyHeartbeat(request, relays, now);
  if (!verified.ok) {
    const { status, error, details, reason } = verified.rejection;
    if (reason) {
      // The header is unauthenticated: cut to a relay id's length; the log sink escapes its controls.
      const line = `heartbeat refused (401) for relay "${(request.header('x-wbmon-relay') ?? '').slice(0, 64)}": ${reason}`;
      for (const l of refusals.admit(line, now)) log(l);
    }
    return { status, body: { error, ...(details && { details }) } };
  }
  let outcome;
  let opened: Store;
  try {
    opened = await store();
    outcome = await ingestHeartbeat(opened, verified.relayId, verified.heartbeat, now, sequences);
  } catch (err) {
    // The store failing is our problem, not the relay's: it will retry from its buffer.
    return unavailable(`AzureWebJobsStorage: state store not reachable (${(err as Error).message})`);
  }
  if (outcome.status === 409) return { status: 409, body: { error: outcome.error } };
  // The round trip's test user, for the relay to find in Connect's log (src/roundtrip/subject.ts):
  // only when the monitor knows the names, so the answer is otherwise what it always was.
  const users = await subject.get(opened, now);
  return {
    status: 202,
    body: { accepted: true, relayId: verified.relayId, sequence: verified.heartbeat.sequence, ...(users.length > 0 && { roundtrip: { users } }) },
  };
}
