/**
 * Storing an accepted heartbeat, with the replay guard.
 *
 * The heartbeat is inserted under `<relayId>|<sequence>`: an insert fails if that key exists,
 * so two requests with the same sequence number can never both be stored (the conditional
 * write). A sequence number at or below the relay's last stored one is refused before that.
 * The relay record (last sequence, last heartbeat time) then moves forward under its ETag.
 */
import type { Heartbeat, KeepaliveReport } from './schema.js';
import { StoreConflictError, type Store } from '../store/store.js';

export const RELAYS = 'relays';
export const HEARTBEATS = 'heartbeats';
const MAX_ATTEMPTS = 5;

export interface RelayRecord {
  readonly relayId: string;
  readonly lastSequence: number;
  /** Server time the last heartbeat was accepted (ISO): the dead-man's switch runs on this. */
  readonly lastHeartbeatAt: string;
  /** The relay's own clock when it sent it. */
  readonly lastSentAt: string;
  readonly host: string;
  readonly agentVersion: string;
  readonly buffer?: Heartbeat['buffer'];
  /** The last idle-keepalive report, kept until a newer one arrives. */
  readonly lastKeepalive?: KeepaliveReport;
  /** The tenant's own Service Bus relay hosts, as Connect's event log names them. */
  readonly relayNamespaces?: string[];
}

export interface StoredHeartbeat {
  readonly relayId: string;
  readonly sequence: number;
  readonly receivedAt: string;
  readonly heartbeat: Heartbeat;
}

/** Keys sort by sequence: fixed width, since the store orders keys as strings. */
export function heartbeatKey(relayId: string, sequence: number): string {
  return `${relayId}|${String(sequence).padStart(16, '0')}`;
}

export type IngestOutcome = { status: 202 } | { status: 409; error: string };

function replay(sequence: number, last: number): IngestOutcome {
  return { status: 409, error: `replay: sequence ${sequence} is not greater than the last stored ${last}` };
}

export async function ingestHeartbeat(store: Store, relayId: string, heartbeat: Heartbeat, receivedAt: Date): Promise<IngestOutcome> {
  const current = await store.get<RelayRecord>(RELAYS, relayId);
  if (current && heartbeat.sequence <= current.value.lastSequence) return replay(heartbeat.sequence, current.value.lastSequence);

  const stored: StoredHeartbeat = { relayId, sequence: heartbeat.sequence, receivedAt: receivedAt.toISOString(), heartbeat };
  try {
    await store.insert(HEARTBEATS, heartbeatKey(relayId, heartbeat.sequence), stored);
  } catch (err) {
    if (err instanceof StoreConflictError) return { status: 409, error: `replay: sequence ${heartbeat.sequence} was already received` };
    throw err;
  }
  await advanceRelay(store, relayId, heartbeat, receivedAt);
  return { status: 202 };
}

/** Moves the relay record forward; never back, when heartbeats race. */
async function advanceRelay(store: Store, relayId: string, heartbeat: Heartbeat, receivedAt: Date): Promise<void> {
  const next: RelayRecord = {
    relayId,
    lastSequence: heartbeat.sequence,
    lastHeartbeatAt: receivedAt.toISOString(),
    lastSentAt: heartbeat.sentAt,
    host: heartbeat.host,
    agentVersion: heartbeat.agentVersion,
    ...(heartbeat.buffer && { buffer: heartbeat.buffer }),
  };
  for (let attempt = 1; ; attempt++) {
    const current = await store.get<RelayRecord>(RELAYS, relayId);
    if (current && current.value.lastSequence >= heartbeat.sequence) return;
    // Reports that come only now and then are kept until a newer one replaces them.
    const lastKeepalive = heartbeat.keepalive ?? current?.value.lastKeepalive;
    const namespaces = heartbeat.eventLog?.relayNamespaces.length ? heartbeat.eventLog.relayNamespaces : current?.value.relayNamespaces;
    const record: RelayRecord = { ...next, ...(lastKeepalive && { lastKeepalive }), ...(namespaces && { relayNamespaces: namespaces }) };
    try {
      if (current) await store.replace(RELAYS, relayId, record, current.etag);
      else await store.insert(RELAYS, relayId, record);
      return;
    } catch (err) {
      if (!(err instanceof StoreConflictError) || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}
