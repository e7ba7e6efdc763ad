import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepaliveTest } from '../src/probes/keepalive.js';
import { createTestCa, type KeyAndCert, type TestCa } from './support/certs.js';
import { startFirewall, type IdleAction } from './support/firewall.js';

let ca: TestCa;
let cert: KeyAndCert;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  ca = await createTestCa();
  cert = await ca.issue({ names: ['localhost'] });
});
afterAll(async () => {
  await Promise.all(closers.map((c) => c()));
});

/** An HTTPS server that keeps idle connections for `keepAliveSeconds` and says so. */
async function target(keepAliveSeconds = 60): Promise<number> {
  const server = createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end('ok'));
  server.keepAliveTimeout = keepAliveSeconds * 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

async function behindFirewall(limitMs: number, action: IdleAction): Promise<string> {
  const fw = await startFirewall(await target(), limitMs, action);
  closers.push(() => fw.close());
  return `https://localhost:${fw.port}/`;
}

const options = () => ({ timeoutMs: 1500, extraCa: [ca.cert] });

describe.concurrent('idle-keepalive test against a firewall simulator', () => {
  it('passes idle lengths the firewall allows and reports a reset (rst) for longer ones, during the idle', async () => {
    const url = await behindFirewall(1500, 'reset');
    const [short, long] = await keepaliveTest(url, [1, 3], options());
    expect(short).toMatchObject({ idleSeconds: 1, survived: true, serverKeepAliveSeconds: 60 });
    expect(short?.died).toBeUndefined();
    expect(long).toMatchObject({ idleSeconds: 3, survived: false, blame: 'network', died: { how: 'rst', during: 'idle' } });
    expect(long!.died!.afterSeconds).toBeLessThan(3);
  });

  it('reports an orderly close by a middlebox as fin, blamed on the network', async () => {
    const url = await behindFirewall(1000, 'close');
    const [result] = await keepaliveTest(url, [2], options());
    expect(result).toMatchObject({ survived: false, blame: 'network', died: { how: 'fin', during: 'idle' }, serverKeepAliveSeconds: 60 });
  });

  it('reports a black hole as timeout on the second request', async () => {
    const url = await behindFirewall(1000, 'blackhole');
    const [result] = await keepaliveTest(url, [2], options());
    expect(result).toMatchObject({ survived: false, blame: 'network', died: { how: 'timeout', afterSeconds: 2, during: 'second-request' } });
  });

  it("blames the server when it closes on its own announced Keep-Alive timeout", async () => {
    const port = await target(1);
    const [result] = await keepaliveTest(`https://localhost:${port}/`, [3], options());
    expect(result).toMatchObject({ survived: false, serverKeepAliveSeconds: 1, blame: 'server', died: { how: 'fin', during: 'idle' } });
  });

  it('reports the connection failure itself when the target cannot be reached', async () => {
    const [result] = await keepaliveTest('https://127.0.0.1:1/', [1], options());
    expect(result).toMatchObject({ survived: false, failure: { code: 'tcp_refused', phase: 'tcp' } });
  });

  it('runs all idle lengths at once and calls back with the countdown', async () => {
    const url = await behindFirewall(60_000, 'reset');
    const ticks: [number, number][] = [];
    const results = await keepaliveTest(url, [1, 2], { ...options(), onTick: (idle, left) => ticks.push([idle, left]) });
    expect(results.map((r) => r.survived)).toEqual([true, true]);
    // Both countdowns were running together: the 2 s one ticked while the 1 s one was idle.
    expect(ticks.some(([idle]) => idle === 2)).toBe(true);
    expect(ticks.filter(([idle]) => idle === 2).map(([, left]) => left)).toContain(1);
  });
});
