/** POST /api/heartbeat through the real serve HTTP server, with the store on a real Azurite. */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HOST_NAME_RULE } from '../src/config/hostname.js';
import { parseSettings } from '../src/config/settings.js';
import { startAzurite, type RunningAzurite } from '../src/local/azurite.js';
import { systemClock } from '../src/local/scheduler.js';
import { serve, type RunningMonitor } from '../src/local/serve.js';
import { heartbeatKey } from '../src/heartbeat/ingest.js';
import { TableStore } from '../src/store/table-store.js';
import { heartbeat, RELAYS_JSON, SECRET_B, signed, type SignedRequest } from './support/heartbeats.js';
import { FORGED, FORGED_ESCAPED, UNSAFE, UNSAFE_IN_JSON } from './support/hostile-text.js';

const NOW = Date.parse('2026-03-01T10:00:00Z');
const NOW_S = NOW / 1000;
let azurite: RunningAzurite;
let monitor: RunningMonitor;
let store: TableStore;
const log: string[] = [];

beforeAll(async () => {
  azurite = await startAzurite({});
  const settings = parseSettings({
    WBMON_TARGETS: 'https://127.0.0.1:1/',
    WBMON_RELAYS: RELAYS_JSON,
    AzureWebJobsStorage: azurite.connectionString,
  });
  // A fixed clock: the timestamp window is then exact to the second.
  monitor = await serve({ settings, port: 0, log: (l) => log.push(l), clock: { ...systemClock, now: () => new Date(NOW) } });
  await monitor.firstCycle;
  store = TableStore.fromConnectionString(azurite.connectionString);
});
afterAll(async () => {
  await monitor.stop();
  await azurite.close();
});

let sequence = 1000;
beforeEach(() => {
  sequence += 10;
});

async function post(request: SignedRequest): Promise<{ status: number; body: any }> {
  const res = await fetch(`${monitor.url}/api/heartbeat`, { method: 'POST', headers: request.headers, body: request.body });
  return { status: res.status, body: await res.json() };
}

/** Everything the heartbeat endpoint can write. */
async function snapshot(): Promise<string> {
  const [relays, heartbeats] = await Promise.all([store.list('relays'), store.list('heartbeats')]);
  return JSON.stringify({ relays, heartbeats });
}

async function expectRefused(request: SignedRequest, status: number, body?: unknown): Promise<void> {
  const before = await snapshot();
  const answer = await post(request);
  expect(answer.status).toBe(status);
  if (body !== undefined) expect(answer.body).toEqual(body);
  expect(await snapshot()).toBe(before);
}

const UNAUTHORIZED = { error: 'unauthorized: unknown relay, bad signature, or timestamp outside 300 s of the server clock' };
const at = (offset: number) => ({ timestamp: NOW_S + offset });

describe('POST /api/heartbeat', () => {
  it('accepts a signed heartbeat with 202, stores it, and shows the relay up at once', async () => {
    const answer = await post(signed(JSON.stringify(heartbeat(sequence)), at(0)));
    expect(answer).toEqual({ status: 202, body: { accepted: true, relayId: 'relay-a', sequence } });
    const stored = await store.list<any>('heartbeats', { prefix: 'relay-a|' });
    expect(stored.at(-1)?.value).toEqual({ relayId: 'relay-a', sequence, receivedAt: new Date(NOW).toISOString(), heartbeat: heartbeat(sequence) });
    const status = (await (await fetch(`${monitor.url}/api/status`)).json()) as { relays: { relayId: string }[] };
    expect(status.relays.find((r) => r.relayId === 'relay-a')).toMatchObject({
      state: 'up',
      lastSequence: sequence,
      lastHeartbeatAt: new Date(NOW).toISOString(),
      host: 'connect01.corp.example',
    });
  });

  it('refuses a forged signature with 401', async () => {
    const request = signed(JSON.stringify(heartbeat(sequence)), at(0));
    request.headers['x-wbmon-signature'] = `sha256=${'0'.repeat(64)}`;
    await expectRefused(request, 401, UNAUTHORIZED);
    expect(log.at(-1)).toBe('heartbeat refused (401) for relay "relay-a": signature does not match');
  });

  it("refuses a heartbeat signed with another relay's secret with 401", async () => {
    await expectRefused(signed(JSON.stringify(heartbeat(sequence)), { ...at(0), secret: SECRET_B }), 401, UNAUTHORIZED);
  });

  it('refuses an unknown relay with 401', async () => {
    await expectRefused(signed(JSON.stringify(heartbeat(sequence, { relayId: 'relay-x' })), { ...at(0), relayId: 'relay-x' }), 401, UNAUTHORIZED);
  });

  it('refuses timestamps 301 s early and 301 s late with 401, and accepts 300 s either way', async () => {
    await expectRefused(signed(JSON.stringify(heartbeat(sequence)), at(-301)), 401, UNAUTHORIZED);
    await expectRefused(signed(JSON.stringify(heartbeat(sequence)), at(301)), 401, UNAUTHORIZED);
    expect((await post(signed(JSON.stringify(heartbeat(sequence)), at(-300)))).status).toBe(202);
    expect((await post(signed(JSON.stringify(heartbeat(sequence + 1)), at(300)))).status).toBe(202);
  });

  it('refuses a replayed or lower sequence number with 409', async () => {
    expect((await post(signed(JSON.stringify(heartbeat(sequence)), at(0)))).status).toBe(202);
    await expectRefused(signed(JSON.stringify(heartbeat(sequence)), at(0)), 409, {
      error: `replay: sequence ${sequence} is not greater than the last stored ${sequence}`,
    });
    await expectRefused(signed(JSON.stringify(heartbeat(sequence - 1)), at(0)), 409);
  });

  it('accepts exactly one of two concurrent requests carrying the same sequence number', async () => {
    const body = JSON.stringify(heartbeat(sequence));
    const answers = await Promise.all([post(signed(body, at(0))), post(signed(body, at(0))), post(signed(body, at(0)))]);
    expect(answers.map((a) => a.status).sort()).toEqual([202, 409, 409]);
    const stored = await store.list('heartbeats', { prefix: `relay-a|${String(sequence).padStart(16, '0')}` });
    expect(stored).toHaveLength(1);
  });

  it('accepts a body of exactly 64 KiB and refuses 64 KiB + 1 with 413', async () => {
    const json = JSON.stringify(heartbeat(sequence));
    const exact = json + ' '.repeat(64 * 1024 - Buffer.byteLength(json));
    expect((await post(signed(exact, at(0)))).status).toBe(202);
    await expectRefused(signed(exact + ' ', at(0)), 413, { error: 'body larger than 65536 bytes' });
  });

  it('refuses a body that is not JSON by content type with 415', async () => {
    await expectRefused(signed(JSON.stringify(heartbeat(sequence)), { ...at(0), contentType: 'text/plain' }), 415, {
      error: 'content type must be application/json',
    });
  });

  it('refuses malformed JSON with 400 even when correctly signed', async () => {
    await expectRefused(signed('{"version": 1,', at(0)), 400, { error: 'body is not valid JSON (UTF-8)' });
  });

  it('refuses schema violations with 400 and the path of each problem', async () => {
    const bad = { ...heartbeat(sequence), sequence: -1, results: 'none', extra: true };
    await expectRefused(signed(JSON.stringify(bad), at(0)), 400, {
      error: 'heartbeat does not match schema version 1',
      details: [
        { path: 'sequence', message: 'Too small: expected number to be >=0' },
        { path: 'results', message: 'Invalid input: expected array, received string' },
      ],
    });
  });

  it('refuses a body whose relayId differs from the signed header with 400', async () => {
    await expectRefused(signed(JSON.stringify(heartbeat(sequence, { relayId: 'relay-b' })), at(0)), 400, {
      error: 'heartbeat does not match schema version 1',
      details: [{ path: 'relayId', message: 'must equal the X-Wbmon-Relay header' }],
    });
  });

  it('refuses a sequence more than 360 s of milliseconds ahead of the server clock with 400 naming "sequence", storing nothing', async () => {
    await expectRefused(signed(JSON.stringify(heartbeat(Number.MAX_SAFE_INTEGER)), at(0)), 400, {
      error: 'heartbeat sequence is too far ahead of the server clock',
      details: [{ path: 'sequence', message: `must be at most ${NOW + 360_000} (the server clock in unix milliseconds + 360 s)` }],
    });
  });

  it('lets a relay locked out by a runaway sequence stored before the limit existed send again, and evaluates what it sends', async () => {
    // What a monitor without the limit was left with: the runaway heartbeat processed into the
    // record, and still kept among the heartbeats.
    const runaway = Number.MAX_SAFE_INTEGER;
    const earlier = new Date(NOW - 60_000).toISOString();
    await store.insert('relays', 'relay-b', {
      relayId: 'relay-b',
      lastSequence: runaway,
      lastHeartbeatAt: earlier,
      lastSentAt: earlier,
      host: 'connect02.corp.example',
      agentVersion: '0.1.0',
    });
    await store.insert('heartbeats', heartbeatKey('relay-b', runaway), {
      relayId: 'relay-b',
      sequence: runaway,
      receivedAt: earlier,
      heartbeat: heartbeat(runaway, { relayId: 'relay-b' }),
    });

    const next = NOW; // a relay's sequence: its clock in milliseconds
    const body = JSON.stringify(heartbeat(next, { relayId: 'relay-b', host: 'connect02.corp.example' }));
    const answer = await post(signed(body, { relayId: 'relay-b', secret: SECRET_B, ...at(0) }));
    expect(answer).toEqual({ status: 202, body: { accepted: true, relayId: 'relay-b', sequence: next } });
    expect((await store.list<any>('heartbeats', { prefix: 'relay-b|' })).map((e) => e.value.sequence)).toEqual([next]);

    await monitor.run('evaluateHeartbeats');
    const status = (await (await fetch(`${monitor.url}/api/status`)).json()) as { relays: { relayId: string }[] };
    expect(status.relays.find((r) => r.relayId === 'relay-b')).toMatchObject({ lastSequence: next, lastHeartbeatAt: new Date(NOW).toISOString() });
    // The replay guard works again from the new number.
    await expectRefused(signed(body, { relayId: 'relay-b', secret: SECRET_B, ...at(0) }), 409, {
      error: `replay: sequence ${next} is not greater than the last stored ${next}`,
    });
  });

  it('answers GET with 405', async () => {
    const res = await fetch(`${monitor.url}/api/heartbeat`);
    expect(res.status).toBe(405);
  });
});

const DC = (host: string) => ({ host, ports: [{ port: 389, ok: true, ms: 3 }] });

describe('POST /api/heartbeat with text that is not what it claims to be', () => {
  it('refuses a dc.host with ;, |, spaces, quotes, backticks or $( with exactly 400 and the path dc.host, and takes DNS names and IP literals', async () => {
    for (const host of ['dc02; Start-Process calc; echo', 'dc02|calc', 'dc02 calc', 'dc02"', "dc02'", 'dc`02', 'dc$(calc)']) {
      await expectRefused(signed(JSON.stringify(heartbeat(sequence, { dc: DC(host) })), at(0)), 400, {
        error: 'heartbeat does not match schema version 1',
        details: [{ path: 'dc.host', message: HOST_NAME_RULE }],
      });
    }
    for (const [i, host] of ['dc01.corp.example', '10.0.0.5', 'fd00::5'].entries()) {
      expect((await post(signed(JSON.stringify(heartbeat(sequence + i, { dc: DC(host) })), at(0)))).status, host).toBe(202);
    }
  });

  it('refuses a probe target carrying CR/LF with 400 and the path of the target', async () => {
    const [result] = heartbeat(sequence).results;
    await expectRefused(signed(JSON.stringify(heartbeat(sequence, { results: [{ ...result!, target: `https://sb.example/${FORGED}` }] })), at(0)), 400, {
      error: 'heartbeat does not match schema version 1',
      details: [{ path: 'results.0.target', message: 'must be a URL in printable ASCII, as URL.href gives it (no spaces or control characters)' }],
    });
  });

  it('logs a refused relay header on one line with its C1 characters escaped', async () => {
    // fetch allows no byte above 0x7f in a header; node:http sends Latin-1 as it is.
    const request = signed(JSON.stringify(heartbeat(sequence)), at(0));
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${monitor.url}/api/heartbeat`, { method: 'POST', headers: { ...request.headers, 'x-wbmon-relay': 'relay\u009b2K\u0085x' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.once('error', reject);
      req.end(request.body);
    });
    expect(status).toBe(401);
    expect(log.at(-1)).toBe('heartbeat refused (401) for relay "relay\\x9b2K\\x85x": unknown relay');
  });

  it('gives the serve log one line per call, CR/LF, ESC and bidi escaped, for a check stored with them by an older relay', async () => {
    const id = `relay:relay-a:https://old.example/${FORGED}`;
    await store.insert('checks', id, {
      id,
      kind: 'relay-probe',
      target: `https://old.example/${FORGED}`,
      location: 'relay-a',
      state: 'down',
      since: new Date(NOW - 60_000).toISOString(),
      consecutiveFailures: 2,
      consecutiveSuccesses: 0,
      lastResult: { ok: false, startedAt: new Date(NOW).toISOString(), failure: { code: 'tcp_timeout', phase: 'tcp', message: `no answer${FORGED}` } },
    });
    const before = log.length;
    await monitor.run('evaluateHeartbeats');
    const lines = log.slice(before);
    expect(lines).toContain(`alert triggered: relay:relay-a:https://old.example/${FORGED_ESCAPED} is down (tcp_timeout)`);
    expect(lines.filter((l) => UNSAFE.test(l))).toEqual([]);
  });

  it('answers /api/status with no control, bidi or zero-width character from a relay\'s host, version or failure message', async () => {
    const [result] = heartbeat(sequence).results;
    const hostile = heartbeat(sequence, {
      host: `connect01\u202e${FORGED}\u200b\ufeff`,
      agentVersion: '0.1.0\u001b[8m\u2066',
      results: [{ ...result!, ok: false, startedAt: '2026-03-01T10:00:00.000Z', failure: { code: 'tcp_timeout', phase: 'tcp', message: `no answer${FORGED}` } }],
    });
    expect((await post(signed(JSON.stringify(hostile), at(0)))).status).toBe(202);
    await monitor.run('evaluateHeartbeats');
    const text = await (await fetch(`${monitor.url}/api/status`)).text();
    expect(text).toContain('no answer 2026-12-01T00:00:00Z alert resolved: everything is fine');
    expect(text).toContain('"host":"connect01 2026-12-01T00:00:00Z alert resolved: everything is fine "');
    expect(text).toContain('"agentVersion":"0.1.0"');
    expect(text).not.toMatch(UNSAFE_IN_JSON);
  });
});


const EVENT_LOG = {
  supported: true,
  checkedAt: '2026-03-01T09:59:58.000Z',
  lastHeartbeatAt: '2026-03-01T09:57:01.000Z',
  heartbeatFresh: true,
  failures: [],
  notices: [],
  relayNamespaces: [],
};
const RESET = { eventId: 31010, time: '2026-03-01T09:50:02.000Z', user: 'rt-test@contoso.com' } as const;

describe("POST /api/heartbeat and the round trip's admin resets", () => {
  it('refuses adminResets beyond their bounds with exactly 400 and the path of each problem, storing nothing', async () => {
    const cases: [unknown, { path: string; message: string }[]][] = [
      [Array.from({ length: 11 }, () => RESET), [{ path: 'eventLog.adminResets', message: 'Too big: expected array to have <=10 items' }]],
      [[{ ...RESET, user: 'u'.repeat(257) }], [{ path: 'eventLog.adminResets.0.user', message: 'Too big: expected string to have <=256 characters' }]],
      [[{ ...RESET, user: '' }], [{ path: 'eventLog.adminResets.0.user', message: 'Too small: expected string to have >=1 characters' }]],
      [[{ ...RESET, eventId: 31011, excerpt: 'x'.repeat(301) }], [{ path: 'eventLog.adminResets.0.excerpt', message: 'Too big: expected string to have <=300 characters' }]],
      [[{ ...RESET, eventId: 31019 }], [{ path: 'eventLog.adminResets.0.eventId', message: 'Invalid option: expected one of 31009|31010|31011' }]],
      [[{ ...RESET, time: 'yesterday' }], [{ path: 'eventLog.adminResets.0.time', message: 'Invalid ISO datetime' }]],
      ['none', [{ path: 'eventLog.adminResets', message: 'Invalid input: expected array, received string' }]],
    ];
    for (const [adminResets, details] of cases) {
      const body = { ...heartbeat(sequence), eventLog: { ...EVENT_LOG, adminResets } };
      await expectRefused(signed(JSON.stringify(body), at(0)), 400, { error: 'heartbeat does not match schema version 1', details });
    }
  });

  it('accepts an event log with adminResets, storing their excerpts masked, and one without them from an older relay', async () => {
    const refused = { eventId: 31011, time: '2026-03-01T09:48:00.000Z', user: 'rttest', excerpt: 'Fail: ADPasswordPolicyError for ann.lee@contoso.com' } as const;
    const withResets = heartbeat(sequence, { eventLog: { ...EVENT_LOG, adminResets: [RESET, refused] } });
    expect((await post(signed(JSON.stringify(withResets), at(0)))).status).toBe(202);
    const stored = await store.get<any>('heartbeats', heartbeatKey('relay-a', sequence));
    expect(stored?.value.heartbeat.eventLog.adminResets).toEqual([RESET, { ...refused, excerpt: 'Fail: ADPasswordPolicyError for a***@contoso.com' }]);
    expect((await post(signed(JSON.stringify(heartbeat(sequence + 1, { eventLog: EVENT_LOG })), at(0)))).status).toBe(202);
  });
});

describe("the 202 answer and the round trip's test user", () => {
  let rtAzurite: RunningAzurite;
  let rtMonitor: RunningMonitor;
  let rtStore: TableStore;
  let now = NOW;
  let seq = 5000;

  beforeAll(async () => {
    // Its own store and clock: the answer's names are cached for 60 s of the monitor's clock.
    rtAzurite = await startAzurite({});
    const settings = parseSettings({ WBMON_TARGETS: 'https://127.0.0.1:1/', WBMON_RELAYS: RELAYS_JSON, AzureWebJobsStorage: rtAzurite.connectionString });
    rtMonitor = await serve({ settings, port: 0, log: () => undefined, clock: { ...systemClock, now: () => new Date(now) } });
    await rtMonitor.firstCycle;
    rtStore = TableStore.fromConnectionString(rtAzurite.connectionString);
  });
  afterAll(async () => {
    await rtMonitor.stop();
    await rtAzurite.close();
  });

  const send = async (): Promise<{ status: number; body: any }> => {
    seq++;
    const res = await fetch(`${rtMonitor.url}/api/heartbeat`, { method: 'POST', ...signed(JSON.stringify(heartbeat(seq)), { timestamp: Math.floor(now / 1000) }) });
    return { status: res.status, body: await res.json() };
  };

  it('carries no roundtrip without the store row, the row\'s names once the cached read is a minute old, and none again once the row is gone', async () => {
    expect(await send()).toEqual({ status: 202, body: { accepted: true, relayId: 'relay-a', sequence: seq } });
    await rtStore.insert('roundtrip', 'subject', { userId: '6f1c2d3e-0000-4000-8000-000000000001', names: ['rt-test@contoso.com', 'rttest', 'rt-test@corp.contoso.com'], updatedAt: new Date(now).toISOString() });
    now += 59_000;
    expect(await send()).toEqual({ status: 202, body: { accepted: true, relayId: 'relay-a', sequence: seq } });
    now += 1_000;
    expect(await send()).toEqual({
      status: 202,
      body: { accepted: true, relayId: 'relay-a', sequence: seq, roundtrip: { users: ['rt-test@contoso.com', 'rttest', 'rt-test@corp.contoso.com'] } },
    });
    await rtStore.delete('roundtrip', 'subject');
    now += 60_000;
    expect(await send()).toEqual({ status: 202, body: { accepted: true, relayId: 'relay-a', sequence: seq } });
  });
});
