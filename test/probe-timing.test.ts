/**
 * Phase timings as a fresh process measures them (issue 14): on Flex Consumption a timer often
 * runs on a new instance, so the first probe of a process is the normal case. The probes run in
 * a child `writeback-monitor probe --json` started for each test, against real loopback HTTPS
 * servers that delay their first byte by a known amount.
 *
 * Only what cannot be noisy is asserted here (no time is compared with a budget); how close ttfb
 * comes to the injected delay, and to blackbox_exporter side by side, is `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeResult } from '../src/probes/result.js';
import { probeTarget } from '../src/probes/probe.js';
import { createTestCa, type KeyAndCert, type TestCa } from './support/certs.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli.js');
let ca: TestCa;
let leaf: KeyAndCert;
let caFile: string;
const closers: (() => void)[] = [];

/**
 * Answers 200 no sooner than `delayMs` (from the path, /delay/N) after the request arrived:
 * measured with the monotonic clock, because a bare setTimeout may fire up to a millisecond early
 * on libuv's cached loop time.
 */
async function delayingServer(host: '127.0.0.1' | '::1'): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createHttpsServer({ key: leaf.key, cert: leaf.cert }, (req, res) => {
    const arrived = performance.now();
    const delayMs = Number(/^\/delay\/(\d+)$/.exec(req.url ?? '')?.[1] ?? 0);
    const answer = (): void => {
      const left = delayMs - (performance.now() - arrived);
      if (left > 0) {
        setTimeout(answer, Math.ceil(left));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    };
    answer();
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  closers.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** One `probe --json` in a new Node process: the cold path. */
function probeInFreshProcess(url: string): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'probe', '--json', '--target', url], {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: caFile },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => {
      try {
        const [result] = JSON.parse(stdout) as ProbeResult[];
        if (!result) throw new Error('no result');
        resolve(result);
      } catch (err) {
        reject(new Error(`probe exited ${code}: ${stdout}${stderr} (${(err as Error).message})`));
      }
    });
  });
}

/** Every timed phase together cannot take longer than the whole probe. */
function phasesSum(result: ProbeResult): number {
  const t = result.timings;
  return (t.dns ?? 0) + (t.proxy ?? 0) + (t.tcp ?? 0) + (t.tls ?? 0) + (t.ttfb ?? 0);
}

async function ipv6Loopback(): Promise<boolean> {
  const probe = createNetServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}
const hasIpv6 = await ipv6Loopback();

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm test builds before running vitest)`);
  ca = await createTestCa();
  leaf = await ca.issue({ names: ['localhost'], ips: ['127.0.0.1', '::1'] });
  caFile = join(mkdtempSync(join(tmpdir(), 'wbmon-timing-')), 'ca.pem');
  writeFileSync(caFile, ca.cert);
});

afterAll(() => {
  for (const close of closers) close();
});

describe('phase timings measured in a fresh process', () => {
  it.each([20, 80])('a first byte delayed %i ms: ttfb is at least the delay and within the total, and the phases fit in the total', async (delayMs) => {
    const port = await delayingServer('127.0.0.1');
    const result = await probeInFreshProcess(`https://localhost:${port}/delay/${delayMs}`);
    expect(result.failure).toBeUndefined();
    expect(result.ok).toBe(true);
    const { ttfb, total } = result.timings;
    // The clock starts when the request's last byte was handed to the socket, which is before
    // the server can have read it; the 0.5 ms covers the two processes' clocks being read at
    // different instants around that hand-off.
    expect(ttfb).toBeGreaterThanOrEqual(delayMs - 0.5);
    expect(ttfb).toBeLessThanOrEqual(total);
    expect(phasesSum(result)).toBeLessThanOrEqual(total);
    for (const phase of ['dns', 'tcp', 'tls'] as const) expect(result.timings[phase]).toBeGreaterThanOrEqual(0);
  });

  it('an IPv4 literal has no DNS phase; the same server by name has one', async () => {
    const port = await delayingServer('127.0.0.1');
    const literal = await probeInFreshProcess(`https://127.0.0.1:${port}/delay/0`);
    expect(literal.ok).toBe(true);
    expect(literal.address).toBe('127.0.0.1');
    expect(literal.timings).not.toHaveProperty('dns');
    expect(Object.keys(literal.timings).sort()).toEqual(['tcp', 'tls', 'total', 'ttfb']);
    expect(phasesSum(literal)).toBeLessThanOrEqual(literal.timings.total);

    const named = await probeInFreshProcess(`https://localhost:${port}/delay/0`);
    expect(named.ok).toBe(true);
    expect(named.timings.dns).toBeGreaterThanOrEqual(0);
    expect(Object.keys(named.timings).sort()).toEqual(['dns', 'tcp', 'tls', 'total', 'ttfb']);
  });

  it.skipIf(!hasIpv6)('an IPv6 literal has no DNS phase (skipped when this machine has no ::1)', async () => {
    const port = await delayingServer('::1');
    const fresh = await probeInFreshProcess(`https://[::1]:${port}/delay/0`);
    expect(fresh.failure).toBeUndefined();
    expect(fresh.address).toBe('::1');
    expect(fresh.timings).not.toHaveProperty('dns');
    // In process too, where the probe's other callers (the cycle, the relay) run it.
    const warm = await probeTarget(`https://[::1]:${port}/delay/0`, { timeoutMs: 3000, extraCa: [ca.cert] });
    expect(warm.ok).toBe(true);
    expect(warm.timings).not.toHaveProperty('dns');
    expect(warm.tls?.hostnameValid).toBe(true);
  });

  it('a proxy given by address has no DNS phase either; the target is the proxy\'s to resolve', async () => {
    const port = await delayingServer('127.0.0.1');
    // A CONNECT proxy on loopback, given as an IP literal.
    const tunnels = new Set<Socket>();
    const proxy = createNetServer((client) => {
      tunnels.add(client);
      client.once('data', (head: Buffer) => {
        const targetPort = Number(/^CONNECT [^\s]+:(\d+) HTTP/.exec(head.toString('latin1'))?.[1]);
        const up = connect(targetPort, '127.0.0.1', () => {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          client.pipe(up).pipe(client);
        });
        tunnels.add(up);
        up.on('error', () => client.destroy());
      });
      client.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    closers.push(() => {
      for (const s of tunnels) s.destroy();
      proxy.close();
    });
    const result = await probeTarget(`https://localhost:${port}/delay/0`, {
      timeoutMs: 3000,
      extraCa: [ca.cert],
      proxy: new URL(`http://127.0.0.1:${(proxy.address() as AddressInfo).port}`),
    });
    expect(result.failure).toBeUndefined();
    expect(result.timings).not.toHaveProperty('dns');
    expect(result.timings.proxy).toBeGreaterThanOrEqual(0);
  });
});
