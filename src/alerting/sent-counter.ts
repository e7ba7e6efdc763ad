/**
 * How many alerts each channel delivered, kept in the store (not in a process) so that every
 * instance answers `/api/metrics` with the same counter, and a restart does not reset it.
 * Delivery rows are pruned after a week, so counting them would make the counter go down.
 *
 * One row per channel, incremented under its ETag after each accepted delivery; a lost race
 * re-reads and adds again. Counting is best effort: a failure to count never fails a delivery.
 */
import { StoreConflictError, type Store } from '../store/store.js';

export const COUNTERS = 'counters';
const PREFIX = 'alerts-sent|';
const MAX_ATTEMPTS = 10;

interface SentCounter {
  readonly channel: string;
  readonly sent: number;
}

export async function countSent(store: Store, channel: string): Promise<void> {
  const key = `${PREFIX}${channel}`;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const current = await store.get<SentCounter>(COUNTERS, key);
    try {
      if (current) await store.replace(COUNTERS, key, { channel, sent: current.value.sent + 1 }, current.etag);
      else await store.insert(COUNTERS, key, { channel, sent: 1 });
      return;
    } catch (err) {
      if (!(err instanceof StoreConflictError)) throw err;
    }
  }
  throw new Error(`alerts sent via ${channel}: not counted, ${MAX_ATTEMPTS} conflicting writers in a row`);
}

/** Channel name -> accepted deliveries, ever. */
export async function readSentCounts(store: Store): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { value } of await store.list<SentCounter>(COUNTERS, { prefix: PREFIX })) {
    if (typeof value?.channel === 'string' && Number.isSafeInteger(value.sent)) counts[value.channel] = value.sent;
  }
  return counts;
}
