import { createHash } from 'node:crypto';
import { TableClient, odata, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { isLoopback } from '../config/loopback.js';
import { PartitionPacer } from './pacer.js';
import {
  checkBatch,
  StoreConflictError,
  StoreUnavailableError,
  type BatchOperation,
  type Entry,
  type ListOptions,
  type Store,
  type Versioned,
} from './store.js';

/** The table the monitor keeps everything in unless told otherwise; infra/ creates it. */
export const DEFAULT_TABLE_NAME = 'wbmon';

/**
 * Entities written per second to one partition (one collection), at most, from this process:
 * below Table Storage's target of 2,000 for a partition, with room for other instances' writes.
 */
export const PARTITION_WRITES_PER_SECOND = 1500;

export interface TableStoreOptions {
  /** Table holding every collection; created by ready() when missing. Default `wbmon`. */
  readonly tableName?: string;
  /** Writes to one collection per second, at most (see PartitionPacer); 0: no limit. Default PARTITION_WRITES_PER_SECOND. */
  readonly partitionWritesPerSecond?: number;
}

interface Row {
  readonly partitionKey: string;
  readonly rowKey: string;
  /** The value as a JSON string, first chunk; `data1`, `data2`, ... hold the rest. */
  readonly data: string;
  /** The whole key, for keys too long for a RowKey (see rowKeyOf); absent otherwise. */
  readonly key?: string;
  readonly [chunk: `data${number}`]: string;
}

/**
 * Table Storage caps a string property at 64 KiB, i.e. 32K UTF-16 characters, and an entity
 * at 1 MiB. Values longer than one property (a 64 KiB heartbeat, say) are split over
 * `data`, `data1`, `data2`, ...
 */
const CHUNK_CHARS = 30_000;
const MAX_CHUNKS = 15;

function toChunks(json: string): Record<string, string> {
  const count = Math.max(1, Math.ceil(json.length / CHUNK_CHARS));
  if (count > MAX_CHUNKS) throw new RangeError(`value of ${json.length} characters is too large for one Table Storage entity`);
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) out[i === 0 ? 'data' : `data${i}`] = json.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS);
  return out;
}

/**
 * JSON with every non-ASCII character as a \uXXXX escape (valid JSON: JSON.stringify puts
 * such characters only inside strings). Azurite, as seen here, decodes a large request body
 * chunk by chunk and turns a UTF-8 character split across two chunks into U+FFFD, so a value
 * came back one character longer, corrupted; a body of ASCII only cannot be split that way.
 */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function fromChunks(row: Row): string {
  let json = row.data;
  for (let i = 1; typeof row[`data${i}`] === 'string'; i++) json += row[`data${i}`];
  return json;
}

/**
 * RowKey encoding. Table Storage forbids `/ \ # ?` and control characters (U+0000-U+001F,
 * U+007F-U+009F) in keys, so those and the escape character `%` itself become `%XX` (two
 * uppercase hex digits; every escaped character is below U+00A0). Everything else, including
 * spaces and non-ASCII, is kept literally so keys stay readable in Storage Explorer.
 *
 * The encoding is character-by-character and prefix-free, so `key.startsWith(prefix)` holds
 * exactly when `enc(key).startsWith(enc(prefix))`, and keys made only of unescaped characters
 * keep their ordinal order. Order is only approximate where two keys first differ at an escaped
 * character (it then sorts as if it were `%`). Unlike encodeURIComponent, this keeps order for
 * ordinary keys with spaces, `:`, `@` or non-ASCII.
 */
export function encodeKey(key: string): string {
  return key.replace(/[\u0000-\u001f\u007f-\u009f#%/?\\]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

export function decodeKey(rowKey: string): string {
  return rowKey.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * Table Storage caps a RowKey at 1 KiB (Azurite: 512 UTF-16 code units), and escaping can
 * triple a key: a relay's 2,048-character target in a check id would make the insert fail
 * with HTTP 400. Encoded keys longer than MAX_ROW_KEY become their first HEAD_CHARS characters,
 * the marker `%~` and the SHA-256 of the whole key (365 characters at most), and the row keeps
 * the whole key in its `key` property. encodeKey never writes `%` followed by anything but two
 * hex digits, so no ordinary key can collide with a shortened one.
 *
 * The head is cut where it does not split an escape or a surrogate pair, and depends only on
 * the key's first characters, so prefix listing still works: a key starting with a prefix has
 * a row key starting with the prefix's (equally cut) encoding. Order among shortened keys
 * sharing a head is by hash, not by key.
 */
const MAX_ROW_KEY = 400;
const HEAD_CHARS = 299;
const SHORTENED = '%~';

function cutHead(encoded: string): string {
  let end = Math.min(HEAD_CHARS, encoded.length);
  const escape = encoded.lastIndexOf('%', end - 1);
  if (escape >= 0 && escape > end - 3) end = escape; // never keep half of %XX
  const last = encoded.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--; // never keep half of a surrogate pair
  return encoded.slice(0, end);
}

export function rowKeyOf(key: string): string {
  const encoded = encodeKey(key);
  if (encoded.length <= MAX_ROW_KEY) return encoded;
  return `${cutHead(encoded)}${SHORTENED}${createHash('sha256').update(key).digest('hex')}`;
}

/** The range start for listing keys with this prefix (see rowKeyOf). */
function prefixLow(prefix: string): string {
  const encoded = encodeKey(prefix);
  return encoded.length <= HEAD_CHARS ? encoded : cutHead(encoded);
}

/**
 * An entity-group transaction's payload must stay under 4 MiB; the values' JSON (ASCII, so one
 * byte a character) plus this much per entity for the multipart framing and headers is kept
 * under it, so a batch that cannot fit fails before it is sent.
 */
const MAX_BATCH_BYTES = 4 * 1024 * 1024 - 64 * 1024;
const BATCH_OVERHEAD_BYTES = 1024;

/** Table Storage returns at most 1000 entities per page anyway. */
const MAX_PAGE = 1000;

/**
 * Store on one Azure Table: PartitionKey = collection, RowKey = encodeKey(key), value in the
 * string property `data`. Optimistic concurrency uses the service's own ETags. A batch is one
 * entity-group transaction (a collection is one partition). Writes to one partition are kept
 * under PARTITION_WRITES_PER_SECOND (PartitionPacer).
 */
export class TableStore implements Store {
  private readonly client: TableClient;
  private readonly pacer: PartitionPacer | undefined;

  /**
   * @param connect builds the TableClient for a table name, so the caller picks the credential
   *   (shared key, SAS, managed identity). See fromConnectionString for the common case.
   */
  constructor(connect: (tableName: string) => TableClient, options: TableStoreOptions = {}) {
    this.client = connect(options.tableName ?? DEFAULT_TABLE_NAME);
    const rate = options.partitionWritesPerSecond ?? PARTITION_WRITES_PER_SECOND;
    this.pacer = rate > 0 ? new PartitionPacer(rate) : undefined;
  }

  static fromConnectionString(connectionString: string, options: TableStoreOptions = {}): TableStore {
    return new TableStore((tableName) => {
      const client = TableClient.fromConnectionString(connectionString, tableName);
      // The SDK refuses plain http unless told; allow it only for a local emulator (Azurite).
      if (!isLoopbackHttp(client.url)) return client;
      return TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true });
    }, options);
  }

  async ready(): Promise<void> {
    try {
      await this.client.createTable(); // the SDK already swallows 409 TableAlreadyExists
    } catch (err) {
      if (statusOf(err) !== 409) throw this.unavailable('create table', err);
    }
  }

  async get<T>(collection: string, key: string): Promise<Versioned<T> | undefined> {
    try {
      const row = await this.client.getEntity<Row>(collection, rowKeyOf(key));
      return { value: JSON.parse(fromChunks(row)) as T, etag: row.etag };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw this.unavailable(`read ${collection}/${key}`, err);
    }
  }

  async insert<T>(collection: string, key: string, value: T): Promise<string> {
    await this.pacer?.admit(collection, 1);
    try {
      const res = await this.client.createEntity<Row>(this.row(collection, key, value));
      return requireEtag(res.etag);
    } catch (err) {
      if (statusOf(err) === 409) throw new StoreConflictError(collection, key, { cause: err });
      throw this.unavailable(`insert ${collection}/${key}`, err);
    }
  }

  async replace<T>(collection: string, key: string, value: T, etag: string): Promise<string> {
    await this.pacer?.admit(collection, 1);
    try {
      const res = await this.client.updateEntity<Row>(this.row(collection, key, value), 'Replace', { etag });
      return requireEtag(res.etag);
    } catch (err) {
      // 412: ETag is stale. 404: the entry vanished since it was read. Both mean "re-read".
      const status = statusOf(err);
      if (status === 412 || status === 409 || status === 404) throw new StoreConflictError(collection, key, { cause: err });
      throw this.unavailable(`replace ${collection}/${key}`, err);
    }
  }

  async batch(collection: string, operations: readonly BatchOperation[]): Promise<string[]> {
    checkBatch(collection, operations);
    if (operations.length === 0) return [];
    const rows = operations.map((op) => this.row(collection, op.key, op.value));
    // Each entity goes as its JSON (ASCII: one byte a character) in the multipart body.
    const bytes = rows.reduce((sum, row) => sum + BATCH_OVERHEAD_BYTES + JSON.stringify(row).length, 0);
    if (bytes > MAX_BATCH_BYTES) throw new RangeError(`a batch of ${operations.length} writes to ${collection} is about ${bytes} bytes, more than one Table Storage transaction takes`);
    // One collection is one PartitionKey, so the whole batch is one entity-group transaction;
    // the partition still does the work of each entity.
    await this.pacer?.admit(collection, operations.length);
    const actions = operations.map((op, i): TransactionAction => {
      const entity = rows[i] as unknown as TableEntity;
      return op.op === 'insert' ? ['create', entity] : ['update', entity, 'Replace', { etag: op.etag }];
    });
    try {
      const response = await this.client.submitTransaction(actions);
      // Sub-responses come in the order of the operations; the SDK leaves the header's CR on.
      const etags = response.subResponses.map((r) => r.etag?.trim());
      if (etags.length !== operations.length) throw new Error(`Table Storage answered ${etags.length} of ${operations.length} batch operations`);
      return etags.map(requireEtag);
    } catch (err) {
      const status = statusOf(err);
      // The service names the failed operation by its index ("2:The update condition ...").
      const index = Number(/^(\d+):/.exec(serviceMessage(err) ?? '')?.[1] ?? 0);
      const key = operations[index]?.key ?? operations[0]!.key;
      if (status === 412 || status === 409 || status === 404) throw new StoreConflictError(collection, key, { cause: err });
      throw this.unavailable(`batch of ${operations.length} writes to ${collection}`, err);
    }
  }

  async list<T>(collection: string, options: ListOptions = {}): Promise<Entry<T>[]> {
    const { prefix = '', limit = Infinity } = options;
    const out: Entry<T>[] = [];
    if (limit <= 0) return out;
    let filter = odata`PartitionKey eq ${collection}`;
    if (prefix) {
      // Every key starting with the prefix sorts in [enc(prefix), enc(prefix) + U+FFFF).
      const low = prefixLow(prefix);
      filter += ' and ' + odata`RowKey ge ${low} and RowKey lt ${low + '\uffff'}`;
    }
    try {
      const pages = this.client.listEntities<Row>({ queryOptions: { filter } }).byPage({ maxPageSize: Math.min(limit, MAX_PAGE) });
      for await (const page of pages) {
        for (const row of page) {
          const key = row.key ?? decodeKey(row.rowKey);
          // A shortened row key's head can match a prefix the whole key does not start with.
          if (!key.startsWith(prefix)) continue;
          out.push({ key, value: JSON.parse(fromChunks(row)) as T, etag: requireEtag(row.etag) });
          if (out.length >= limit) return out; // stop paging: no further requests
        }
      }
      return out;
    } catch (err) {
      throw this.unavailable(`list ${collection}`, err);
    }
  }

  async delete(collection: string, key: string): Promise<void> {
    await this.pacer?.admit(collection, 1);
    try {
      await this.client.deleteEntity(collection, rowKeyOf(key));
    } catch (err) {
      if (statusOf(err) !== 404) throw this.unavailable(`delete ${collection}/${key}`, err);
    }
  }

  /** TableClient holds no connection that needs closing. */
  async close(): Promise<void> {}

  private row(collection: string, key: string, value: unknown): Row {
    const rowKey = rowKeyOf(key);
    return { partitionKey: collection, rowKey, ...(rowKey !== encodeKey(key) && { key }), ...toChunks(asciiJson(value)) } as Row;
  }

  /**
   * Message names the endpoint without its query string (which could hold a SAS token) and
   * never the connection string or key; the original error stays available as `cause`.
   */
  private unavailable(what: string, err: unknown): StoreUnavailableError {
    const url = new URL(this.client.url);
    const endpoint = `${url.origin}${url.pathname}`;
    const e = err as { code?: unknown; statusCode?: unknown } | undefined;
    const reason = [e?.statusCode && `HTTP ${String(e.statusCode)}`, e?.code, serviceMessage(err)].filter(Boolean).join(' ');
    return new StoreUnavailableError(`Table Storage at ${endpoint} (table ${this.client.tableName}): ${what} failed: ${reason || 'unknown error'}`, { cause: err });
  }
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function requireEtag(etag: string | undefined): string {
  if (!etag) throw new Error('Table Storage response carried no ETag');
  return etag;
}

/** The service's own one-line explanation (JSON or XML error body), else the error's message. */
function serviceMessage(err: unknown): string | undefined {
  const e = err as { message?: unknown; details?: { Message?: unknown; odataError?: { message?: { value?: unknown } } } } | undefined;
  const text = e?.details?.odataError?.message?.value ?? e?.details?.Message ?? e?.message;
  return typeof text === 'string' ? text.split('\n')[0]!.slice(0, 300) : undefined;
}

function isLoopbackHttp(endpoint: string): boolean {
  const { protocol, hostname } = new URL(endpoint);
  return protocol === 'http:' && isLoopback(hostname);
}
