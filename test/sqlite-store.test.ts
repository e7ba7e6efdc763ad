/**
 * What SqliteStore adds to the store contract (test/store.contract.test.ts runs that): durable
 * commits, and more than one process on the same file.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadSqlite, SqliteStore } from '../src/store/sqlite-store.js';
import { StoreConflictError, StoreUnavailableError } from '../src/store/store.js';

const CHILD = join(import.meta.dirname, 'support', 'sqlite-child.mjs');
const BUILT = join(import.meta.dirname, '..', 'dist', 'src', 'store', 'sqlite-store.js');
const C = 'things';

let root: string;
let files = 0;
const freshFile = (): string => join(root, `t${++files}`, 'state.sqlite');
const stores: SqliteStore[] = [];
const children: ChildProcessWithoutNullStreams[] = [];

beforeAll(() => {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run npm run build first (npm test builds before running vitest)`);
  root = mkdtempSync(join(tmpdir(), 'wbmon-sqlite-'));
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const store of stores.splice(0)) await store.close();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function open(file: string): SqliteStore {
  const store = new SqliteStore(file);
  stores.push(store);
  return store;
}

/** Another process with the same file open, taking one JSON command a line. */
async function otherProcess(file: string): Promise<{ child: ChildProcessWithoutNullStreams; send: (command: object) => Promise<any> }> {
  const child = spawn(process.execPath, [CHILD, file], { stdio: 'pipe' });
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<any> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`the other process ended: ${stderr}`);
    return JSON.parse(value as string);
  };
  expect(await next()).toEqual({ ready: true });
  return {
    child,
    send: (command) => {
      child.stdin.write(`${JSON.stringify(command)}\n`);
      return next();
    },
  };
}

describe('SqliteStore durability', () => {
  it('runs in WAL mode with synchronous=FULL (commits fsynced, so they survive power loss) and a busy timeout', async () => {
    const store = open(freshFile());
    await store.ready();
    // synchronous: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    expect(store.durability()).toEqual({ journalMode: 'wal', synchronous: 2, busyTimeoutMs: 5000 });
  });

  it('keeps a write whose call had returned when its process was killed with SIGKILL at once', async () => {
    const file = freshFile();
    const other = await otherProcess(file);
    const answer = await other.send({ op: 'insert', collection: C, key: 'acknowledged', value: { n: 1 } });
    other.child.kill('SIGKILL'); // the moment the write was acknowledged
    expect(answer.ok).toBe(true);
    await new Promise((resolve) => other.child.once('exit', resolve));
    expect(await open(file).get(C, 'acknowledged')).toEqual({ value: { n: 1 }, etag: answer.etag });
  });

  it('refuses a file written by a newer schema, naming the file, instead of guessing', async () => {
    const file = freshFile();
    const first = open(file);
    await first.insert(C, 'k', {});
    await first.close();
    const db = new (loadSqlite().DatabaseSync)(file);
    db.exec('PRAGMA user_version = 99');
    db.close();
    const err: unknown = await open(file).ready().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain('newer');
  });

  it('gives StoreUnavailableError naming the path when the directory cannot be made', async () => {
    const blocker = join(root, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const err: unknown = await open(join(blocker, 'state.sqlite')).get(C, 'k').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toMatch(/^SQLite state at .*a-file.state\.sqlite: open failed: /);
  });

  it('refuses every call after close instead of reopening behind the caller', async () => {
    const store = open(freshFile());
    await store.insert(C, 'k', {});
    await store.close();
    await expect(store.get(C, 'k')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('loads node:sqlite without printing its ExperimentalWarning, and lets other warnings through', async () => {
    const script = `
      const { SqliteStore } = await import(${JSON.stringify(new URL(`file://${BUILT}`).href)});
      const store = new SqliteStore(${JSON.stringify(freshFile())});
      await store.insert('c', 'k', {});
      await store.close();
      process.emitWarning('SQLite is an experimental feature, said someone else', 'ExperimentalWarning');
      process.emitWarning('another warning');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script]);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(stderr).not.toContain('SQLite is an experimental feature and might change');
    expect(stderr).toContain('ExperimentalWarning: SQLite is an experimental feature, said someone else');
    expect(stderr).toContain('Warning: another warning');
  });
});

describe('SqliteStore with two processes on one file', () => {
  it('gives the second writer holding the same etag StoreConflictError, not a lost write', async () => {
    const file = freshFile();
    const store = open(file);
    const etag = await store.insert(C, 'k', { writer: 'none' });
    const other = await otherProcess(file);
    const theirs = await other.send({ op: 'replace', collection: C, key: 'k', value: { writer: 'other process' }, etag });
    expect(theirs.ok).toBe(true);
    await expect(store.replace(C, 'k', { writer: 'this process' }, etag)).rejects.toBeInstanceOf(StoreConflictError);
    await expect(store.batch(C, [{ op: 'replace', key: 'k', value: { writer: 'this batch' }, etag }])).rejects.toBeInstanceOf(StoreConflictError);
    expect(await store.get(C, 'k')).toEqual({ value: { writer: 'other process' }, etag: theirs.etag });
    // And the other way round.
    const mine = await store.replace(C, 'k', { writer: 'this process' }, theirs.etag);
    expect(await other.send({ op: 'replace', collection: C, key: 'k', value: { writer: 'other again' }, etag: theirs.etag })).toMatchObject({ ok: false, error: 'StoreConflictError' });
    expect(await other.send({ op: 'insert', collection: C, key: 'k', value: {} })).toMatchObject({ ok: false, error: 'StoreConflictError' });
    expect(await store.get(C, 'k')).toEqual({ value: { writer: 'this process' }, etag: mine });
  });

  it('loses no increment when two processes race read-modify-write on one entry', async () => {
    const file = freshFile();
    const store = open(file);
    await store.insert(C, 'counter', { n: 0 });
    const times = 300;
    const [a, b] = await Promise.all([otherProcess(file), otherProcess(file)]);
    // Both are open before either starts, so their loops overlap.
    const results = await Promise.all([a!.send({ op: 'increment', collection: C, key: 'counter', times }), b!.send({ op: 'increment', collection: C, key: 'counter', times })]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect((await store.get(C, 'counter'))?.value).toEqual({ n: 2 * times });
    // How often they collided is up to the scheduler (a writer that finds the file locked sleeps
    // in SQLite's busy handler while the other runs on, so most runs see a few conflicts, each
    // retried): only the total is certain.
    expect(results.every((r) => Number.isInteger(r.conflicts))).toBe(true);
  }, 60_000);
});
