/**
 * Storing an accepted heartbeat, with the replay guard, in one conditional write.
 *
 * The heartbeat is inserted under `<relayId>|<sequence>`: an insert fails if that key exists,
 * so two requests with the same sequence number can never both be stored. A sequence number
 * at or below the highest one this relay has had accepted is refused before that; that number
 * is remembered per instance (SequenceCache) and read from the store only when an instance
 * first sees a relay, so a steady stream of heartbeats costs one write each.
 *
 * The relay record (last sequence, last heartbeat time, reports) is kept by the evaluation,
 * which also keeps processed heartbeats for REPLAY_RETENTION_MS: longer than the 300 s
 * timestamp window, so a captured request replayed to another instance still collides.
 */
import type { Heartbeat, KeepaliveReport } from './schema.js';
import { StoreConflictError, type Store } from '../store/store.js';

export const RELAYS = 'relays';
export const HEARTBEATS = 'heartbeats';

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

/** Kept after processing, well past the 300 s window in which a signed request can be replayed. */
export const REPLAY_RETENTION_MS = 15 * 60 * 1000;

/** The highest sequence number accepted per relay, as far as this instance knows. */
export class SequenceCache {
  private readonly last = new Map<string, number>();

  get(relayId: string): number | undefined {
    return this.last.get(relayId);
  }

  note(relayId: string, sequence: number): void {
    this.last.set(relayId, Math.max(sequence, this.last.get(relayId) ?? -1));
  }
}

/** The highest sequence stored for a relay: its record, or a newer heartbeat not yet evaluated. */
async function lastStoredSequence(store: Store, relayId: string): Promise<number> {
  const [record, pending] = await Promise.all([
    store.get<RelayRecord>(RELAYS, relayId),
    store.list<StoredHeartbeat>(HEARTBEATS, { prefix: `${relayId}|` }),
  ]);
  return Math.max(record?.value.lastSequence ?? -1, pending.at(-1)?.value.sequence ?? -1);
}

export async function ingestHeartbeat(
  store: Store,
  relayId: string,
  heartbeat: Heartbeat,
  receivedAt: Date,
  cache: SequenceCache = new SequenceCache(),
): Promise<IngestOutcome> {
  let last = cache.get(relayId);
  if (last === undefined) {
    last = await lastStoredSequence(store, relayId);
    cache.note(relayId, last);
  }
  if (heartbeat.sequence <= last) {
    return { status: 409, error: `replay: sequence ${heartbeat.sequence} is not greater than the last stored ${last}` };
  }
  const stored: StoredHeartbeat = { relayId, sequence: heartbeat.sequence, receivedAt: receivedAt.toISOString(), heartbeat };
  try {
    await store.insert(HEARTBEATS, heartbeatKey(relayId, heartbeat.sequence), stored);
  } catch (err) {
    if (err instanceof StoreConflictError) return { status: 409, error: `replay: sequence ${heartbeat.sequence} was already received` };
    throw err;
  }
  cache.note(relayId, heartbeat.sequence);
  return { status: 202 };
}

/** The relay record after one more processed heartbeat; occasional reports are kept until replaced. */
export function advanceRecord(current: RelayRecord | undefined, stored: StoredHeartbeat): RelayRecord {
  const { heartbeat } = stored;
  const lastKeepalive = heartbeat.keepalive ?? current?.lastKeepalive;
  const namespaces = heartbeat.eventLog?.relayNamespaces.length ? heartbeat.eventLog.relayNamespaces : current?.relayNamespaces;
  return {
    relayId: stored.relayId,
    lastSequence: stored.sequence,
    lastHeartbeatAt: stored.receivedAt,
    lastSentAt: heartbeat.sentAt,
    host: heartbeat.host,
    agentVersion: heartbeat.agentVersion,
    ...(heartbeat.buffer && { buffer: heartbeat.buffer }),
    ...(lastKeepalive && { lastKeepalive }),
    ...(namespaces && { relayNamespaces: namespaces }),
  };
}
