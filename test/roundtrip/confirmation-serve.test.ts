/**
 * The join with the other end, under serve: a round trip the cloud accepted stays pending until
 * the relay on the Connect server reports Connect's event for the test user, then it is recorded
 * once: up, written by Connect (31010); down, refused on-prem (31011); up with a warning when no
 * 31010 came within the window. The relay's heartbeats are real signed POSTs to /api/heartbeat,
 * and the names they look for come from the monitor's answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../../src/config/settings.js';
import type { Heartbeat } from '../../src/heartbeat/schema.js';
import { serve, type RunningMonitor } from '../../src/local/serve.js';
import type { Clock } from '../../src/local/scheduler.js';
import { deviceCodeLogin } from '../../src/roundtrip/auth.js';
import { roundtripWiring } from '../../src/roundtrip/wiring.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { heartbeat, RELAYS_JSON, signed } from '../support/heartbeats.js';
import { createLoopbackTls, startLoopbackAuthority, type LoopbackAuthority, type LoopbackTls } from '../support/loopback-authority.js';
import { roundtripEnv, startRoundtripGraph, USER_ID, USER_UPN, type RoundtripGraph } from './roundtrip-graph.js';

const CHECK = `roundtrip:${USER_ID}`;
let offset = 0;
const clock: Clock = { now: () => new Date(Date.now() + offset), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
let tls: LoopbackTls;
let authority: LoopbackAuthority;
let graph: RoundtripGraph;
let monitor: RunningMonitor;
let sequence = 0;
const logs: string[] = [];

type AdminReset = NonNullable<NonNullable<Heartbeat['eventLog']>['adminResets']>[number];

/** One heartbeat of relay-a, reading Connect's log; `adminResets` undefined = it was told no names. */
async function beat(adminResets?: AdminReset[]): Promise<any> {
  const now = clock.now();
  const body = heartbeat(++sequence, {
    sentAt: now.toISOString(),
    results: [],
    eventLog: {
      supported: true,
      checkedAt: now.toISOString(),
      lastHeartbeatAt: new Date(now.getTime() - 60_000).toISOString(),
      heartbeatFresh: true,
      failures: [],
      notices: [],
      relayNamespaces: [],
      ...(adminResets && { adminResets }),
    },
  });
  const request = signed(JSON.stringify(body), { timestamp: Math.floor(now.getTime() / 1000) });
  const res = await fetch(`${monitor.url}/api/heartbeat`, { method: 'POST', headers: request.headers, body: request.body });
  expect(res.status).toBe(202);
  return res.json();
}

async function statusBody(): Promise<{ checks: any[]; roundtrip: any }> {
  return (await (await fetch(`${monitor.url}/api/status`)).json()) as { checks: any[]; roundtrip: any };
}

async function check(): Promise<any> {
  return (await statusBody()).checks.find((c) => c.id === CHECK);
}

const later = (minutes: number) => (offset += minutes * 60_000);
const iso = (msFromNow: number) => new Date(clock.now().getTime() + msFromNow).toISOString();

beforeAll(async () => {
  tls = await createLoopbackTls();
  authority = await startLoopbackAuthority({ tls, interval: 0 });
  graph = await startRoundtripGraph({ reset: [{ status: 202, retryAfter: '0' }], pollRetryAfter: '0' });
  const env = roundtripEnv(graph, authority, Buffer.alloc(32, 0x42).toString('base64'), { WBMON_RELAYS: RELAYS_JSON });
  const settings = parseSettings(env);
  const store = new MemoryStore();
  const { config, vault } = roundtripWiring(settings, settings.roundtrip!, store, { dispatcher: tls.agent });
  await deviceCodeLogin(config, vault, { onPrompt: () => undefined });
  monitor = await serve({ settings, port: 0, store, log: (l) => logs.push(l), clock, roundtripDispatcher: tls.agent });
  await monitor.firstCycle;
}, 60_000);

afterAll(async () => {
  await monitor?.stop();
  await graph?.close();
  await authority?.close();
  await tls?.close();
});

describe("the round trip joined with the relay's reading of Connect's log", () => {
  it('hands the relay the names to look for once the round trip has read the user, and records the first trip at once while no relay can confirm', async () => {
    expect(await beat()).toEqual({ accepted: true, relayId: 'relay-a', sequence: 1 });
    await monitor.run('roundTrip');
    // The relay reads the log but was never told whom to look for: it cannot confirm.
    expect((await check()).lastResult.warnings[0].code).toBe('roundtrip_unconfirmable');
    // The answer's names are read at most once a minute per process: the next heartbeat, minutes later, has them.
    later(2);
    const answer = await beat();
    expect(answer.roundtrip).toEqual({ users: [USER_UPN, 'wbmon-roundtrip@corp.contoso.com', 'wbmon-rt', 'CORP\\wbmon-rt'] });
    await beat([]);
  });

  it("records 'written by Connect' once the relay reports 31010 after the reset, not before", async () => {
    later(16);
    await beat([]); // a relay beats every 5 minutes; the one before the trip found nothing yet
    await monitor.run('roundTrip');
    const pending = await check();
    expect(pending.lastResult.warnings[0].code).toBe('roundtrip_unconfirmable'); // still the first trip's result
    await monitor.run('evaluateHeartbeats');
    expect((await check()).lastResult.warnings?.[0]?.code).toBe('roundtrip_unconfirmable');
    // /api/status says what the check is waiting for.
    expect((await statusBody()).roundtrip).toEqual({ checkId: CHECK, pending: { requestedAt: expect.any(String), finishedAt: expect.any(String), operationId: 'a3f2e1d0-0000-4000-8000-00000000c0de' } });
    later(2);
    await beat([
      { eventId: 31010, time: iso(-60_000), user: 'CORP\\wbmon-rt' },
      { eventId: 31009, time: iso(-61_000), user: 'CORP\\wbmon-rt' },
    ]);
    await monitor.run('evaluateHeartbeats');
    const c = await check();
    expect(c.state).toBe('up');
    expect(c.lastResult.warnings).toBeUndefined();
    expect((await statusBody()).roundtrip).toEqual({ checkId: CHECK, pending: null });
    expect(c.lastResult.detail).toMatch(/^the reset of wbmon-roundtrip@contoso\.com succeeded in the cloud at \S+ \(operation a3f2e1d0-0000-4000-8000-00000000c0de\) and was written by Connect at \S+ \(relay relay-a, event 31010\)$/);
    expect(logs.some((l) => l.startsWith('evaluateHeartbeats: ') && l.includes(`${CHECK}: written back: `))).toBe(true);
  });

  it('goes down when the relay reports 31011 for the reset, quoting the masked event', async () => {
    later(16);
    await beat([]);
    await monitor.run('roundTrip');
    later(1);
    await beat([{ eventId: 31011, time: iso(-30_000), user: 'wbmon-rt', excerpt: 'ResetUserPasswordByAdminFail: access denied writing the password of w***t' }]);
    await monitor.run('evaluateHeartbeats');
    const c = await check();
    expect(c.state).toBe('down');
    expect(c.lastResult.failure).toEqual({
      code: 'roundtrip_onprem_refused',
      phase: 'onprem',
      message: expect.stringMatching(/, but Connect could not write it to on-prem AD \(relay relay-a, event 31011 at \S+\): "ResetUserPasswordByAdminFail: access denied writing the password of w\*\*\*t"$/),
    });
  });

  it('stays up with the roundtrip_unconfirmed warning when no 31010 comes within the window, and ignores the older trip\'s events', async () => {
    later(16);
    await beat([{ eventId: 31010, time: iso(-20 * 60_000), user: USER_UPN }]);
    await monitor.run('roundTrip');
    later(16);
    await beat([{ eventId: 31010, time: iso(-36 * 60_000), user: USER_UPN }]);
    await monitor.run('evaluateHeartbeats');
    const c = await check();
    expect(c.state).toBe('up');
    expect(c.lastResult.warnings).toEqual([{ code: 'roundtrip_unconfirmed', message: expect.stringMatching(/, but no relay reported Connect's event 31010 for it within 15 minutes$/) }]);
  });
});
