/** POST /api/heartbeat, independent of the host (see handlers.ts). */
import type { RelayMap } from '../config/relays.js';
import { ingestHeartbeat, type SequenceCache } from '../heartbeat/ingest.js';
import { MAX_BODY_BYTES, verifyHeartbeat, type HeartbeatRequest } from '../heartbeat/verify.js';
import type { Store } from '../store/store.js';
import { unavailable, type ApiResponse } from './handlers.js';

export { MAX_BODY_BYTES };

export async function receiveHeartbeat(
  request: HeartbeatRequest,
  relays: RelayMap,
  store: () => Promise<Store>,
  now: Date,
  log: (line: string) => void,
  sequences: SequenceCache,
): Promise<ApiResponse> {
  const verified = verifyHeartbeat(request, relays, now);
  if (!verified.ok) {
    const { status, error, details, reason } = verified.rejection;
    if (reason) log(`heartbeat refused (401) for relay "${(request.header('x-wbmon-relay') ?? '').slice(0, 64)}": ${reason}`);
    return { status, body: { error, ...(details && { details }) } };
  }
  let outcome;
  try {
    outcome = await ingestHeartbeat(await store(), verified.relayId, verified.heartbeat, now, sequences);
  } catch (err) {
    // The store failing is our problem, not the relay's: it will retry from its buffer.
    return unavailable(`AzureWebJobsStorage: state store not reachable (${(err as Error).message})`);
  }
  if (outcome.status === 409) return { status: 409, body: { error: outcome.error } };
  return { status: 202, body: { accepted: true, relayId: verified.relayId, sequence: verified.heartbeat.sequence } };
}
