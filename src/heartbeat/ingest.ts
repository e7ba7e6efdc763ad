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
 *
 * verify.ts refuses sequence numbers beyond sequenceLimit(now). One stored before that limit
 * existed would refuse every later heartbeat as a replay, for good: such a number is a runaway,
 * and the first request that meets one clears it (see clearRunaways).
 */
import { maskNames } from '../checks/mask.js';
import { eventKey, isWritebackNamespace } from './event-classes.js';
import type { Heartbeat, KeepaliveReport } from './schema.js';
import { sequenceLimit } from './verify.js';
import { StoreConflictError, type Entry, type Store, type Versioned } from '../store/store.js';

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
  /** The proxy the relay last said it used, and where it came from (absent from older relays). */
  readonly proxy?: Heartbeat['proxy'];
  /** The last idle-keepalive report, kept until a newer one arrives. */
  readonly lastKeepalive?: KeepaliveReport;
  /**
   * The tenant's own SSPR relay hosts, as Connect's event log names them, each with the server
   * time a heartbeat last reported it; hosts not reported for NAMESPACE_EXPIRY_MS are dropped.
   */
  readonly namespaces?: Readonly<Record<string, string>>;
  /** Written by monitors before `namespaces`: read as reported at lastHeartbeatAt, never written. */
  readonly relayNamespaces?: string[];
  /**
   * The event-log events already counted (eventKey: provider, id, time): the relay's window
   * overlaps successive heartbeats, and one event must count once, not once per heartbeat.
   */
  readonly countedEvents?: string[];
}

/**
 * A discovered relay host stays a cloud target this long after a heartbeat last reported it:
 * a day covers a relay's restarts and the hour its log look-back spans, and a host the log no
 * longer names (the tenant moved, or someone wrote a fake event) stops being probed.
 */
export const NAMESPACE_EXPIRY_MS = 24 * 60 * 60 * 1000;
/** Counted events are remembered past the relay's one-hour look-back, with room for clock skew. */
export const COUNTED_EVENTS_RETENTION_MS = 2 * 60 * 60 * 1000;
const MAX_COUNTED_EVENTS = 200;

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

  forget(relayId: string): void {
    this.last.delete(relayId);
  }
}

/**
 * The highest sequence stored for a relay (its record, or a newer heartbeat not yet
 * evaluated), after clearing runaways: numbers beyond `limit`, which only a monitor without the
 * limit can have stored.
 */
async function lastStoredSequence(store: Store, relayId: string, limit: number): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const [record, pending] = await Promise.all([
      store.get<RelayRecord>(RELAYS, relayId),
      store.list<StoredHeartbeat>(HEARTBEATS, { prefix: `${relayId}|` }),
    ]);
    const kept = pending.filter((e) => e.value.sequence <= limit);
    const highestKept = kept.at(-1)?.value.sequence ?? -1;
    if (!(record && record.value.lastSequence > limit) && kept.length === pending.length) {
      return Math.max(record?.value.lastSequence ?? -1, highestKept);
    }
    try {
      await clearRunaways(store, relayId, record, pending, limit, highestKept);
    } catch (err) {
      // The evaluation (or another request) changed the record meanwhile: look again.
      if (err instanceof StoreConflictError && attempt < 3) continue;
      throw err;
    }
  }
}

/**
 * Removes a runaway sequence number. Pending heartbeats beyond the limit are deleted (else the
 * evaluation would process them after newer ones and put the number back), and the record's
 * lastSequence goes back to the highest pending heartbeat within the limit: every one of those
 * has been processed, since the runaway, processed after them, is in the record. With none
 * pending (they are kept for 15 minutes), -1 is safe: a replay of anything older carries a
 * timestamp outside the 300 s window. The evaluation only processes heartbeats above
 * lastSequence, so without this a relay would stay down even after its heartbeats are accepted.
 */
async function clearRunaways(
  store: Store,
  relayId: string,
  record: Versioned<RelayRecord> | undefined,
  pending: readonly Entry<StoredHeartbeat>[],
  limit: number,
  highestKept: number,
): Promise<void> {
  for (const entry of pending) if (entry.value.sequence > limit) await store.delete(HEARTBEATS, entry.key);
  if (record && record.value.lastSequence > limit) {
    await store.replace<RelayRecord>(RELAYS, relayId, { ...record.value, lastSequence: highestKept }, record.etag);
  }
}

export async function ingestHeartbeat(
  store: Store,
  relayId: string,
  heartbeat: Heartbeat,
  receivedAt: Date,
  cache: SequenceCache = new SequenceCache(),
): Promise<IngestOutcome> {
  const limit = sequenceLimit(receivedAt);
  let last = cache.get(relayId);
  // A cached number beyond the limit was read before the runaway was cleared: read again.
  if (last !== undefined && last > limit) {
    cache.forget(relayId);
    last = undefined;
  }
  if (last === undefined) {
    last = await lastStoredSequence(store, relayId, limit);
    cache.note(relayId, last);
  }
  if (heartbeat.sequence <= last) {
    return { status: 409, error: `replay: sequence ${heartbeat.sequence} is not greater than the last stored ${last}` };
  }
  const stored: StoredHeartbeat = { relayId, sequence: heartbeat.sequence, receivedAt: receivedAt.toISOString(), heartbeat: maskEventLog(heartbeat) };
  try {
    await store.insert(HEARTBEATS, heartbeatKey(relayId, heartbeat.sequence), stored);
  } catch (err) {
    if (err instanceof StoreConflictError) return { status: 409, error: `replay: sequence ${heartbeat.sequence} was already received` };
    throw err;
  }
  cache.note(relayId, heartbeat.sequence);
  return { status: 202 };
}

/**
 * The heartbeat with users in its event texts masked (older relays send them as logged), so no
 * user name is stored, shown or alerted on. The one name kept is adminResets' `user`: the round
 * trip's test user, as the monitor itself told the relay (its excerpts are masked all the same).
 */
export function maskEventLog(heartbeat: Heartbeat): Heartbeat {
  const { eventLog } = heartbeat;
  if (!eventLog) return heartbeat;
  const mask = <E extends { message: string }>(events: readonly E[]): E[] => events.map((e) => ({ ...e, message: maskNames(e.message).slice(0, 1000) }));
  const resets = eventLog.adminResets?.map((r) => (r.excerpt === undefined ? r : { ...r, excerpt: maskNames(r.excerpt).slice(0, 300) }));
  return {
    ...heartbeat,
    eventLog: { ...eventLog, failures: mask(eventLog.failures), ...(eventLog.notices && { notices: mask(eventLog.notices) }), ...(resets && { adminResets: resets }) },
  };
}

/** The relay hosts of a record still worth probing at `now`: reported within NAMESPACE_EXPIRY_MS, and shaped as Microsoft's. */
export function activeNamespaces(record: RelayRecord, now: Date): string[] {
  return Object.entries(knownNamespaces(record))
    .filter(([host, at]) => isWritebackNamespace(host) && now.getTime() - Date.parse(at) <= NAMESPACE_EXPIRY_MS)
    .map(([host]) => host)
    .sort();
}

function knownNamespaces(record: RelayRecord | undefined): Record<string, string> {
  if (!record) return {};
  if (record.namespaces) return { ...record.namespaces };
  return Object.fromEntries((record.relayNamespaces ?? []).map((host) => [host, record.lastHeartbeatAt]));
}

/** The relay record after one more processed heartbeat; occasional reports are kept until replaced. */
export function advanceRecord(current: RelayRecord | undefined, stored: StoredHeartbeat): RelayRecord {
  const { heartbeat, receivedAt } = stored;
  const lastKeepalive = heartbeat.keepalive ?? current?.lastKeepalive;
  const received = Date.parse(receivedAt);
  // Older relays report any Service Bus host their log named: only Microsoft's SSPR relays are kept.
  const seen = knownNamespaces(current);
  for (const host of heartbeat.eventLog?.relayNamespaces ?? []) if (isWritebackNamespace(host)) seen[host] = receivedAt;
  const namespaces = Object.fromEntries(Object.entries(seen).filter(([, at]) => received - Date.parse(at) <= NAMESPACE_EXPIRY_MS));
  const counted = countedAfter(current?.countedEvents ?? [], heartbeat, received);
  return {
    relayId: stored.relayId,
    lastSequence: stored.sequence,
    lastHeartbeatAt: receivedAt,
    lastSentAt: heartbeat.sentAt,
    host: heartbeat.host,
    agentVersion: heartbeat.agentVersion,
    ...(heartbeat.buffer && { buffer: heartbeat.buffer }),
    ...(heartbeat.proxy && { proxy: heartbeat.proxy }),
    ...(lastKeepalive && { lastKeepalive }),
    ...(Object.keys(namespaces).length > 0 && { namespaces }),
    ...(counted.length > 0 && { countedEvents: counted }),
  };
}

/** The counted events after this heartbeat's: recent ones only, newest MAX_COUNTED_EVENTS. */
function countedAfter(previous: readonly string[], heartbeat: Heartbeat, received: number): string[] {
  const log = heartbeat.eventLog;
  const keys = new Set([...previous, ...[...(log?.failures ?? []), ...(log?.notices ?? [])].map(eventKey)]);
  const timeOf = (key: string): number => Date.parse(key.slice(key.lastIndexOf('|') + 1));
  return [...keys]
    .filter((key) => received - timeOf(key) <= COUNTED_EVENTS_RETENTION_MS)
    .sort((a, b) => timeOf(b) - timeOf(a))
    .slice(0, MAX_COUNTED_EVENTS);
}
