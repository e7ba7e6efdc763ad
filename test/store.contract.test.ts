import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAzurite } from '../src/local/azurite.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { MAX_BATCH_OPERATIONS, StoreConflictError, StoreUnavailableError, type BatchOperation, type Store } from '../src/store/store.js';
import { TableStore } from '../src/store/table-store.js';

const C = 'things';

/** The one contract every Store implementation must pass; `makeStore` gives a fresh, empty store. */
function storeContract(name: string, makeStore: () => Store): void {
  describe(`${name} (store contract)`, () => {
    let store: Store;
    beforeEach(async () => {
      store = makeStore();
      await store.ready();
    });
    afterEach(() => store.close());

    it('returns undefined when getting a key that does not exist', async () => {
      expect(await store.get(C, 'missing')).toBeUndefined();
    });

    it('returns the inserted value and the same etag that insert returned', async () => {
      const etag = await store.insert(C, 'k', { n: 1, tags: ['a'] });
      expect(await store.get(C, 'k')).toEqual({ value: { n: 1, tags: ['a'] }, etag });
    });

    it('rejects inserting a key that already exists with StoreConflictError', async () => {
      await store.insert(C, 'k', { n: 1 });
      await expect(store.insert(C, 'k', { n: 2 })).rejects.toBeInstanceOf(StoreConflictError);
      expect((await store.get(C, 'k'))?.value).toEqual({ n: 1 });
    });

    it('replaces with the current etag and returns a new, different etag', async () => {
      const first = await store.insert(C, 'k', { n: 1 });
      const second = await store.replace(C, 'k', { n: 2 }, first);
      expect(second).not.toBe(first);
      expect(await store.get(C, 'k')).toEqual({ value: { n: 2 }, etag: second });
    });

    it('rejects a replace with a stale etag and keeps the newer value', async () => {
      const stale = await store.insert(C, 'k', { n: 1 });
      const current = await store.replace(C, 'k', { n: 2 }, stale);
      await expect(store.replace(C, 'k', { n: 3 }, stale)).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.get(C, 'k')).toEqual({ value: { n: 2 }, etag: current });
    });

    it('lets exactly one of two writers holding the same etag win', async () => {
      const etag = await store.insert(C, 'k', { writer: 'none' });
      const results = await Promise.allSettled([
        store.replace(C, 'k', { writer: 'a' }, etag),
        store.replace(C, 'k', { writer: 'b' }, etag),
      ]);
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, etag: r.value }] : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(StoreConflictError);
      expect(await store.get(C, 'k')).toEqual({ value: { writer: won[0]!.i === 0 ? 'a' : 'b' }, etag: won[0]!.etag });
    });

    it('rejects replacing a key that does not exist with StoreConflictError', async () => {
      const etag = await store.insert(C, 'elsewhere', {});
      await expect(store.replace(C, 'missing', { n: 1 }, etag)).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.get(C, 'missing')).toBeUndefined();
    });

    it('lists keys in ascending order, honours prefix and limit, and keeps collections apart', async () => {
      for (const key of ['b', 'a/2', 'B', 'a/10', 'ab', 'a/1']) await store.insert(C, key, { key });
      await store.insert('other', 'a/0', { key: 'a/0' });
      await store.insert('thing', 'a/0', { key: 'a/0' }); // a collection name that is a prefix of C

      const all = await store.list<{ key: string }>(C);
      expect(all.map((e) => e.key)).toEqual(['B', 'a/1', 'a/10', 'a/2', 'ab', 'b']); // ordinal, not locale
      expect(all.every((e) => e.value.key === e.key && e.etag.length > 0)).toBe(true);
      expect((await store.list(C, { prefix: 'a/' })).map((e) => e.key)).toEqual(['a/1', 'a/10', 'a/2']);
      expect((await store.list(C, { prefix: 'a/', limit: 2 })).map((e) => e.key)).toEqual(['a/1', 'a/10']);
      expect((await store.list(C, { limit: 1 })).map((e) => e.key)).toEqual(['B']);
      expect(await store.list(C, { prefix: 'zzz' })).toEqual([]);
      expect(await store.list('empty')).toEqual([]);
    });

    it('round-trips keys containing /, #, ?, %, spaces and non-ASCII exactly', async () => {
      const keys = ['a/b', 'a%2Fb', 'c#d', 'what?', '100%', 'with space', 'back\\slash', 'tab\there', "o'brien", 'zürich-東京', 'rocket 🚀'];
      for (const key of keys) await store.insert(C, key, { key });
      for (const key of keys) expect((await store.get(C, key))?.value).toEqual({ key });
      const listed = await store.list<{ key: string }>(C);
      expect(listed.map((e) => e.key).sort()).toEqual([...keys].sort());
      expect(listed.every((e) => e.value.key === e.key)).toBe(true);
      expect((await store.list(C, { prefix: 'a/' })).map((e) => e.key)).toEqual(['a/b']);
    });

    it('keeps keys of any length whole: a 2,048-character target with every escaped character, as get, list, prefix, replace and delete see it', async () => {
      const head = 'relay:r1:https://h.example/';
      const long = (fill: string) => `${head}${fill.repeat(Math.ceil(2000 / fill.length)).slice(0, 2000)}`;
      const keys = [long('/'), long('%/#?'), long('a'), long('é東🚀'), `${head}short`];
      for (const key of keys) await store.insert(C, key, { key });
      for (const key of keys) expect((await store.get(C, key))?.value).toEqual({ key });
      expect((await store.list<{ key: string }>(C, { prefix: head })).map((e) => e.key).sort()).toEqual([...keys].sort());
      // A prefix longer than any row key's readable head still selects exactly its keys.
      expect((await store.list(C, { prefix: long('/').slice(0, 1500) })).map((e) => e.key)).toEqual([long('/')]);
      expect((await store.list(C, { prefix: long('a').slice(0, 1500) + 'b' }))).toEqual([]);
      const etag = (await store.get(C, long('/')))!.etag;
      await store.replace(C, long('/'), { n: 2 }, etag);
      await expect(store.replace(C, long('/'), { n: 3 }, etag)).rejects.toBeInstanceOf(StoreConflictError);
      await expect(store.insert(C, long('%/#?'), { n: 4 })).rejects.toBeInstanceOf(StoreConflictError);
      expect((await store.get(C, long('/')))?.value).toEqual({ n: 2 });
      await store.delete(C, long('a'));
      expect(await store.get(C, long('a'))).toBeUndefined();
      expect((await store.list(C)).length).toBe(keys.length - 1);
    });

    it('hands out copies, so mutating a written or returned object does not change the stored one', async () => {
      const written = { nested: { n: 1 } };
      await store.insert(C, 'k', written);
      written.nested.n = 2;
      const read = (await store.get<typeof written>(C, 'k'))!.value;
      expect(read).toEqual({ nested: { n: 1 } });
      read.nested.n = 3;
      (await store.list<typeof written>(C))[0]!.value.nested.n = 4;
      expect((await store.get(C, 'k'))?.value).toEqual({ nested: { n: 1 } });
    });

    it('deletes an entry, and deleting a missing one is not an error', async () => {
      await store.insert(C, 'gone', { n: 1 });
      await store.insert(C, 'kept', { n: 2 });
      await store.delete(C, 'gone');
      await store.delete(C, 'gone');
      await store.delete(C, 'never');
      expect(await store.get(C, 'gone')).toBeUndefined();
      expect((await store.list(C)).map((e) => e.key)).toEqual(['kept']);
      await store.insert(C, 'gone', { n: 3 });
      expect((await store.get(C, 'gone'))?.value).toEqual({ n: 3 });
    });

    it('writes a batch of inserts and replaces at once and returns each new etag in order', async () => {
      const long = `relay:r1:https://h.example/${'%/#?'.repeat(500)}`;
      const a = await store.insert(C, 'a', { n: 1 });
      const b = await store.insert(C, long, { n: 1 });
      const written = { n: 3 };
      const etags = await store.batch(C, [
        { op: 'replace', key: 'a', value: { n: 2 }, etag: a },
        { op: 'insert', key: 'new 🚀', value: written },
        { op: 'replace', key: long, value: { n: 4 }, etag: b },
      ]);
      written.n = 99; // the store kept a copy
      expect(etags).toHaveLength(3);
      expect(new Set([a, b, ...etags]).size).toBe(5);
      expect(await store.get(C, 'a')).toEqual({ value: { n: 2 }, etag: etags[0] });
      expect(await store.get(C, 'new 🚀')).toEqual({ value: { n: 3 }, etag: etags[1] });
      expect(await store.get(C, long)).toEqual({ value: { n: 4 }, etag: etags[2] });
      // The etags a batch returns condition the next write like any other.
      await store.replace(C, 'a', { n: 5 }, etags[0]!);
      await expect(store.replace(C, long, { n: 6 }, b)).rejects.toBeInstanceOf(StoreConflictError);
    });

    it('writes nothing of a batch when one replace holds a stale etag, and names that key', async () => {
      const a = await store.insert(C, 'a', { n: 1 });
      const stale = await store.insert(C, 'b', { n: 1 });
      const current = await store.replace(C, 'b', { n: 2 }, stale);
      const err: unknown = await store
        .batch(C, [
          { op: 'replace', key: 'a', value: { n: 10 }, etag: a },
          { op: 'insert', key: 'c', value: { n: 10 } },
          { op: 'replace', key: 'b', value: { n: 10 }, etag: stale },
        ])
        .then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(StoreConflictError);
      expect((err as StoreConflictError).key).toBe('b');
      expect(await store.get(C, 'a')).toEqual({ value: { n: 1 }, etag: a });
      expect(await store.get(C, 'b')).toEqual({ value: { n: 2 }, etag: current });
      expect(await store.get(C, 'c')).toBeUndefined();
    });

    it('writes nothing of a batch that inserts an existing key or replaces a vanished one', async () => {
      const a = await store.insert(C, 'a', { n: 1 });
      const gone = await store.insert(C, 'gone', { n: 1 });
      await store.delete(C, 'gone');
      await expect(store.batch(C, [{ op: 'insert', key: 'x', value: {} }, { op: 'insert', key: 'a', value: { n: 2 } }])).rejects.toBeInstanceOf(StoreConflictError);
      await expect(store.batch(C, [{ op: 'replace', key: 'a', value: { n: 3 }, etag: a }, { op: 'replace', key: 'gone', value: {}, etag: gone }])).rejects.toBeInstanceOf(StoreConflictError);
      expect((await store.list(C)).map((e) => [e.key, e.value, e.etag])).toEqual([['a', { n: 1 }, a]]);
    });

    it('lets exactly one of two racing batches over the same etags win, whole', async () => {
      const etags = [await store.insert(C, 'a', { writer: 'none' }), await store.insert(C, 'b', { writer: 'none' })];
      const batchOf = (writer: string): BatchOperation[] => ['a', 'b'].map((key, i) => ({ op: 'replace', key, value: { writer }, etag: etags[i]! }));
      const results = await Promise.allSettled([store.batch(C, batchOf('x')), store.batch(C, batchOf('y'))]);
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ writer: i === 0 ? 'x' : 'y', etags: r.value }] : []));
      expect(won).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)).toEqual([expect.any(StoreConflictError)]);
      expect(await store.list(C)).toEqual([
        { key: 'a', value: { writer: won[0]!.writer }, etag: won[0]!.etags[0] },
        { key: 'b', value: { writer: won[0]!.writer }, etag: won[0]!.etags[1] },
      ]);
    });

    it('refuses a batch naming a key twice or over the operation limit, before writing anything, and takes one at the limit', async () => {
      await expect(store.batch(C, [{ op: 'insert', key: 'k', value: {} }, { op: 'insert', key: 'k', value: {} }])).rejects.toBeInstanceOf(RangeError);
      const many = (n: number): BatchOperation[] => Array.from({ length: n }, (_, i) => ({ op: 'insert', key: `k${String(i).padStart(3, '0')}`, value: { i } }));
      await expect(store.batch(C, many(MAX_BATCH_OPERATIONS + 1))).rejects.toBeInstanceOf(RangeError);
      expect(await store.list(C)).toEqual([]);
      expect(await store.batch(C, [])).toEqual([]);
      expect(await store.batch(C, many(MAX_BATCH_OPERATIONS))).toHaveLength(MAX_BATCH_OPERATIONS);
      expect((await store.list<{ i: number }>(C)).map((e) => e.value.i)).toEqual([...Array(MAX_BATCH_OPERATIONS).keys()]);
    });

    it('stores values larger than one Table Storage property (a 64 KiB heartbeat and more)', async () => {
      const big = { text: 'é'.repeat(40_000) + 'x'.repeat(60_000), n: 1 };
      const etag = await store.insert(C, 'big', big);
      expect((await store.get(C, 'big'))?.value).toEqual(big);
      const smaller = { text: 'short', n: 2 };
      await store.replace(C, 'big', smaller, etag);
      expect((await store.get(C, 'big'))?.value).toEqual(smaller);
      expect((await store.list(C)).map((e) => e.value)).toEqual([smaller]);
    });
  });
}

storeContract('MemoryStore', () => new MemoryStore());

describe('SqliteStore on a file in a fresh directory', () => {
  // A directory per test: each store starts from a new file (the directory is created by ready()).
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  storeContract('SqliteStore', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wbmon-sqlite-contract-'));
    dirs.push(dir);
    return new SqliteStore(join(dir, 'data', 'state.sqlite'));
  });
});

describe('TableStore on in-process Azurite', () => {
  let connectionString = '';
  let close = async (): Promise<void> => {};
  beforeAll(async () => {
    ({ connectionString, close } = await startAzurite({ port: 0 }));
  });
  afterAll(() => close());

  // A fresh table per test keeps tests independent (names: letters/digits, 3-63, letter first).
  let tables = 0;
  const run = Date.now().toString(36);
  storeContract('TableStore', () => TableStore.fromConnectionString(connectionString, { tableName: `contract${run}t${++tables}` }));

  it('refuses a batch too large for one transaction (4 MiB) before sending it, and writes nothing', async () => {
    const store = TableStore.fromConnectionString(connectionString, { tableName: `contract${run}big` });
    await store.ready();
    const big = 'x'.repeat(400_000); // five of these fit one entity each, not one transaction
    const operations: BatchOperation[] = Array.from({ length: 11 }, (_, i) => ({ op: 'insert', key: `k${i}`, value: { big } }));
    await expect(store.batch(C, operations)).rejects.toBeInstanceOf(RangeError);
    expect(await store.list(C)).toEqual([]);
    expect(await store.batch(C, operations.slice(0, 5))).toHaveLength(5);
  });

  it('rejects ready() with StoreUnavailableError that does not reveal the account key when nothing listens', async () => {
    const port = await closedPort();
    const store = TableStore.fromConnectionString(connectionString.replace(/:\d+\//, `:${port}/`));
    const err: unknown = await store.ready().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    const message = (err as Error).message;
    // The embedded Azurite's key is random per run: take it from the connection string.
    expect(message).not.toContain(/AccountKey=([^;]+)/.exec(connectionString)![1]);
    expect(message).not.toContain('AccountKey');
    expect(message).toContain(String(port));
  });
});

/** A port that was free a moment ago and now has no listener. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
