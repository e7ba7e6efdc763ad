/**
 * A Store that behaves, in time, like a storage account across the network: every call waits
 * `latencyMs` (a round trip to Table Storage in the same region is about 10 ms), half before
 * the inner store acts and half after, so calls that race overlap as they would on the wire.
 * A list costs one round trip per page of `pageSize` entries (Table Storage returns at most
 * 1,000 per page), at least one.
 *
 * With `partitionWritesPerSecond` it also paces writes per collection as TableStore does
 * (PartitionPacer): what the Function App does against a real account.
 *
 * It counts what it is asked: calls by method, round trips, and the most calls in flight at
 * once. Tests use the counts (a bound on calls per relay is a count, not a time); the
 * evaluation-scale bench uses the time too.
 */
import { PartitionPacer } from './pacer.js';
import type { BatchOperation, Entry, ListOptions, Store, Versioned } from './store.js';

export interface LatencyOptions {
  /** Added to every round trip, in milliseconds. Default 10. */
  readonly latencyMs?: number;
  /** Entries one list round trip returns. Default 1,000 (Table Storage's page). */
  readonly pageSize?: number;
  /** Pace writes to each collection to this many entities a second, before the round trip, as TableStore does. Default: no pacing. */
  readonly partitionWritesPerSecond?: number;
}

export interface StoreCallStats {
  /** Calls by method name (get, insert, replace, batch, delete, list, ready). */
  readonly calls: Record<string, number>;
  /** Round trips: one per call, one per page of a list. */
  roundTrips: number;
  /** Entities written (inserted, replaced or deleted), a batch counting each of its operations. */
  entitiesWritten: number;
  /** The same, by collection (a collection is a partition on Table Storage). */
  readonly entitiesByCollection: Record<string, number>;
  /** The most calls in flight at once. */
  peakInFlight: number;
}

const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

export class LatencyStore implements Store {
  readonly latencyMs: number;
  readonly pageSize: number;
  private current: StoreCallStats = LatencyStore.emptyStats();
  private inFlight = 0;
  private readonly pacer: PartitionPacer | undefined;

  constructor(
    private readonly inner: Store,
    options: LatencyOptions = {},
  ) {
    this.latencyMs = options.latencyMs ?? 10;
    this.pageSize = options.pageSize ?? 1000;
    this.pacer = options.partitionWritesPerSecond ? new PartitionPacer(options.partitionWritesPerSecond) : undefined;
  }

  /** What was asked since construction or the last reset. */
  get stats(): StoreCallStats {
    return this.current;
  }

  /** Starts counting afresh. */
  resetStats(): void {
    this.current = { ...LatencyStore.emptyStats(), peakInFlight: this.inFlight };
  }

  /** Calls of every method but ready and close. */
  get totalCalls(): number {
    return Object.entries(this.current.calls).reduce((sum, [method, n]) => (method === 'ready' ? sum : sum + n), 0);
  }

  ready(): Promise<void> {
    return this.call('ready', 0, '', () => this.inner.ready());
  }

  get<T>(collection: string, key: string): Promise<Versioned<T> | undefined> {
    return this.call('get', 0, collection, () => this.inner.get<T>(collection, key));
  }

  insert<T>(collection: string, key: string, value: T): Promise<string> {
    return this.call('insert', 1, collection, () => this.inner.insert(collection, key, value));
  }

  replace<T>(collection: string, key: string, value: T, etag: string): Promise<string> {
    return this.call('replace', 1, collection, () => this.inner.replace(collection, key, value, etag));
  }

  batch(collection: string, operations: readonly BatchOperation[]): Promise<string[]> {
    return this.call('batch', operations.length, collection, () => this.inner.batch(collection, operations));
  }

  delete(collection: string, key: string): Promise<void> {
    return this.call('delete', 1, collection, () => this.inner.delete(collection, key));
  }

  async list<T>(collection: string, options?: ListOptions): Promise<Entry<T>[]> {
    const stats = this.enter('list');
    try {
      await sleep(this.latencyMs / 2);
      const entries = await this.inner.list<T>(collection, options);
      const pages = Math.max(1, Math.ceil(entries.length / this.pageSize));
      stats.roundTrips += pages;
      await sleep(pages * this.latencyMs - this.latencyMs / 2);
      return entries;
    } finally {
      this.inFlight--;
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private enter(method: string): StoreCallStats {
    const stats = this.current;
    stats.calls[method] = (stats.calls[method] ?? 0) + 1;
    stats.peakInFlight = Math.max(stats.peakInFlight, ++this.inFlight);
    return stats;
  }

  private async call<R>(method: string, writes: number, collection: string, work: () => Promise<R>): Promise<R> {
    if (writes > 0) await this.pacer?.admit(collection, writes); // on the client, before the request leaves
    const stats = this.enter(method);
    stats.roundTrips++;
    stats.entitiesWritten += writes;
    if (writes > 0) stats.entitiesByCollection[collection] = (stats.entitiesByCollection[collection] ?? 0) + writes;
    try {
      await sleep(this.latencyMs / 2);
      return await work();
    } finally {
      await sleep(this.latencyMs / 2);
      this.inFlight--;
    }
  }

  private static emptyStats(): StoreCallStats {
    return { calls: {}, roundTrips: 0, entitiesWritten: 0, entitiesByCollection: {}, peakInFlight: 0 };
  }
}
