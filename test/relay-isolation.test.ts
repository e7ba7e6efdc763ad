/**
 * One relay can never silence the others: a 2,000-character target (the schema allows 2,048)
 * next to a healthy relay, on Table Storage (Azurite), through evaluation and the alert pass
 * as `serve` runs them; and a store that refuses one relay's writes, which fails that relay's
 * own check and nobody else's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel } from '../src/alerting/channels/channel.js';
import type { AlertEvent } from '../src/alerting/event.js';
import { evaluateAlerts } from '../src/alerting/evaluate-alerts.js';
import { remediationFor } from '../src/alerting/remediation.js';
import { parseSettings } from '../src/config/settings.js';
import { ingestHeartbeat } from '../src/heartbeat/ingest.js';
import { startAzurite, type RunningAzurite } from '../src/local/azurite.js';
import { serve } from '../src/local/serve.js';
import { listChecks } from '../src/monitor/checks-repository.js';
import { evaluateHeartbeats } from '../src/monitor/evaluate-heartbeats.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { StoreUnavailableError, type Store } from '../src/store/store.js';
import { TableStore } from '../src/store/table-store.js';
import { heartbeat, RELAYS_JSON } from './support/heartbeats.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (s: number): Date => new Date(T0 + s * 1000);
const LONG_TARGET = `https://long.example/${'a/'.repeat(989)}x`; // 2,000 characters, 990 slashes to escape
const settings = parseSettings({ WBMON_RELAYS: RELAYS_JSON, WBMON_FAILURE_THRESHOLD: '2', WBMON_SUCCESS_THRESHOLD: '1', WBMON_REMIND_MINUTES: '0' });

function failing(target: string, second: number) {
  return {
    ...heartbeat(0).results[0]!,
    target,
    ok: false,
    startedAt: at(second).toISOString(),
    failure: { code: 'tcp_timeout' as const, phase: 'tcp' as const, message: 'no answer' },
    http: undefined,
  };
}

function recordingChannel(): Channel & { events: AlertEvent[] } {
  const events: AlertEvent[] = [];
  return { name: 'record', events, send: async (e) => void events.push(e) };
}

let azurite: RunningAzurite;
let tables = 0;
beforeAll(async () => {
  azurite = await startAzurite({});
});
afterAll(() => azurite.close());

describe('a relay reporting a 2,000-character target, next to a healthy relay, on Table Storage', () => {
  it("keeps the other relay's alerts and its own dead-man's switch working", async () => {
    expect(LONG_TARGET.length).toBe(2000);
    const store = TableStore.fromConnectionString(azurite.connectionString, { tableName: `isolation${++tables}` });
    await store.ready();
    const channel = recordingChannel();
    const channels = new Map([['record', channel]]);
    const pass = async (s: number): Promise<void> => {
      await evaluateHeartbeats(settings, store, at(s));
      await evaluateAlerts(settings, store, channels, at(s));
    };
    const healthyTarget = 'https://passwordreset.microsoftonline.com/';
    for (const [seq, s] of [[1, 0], [2, 60]] as const) {
      await ingestHeartbeat(store, 'relay-a', heartbeat(seq, { results: [failing(LONG_TARGET, s)] }), at(s));
      await ingestHeartbeat(store, 'relay-b', heartbeat(seq, { relayId: 'relay-b', results: [failing(healthyTarget, s)] }), at(s));
      await pass(s + 1);
    }
    const triggered = channel.events.filter((e) => e.kind === 'triggered').map((e) => e.checkId).sort();
    expect(triggered).toEqual([`relay:relay-a:${LONG_TARGET}`, `relay:relay-b:${healthyTarget}`]);
    const long = (await listChecks(store)).find((c) => c.id === `relay:relay-a:${LONG_TARGET}`);
    expect(long).toMatchObject({ target: LONG_TARGET, state: 'down', location: 'relay-a' });

    // relay-a falls silent (relay-b goes on): its dead-man's switch fires, through the same pipeline.
    for (const [seq, s] of [[3, 300], [4, 600]] as const) {
      await ingestHeartbeat(store, 'relay-b', heartbeat(seq, { relayId: 'relay-b', results: [failing(healthyTarget, s)] }), at(s));
    }
    await pass(601);
    await pass(661);
    expect(channel.events.filter((e) => e.kind === 'triggered').map((e) => e.checkId)).toContain('heartbeat:relay-a');
    const missed = channel.events.find((e) => e.checkId === 'heartbeat:relay-a');
    expect(missed?.failure?.code).toBe('heartbeat_missing');
  });
});

/** A real store that refuses writes of checks whose key contains `poison`, as a store outage of one row would. */
function refusingWritesOf(inner: Store, poison: string): Store {
  const refuse = (key: string): void => {
    if (key.includes(poison)) throw new StoreUnavailableError(`Table Storage: insert checks/${key.slice(0, 40)} failed: HTTP 400 InvalidInput`);
  };
  return {
    ready: () => inner.ready(),
    get: (c, k) => inner.get(c, k),
    insert: async (c, k, v) => (refuse(k), inner.insert(c, k, v)),
    replace: async (c, k, v, e) => (refuse(k), inner.replace(c, k, v, e)),
    // A transaction holding the refused row fails whole, as Table Storage's does.
    batch: async (c, ops) => (ops.forEach((op) => refuse(op.key)), inner.batch(c, ops)),
    delete: (c, k) => inner.delete(c, k),
    list: (c, o) => inner.list(c, o),
    close: () => inner.close(),
  };
}

describe('a relay whose results the store refuses', () => {
  it('fails only its own heartbeat check with results_unstored, and the other relay is evaluated as usual', async () => {
    const store = refusingWritesOf(new MemoryStore(), 'poison.example');
    for (const [seq, s] of [[1, 0], [2, 60]] as const) {
      await ingestHeartbeat(store, 'relay-a', heartbeat(seq, { results: [failing('https://poison.example/', s)] }), at(s));
      await ingestHeartbeat(store, 'relay-b', heartbeat(seq, { relayId: 'relay-b' }), at(s));
    }
    const [a, b] = await evaluateHeartbeats(settings, store, at(61));
    expect(a!.heartbeatsProcessed).toBe(2);
    expect(a!.errors).toHaveLength(2);
    expect(a!.errors[0]).toMatch(/^relay:relay-a:https:\/\/poison\.example\/: Table Storage: insert checks/);
    expect(b).toMatchObject({ relayId: 'relay-b', heartbeatsProcessed: 2, errors: [] });
    const checks = new Map((await listChecks(store)).map((c) => [c.id, c]));
    expect(checks.get('heartbeat:relay-a')).toMatchObject({ state: 'down' });
    expect(checks.get('heartbeat:relay-a')?.lastResult?.failure).toMatchObject({ code: 'results_unstored', phase: 'heartbeat' });
    expect(remediationFor({ checkKind: 'heartbeat', location: 'relay-a', target: 'relay-a', code: 'results_unstored', phase: 'heartbeat' }).summary).toBe(
      "The monitor could not store part of this relay's heartbeats: check the monitor's state store, not the Connect server",
    );
    expect(checks.get('heartbeat:relay-b')).toMatchObject({ state: 'up' });
    expect(checks.get('relay:relay-b:https://passwordreset.microsoftonline.com/')).toMatchObject({ state: 'up' });
  });
});

describe('serve when a timer run fails', () => {
  it('still runs the alert pass over what is recorded, and logs the failure', async () => {
    const inner = new MemoryStore();
    // The heartbeat listing fails (a store hiccup): the evaluation throws before doing anything.
    const store: Store = { ...refusingWritesOf(inner, 'never'), list: (c, o) => (c === 'heartbeats' ? Promise.reject(new StoreUnavailableError('Table Storage: list heartbeats failed: HTTP 503')) : inner.list(c, o)) };
    const channel = recordingChannel();
    const lines: string[] = [];
    const s = parseSettings({ WBMON_TARGETS: 'http://127.0.0.1:9/', WBMON_RELAYS: RELAYS_JSON });
    const monitor = await serve({ settings: s, port: 0, log: (l) => lines.push(l), store, channels: new Map([['record', channel]]) });
    try {
      await monitor.firstCycle;
      expect(channel.events).toEqual([]); // one failure of port 9 is below the threshold of 2
      // A check that went down, recorded (by another instance, say) and not yet announced.
      const id = 'relay:relay-a:https://passwordreset.microsoftonline.com/';
      await inner.insert('checks', id, {
        id, kind: 'relay-probe', target: 'https://passwordreset.microsoftonline.com/', location: 'relay-a', state: 'down', since: at(0).toISOString(),
        consecutiveFailures: 2, consecutiveSuccesses: 0, lastResult: { ok: false, startedAt: at(0).toISOString(), failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer' } },
      });
      await monitor.run('evaluateHeartbeats');
      expect(lines).toContain('evaluateHeartbeats: failed: Table Storage: list heartbeats failed: HTTP 503');
      expect(channel.events.map((e) => `${e.kind} ${e.checkId}`)).toEqual([`triggered ${id}`]);
    } finally {
      await monitor.stop();
    }
  });
});
