/**
 * `/api/history`, `/api/badge/<id>.svg`, `/api/metrics` and the `/` redirect, served by a real
 * `serve` over real loopback targets (one up, one answering 503) and one relay posting a signed
 * heartbeat; alerts go to a real loopback webhook receiver, so the alert counter has something
 * to count. Hostile ids get exact 4xx answers and are never echoed.
 */
import { spawnSync } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../../src/config/settings.js';
import { serve, type RunningMonitor } from '../../src/local/serve.js';
import { createTestCa } from '../support/certs.js';
import { heartbeat, RELAYS_JSON, SECRET_A, SECRET_B, signed } from '../support/heartbeats.js';
import { respond, startHttp, startHttps, type Running } from '../support/servers.js';

const promtool = spawnSync('promtool', ['--version']).status === 0;

let monitor: RunningMonitor;
let up: Running;
let down: Running;
let hook: Running;
const delivered: string[] = [];
const lines: string[] = [];

const upId = (): string => `cloud:${up.url}`;
const downId = (): string => `cloud:${down.url}`;

beforeAll(async () => {
  const ca = await createTestCa();
  const cert = await ca.issue({ names: ['localhost'] });
  up = await startHttps(cert);
  down = await startHttps(cert, respond(503));
  hook = await startHttp((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      delivered.push(body);
      res.writeHead(202).end();
    });
  });
  const settings = parseSettings({
    WBMON_TARGETS: `${up.url},${down.url}`,
    WBMON_FAILURE_THRESHOLD: '1',
    WBMON_RELAYS: RELAYS_JSON,
    WBMON_WEBHOOK_URL: `${hook.url}/hook`,
  });
  monitor = await serve({ settings, port: 0, log: (l) => lines.push(l), probe: { extraCa: [ca.cert] } });
  await monitor.firstCycle;
  const now = new Date().toISOString();
  const beat = heartbeat(1, { sentAt: now, results: [{ ...heartbeat(1).results[0]!, startedAt: now }] });
  const request = signed(JSON.stringify(beat));
  const answer = await fetch(`${monitor.url}/api/heartbeat`, { method: 'POST', headers: request.headers, body: request.body });
  expect(answer.status).toBe(202);
  await monitor.run('evaluateHeartbeats');
}, 60_000);

afterAll(async () => {
  await monitor?.stop();
  await Promise.all([up, down, hook].map((s) => s?.close()));
});

async function get(path: string): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`${monitor.url}${path}`, { redirect: 'manual' });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('GET /api/history', () => {
  it('answers a check with 48 hourly and 30 daily buckets, the current ones counting its runs', async () => {
    const { status, type, text } = await get(`/api/history?check=${encodeURIComponent(upId())}`);
    expect(status).toBe(200);
    expect(type).toBe('application/json; charset=utf-8');
    const body = JSON.parse(text);
    expect(body.check).toBe(upId());
    expect(body.hourly).toHaveLength(48);
    expect(body.daily).toHaveLength(30);
    expect(body.daily.at(-1)).toMatchObject({ runs: 1, failures: 0, uptime: 1 });
    expect(body.daily.at(-1).p50Ms).toBeGreaterThan(0);
    expect(body.hourly.at(-1)).toMatchObject({ runs: 1, failures: 0 });
    expect(body.incidents).toEqual([]);
  });

  it("shows the down check's open incident with the failing code, phase and message", async () => {
    const body = JSON.parse((await get(`/api/history?check=${encodeURIComponent(downId())}`)).text);
    expect(body.daily.at(-1)).toMatchObject({ runs: 1, failures: 1, uptime: 0, p50Ms: null });
    expect(body.incidents).toEqual([
      { from: 'new', to: 'down', at: expect.any(String), until: null, code: 'http_status', phase: 'http', message: 'HTTP 503; expected an HTTP status below 500' },
    ]);
  });

  it("counts a relay's reported results in the relay's checks", async () => {
    const id = 'relay:relay-a:https://passwordreset.microsoftonline.com/';
    const body = JSON.parse((await get(`/api/history?check=${encodeURIComponent(id)}`)).text);
    expect(body.daily.at(-1)).toMatchObject({ runs: 1, failures: 0 });
    // The relay reported total 80 ms; the sketch answers within its 2 %.
    expect(Math.abs(body.daily.at(-1).p50Ms - 80) / 80).toBeLessThanOrEqual(0.02);
    const beat = JSON.parse((await get(`/api/history?check=${encodeURIComponent('heartbeat:relay-a')}`)).text);
    expect(beat.daily.at(-1)).toMatchObject({ runs: 1, failures: 0 });
  });

  it('gives days=N daily buckets, at most WBMON_HISTORY_DAYS', async () => {
    const seven = JSON.parse((await get(`/api/history?check=${encodeURIComponent(upId())}&days=7`)).text);
    expect(seven.daily).toHaveLength(7);
    const capped = JSON.parse((await get(`/api/history?check=${encodeURIComponent(upId())}&days=5000`)).text);
    expect(capped.daily).toHaveLength(90);
  });

  it.each([
    ['no check', '/api/history', 400, 'check: required, the id of a check as /api/status lists it'],
    ['an empty check', '/api/history?check=', 400, 'check: required, the id of a check as /api/status lists it'],
    ['a control character', `/api/history?check=${encodeURIComponent('cloud:\u0000x')}`, 400, 'check: holds control characters; no check has such an id'],
    ['a line feed', `/api/history?check=${encodeURIComponent('cloud:a\nb')}`, 400, 'check: holds control characters; no check has such an id'],
    ['a 10 KB id', `/api/history?check=${'a'.repeat(10_240)}`, 400, 'check: longer than 4096 characters; no check has such an id'],
    ['a path climbing out', `/api/history?check=${encodeURIComponent('../../checks/x')}`, 404, 'no such check (see /api/status for the ids)'],
    ['markup', `/api/history?check=${encodeURIComponent('<script>alert(1)</script>')}`, 404, 'no such check (see /api/status for the ids)'],
    ['an unknown check', `/api/history?check=${encodeURIComponent('cloud:https://nowhere.example/')}`, 404, 'no such check (see /api/status for the ids)'],
    ['days=0', `/api/history?check=${encodeURIComponent('x')}&days=0`, 400, 'days: must be a whole number of days, at least 1'],
    ['days=-1', `/api/history?check=${encodeURIComponent('x')}&days=-1`, 400, 'days: must be a whole number of days, at least 1'],
    ['days=1e3', `/api/history?check=${encodeURIComponent('x')}&days=1e3`, 400, 'days: must be a whole number of days, at least 1'],
  ].map(([name, path, status, error]) => ({ name: name as string, path: path as string, status: status as number, error })))('answers $name with exactly $status and an error that does not echo the id', async ({ path, status, error }) => {
    const answer = await get(path);
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.text)).toEqual({ error });
  });
});

describe('GET /api/badge/<id>.svg', () => {
  const parse = (svg: string): string[] => {
    expect(XMLValidator.validate(svg)).toBe(true);
    const texts: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (node && typeof node === 'object') {
        for (const [k, v] of Object.entries(node)) {
          if (k === '#text') texts.push(String(v));
          else walk(v);
        }
      }
    };
    walk(new XMLParser({ preserveOrder: true }).parse(svg));
    return texts;
  };

  it('draws an up check as "up" with its 30-day uptime, as SVG', async () => {
    const answer = await get(`/api/badge/${encodeURIComponent(upId())}.svg`);
    expect(answer.status).toBe(200);
    expect(answer.type).toBe('image/svg+xml; charset=utf-8');
    expect(parse(answer.text)).toContain('up \u00b7 100%');
  });

  it('draws the down check as "down" with 0%', async () => {
    const answer = await get(`/api/badge/${encodeURIComponent(downId())}.svg`);
    expect(answer.status).toBe(200);
    expect(parse(answer.text)).toContain('down \u00b7 0.00%');
  });

  it.each([
    ['an unknown check', `/api/badge/${encodeURIComponent('cloud:https://nowhere.example/')}.svg`, 404],
    ['markup as the id', `/api/badge/${encodeURIComponent('<script>alert(1)</script>')}.svg`, 404],
    ['a path climbing out', '/api/badge/..%2F..%2Fstatus.svg', 404],
    ['not an .svg', '/api/badge/cloud%3Ax.png', 404],
    ['a broken escape', '/api/badge/%ZZ.svg', 400],
    ['a control character', '/api/badge/a%00b.svg', 400],
    ['a 10 KB id', `/api/badge/${'a'.repeat(10_240)}.svg`, 400],
  ].map(([name, path, status]) => ({ name: name as string, path: path as string, status: status as number })))('answers $name with exactly $status, never echoing it', async ({ path, status }) => {
    const answer = await get(path);
    expect(answer.status).toBe(status);
    expect(answer.type).toBe('application/json; charset=utf-8');
    expect(answer.text).not.toMatch(/script|\.\.|aaaa/);
  });
});

describe('GET /api/metrics', () => {
  it('answers the Prometheus text format 0.0.4 with every check, the relay, and the alert sent to the webhook', async () => {
    await expect.poll(() => delivered.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    await expect.poll(async () => (await get('/api/metrics')).text, { timeout: 10_000 }).toMatch(/^wbmon_alerts_sent_total\{channel="webhook"\} [1-9]/m);
    const { status, type, text } = await get('/api/metrics');
    expect(status).toBe(200);
    expect(type).toBe('text/plain; version=0.0.4; charset=utf-8');
    for (const id of [upId(), downId(), 'heartbeat:relay-a', 'relay:relay-a:https://passwordreset.microsoftonline.com/']) {
      expect(text).toContain(`wbmon_check_up{check="${id}"`);
    }
    expect(text).toMatch(new RegExp(`^wbmon_check_up\\{check="${downId().replace(/[.]/g, '\\.')}",[^}]*\\} 0$`, 'm'));
    expect(text).toMatch(/^wbmon_relay_heartbeat_age_seconds\{check="relay-a",kind="relay"[^}]*\} \d/m);
    expect(text).toMatch(/^wbmon_probe_phase_seconds\{[^}]*phase="tls"[^}]*\} 0\.\d+$/m);
    for (const secret of [SECRET_A, SECRET_B, '/hook']) expect(text).not.toContain(secret);
  });

  it.skipIf(!promtool)(promtool ? 'passes promtool check metrics' : 'passes promtool check metrics (SKIPPED: promtool not installed; apt-get install prometheus)', async () => {
    const { text } = await get('/api/metrics');
    const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${run.stdout}${run.stderr}`).toBe('');
    expect(run.status).toBe(0);
  });
});

describe('GET /', () => {
  it('redirects to the status page', async () => {
    const res = await fetch(`${monitor.url}/`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/api/dashboard');
  });
});
