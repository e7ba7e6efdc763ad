import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeTarget, type ProbeOptions } from '../src/probes/probe.js';
import { resolverLookup } from '../src/probes/dns.js';
import { createSelfSigned, createTestCa, type KeyAndCert, type TestCa } from './support/certs.js';
import {
  refusedPort,
  respond,
  startConnectProxy,
  startDns,
  startHttp,
  startHttps,
  startSilentTcp,
  type Running,
} from './support/servers.js';

let ca: TestCa;
let valid: KeyAndCert;
const running: Running[] = [];

async function serve<T extends Running>(started: Promise<T>): Promise<T> {
  const s = await started;
  running.push(s);
  return s;
}

function options(extra: Partial<ProbeOptions> = {}): ProbeOptions {
  return { timeoutMs: 3000, extraCa: [ca.cert], ...extra };
}

beforeAll(async () => {
  ca = await createTestCa();
  valid = await ca.issue({ names: ['localhost'], ips: ['127.0.0.1'] });
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.close()));
});

describe('probeTarget against real loopback servers', () => {
  it('reports a healthy HTTPS endpoint as up with every phase timed and the certificate described', async () => {
    const server = await serve(startHttps(valid));
    const result = await probeTarget(server.url, options());
    expect(result.failure).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.http).toEqual({ status: 200 });
    expect(result.proxy).toBeNull();
    expect(result.address).toBe('127.0.0.1');
    expect(result.tls).toMatchObject({ subject: 'CN=localhost', issuer: 'CN=writeback-monitor test CA', authorized: true, hostnameValid: true, daysToExpiry: 89 });
    expect(result.tls?.protocol).toBe('TLSv1.3');
    for (const phase of ['dns', 'tcp', 'tls', 'ttfb'] as const) expect(result.timings[phase]).toBeGreaterThanOrEqual(0);
    expect(result.timings.total).toBeGreaterThanOrEqual(result.timings.ttfb!);
    expect(result.warnings).toEqual([]);
  });

  it('fails a certificate signed by nobody we trust as tls_untrusted', async () => {
    const server = await serve(startHttps(await createSelfSigned({ names: ['localhost'] })));
    const result = await probeTarget(server.url, options());
    expect(result.ok).toBe(false);
    expect(result.failure).toMatchObject({ code: 'tls_untrusted', phase: 'tls' });
    expect(result.failure?.message).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('fails an expired certificate as tls_expired', async () => {
    const server = await serve(startHttps(await ca.issue({ names: ['localhost'], notBeforeDays: -30, notAfterDays: -1.5 })));
    const result = await probeTarget(server.url, options());
    expect(result.failure).toMatchObject({ code: 'tls_expired', phase: 'tls' });
    expect(result.tls?.daysToExpiry).toBe(-2);
  });

  it('fails a certificate for another host name as tls_hostname', async () => {
    const server = await serve(startHttps(await ca.issue({ names: ['wrong.example'] })));
    const result = await probeTarget(server.url, options());
    expect(result.failure).toMatchObject({ code: 'tls_hostname', phase: 'tls' });
    expect(result.tls?.hostnameValid).toBe(false);
  });

  it('keeps a certificate that expires within 14 days up, with a tls_expiring warning', async () => {
    const server = await serve(startHttps(await ca.issue({ names: ['localhost'], notAfterDays: 10.5 })));
    const result = await probeTarget(server.url, options());
    expect(result.ok).toBe(true);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]?.code).toBe('tls_expiring');
    expect(result.warnings[0]?.message).toMatch(/^certificate expires in 10 days/);
  });

  it('reports a refused port as tcp_refused', async () => {
    const port = await refusedPort();
    const result = await probeTarget(`https://127.0.0.1:${port}/`, options());
    expect(result.failure).toMatchObject({ code: 'tcp_refused', phase: 'tcp' });
    expect(result.timings.tls).toBeUndefined();
  });

  it('reports a server that accepts TCP but never finishes the handshake as tls_timeout', async () => {
    const server = await serve(startSilentTcp());
    const result = await probeTarget(server.url, options({ timeoutMs: 400 }));
    expect(result.failure).toMatchObject({ code: 'tls_timeout', phase: 'tls' });
    expect(result.timings.total).toBeGreaterThanOrEqual(390);
  });

  it('reports a name under .invalid as dns_nxdomain through the system resolver', async () => {
    const result = await probeTarget('https://writeback-probe.invalid/', options());
    expect(result.failure).toMatchObject({ code: 'dns_nxdomain', phase: 'dns' });
  });

  it('reports NXDOMAIN from a DNS server as dns_nxdomain', async () => {
    const dns = await serve(startDns());
    const result = await probeTarget('https://missing.example/', options({ lookup: resolverLookup([dns.url], { timeoutMs: 500, tries: 1 }) }));
    expect(result.failure).toMatchObject({ code: 'dns_nxdomain', phase: 'dns' });
  });

  it('reports a DNS server that never answers as dns_timeout', async () => {
    const dns = await serve(startDns({ silent: true }));
    const result = await probeTarget('https://slow.example/', options({ lookup: resolverLookup([dns.url], { timeoutMs: 200, tries: 1 }) }));
    expect(result.failure).toMatchObject({ code: 'dns_timeout', phase: 'dns' });
  });

  it('reports an HTTP 503 as http_status with the status recorded', async () => {
    const server = await serve(startHttps(valid, respond(503, 'unavailable')));
    const result = await probeTarget(server.url, options());
    expect(result.failure).toMatchObject({ code: 'http_status', phase: 'http', message: 'HTTP 503; expected an HTTP status below 500' });
    expect(result.http).toEqual({ status: 503 });
  });

  it('counts a 4xx from the real service as up: the path works', async () => {
    const server = await serve(startHttps(valid, respond(404)));
    const result = await probeTarget(server.url, options());
    expect(result.ok).toBe(true);
    expect(result.http).toEqual({ status: 404 });
  });

  it('measures a slow first byte in ttfb', async () => {
    const server = await serve(startHttps(valid, respond(200, 'ok', 150)));
    const result = await probeTarget(server.url, options());
    expect(result.ok).toBe(true);
    expect(result.timings.ttfb).toBeGreaterThanOrEqual(145);
  });

  it('fails a first byte slower than the timeout as http_timeout', async () => {
    const server = await serve(startHttps(valid, respond(200, 'ok', 2000)));
    const result = await probeTarget(server.url, options({ timeoutMs: 300 }));
    expect(result.failure).toMatchObject({ code: 'http_timeout', phase: 'http' });
    expect(result.tls?.authorized).toBe(true);
  });

  it('probes plain HTTP targets without a TLS phase', async () => {
    const server = await serve(startHttp(respond(204, '')));
    const result = await probeTarget(server.url.replace('localhost', '127.0.0.1'), options());
    expect(result.ok).toBe(true);
    expect(result.timings.tls).toBeUndefined();
    expect(result.tls).toBeUndefined();
  });

  it('tunnels through a CONNECT proxy and says so', async () => {
    const server = await serve(startHttps(valid));
    const proxy = await serve(startConnectProxy());
    const withCredentials = new URL(proxy.url);
    withCredentials.username = 'svc';
    withCredentials.password = 's3cret';
    const result = await probeTarget(server.url, options({ proxy: withCredentials }));
    expect(result.failure).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.proxy).toBe(proxy.url);
    expect(JSON.stringify(result)).not.toContain('s3cret');
    expect(proxy.requests).toEqual([`localhost:${server.port}`]);
    expect(result.timings.proxy).toBeGreaterThanOrEqual(0);
    expect(result.tls?.authorized).toBe(true);
  });

  it('reports a proxy that refuses CONNECT as proxy_refused with its status', async () => {
    const server = await serve(startHttps(valid));
    const proxy = await serve(startConnectProxy({ refuseStatus: 403 }));
    const result = await probeTarget(server.url, options({ proxy: new URL(proxy.url) }));
    expect(result.failure).toMatchObject({ code: 'proxy_refused', phase: 'proxy' });
    expect(result.failure?.message).toBe(`${proxy.url} answered CONNECT localhost:${server.port} with 403`);
  });

  it('reports a proxy that is not listening as proxy_unreachable', async () => {
    const port = await refusedPort();
    const server = await serve(startHttps(valid));
    const result = await probeTarget(server.url, options({ proxy: new URL(`http://127.0.0.1:${port}`) }));
    expect(result.failure).toMatchObject({ code: 'proxy_unreachable', phase: 'tcp' });
  });
});
