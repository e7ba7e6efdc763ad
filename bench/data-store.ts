/**
 * What durability costs a write: 1,000 sequential upserts (read, then a conditional replace or
 * an insert, as the monitor writes) of a ~1 KB value over 100 keys, through SqliteStore on a
 * file (what `serve --data` uses: every commit fsynced) divided by the same through TableStore
 * on the in-process, in-memory Azurite (`serve` without --data: nothing on disk). Rounds
 * alternate, same run; the file is in os.tmpdir() (set TMPDIR to measure another disk).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAzurite } from '../src/local/azurite.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { Store } from '../src/store/store.js';
import { TableStore } from '../src/store/table-store.js';
import { isMain, median } from './support.js';

export interface DataStoreResult {
  readonly upserts: number;
  readonly rounds: number;
  /** Median ms for one upsert. */
  readonly sqliteMs: number;
  readonly azuriteMs: number;
  /** sqliteMs / azuriteMs. */
  readonly ratio: number;
  readonly dir: string;
}

async function upserts(store: Store, collection: string, count: number): Promise<number> {
  const value = { text: 'x'.repeat(1000), n: 0 };
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const key = `k${i % 100}`;
    const current = await store.get(collection, key);
    const next = { ...value, n: i };
    if (current) await store.replace(collection, key, next, current.etag);
    else await store.insert(collection, key, next);
  }
  return (performance.now() - start) / count;
}

export async function benchDataStore(options: { upserts?: number; rounds?: number } = {}): Promise<DataStoreResult> {
  const count = options.upserts ?? 1000;
  const rounds = options.rounds ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'wbmon-bench-sqlite-'));
  const azurite = await startAzurite({});
  const table = TableStore.fromConnectionString(azurite.connectionString, { tableName: 'benchdatastore', partitionWritesPerSecond: 0 });
  const sqlite = new SqliteStore(join(dir, 'state.sqlite'));
  try {
    await Promise.all([table.ready(), sqlite.ready()]);
    await upserts(table, 'warmup', 100);
    await upserts(sqlite, 'warmup', 100);
    const s: number[] = [];
    const a: number[] = [];
    for (let r = 0; r < rounds; r++) {
      s.push(await upserts(sqlite, `round${r}`, count));
      a.push(await upserts(table, `round${r}`, count));
    }
    const sqliteMs = median(s);
    const azuriteMs = median(a);
    return { upserts: count, rounds, sqliteMs, azuriteMs, ratio: sqliteMs / azuriteMs, dir: tmpdir() };
  } finally {
    await sqlite.close();
    await azurite.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatDataStore(r: DataStoreResult): string {
  return [
    `data store: ${r.upserts} upserts (read + conditional write, 1 KB), SqliteStore synchronous=FULL in ${r.dir} vs TableStore on in-memory Azurite, median of ${r.rounds} rounds`,
    `  sqlite ${r.sqliteMs.toFixed(3)} ms an upsert, azurite ${r.azuriteMs.toFixed(3)} ms; ratio sqlite / azurite ${r.ratio.toFixed(3)}`,
  ].join('\n');
}

if (isMain(import.meta.url)) console.log(formatDataStore(await benchDataStore()));
