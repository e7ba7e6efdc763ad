/**
 * Store on one SQLite file, through Node's built-in `node:sqlite` (no dependency): what
 * `serve --data DIR` keeps its state in, so that whatever serve acknowledged (a heartbeat
 * answered 202, a recorded transition, an alert row) survives SIGKILL and power loss.
 *
 *  - WAL journal with `synchronous=FULL`: every commit is fsynced to the WAL before the call
 *    returns, so a committed write survives the machine losing power, not only the process
 *    dying. (`NORMAL` would survive a crash of the process but could lose the last commits on
 *    power loss.) `fullfsync` makes macOS flush the drive's cache too; elsewhere it does nothing.
 *  - DatabaseSync is synchronous: each method has committed (or rolled back) before the
 *    promise it returns settles.
 *  - Two processes may open the same file (serve and a `roundtrip` command): writes serialise
 *    on SQLite's lock, waiting up to BUSY_TIMEOUT_MS; an ETag-conditional write from one that
 *    lost the race is a StoreConflictError, never a lost write.
 *
 * One table, primary key (collection, key). A key is stored as its UTF-16 code units,
 * big-endian, in a BLOB: SQLite compares BLOBs bytewise, which is exactly the ordinal (UTF-16
 * code unit) order the contract promises, and any JS string (even a lone surrogate) comes back
 * as it went in; there is no length limit to work around. The value is its JSON text
 * (well-formed JSON.stringify output, so valid UTF-8 whatever the value holds). The ETag is
 * random per write, so it never repeats, even after a delete and a new insert, and never
 * collides between two processes.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { checkBatch, StoreConflictError, StoreUnavailableError, type BatchOperation, type Entry, type ListOptions, type Store, type Versioned } from './store.js';

/** How long one process waits for another's write to finish before giving up (StoreUnavailableError). */
export const BUSY_TIMEOUT_MS = 5000;

/** The schema this code writes (PRAGMA user_version). */
const SCHEMA_VERSION = 1;

const SCHEMA = `CREATE TABLE IF NOT EXISTS entries (
  collection TEXT NOT NULL,
  key BLOB NOT NULL,
  value TEXT NOT NULL,
  etag TEXT NOT NULL,
  PRIMARY KEY (collection, key)
) WITHOUT ROWID`;

type Sqlite = typeof import('node:sqlite');
let sqlite: Sqlite | undefined;

/**
 * `node:sqlite`, loaded on first use (so nothing else that imports this module pays for it,
 * and the Function App never loads it). Node 22 marks the module experimental and prints an
 * ExperimentalWarning to stderr on load, which would be the first line `serve` prints. That
 * one warning, and only it, is held back: process.emitWarning is wrapped for the duration of
 * the load and lets every other warning through. (`--disable-warning=ExperimentalWarning`
 * would do it from the command line, but for every experimental feature, and needs a flag on
 * every way the CLI is started.)
 */
export function loadSqlite(): Sqlite {
  if (sqlite) return sqlite;
  const emit = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type ?? (warning instanceof Error ? warning.name : undefined);
    const message = warning instanceof Error ? warning.message : String(warning);
    if (type === 'ExperimentalWarning' && /^SQLite is an experimental feature/.test(message)) return;
    (emit as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    sqlite = process.getBuiltinModule('node:sqlite') as Sqlite | undefined;
  } finally {
    process.emitWarning = emit;
  }
  if (!sqlite) throw new StoreUnavailableError(`this Node (${process.version}) has no node:sqlite: serve --data needs Node 22.13 or later`);
  return sqlite;
}

/** UTF-16 code units, big-endian: bytewise order is ordinal string order. */
function keyBlob(key: string): Buffer {
  return Buffer.from(key, 'utf16le').swap16();
}

function keyOf(blob: Uint8Array): string {
  return Buffer.from(blob).swap16().toString('utf16le');
}

/** The smallest blob greater than every blob starting with `prefix`; undefined when there is none. */
function prefixEnd(prefix: Buffer): Buffer | undefined {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] !== 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

function json(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`a ${typeof value} is not a JSON value and cannot be stored`);
  return text;
}

interface Statements {
  readonly get: StatementSync;
  readonly insert: StatementSync;
  readonly replace: StatementSync;
  readonly delete: StatementSync;
  readonly listFrom: StatementSync;
  readonly listRange: StatementSync;
}

interface Open {
  readonly db: DatabaseSync;
  readonly statements: Statements;
}

export class SqliteStore implements Store {
  /** The database file (absolute). */
  readonly path: string;
  private open: Open | undefined;
  private closed = false;

  /** Nothing is touched until the first call: ready() creates the directory and the file. */
  constructor(path: string) {
    this.path = resolve(path);
  }

  async ready(): Promise<void> {
    this.connection();
  }

  async get<T>(collection: string, key: string): Promise<Versioned<T> | undefined> {
    const row = this.run(`read ${collection}/${key}`, (s) => s.get.get(collection, keyBlob(key))) as { value: string; etag: string } | undefined;
    return row && { value: JSON.parse(row.value) as T, etag: row.etag };
  }

  async insert<T>(collection: string, key: string, value: T): Promise<string> {
    const text = json(value);
    const etag = newEtag();
    const { changes } = this.run(`insert ${collection}/${key}`, (s) => s.insert.run(collection, keyBlob(key), text, etag));
    if (Number(changes) !== 1) throw new StoreConflictError(collection, key);
    return etag;
  }

  async replace<T>(collection: string, key: string, value: T, etag: string): Promise<string> {
    const text = json(value);
    const next = newEtag();
    const { changes } = this.run(`replace ${collection}/${key}`, (s) => s.replace.run(text, next, collection, keyBlob(key), etag));
    // No row changed: the ETag is stale, or the entry vanished since it was read.
    if (Number(changes) !== 1) throw new StoreConflictError(collection, key);
    return next;
  }

  async batch(collection: string, operations: readonly BatchOperation[]): Promise<string[]> {
    checkBatch(collection, operations);
    if (operations.length === 0) return [];
    // What cannot be serialised fails before anything is written.
    const rows = operations.map((op) => ({ op, key: keyBlob(op.key), text: json(op.value), etag: newEtag() }));
    const conflict = this.run(`batch of ${operations.length} writes to ${collection}`, (s, db) => {
      // IMMEDIATE takes the write lock at once (waiting out another process's write), so the
      // transaction never has to upgrade a read lock halfway through.
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const { op, key, text, etag } of rows) {
          const { changes } = op.op === 'insert' ? s.insert.run(collection, key, text, etag) : s.replace.run(text, etag, collection, key, op.etag);
          if (Number(changes) !== 1) {
            db.exec('ROLLBACK');
            return op.key;
          }
        }
        db.exec('COMMIT');
        return undefined;
      } catch (err) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw err;
      }
    });
    if (conflict !== undefined) throw new StoreConflictError(collection, conflict);
    return rows.map((r) => r.etag);
  }

  async delete(collection: string, key: string): Promise<void> {
    this.run(`delete ${collection}/${key}`, (s) => s.delete.run(collection, keyBlob(key)));
  }

  async list<T>(collection: string, options: ListOptions = {}): Promise<Entry<T>[]> {
    const { prefix = '', limit = Infinity } = options;
    if (limit <= 0) return [];
    const low = keyBlob(prefix);
    const high = prefixEnd(low);
    const max = Number.isFinite(limit) ? Math.floor(limit) : -1; // LIMIT -1: no limit
    const rows = this.run(`list ${collection}`, (s) =>
      high ? s.listRange.all(collection, low, high, max) : s.listFrom.all(collection, low, max),
    ) as unknown as { key: Uint8Array; value: string; etag: string }[];
    return rows.map((row) => ({ key: keyOf(row.key), value: JSON.parse(row.value) as T, etag: row.etag }));
  }

  async close(): Promise<void> {
    this.closed = true;
    const open = this.open;
    this.open = undefined;
    if (open?.db.isOpen) open.db.close();
  }

  /** What this connection runs with, as SQLite reports it (tests check it). */
  durability(): { journalMode: string; synchronous: number; busyTimeoutMs: number } {
    const { db } = this.connection();
    const pragma = (name: string): unknown => Object.values(db.prepare(`PRAGMA ${name}`).get() ?? {})[0];
    return { journalMode: String(pragma('journal_mode')), synchronous: Number(pragma('synchronous')), busyTimeoutMs: Number(pragma('busy_timeout')) };
  }

  private run<R>(what: string, work: (statements: Statements, db: DatabaseSync) => R): R {
    const { db, statements } = this.connection();
    try {
      return work(statements, db);
    } catch (err) {
      throw this.unavailable(what, err);
    }
  }

  private connection(): Open {
    if (this.open) return this.open;
    if (this.closed) throw new StoreUnavailableError(`SQLite state at ${this.path}: the store is closed`);
    const { DatabaseSync } = loadSqlite();
    let db: DatabaseSync | undefined;
    try {
      const dir = dirname(this.path);
      const created = !existsSync(this.path);
      const newDir = created && !existsSync(dir);
      // A directory made here is the owner's alone: the file has no key of its own, so whoever
      // can write it can write the state (a heartbeat, an alert). An existing one keeps its mode.
      if (created) mkdirSync(dir, { recursive: true, mode: 0o700 });
      db = new DatabaseSync(this.path);
      // busy_timeout first: the statements below may wait for another process.
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const mode = Object.values(db.prepare('PRAGMA journal_mode = WAL').get() ?? {})[0];
      if (mode !== 'wal') throw new Error(`the file system does not let SQLite use a WAL journal (journal_mode is ${String(mode)})`);
      db.exec('PRAGMA synchronous = FULL');
      db.exec('PRAGMA fullfsync = ON');
      db.exec('PRAGMA checkpoint_fullfsync = ON');
      const version = Number(Object.values(db.prepare('PRAGMA user_version').get() ?? {})[0]);
      if (version > SCHEMA_VERSION) throw new Error(`it was written by a newer writeback-monitor (schema ${version}; this one knows ${SCHEMA_VERSION})`);
      db.exec(SCHEMA);
      if (version < SCHEMA_VERSION) db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      // A new file's directory entry must reach the disk too, or power loss can lose the file.
      if (created) syncDirectory(dir);
      if (newDir) syncDirectory(dirname(dir));
      const statements: Statements = {
        get: db.prepare('SELECT value, etag FROM entries WHERE collection = ? AND key = ?'),
        insert: db.prepare('INSERT INTO entries (collection, key, value, etag) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
        replace: db.prepare('UPDATE entries SET value = ?, etag = ? WHERE collection = ? AND key = ? AND etag = ?'),
        delete: db.prepare('DELETE FROM entries WHERE collection = ? AND key = ?'),
        listFrom: db.prepare('SELECT key, value, etag FROM entries WHERE collection = ? AND key >= ? ORDER BY key LIMIT ?'),
        listRange: db.prepare('SELECT key, value, etag FROM entries WHERE collection = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?'),
      };
      this.open = { db, statements };
      return this.open;
    } catch (err) {
      if (db?.isOpen) db.close();
      throw this.unavailable('open', err);
    }
  }

  private unavailable(what: string, err: unknown): StoreUnavailableError {
    if (err instanceof StoreUnavailableError) return err;
    const e = err as { message?: unknown; errstr?: unknown } | undefined;
    return new StoreUnavailableError(`SQLite state at ${this.path}: ${what} failed: ${String(e?.message ?? err)}`, { cause: err });
  }
}

function newEtag(): string {
  return `"${randomUUID()}"`;
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows cannot open a directory for fsync; NTFS journals the entry itself.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
