/**
 * The state of a `--data DIR`: what `serve --data DIR` runs on, and what the `roundtrip`
 * commands open when given `--data DIR`. Its own module, away from open.ts: the Function App
 * imports open.ts, and has no data directory (nor any use for SQLite).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SqliteStore } from './sqlite-store.js';

/** The state file in a `--data DIR`. */
export const STATE_FILE = 'state.sqlite';

/** What an older writeback-monitor's embedded Azurite kept in a `--data DIR` (LokiJS, saved every 5 s). */
export const LEGACY_AZURITE_FILE = '__azurite_db_table__.json';

export interface DataDirStore {
  readonly store: SqliteStore;
  /** The SQLite file, absolute. */
  readonly file: string;
  /** Lines for the log: where the state is, and what in DIR is ignored. */
  readonly lines: readonly string[];
}

/**
 * A SqliteStore at DIR/state.sqlite. Nothing is touched here: DIR and the file are created by
 * the store's ready(), so a directory that cannot be written is a store error like an
 * unreachable storage account. Every command given `--data` opens it through here.
 *
 * An older version kept DIR's state in an embedded Azurite's file; that file is not read (its
 * last few seconds may be missing anyway) and is left as it is: the second line says so.
 */
export function openDataDirStore(dir: string): DataDirStore {
  const file = resolve(dir, STATE_FILE);
  const legacy = join(dirname(file), LEGACY_AZURITE_FILE);
  const lines = [`state store: SQLite at ${file} (every write committed to disk before it is acknowledged: WAL, synchronous=FULL)`];
  if (existsSync(legacy)) {
    lines.push(`state store: ${legacy} was written by an older version's embedded Azurite and is ignored: its checks, heartbeats and alerts are not carried over (delete it once you do not need it)`);
  }
  return { store: new SqliteStore(file), file, lines };
}
