/**
 * `serve` under hostile clients, over raw sockets: request targets that do not parse, foreign
 * Host headers, hoarded connections and dripped bodies. After each, the same process still
 * answers /api/health: nothing a client sends may stop the monitor.
 */
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../src/config/settings.js';
import { serve, type RunningMonitor } from '../src/local/serve.js';
import { requestPath, startApi, type RunningApi } from '../src/local/http-server.js';

/** Sends raw bytes and gives the status line's code and the whole answer once the server closes or answers. */
function raw(port: number, bytes: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (/\r\n\r\n/.test(text) && /content-length: (\d+)/i.test(text)) {
        const length = Number(/content-length: (\d+)/i.exec(text)![1]);
        if (text.length - text.indexOf('\r\n\r\n') - 4 >= length) socket.end();
      }
    });
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
    socket.on('error', reject);
    socket.write(bytes);
  });
}

const get = (port: number, target: string, host = `127.0.0.1:${port}`): Promise<{ status: number; text: string }> =>
  raw(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

describe('serve against hostile requests on a raw socket', () => {
  let monitor: RunningMonitor;
  let port: number;
  const lines: string[] = [];

  beforeAll(async () => {
    monitor = await serve({ settings: parseSettings({ WBMON_TARGETS: 'http://127.0.0.1:9/' }), port: 0, log: (l) => lines.push(l) });
    await monitor.firstCycle;
    port = Number(new URL(monitor.url).port);
  });
  afterAll(() => monitor.stop());

  it.each(['//', '///', '//@', '//a:b', '//:99999', '//[', '//[::1'])('answers %s with 400 and still answers /api/health after it', async (target) => {
    const answer = await get(port, target);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('{"error":"request target is not a valid path"}');
    const health = await get(port, '/api/health');
    expect(health.status).toBe(200);
    expect(health.text.endsWith('{"ok":true}')).toBe(true);
  });

  it('answers a malformed request line with 400 and keeps serving', async () => {
    expect((await raw(port, 'GET /api/health\x00 HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(400);
    expect((await raw(port, 'BREW / HTCPCP/1.0\r\n\r\n')).status).toBe(400);
    expect((await get(port, '/api/health')).status).toBe(200);
  });

  it('refuses a Host header other than its own with 421, the way a DNS-rebinding page would reach it', async () => {
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, `127.0.0.1.nip.io:${port}`]) {
      const answer = await get(port, '/api/status', host);
      expect(answer.status, host).toBe(421);
      expect(answer.text).toContain(`this server answers only to 127.0.0.1:${port}`);
    }
    expect((await get(port, '/api/health', `localhost:${port}`)).status).toBe(200);
    expect((await get(port, '/api/health', `LOCALHOST:${port}`)).status).toBe(200);
  });

  it('tells browsers not to sniff its answers, on every answer', async () => {
    for (const target of ['/api/health', '/api/nope', '//']) {
      expect((await get(port, target)).text.toLowerCase()).toContain('x-content-type-options: nosniff');
    }
  });

  it('does not take prototype names for routes', async () => {
    for (const target of ['/__proto__', '/constructor', '/hasOwnProperty']) expect((await get(port, target)).status).toBe(404);
  });
});

describe('the API server under connection hoarding and slow bodies', () => {
  let api: RunningApi;
  const lines: string[] = [];

  beforeAll(async () => {
    api = await startApi(
      {
        '/api/health': { method: 'GET', handle: () => ({ status: 200, body: { ok: true } }) },
        '/api/echo': { method: 'POST', handle: (r) => ({ status: 202, body: { bytes: r.body.byteLength } }) },
        '/api/broken': {
          method: 'GET',
          handle: () => {
            throw new TypeError('a bug in a route');
          },
        },
      },
      0,
      { maxBodyBytes: 64 * 1024, maxConnections: 8, requestTimeoutMs: 1_000, log: (l) => lines.push(l) },
    );
  });
  afterAll(() => api.close());

  it('still answers /api/health while 20 idle connections are held open, by closing the oldest beyond its cap of 8', async () => {
    const hoarded: Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = connect(api.port, '127.0.0.1');
      await new Promise<void>((resolve) => s.once('connect', () => resolve()));
      s.on('error', () => undefined);
      hoarded.push(s);
    }
    const answer = await get(api.port, '/api/health');
    expect(answer.status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect(hoarded.filter((s) => !s.destroyed && !s.readableEnded).length).toBeLessThanOrEqual(8);
    for (const s of hoarded) s.destroy();
  });

  it('closes a connection that drips its body slower than the request timeout allows', async () => {
    const socket = connect(api.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(`POST /api/echo HTTP/1.1\r\nHost: 127.0.0.1:${api.port}\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n`);
    let dripped = 0;
    const drip = setInterval(() => socket.writable && socket.write('x') && dripped++, 100);
    const text = await new Promise<string>((resolve) => {
      let got = '';
      socket.setEncoding('latin1');
      socket.on('data', (c: string) => (got += c));
      socket.on('close', () => resolve(got));
    });
    clearInterval(drip);
    // The server closed it long before the body could complete (65,536 bytes at 10 a second),
    // without handing the route a partial body.
    expect(dripped).toBeLessThan(65_536);
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect((await get(api.port, '/api/health')).status).toBe(200);
  });

  it('answers a route that throws with 500, logs and counts it, and goes on', async () => {
    const answer = await get(api.port, '/api/broken');
    expect(answer.status).toBe(500);
    expect(answer.text).toContain('{"error":"internal error; the monitor logged it"}');
    expect(answer.text).not.toContain('a bug in a route');
    expect(api.routeErrors()).toBe(1);
    expect(lines).toEqual(['/api/broken: internal error (1 since start): a bug in a route']);
    expect((await get(api.port, '/api/health')).status).toBe(200);
  });
});

describe('requestPath', () => {
  it('gives the route of origin-form and absolute-form targets, without query and trailing slashes', () => {
    expect(requestPath('/api/status/?code=x')).toBe('/api/status');
    expect(requestPath('http://127.0.0.1:7071/api/health')).toBe('/api/health');
    expect(requestPath('/')).toBe('');
  });
  it('gives undefined for targets that do not parse', () => {
    for (const t of ['//', '//@', '//a:b', '//:99999', '//[', '', undefined]) expect(requestPath(t)).toBeUndefined();
  });
});

describe('serve under random request targets and headers', () => {
  let monitor: RunningMonitor;
  let port: number;
  beforeAll(async () => {
    monitor = await serve({ settings: parseSettings({ WBMON_TARGETS: 'http://127.0.0.1:9/' }), port: 0, log: () => undefined });
    await monitor.firstCycle;
    port = Number(new URL(monitor.url).port);
  });
  afterAll(() => monitor.stop());

  it('answers each of 1,000 random requests with a 2xx or 4xx, never a 5xx, and answers /api/health after them', async () => {
    const target = fc.oneof(
      fc.constantFrom('/api/health', '/api/status', '/api/heartbeat', '//', '/api//', '/api/status?x=%zz', '/%', '/%00', '/..%2f..', '/api/health#x'),
      fc.string({ maxLength: 40 }).map((t) => `/${t.replace(/[\s\x00-\x1f\x7f]/g, '')}`),
      fc.stringMatching(/^\/\/[@:\[\]a-z0-9.]{0,12}$/),
    );
    const host = fc.oneof(fc.constant('own'), fc.constantFrom('evil.example', 'localhost', '', '[::1]'), fc.domain());
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'OPTIONS');
    const samples = fc.sample(fc.record({ target, host, method }), { numRuns: 1_000, seed: 11 });
    const statuses = new Set<number>();
    for (const { target: t, host: h, method: m } of samples) {
      const hostHeader = h === 'own' ? `127.0.0.1:${port}` : h;
      const body = m === 'POST' ? '{}' : '';
      const { status } = await raw(port, `${m} ${t} HTTP/1.1\r\nHost: ${hostHeader}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      statuses.add(status);
      expect(status >= 200 && status < 500, `${m} ${t} Host: ${hostHeader} -> ${status}`).toBe(true);
    }
    expect([...statuses].filter((s) => s >= 400).length).toBeGreaterThan(3);
    expect((await get(port, '/api/health')).status).toBe(200);
  });
});
