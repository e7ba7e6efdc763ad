/**
 * The reach probe (src/probes/reach.ts) against real loopback servers: plain HTTP on its port,
 * directly and through a plain-HTTP forward proxy; a TCP connect, directly and through a CONNECT
 * proxy; a verified TLS handshake with certificates made at test time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reachTarget } from '../src/probes/reach.js';
import { createTestCa, type TestCa } from './support/certs.js';
import { refusedPort, respond, startConnectProxy, startForwardProxy, startHttp, startHttps, startSilentTcp, type Running } from './support/servers.js';

let ca: TestCa;
let crl: Running;
let tls: Running;
let silent: Running;
const TIMEOUT = { timeoutMs: 2000 };

beforeAll(async () => {
  ca = await createTestCa();
  crl = await startHttp(respond(404, 'not found'));
  tls = await startHttps(await ca.issue({ names: ['localhost'] }));
  silent = await startSilentTcp();
});
afterAll(async () => {
  await crl.close();
  await tls.close();
  await silent.close();
});

describe('reaching a host where no particular answer is expected', () => {
  it('takes any HTTP answer of a plain-HTTP host as reached, and says which', async () => {
    expect(await reachTarget(crl.url, TIMEOUT)).toMatchObject({ target: crl.url, ok: true, status: 404 });
  });

  it('fails a refused port in tcp and a host that never answers in http', async () => {
    const port = await refusedPort();
    expect((await reachTarget(`http://127.0.0.1:${port}/`, TIMEOUT)).failure?.code).toBe('tcp_refused');
    const quiet = await reachTarget(`http://127.0.0.1:${silent.port}/`, { timeoutMs: 300 });
    expect([quiet.ok, quiet.failure?.code, quiet.failure?.phase]).toEqual([false, 'http_timeout', 'http']);
  });

  it('sends plain HTTP to a proxy in absolute form, not through CONNECT, and tells the proxy refusing from the host answering', async () => {
    const forward = await startForwardProxy();
    const wantsAuth = await startForwardProxy({ status: 407 });
    const cannot = await startForwardProxy({ status: 502 });
    try {
      const target = `http://localhost:${crl.port}/`;
      expect(await reachTarget(target, { ...TIMEOUT, proxy: new URL(forward.url) })).toMatchObject({ ok: true, status: 404 });
      expect(forward.requests).toEqual([`GET http://localhost:${crl.port}/`]);
      expect((await reachTarget(target, { ...TIMEOUT, proxy: new URL(wantsAuth.url) })).failure).toMatchObject({ code: 'proxy_refused', phase: 'proxy', message: expect.stringContaining('407 (proxy authentication required)') });
      expect((await reachTarget(target, { ...TIMEOUT, proxy: new URL(cannot.url) })).failure).toMatchObject({ code: 'proxy_refused', message: expect.stringContaining('502 (it could not reach the host)') });
      const down = await refusedPort();
      expect((await reachTarget(target, { ...TIMEOUT, proxy: new URL(`http://127.0.0.1:${down}`) })).failure?.code).toBe('proxy_unreachable');
    } finally {
      await forward.close();
      await wantsAuth.close();
      await cannot.close();
    }
  });

  it('connects a tcp:// target, directly and through a CONNECT proxy, sending nothing', async () => {
    expect(await reachTarget(`tcp://127.0.0.1:${silent.port}`, TIMEOUT)).toMatchObject({ ok: true });
    const proxy = await startConnectProxy();
    try {
      expect(await reachTarget(`tcp://localhost:${silent.port}`, { ...TIMEOUT, proxy: new URL(proxy.url) })).toMatchObject({ ok: true });
      expect(proxy.requests).toEqual([`localhost:${silent.port}`]);
    } finally {
      await proxy.close();
    }
    expect((await reachTarget('tcp://127.0.0.1', TIMEOUT)).ok).toBe(false);
  });

  it('reaches an https:// target once the TLS handshake is verified, and fails an untrusted certificate', async () => {
    expect(await reachTarget(tls.url, { ...TIMEOUT, extraCa: [ca.cert] })).toMatchObject({ ok: true });
    expect((await reachTarget(tls.url, TIMEOUT)).failure?.code).toBe('tls_untrusted');
  });
});
