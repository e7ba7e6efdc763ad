import { checkBatch, StoreConflictError, type BatchOperation, type Entry, type ListOptions, type Store, type Versioned } from './store.js';

interface Slot {
  readonly value: unknown;
  readonly etag: string;
}

/**
 * In-memory Store for tests and local runs. Behaves like TableStore as far as the contract
 * goes: ETags change on every write, conflicts throw, and values are deep-copied both ways so
 * a caller mutating an object it passed in or got back cannot change what is stored.
 */
export class MemoryStore implements Store {
  private readonly collections = new Map<string, Map<string, Slot>>();
  private writes = 0;

  async ready(): Promise<void> {}

  async get<T>(collection: string, key: string): Promise<Versioned<T> | undefined> {
    const slot = this.collections.get(collection)?.get(key);
    return slot && { value: structuredClone(slot.value) as T, etag: slot.etag };
  }

  async insert<T>(collection: string, key: string, value: T): Promise<string> {
    const entries = this.entries(collection);
    if (entries.has(key)) throw new StoreConflictError(collection, key);
    return this.write(entries, key, value);
  }

  async replace<T>(collection: string, key: string, value: T, etag: string): Promise<string> {
    const entries = this.entries(collection);
    // A vanished entry is a conflict too: the caller's view of it is out of date.
    if (entries.get(key)?.etag !== etag) throw new StoreConflictError(collection, key);
    return this.write(entries, key, value);
  }

  async batch(collection: string, operations: readonly BatchOperation[]): Promise<string[]> {
    checkBatch(collection, operations);
    const entries = this.entries(collection);
    // Every condition is checked before anything is written: all or nothing.
    for (const op of operations) {
      const slot = entries.get(op.key);
      if (op.op === 'insert' ? slot !== undefined : slot?.etag !== op.etag) throw new StoreConflictError(collection, op.key);
    }
    const copies = operations.map((op) => structuredClone(op.value)); // what cannot be copied fails before any write
    return operations.map((op, i) => this.write(entries, op.key, copies[i], false));
  }

  async list<T>(collection: string, options: ListOptions = {}): Promise<Entry<T>[]> {
    const { prefix = '', limit = Infinity } = options;
    // Default sort compares UTF-16 code units, i.e. the ordinal order the contract promises.
    const keys = [...(this.collections.get(collection)?.keys() ?? [])].filter((k) => k.startsWith(prefix)).sort();
    return keys.slice(0, Math.max(0, limit)).map((key) => {
      const slot = this.collections.get(collection)!.get(key)!;
      return { key, value: structuredClone(slot.value) as T, etag: slot.etag };
    });
  }

  async delete(collection: string, key: string): Promise<void> {
    this.collections.get(collection)?.delete(key);
  }

  async close(): Promise<void> {}

  private entries(collection: string): Map<string, Slot> {
    let entries = this.collections.get(collection);
    if (!entries) this.collections.set(collection, (entries = new Map()));
    return entries;
  }

  private write(entries: Map<string, Slot>, key: string, value: unknown, copy = true): string {
    // Opaque, never reused within this store: a counter is enough.
    const etag = `"m${++this.writes}"`;
    entries.set(key, { value: copy ? structuredClone(value) : value, etag });
    return etag;
  }
}
