/**
 * The one storage contract. Both implementations (Table Storage, in-memory) pass the same
 * contract suite (test/store.contract.test.ts).
 *
 * Values are plain JSON documents grouped in collections and addressed by a string key.
 * Every write that could race is conditional on an ETag: a stale writer gets a
 * StoreConflictError, never a silent overwrite.
 */
export interface Versioned<T> {
  readonly value: T;
  readonly etag: string;
}

export interface Entry<T> extends Versioned<T> {
  readonly key: string;
}

export interface ListOptions {
  /** Only keys that start with this prefix. */
  readonly prefix?: string;
  /** Return at most this many entries (keys ascending). */
  readonly limit?: number;
}

/** One write of a batch: an insert, or a replace conditional on the ETag the caller read. */
export type BatchOperation =
  | { readonly op: 'insert'; readonly key: string; readonly value: unknown }
  | { readonly op: 'replace'; readonly key: string; readonly value: unknown; readonly etag: string };

/** The most operations one batch takes: Table Storage's entity-group transaction limit. */
export const MAX_BATCH_OPERATIONS = 100;

export interface Store {
  /** Creates the underlying table(s) if needed and proves the store answers. */
  ready(): Promise<void>;
  get<T>(collection: string, key: string): Promise<Versioned<T> | undefined>;
  /** Creates a new entry. Throws StoreConflictError when the key already exists. */
  insert<T>(collection: string, key: string, value: T): Promise<string>;
  /**
   * Replaces an entry only if its current ETag is `etag`. Throws StoreConflictError when the
   * entry changed (or vanished) since it was read.
   */
  replace<T>(collection: string, key: string, value: T, etag: string): Promise<string>;
  /**
   * Writes entries of one collection all at once or not at all, in one round trip (on Table
   * Storage an entity-group transaction: one collection is one partition). Inserts and
   * replaces keep their single-entry meaning; when any of them conflicts (the key exists, the
   * ETag is stale, the entry vanished) nothing is written and StoreConflictError names the
   * first conflicting key. Resolves to the new ETags in the order of `operations`.
   *
   * Each key at most once, at most MAX_BATCH_OPERATIONS operations (RangeError otherwise,
   * before anything is sent). A batch the store cannot take as one request (Table Storage: a
   * payload over 4 MiB) fails whole as well, with a RangeError or StoreUnavailableError. An
   * empty batch writes nothing and costs no round trip.
   */
  batch(collection: string, operations: readonly BatchOperation[]): Promise<string[]>;
  /** Removes an entry; removing one that is not there is not an error (retries are safe). */
  delete(collection: string, key: string): Promise<void>;
  /** Entries of a collection, keys ascending (ordinal string order). */
  list<T>(collection: string, options?: ListOptions): Promise<Entry<T>[]>;
  close(): Promise<void>;
}

export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';
  constructor(
    readonly collection: string,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`conflicting write to ${collection}/${key}`, options);
  }
}

/** Throws the RangeError every Store gives a batch it will not even try. */
export function checkBatch(collection: string, operations: readonly BatchOperation[]): void {
  if (operations.length > MAX_BATCH_OPERATIONS) {
    throw new RangeError(`a batch of ${operations.length} writes to ${collection} is more than ${MAX_BATCH_OPERATIONS}`);
  }
  const keys = new Set<string>();
  for (const { key } of operations) {
    if (keys.has(key)) throw new RangeError(`a batch to ${collection} writes ${key.slice(0, 200)} twice`);
    keys.add(key);
  }
}

/** The store cannot be reached or refused the request for a reason that is not a conflict. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
