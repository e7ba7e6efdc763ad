/**
 * `writeback-monitor serve --data DIR` killed with SIGKILL keeps what it had acknowledged: the
 * real command as a child process (npm test builds first), killed the moment a heartbeat was
 * answered 202, then started again on the same DIR.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALERTS, type DeliveryRow } from '../src/alerting/outbox.js';
import { STATE_FILE } from '../src/store/data-dir.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { heartbeat, RELAYS_JSON, signed } from './support/heartbeats.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli.js');

interface Serving {
  readonly child: ChildProcess;
  readonly base: string;
  /** Everything it printed so far, stdout and stderr apart. */
  readonly out: () => string;
  readonly err: () => string;
  /** Resolves when a line matching `pattern` has been printed. */
  printed(pattern: RegExp): Promise<void>;
}

const children: ChildProcess[] = [];
let workDir: string;
let hook: Server;
const hookRequests: ServerResponse[] = [];

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test builds before running vitest)`);
  workDir = mkdtempSync(join(tmpdir(), 'wbmon-crash-'));
  // The alert webhook takes the request and never answers: the alert row is then written and
  // claimed, and nothing the outbox does next can hide whether it survived.
  hook = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    hookRequests.push(res);
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  for (const res of hookRequests) res.destroy();
  await new Promise<void>((resolve) => hook.close(() => resolve()));
  rmSync(workDir, { recursive: true, force: true });
});

async function startServe(dataDir: string, env: Record<string, string>): Promise<Serving> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data', dataDir], {
    cwd: workDir, // no local.settings.json here
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  children.push(child);
  let out = '';
  let err = '';
  const waiting: { pattern: RegExp; resolve: () => void }[] = [];
  const check = (): void => {
    for (const w of [...waiting]) if (w.pattern.test(out)) waiting.splice(waiting.indexOf(w), 1), w.resolve();
  };
  child.stdout!.on('data', (d: Buffer) => ((out += d), check()));
  child.stderr!.on('data', (d: Buffer) => (err += d));
  const printed = (pattern: RegExp): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ pattern, resolve });
      check();
      child.once('exit', () => reject(new Error(`serve exited before printing ${pattern}: ${out}${err}`)));
    });
  await printed(/serving at http:\/\/127\.0\.0\.1:\d+\/api/);
  const base = /serving at (http:\/\/127\.0\.0\.1:\d+)\/api/.exec(out)![1]!;
  return { child, base, out: () => out, err: () => err, printed };
}

function killed(child: ChildProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode);
    else child.once('exit', (_code, signal) => resolve(signal));
  });
}

async function status(base: string): Promise<any> {
  const res = await fetch(`${base}/api/status`);
  expect(res.status).toBe(200);
  return res.json();
}

async function until<T>(what: string, get: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('serve --data killed with SIGKILL', () => {
  it('keeps the heartbeat it answered 202 just before, a down check with its since, and the alert row', async () => {
    const dataDir = join(workDir, 'data');
    const target = `https://127.0.0.1:${await closedPort()}/`;
    const env = {
      WBMON_TARGETS: target,
      WBMON_FAILURE_THRESHOLD: '1',
      WBMON_RELAYS: RELAYS_JSON,
      WBMON_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
    };

    const first = await startServe(dataDir, env);
    expect(first.out()).toContain(`state store: SQLite at ${join(dataDir, STATE_FILE)} (every write committed to disk before it is acknowledged: WAL, synchronous=FULL)`);
    // The first probe cycle at start finds the closed port: down at once (threshold 1), and the
    // alert goes to the outbox before its delivery is tried.
    const down = await until('the check to go down', async () => (await status(first.base)).checks.find((c: any) => c.target === target && c.state === 'down'));
    await until('the alert to reach the webhook', async () => (hookRequests.length > 0 ? true : undefined));
    // A second process reads the same file while serve runs (WAL readers never block).
    const reader = new SqliteStore(join(dataDir, STATE_FILE));
    const alertsBefore = await reader.list<DeliveryRow>(ALERTS);
    await reader.close();
    expect(alertsBefore.map((a) => [a.value.channel, a.value.event.checkId])).toEqual([['webhook', down.id]]);

    const sequence = 4242;
    const body = JSON.stringify(heartbeat(sequence, { sentAt: new Date().toISOString() }));
    const answer = await fetch(`${first.base}/api/heartbeat`, { method: 'POST', ...signed(body) });
    first.child.kill('SIGKILL'); // the moment the 202 arrived: nothing after it can have saved anything
    expect(answer.status).toBe(202);
    expect(await killed(first.child)).toBe('SIGKILL');

    const second = await startServe(dataDir, env);
    // Its own first cycle has run: a state re-derived from nothing would have a new since by now.
    await second.printed(/probeEndpoints: /);
    const after = await status(second.base);
    expect(after.checks.find((c: any) => c.id === down.id)).toMatchObject({ state: 'down', since: down.since });
    expect(after.relays.find((r: any) => r.relayId === 'relay-a')).toMatchObject({ lastSequence: sequence, state: 'up' });
    // A replay of the same heartbeat is refused: the sequence it recorded survived too.
    expect((await fetch(`${second.base}/api/heartbeat`, { method: 'POST', ...signed(body) })).status).toBe(409);

    const exited = new Promise<number | null>((resolve) => second.child.once('exit', (code) => resolve(code)));
    second.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const store = new SqliteStore(join(dataDir, STATE_FILE));
    try {
      const alertsAfter = await store.list<DeliveryRow>(ALERTS);
      expect(alertsAfter.map((a) => [a.key, a.value.createdAt])).toEqual(alertsBefore.map((a) => [a.key, a.value.createdAt]));
      const stored = await store.list<{ sequence: number }>('heartbeats', { prefix: 'relay-a|' });
      expect(stored.map((h) => h.value.sequence)).toContain(sequence);
    } finally {
      await store.close();
    }
    // node:sqlite's ExperimentalWarning is not printed (nor anything else on stderr).
    expect(first.err() + second.err()).toBe('');
  }, 60_000);
});
