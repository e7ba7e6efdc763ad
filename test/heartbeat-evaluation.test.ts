import { describe, expect, it } from 'vitest';
import { parseSettings } from '../src/config/settings.js';
import { relayState } from '../src/heartbeat/freshness.js';
import { ingestHeartbeat, SequenceCache } from '../src/heartbeat/ingest.js';
import { listChecks, listTransitions } from '../src/monitor/checks-repository.js';
import { evaluateHeartbeats } from '../src/monitor/evaluate-heartbeats.js';
import { status } from '../src/api/handlers.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { heartbeat, RELAYS_JSON, SECRET_A, SECRET_B } from './support/heartbeats.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (seconds: number): Date => new Date(T0 + seconds * 1000);
const config = { secret: 'x'.repeat(32), periodSeconds: 300, graceSeconds: 120 };

describe("a relay's dead-man's switch", () => {
  it('is new until the first heartbeat', () => {
    expect(relayState(undefined, config, at(0))).toBe('new');
  });

  it.each([
    [0, 'up'],
    [300, 'up'],
    [300.001, 'late'],
    [420, 'late'],
    [420.001, 'down'],
  ])('%s s after the last heartbeat is %s', (age, state) => {
    expect(relayState(at(0).toISOString(), config, new Date(T0 + age * 1000))).toBe(state);
  });
});

describe('heartbeat evaluation', () => {
  const settings = parseSettings({ WBMON_RELAYS: RELAYS_JSON, WBMON_FAILURE_THRESHOLD: '2', WBMON_SUCCESS_THRESHOLD: '1' });

  it('turns every reported result into a relay-probe check at the relay, in sequence order, and removes heartbeats after retention', async () => {
    const store = new MemoryStore();
    const target = 'https://passwordreset.microsoftonline.com/';
    const result = (ok: boolean, second: number) => ({
      ...heartbeat(0).results[0]!,
      ok,
      startedAt: at(second).toISOString(),
      ...(ok ? {} : { failure: { code: 'tcp_timeout' as const, phase: 'tcp' as const, message: 'no answer' }, http: undefined }),
    });
    await ingestHeartbeat(store, 'relay-a', heartbeat(1, { results: [result(true, 0)] }), at(1));
    await ingestHeartbeat(store, 'relay-a', heartbeat(2, { results: [result(false, 300)] }), at(301));
    await ingestHeartbeat(store, 'relay-a', heartbeat(3, { results: [result(false, 600)] }), at(601));

    const [a, b] = await evaluateHeartbeats(settings, store, at(602));
    expect(a).toMatchObject({ relayId: 'relay-a', state: 'up', heartbeatsProcessed: 3 });
    expect(b).toMatchObject({ relayId: 'relay-b', state: 'new', heartbeatsProcessed: 0 });
    expect(a!.transitions.map((t) => `${t.checkId} ${t.from}->${t.to}`)).toEqual([
      `relay:relay-a:${target} new->up`,
      'heartbeat:relay-a new->up',
      `relay:relay-a:${target} up->down`,
    ]);
    const probe = (await listChecks(store)).find((c) => c.id === `relay:relay-a:${target}`);
    expect(probe).toMatchObject({ kind: 'relay-probe', location: 'relay-a', state: 'down', since: at(600).toISOString() });
    // Processed heartbeats stay while a captured request could still be replayed (300 s).
    expect((await store.list('heartbeats')).length).toBe(3);
    const relay = await store.get<any>('relays', 'relay-a');
    expect(relay?.value).toMatchObject({ lastSequence: 3, lastHeartbeatAt: at(601).toISOString(), host: 'connect01.corp.example' });

    // A second run with nothing new changes nothing.
    const [again] = await evaluateHeartbeats(settings, store, at(603));
    expect(again).toMatchObject({ heartbeatsProcessed: 0, transitions: [] });
    // ...and once the retention has passed, the processed heartbeats go.
    await evaluateHeartbeats(settings, store, at(601 + 15 * 60 + 1));
    expect((await store.list('heartbeats')).map((e) => e.key)).toEqual([]);
  });

  it('feeds a missed heartbeat into the same pipeline as a failure, and recovers when heartbeats return', async () => {
    const store = new MemoryStore();
    await ingestHeartbeat(store, 'relay-a', heartbeat(1, { results: [] }), at(0));
    await evaluateHeartbeats(settings, store, at(10));
    expect((await evaluateHeartbeats(settings, store, at(400)))[0]).toMatchObject({ state: 'late', transitions: [] });

    const first = (await evaluateHeartbeats(settings, store, at(421)))[0]!;
    expect(first.state).toBe('down');
    expect(first.transitions).toEqual([]); // one failure: below the threshold of 2
    const second = (await evaluateHeartbeats(settings, store, at(481)))[0]!;
    expect(second.transitions).toEqual([
      {
        checkId: 'heartbeat:relay-a',
        from: 'up',
        to: 'down',
        at: at(481).toISOString(),
        reason: 'heartbeat_missing in heartbeat: no heartbeat from relay relay-a for 481 s (period 300 s + grace 120 s)',
      },
    ]);

    await ingestHeartbeat(store, 'relay-a', heartbeat(2, { results: [] }), at(500));
    const back = (await evaluateHeartbeats(settings, store, at(510)))[0]!;
    expect(back.state).toBe('up');
    expect(back.transitions.map((t) => `${t.from}->${t.to}`)).toEqual(['down->up']);
    expect((await listTransitions(store, 'heartbeat:relay-a')).map((t) => t.to)).toEqual(['up', 'down', 'up']);
  });

  it('shows each configured relay in /api/status with its derived state, last heartbeat and backlog', async () => {
    const store = new MemoryStore();
    await ingestHeartbeat(store, 'relay-a', heartbeat(7, { results: [], buffer: { pending: 3, dropped: 1 } }), at(0));
    const answer = await status(store, [], settings.relays, at(350));
    expect(answer.status).toBe(200);
    expect((answer.body as { relays: unknown }).relays).toEqual([
      {
        id: 'relay-a',
        kind: 'relay',
        target: 'connect01.corp.example',
        relayId: 'relay-a',
        state: 'late',
        since: at(300).toISOString(),
        lastHeartbeatAt: at(0).toISOString(),
        lastSequence: 7,
        host: 'connect01.corp.example',
        agentVersion: '0.1.0',
        buffer: { pending: 3, dropped: 1 },
        proxy: null,
        lastKeepalive: null,
        periodSeconds: 300,
        graceSeconds: 120,
      },
      { id: 'relay-b', kind: 'relay', target: null, relayId: 'relay-b', state: 'new', since: null, lastHeartbeatAt: null, lastSequence: null, host: null, agentVersion: null, buffer: null, proxy: null, lastKeepalive: null, periodSeconds: 300, graceSeconds: 120 },
    ]);
    expect(JSON.stringify(answer.body)).not.toContain(SECRET_A);
    expect(JSON.stringify(answer.body)).not.toContain(SECRET_B);
  });

  it('refuses a lower sequence on an instance that has never seen the relay, from heartbeats not yet evaluated', async () => {
    const store = new MemoryStore();
    expect(await ingestHeartbeat(store, 'relay-a', heartbeat(10), at(0), new SequenceCache())).toEqual({ status: 202 });
    // Another instance, cold: it reads what is stored, pending heartbeats included.
    expect(await ingestHeartbeat(store, 'relay-a', heartbeat(9), at(1), new SequenceCache())).toEqual({
      status: 409,
      error: 'replay: sequence 9 is not greater than the last stored 10',
    });
    await evaluateHeartbeats(settings, store, at(2));
    expect(await ingestHeartbeat(store, 'relay-a', heartbeat(10), at(3), new SequenceCache())).toMatchObject({ status: 409 });
    expect(await ingestHeartbeat(store, 'relay-a', heartbeat(11), at(4), new SequenceCache())).toEqual({ status: 202 });
  });

  it('tells telemetry the heartbeat age of each relay and any keepalive report that arrived', async () => {
    const store = new MemoryStore();
    const report = {
      target: 'https://x.servicebus.windows.net/',
      requiredSeconds: 180,
      passed: true,
      finishedAt: at(0).toISOString(),
      results: [{ target: 'https://x.servicebus.windows.net/', idleSeconds: 180, startedAt: at(0).toISOString(), survived: true, serverKeepAliveSeconds: null, proxy: null }],
    };
    await ingestHeartbeat(store, 'relay-a', heartbeat(1, { results: [], keepalive: report }), at(0));
    const seen: unknown[] = [];
    await evaluateHeartbeats(settings, store, at(30), { onRelay: (relayId, age, keepalive) => seen.push([relayId, age, keepalive?.passed]) });
    // Relays are evaluated concurrently: the order of the calls is not fixed.
    expect(seen.sort()).toEqual([
      ['relay-a', 30, true],
      ['relay-b', undefined, undefined],
    ]);
  });
});
