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

/** The store cannot be reached or refused the request for a reason that is not a conflict. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
