/**
 * Checks that nothing reports any more are retired once, with one notice, and stop reminding;
 * a relay's checks are stale while its heartbeat is missing; one relay cannot create checks
 * without bound. Fake clock throughout.
 */
import { describe, expect, it } from 'vitest';
import type { Channel } from '../src/alerting/channels/channel.js';
import type { AlertEvent } from '../src/alerting/event.js';
import { evaluateAlerts } from '../src/alerting/evaluate-alerts.js';
import { status } from '../src/api/handlers.js';
import type { CheckRecord } from '../src/checks/state.js';
import { parseSettings } from '../src/config/settings.js';
import { ingestHeartbeat } from '../src/heartbeat/ingest.js';
import { listChecks } from '../src/monitor/checks-repository.js';
import { evaluateHeartbeats, MAX_TARGETS_PER_RELAY } from '../src/monitor/evaluate-heartbeats.js';
import { CONFIG_GRACE_MS, isStale, retirementReason, UNREPORTED_MS, type Reporting } from '../src/monitor/retirement.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { heartbeat, RELAYS_JSON } from './support/heartbeats.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (ms: number): Date => new Date(T0 + ms);
const MIN = 60_000;

function check(overrides: Partial<CheckRecord>): CheckRecord {
  return {
    id: 'cloud:https://gone.example/',
    kind: 'probe',
    target: 'https://gone.example/',
    location: 'westeurope',
    state: 'down',
    since: at(0).toISOString(),
    consecutiveFailures: 2,
    consecutiveSuccesses: 0,
    reportedAt: at(0).toISOString(),
    lastResult: { ok: false, startedAt: at(0).toISOString(), failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer' } },
    ...overrides,
  };
}

const reporting = (over: Partial<Reporting> = {}): Reporting => ({
  cloudTargets: new Set(['https://passwordreset.microsoftonline.com/']),
  relays: new Set(['relay-a']),
  lastHeartbeatAt: new Map(),
  ...over,
});

describe('which checks are retired', () => {
  it("keeps the round trip's check while WBMON_ROUNDTRIP_USER names its user, and retires it after the grace once it does not", () => {
    const rt = check({ id: 'roundtrip:5f2c1d9e-7b3a-4c8e-9d1f-2a6b8c4e0f13', kind: 'roundtrip', target: 'wbmon-roundtrip@contoso.com', location: 'tenant' });
    expect(retirementReason(rt, reporting({ roundtripCheck: rt.id }), at(30 * 24 * 60 * MIN))).toBeUndefined();
    expect(retirementReason(rt, reporting(), at(CONFIG_GRACE_MS - 1))).toBeUndefined();
    expect(retirementReason(rt, reporting(), at(CONFIG_GRACE_MS))).toBe('the round trip is off (WBMON_ROUNDTRIP_USER is not set)');
    expect(retirementReason(rt, reporting({ roundtripCheck: 'roundtrip:0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d' }), at(CONFIG_GRACE_MS))).toBe('WBMON_ROUNDTRIP_USER names another test user now');
    // Location `tenant` is not a relay: a relay's silence never makes it stale.
    expect(isStale(rt, new Map([['tenant', 'down']]))).toBe(false);
  });

  it('retires a cloud check whose target left the settings, once the grace has passed, and not before', () => {
    expect(retirementReason(check({}), reporting(), at(CONFIG_GRACE_MS - 1))).toBeUndefined();
    expect(retirementReason(check({}), reporting(), at(CONFIG_GRACE_MS))).toBe('its target is no longer configured (WBMON_TARGETS) nor reported by a relay');
    expect(retirementReason(check({ target: 'https://passwordreset.microsoftonline.com/' }), reporting(), at(UNREPORTED_MS * 10))).toBeUndefined();
  });

  it('retires every check of a relay removed from WBMON_RELAYS, its heartbeat check included', () => {
    for (const kind of ['heartbeat', 'dc', 'relay-probe', 'keepalive', 'eventlog'] as const) {
      const c = check({ id: `${kind}:relay-z`, kind, location: 'relay-z', target: 'x' });
      expect(retirementReason(c, reporting(), at(CONFIG_GRACE_MS))).toBe('relay relay-z is no longer configured (WBMON_RELAYS)');
    }
  });

  it('retires a check a heartbeating relay stopped reporting 24 h ago, but not while the relay is silent', () => {
    const dc = check({ id: 'dc:relay-a', kind: 'dc', location: 'relay-a', target: 'dc01.corp.example' });
    const heard = (ms: number) => reporting({ lastHeartbeatAt: new Map([['relay-a', at(ms).toISOString()]]) });
    expect(retirementReason(dc, heard(UNREPORTED_MS - 1), at(UNREPORTED_MS))).toBeUndefined();
    expect(retirementReason(dc, heard(UNREPORTED_MS), at(UNREPORTED_MS))).toBe('relay relay-a has not reported it for 24 h while sending heartbeats');
    // Silent since before the check's last report: stale, not gone, however long.
    expect(retirementReason(dc, heard(-1), at(UNREPORTED_MS * 30))).toBeUndefined();
    expect(retirementReason(check({ id: 'heartbeat:relay-a', kind: 'heartbeat', location: 'relay-a' }), heard(UNREPORTED_MS * 2), at(UNREPORTED_MS * 2))).toBeUndefined();
  });

  it('never retires tenant checks', () => {
    expect(retirementReason(check({ id: 'tenant:licence', kind: 'tenant', location: 'tenant' }), reporting(), at(UNREPORTED_MS * 30))).toBeUndefined();
  });
});

function recording(): Channel & { events: AlertEvent[] } {
  const events: AlertEvent[] = [];
  return { name: 'record', events, send: async (e) => void events.push(e) };
}

describe('retirement in the alert pass', () => {
  it('announces a removed target once as retired, removes its record, and sends no more reminders', async () => {
    const store = new MemoryStore();
    const channel = recording();
    const channels = new Map([['record', channel]]);
    const c = check({});
    await store.insert('checks', c.id, c);
    const settings = parseSettings({ WBMON_TARGETS: 'https://gone.example/', WBMON_REMIND_MINUTES: '1' });
    await evaluateAlerts(settings, store, channels, at(1 * MIN));
    expect(channel.events.map((e) => e.kind)).toEqual(['triggered']);

    // The target leaves the settings: reminders go on through the grace, then one notice, then nothing.
    const without = parseSettings({ WBMON_TARGETS: 'https://passwordreset.microsoftonline.com/', WBMON_REMIND_MINUTES: '1' });
    await evaluateAlerts(without, store, channels, at(3 * MIN));
    expect(channel.events.map((e) => e.kind)).toEqual(['triggered', 'reminder']);
    const pass = await evaluateAlerts(without, store, channels, at(CONFIG_GRACE_MS));
    expect(pass.retired).toEqual([c.id]);
    const notice = channel.events.at(-1)!;
    expect(notice).toMatchObject({ kind: 'retired', checkId: c.id, id: `${c.id}|retired|${c.since}` });
    expect(notice.remediation.summary).toBe('No longer monitored: its target is no longer configured (WBMON_TARGETS) nor reported by a relay. Nothing to fix.');
    expect(await store.get('checks', c.id)).toBeUndefined();
    expect(await store.get('notified', c.id)).toBeUndefined();
    for (let m = 16; m < 120; m += 7) await evaluateAlerts(without, store, channels, at(m * MIN));
    expect(channel.events.map((e) => e.kind)).toEqual(['triggered', 'reminder', 'retired']);
  });

  it('sends one retired notice when two evaluators race on one store', async () => {
    const store = new MemoryStore();
    const channel = recording();
    const c = check({});
    await store.insert('checks', c.id, c);
    const settings = parseSettings({});
    await Promise.all([evaluateAlerts(settings, store, new Map([['record', channel]]), at(CONFIG_GRACE_MS)), evaluateAlerts(settings, store, new Map([['record', channel]]), at(CONFIG_GRACE_MS))]);
    expect(channel.events.map((e) => e.kind)).toEqual(['retired']);
  });
});

describe('a relay with many targets', () => {
  const settings = parseSettings({ WBMON_RELAYS: RELAYS_JSON, WBMON_FAILURE_THRESHOLD: '1' });
  const result = (target: string) => ({ ...heartbeat(0).results[0]!, target, startedAt: at(0).toISOString() });

  it(`gets checks for ${MAX_TARGETS_PER_RELAY} distinct targets at most, however many it reports`, async () => {
    const store = new MemoryStore();
    const targets = Array.from({ length: 50 }, (_, i) => `https://t${String(i).padStart(2, '0')}.example/`);
    await ingestHeartbeat(store, 'relay-a', heartbeat(1, { results: targets.map(result) }), at(0));
    await ingestHeartbeat(store, 'relay-a', heartbeat(2, { results: targets.map((t) => result(t.replace('.example', '.other'))) }), at(MIN));
    const [a] = await evaluateHeartbeats(settings, store, at(MIN + 1));
    expect(a!.ignoredTargets).toBe(90);
    const probes = (await listChecks(store)).filter((c) => c.kind === 'relay-probe').map((c) => c.target);
    expect(probes).toEqual(targets.slice(0, MAX_TARGETS_PER_RELAY));
  });
});

describe('a silent relay in /api/status', () => {
  it('marks its reported checks stale while its heartbeat is missing, and not its heartbeat check', async () => {
    const store = new MemoryStore();
    const settings = parseSettings({ WBMON_RELAYS: RELAYS_JSON });
    await ingestHeartbeat(store, 'relay-a', heartbeat(1), at(0));
    await evaluateHeartbeats(settings, store, at(1000));
    const fresh = (await status(store, [], settings.relays, at(2000))).body as any;
    expect(fresh.checks.filter((c: any) => c.stale).map((c: any) => c.id)).toEqual([]);
    const silent = (await status(store, [], settings.relays, at(10 * MIN))).body as any;
    expect(silent.checks.filter((c: any) => c.stale).map((c: any) => c.id)).toEqual(['relay:relay-a:https://passwordreset.microsoftonline.com/']);
    expect(silent.relays.find((r: any) => r.relayId === 'relay-a').state).toBe('down');
  });
});
