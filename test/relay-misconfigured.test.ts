/**
 * Under the Functions host a wrong WBMON_RELAYS entry disables that relay only: its heartbeat
 * check says MISCONFIGURED, /api/status lists the problem, the other relays run on. serve and
 * the CLI still refuse the same settings at start (test/settings.test.ts, test/cli.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { Channel } from '../src/alerting/channels/channel.js';
import { buildPayload as teamsPayload } from '../src/alerting/channels/teams/payload.js';
import type { AlertEvent } from '../src/alerting/event.js';
import { evaluateAlerts } from '../src/alerting/evaluate-alerts.js';
import { status } from '../src/api/handlers.js';
import { ConfigError } from '../src/config/errors.js';
import { loadHostSettings, parseSettings } from '../src/config/settings.js';
import { ingestHeartbeat } from '../src/heartbeat/ingest.js';
import { listChecks } from '../src/monitor/checks-repository.js';
import { evaluateHeartbeats } from '../src/monitor/evaluate-heartbeats.js';
import { CONFIG_GRACE_MS } from '../src/monitor/retirement.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { heartbeat, SECRET_A } from './support/heartbeats.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (ms: number): Date => new Date(T0 + ms);
const RELAYS = JSON.stringify({ 'relay-a': { secret: SECRET_A }, 'relay-b': { secret: 'too-short-secret', periodSeconds: 5 } });
const host = (relays: string) => loadHostSettings({ WBMON_RELAYS: relays, PATH: '' }, '/nonexistent');

function recording(): Channel & { events: AlertEvent[] } {
  const events: AlertEvent[] = [];
  return { name: 'record', events, send: async (e) => void events.push(e) };
}

describe('a wrong WBMON_RELAYS entry under Functions', () => {
  it('disables that relay only, with one line per problem and no secret', () => {
    const settings = host(RELAYS);
    expect([...settings.relays.keys()]).toEqual(['relay-a']);
    expect([...settings.relayProblems.invalid]).toEqual([
      ['relay-b', ['relay "relay-b": "secret" must be a string of at least 32 characters (e.g. openssl rand -hex 32)', 'relay "relay-b": "periodSeconds" must be a whole number of seconds from 30 to 86400']],
    ]);
    expect(JSON.stringify([...settings.relayProblems.invalid])).not.toContain('too-short-secret');
    // serve and the CLI refuse it as a whole.
    expect(() => parseSettings({ WBMON_RELAYS: RELAYS })).toThrow(ConfigError);
  });

  it('fails the relay\'s heartbeat check as misconfigured at once, says MISCONFIGURED, lists it in /api/status, and evaluates the others', async () => {
    const settings = host(RELAYS);
    const store = new MemoryStore();
    await ingestHeartbeat(store, 'relay-a', heartbeat(1), at(0));
    const evaluations = await evaluateHeartbeats(settings, store, at(1000));
    expect(evaluations.map((e) => [e.relayId, e.state, e.heartbeatsProcessed])).toEqual([['relay-a', 'up', 1], ['relay-b', 'down', 0]]);
    const checks = new Map((await listChecks(store)).map((c) => [c.id, c]));
    expect(checks.get('heartbeat:relay-b')).toMatchObject({ state: 'down', kind: 'heartbeat', location: 'relay-b' });
    expect(checks.get('heartbeat:relay-b')?.lastResult?.failure).toEqual({
      code: 'relay_misconfigured',
      phase: 'config',
      message: 'WBMON_RELAYS on the monitor: relay "relay-b": "secret" must be a string of at least 32 characters (e.g. openssl rand -hex 32); relay "relay-b": "periodSeconds" must be a whole number of seconds from 30 to 86400',
    });
    expect(checks.get('heartbeat:relay-a')).toMatchObject({ state: 'up' });

    const channel = recording();
    await evaluateAlerts(settings, store, new Map([['record', channel]]), at(2000));
    expect(channel.events.map((e) => `${e.kind} ${e.checkId}`)).toEqual(['triggered heartbeat:relay-b']);
    expect(JSON.stringify(teamsPayload(channel.events[0]!))).toContain('MISCONFIGURED: ');
    expect(channel.events[0]!.remediation.summary).toBe("Fix this relay's entry in WBMON_RELAYS on the monitor: until then the monitor refuses its heartbeats (the relay keeps them in its buffer)");
    // Still configured, though disabled: not retired, however long it stays wrong.
    await evaluateHeartbeats(settings, store, at(CONFIG_GRACE_MS * 4));
    await evaluateAlerts(settings, store, new Map([['record', channel]]), at(CONFIG_GRACE_MS * 4));
    expect(channel.events.map((e) => e.kind)).not.toContain('retired');

    const body = (await status(store, [], settings.relays, at(3000), [], settings.relayProblems)).body as any;
    expect(body.relays.find((r: any) => r.relayId === 'relay-b')).toEqual({ id: 'relay-b', kind: 'relay', relayId: 'relay-b', state: 'down', problems: [...settings.relayProblems.invalid.get('relay-b')!] });
  });

  it('refuses to evaluate any relay when the value is not JSON, and retires none of their checks', async () => {
    const settings = host('{"relay-a": {"secret": ');
    expect(settings.relayProblems.unusable).toBe('not valid JSON');
    const store = new MemoryStore();
    await ingestHeartbeat(store, 'relay-a', heartbeat(1), at(0));
    await evaluateHeartbeats(host(RELAYS), store, at(1000));
    await expect(evaluateHeartbeats(settings, store, at(2000))).rejects.toThrow('WBMON_RELAYS: not valid JSON; no relay is evaluated until it is fixed');
    const pass = await evaluateAlerts(settings, store, new Map(), at(CONFIG_GRACE_MS * 4));
    expect(pass.retired).toEqual([]);
    const body = (await status(store, [], settings.relays, at(3000), [], settings.relayProblems)).body as any;
    expect(body.settingsProblems).toEqual(['WBMON_RELAYS: not valid JSON']);
  });
});
