/** Joining the cloud's accepted reset to what relays found in Connect's log (31009/31010/31011). */
import { describe, expect, it } from 'vitest';
import { parseRelays } from '../src/config/relays.js';
import { parseSettings } from '../src/config/settings.js';
import { HEARTBEATS, heartbeatKey, type StoredHeartbeat } from '../src/heartbeat/ingest.js';
import type { AdminReset, EventLogReport } from '../src/heartbeat/schema.js';
import { confirmationWindowMinutes, confirmOnPrem, CONFIRMATION_WINDOW_MINUTES, relayResets, type RelayResets } from '../src/roundtrip/confirmation.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { heartbeat, RELAYS_JSON } from './support/heartbeats.js';

const REQUESTED = '2026-03-01T10:00:00.000Z';
const T0 = Date.parse(REQUESTED);
const iso = (s: number): string => new Date(T0 + s * 1000).toISOString();
const NAMES = ['rt-test@contoso.com', 'rttest'];

const relay = (relayId: string, adminResets: readonly AdminReset[], more: Partial<RelayResets> = {}): RelayResets => ({
  relayId,
  checkedAt: iso(300),
  readsEventLog: true,
  reportsResets: true,
  adminResets,
  ...more,
});
const confirm = (relays: readonly RelayResets[], nowS = 300) => confirmOnPrem({ requestedAt: REQUESTED, names: NAMES, relays, now: new Date(T0 + nowS * 1000), windowMinutes: 15 });

describe('confirmOnPrem', () => {
  it("says written, with the relay and the 31010's time, when a relay reports a 31010 for one of the names", () => {
    expect(confirm([relay('connect01', [{ eventId: 31010, time: iso(4), user: 'rt-test@contoso.com' }, { eventId: 31009, time: iso(2), user: 'rt-test@contoso.com' }])])).toEqual({
      kind: 'written',
      relayId: 'connect01',
      at: iso(4),
    });
  });

  it('matches the names case-insensitively, and ignores resets of users not named', () => {
    expect(confirm([relay('connect01', [{ eventId: 31010, time: iso(4), user: 'RTTEST' }])])).toEqual({ kind: 'written', relayId: 'connect01', at: iso(4) });
    expect(confirm([relay('connect01', [{ eventId: 31010, time: iso(4), user: 'someone-else' }])])).toEqual({ kind: 'pending' });
  });

  it('takes a 31010 up to 60 s before the request (clock skew), and ignores one from an older round trip, 61 s before', () => {
    expect(confirm([relay('connect01', [{ eventId: 31010, time: iso(-60), user: 'rttest' }])])).toEqual({ kind: 'written', relayId: 'connect01', at: iso(-60) });
    expect(confirm([relay('connect01', [{ eventId: 31010, time: iso(-61), user: 'rttest' }])])).toEqual({ kind: 'pending' });
    expect(confirm([relay('connect01', [{ eventId: 31010, time: iso(-3600), user: 'rttest' }])], 15 * 60)).toEqual({ kind: 'missing', windowMinutes: 15 });
  });

  it('says refused, with the excerpt, when a 31011 is reported, and policy when the excerpt names a password policy refusal', () => {
    const excerpt = 'Reset User Password by Admin Fail: ADPasswordPolicyError: hr=0x80230619, UserPrincipalName: r***@contoso.com';
    expect(confirm([relay('connect01', [{ eventId: 31011, time: iso(5), user: 'rttest', excerpt }])])).toEqual({ kind: 'refused', relayId: 'connect01', at: iso(5), excerpt, policy: true });
    for (const policy of ['0x80230619', 'the password policy refused it', "it doesn't meet the requirements", 'does not meet the complexity requirements']) {
      expect(confirm([relay('connect01', [{ eventId: 31011, time: iso(5), user: 'rttest', excerpt: policy }])])).toMatchObject({ kind: 'refused', policy: true });
    }
    expect(confirm([relay('connect01', [{ eventId: 31011, time: iso(5), user: 'rttest', excerpt: 'ADPermissionsError' }])])).toEqual({
      kind: 'refused',
      relayId: 'connect01',
      at: iso(5),
      excerpt: 'ADPermissionsError',
      policy: false,
    });
    expect(confirm([relay('connect01', [{ eventId: 31011, time: iso(5), user: 'rttest' }])])).toEqual({ kind: 'refused', relayId: 'connect01', at: iso(5), excerpt: '', policy: false });
  });

  it('lets a 31010 beat a 31011, on the same relay or another, and names the newest 31010', () => {
    const refused: AdminReset = { eventId: 31011, time: iso(9), user: 'rttest', excerpt: 'ADPermissionsError' };
    expect(confirm([relay('connect01', [refused]), relay('connect02', [{ eventId: 31010, time: iso(3), user: 'rttest' }])])).toEqual({ kind: 'written', relayId: 'connect02', at: iso(3) });
    expect(
      confirm([relay('connect01', [refused, { eventId: 31010, time: iso(4), user: 'rttest' }]), relay('connect02', [{ eventId: 31010, time: iso(6), user: 'rt-test@contoso.com' }])]),
    ).toEqual({ kind: 'written', relayId: 'connect02', at: iso(6) });
  });

  it('says pending within the window, naming a relay that logged the 31009', () => {
    expect(confirm([relay('connect01', []), relay('connect02', [{ eventId: 31009, time: iso(2), user: 'rttest' }])])).toEqual({ kind: 'pending', startedOn: 'connect02' });
    expect(confirm([relay('connect01', [])])).toEqual({ kind: 'pending' });
  });

  it('says pending until the window has elapsed, and missing from that moment', () => {
    expect(confirm([relay('connect01', [])], 15 * 60 - 0.001)).toEqual({ kind: 'pending' });
    expect(confirm([relay('connect01', [])], 15 * 60)).toEqual({ kind: 'missing', windowMinutes: 15 });
    expect(confirm([relay('connect01', [{ eventId: 31009, time: iso(2), user: 'rttest' }])], 3600)).toEqual({ kind: 'missing', windowMinutes: 15 });
  });

  it('still says written when the 31010 arrives after the window', () => {
    expect(confirm([relay('connect01', [{ eventId: 31010, time: iso(1000), user: 'rttest' }])], 3600)).toEqual({ kind: 'written', relayId: 'connect01', at: iso(1000) });
  });

  it('says unconfirmable when no relay reads the log, naming those that read it but report no admin resets (older relays)', () => {
    expect(confirm([])).toEqual({ kind: 'unconfirmable' });
    expect(confirm([relay('linux01', [], { readsEventLog: false, reportsResets: false })], 3600)).toEqual({ kind: 'unconfirmable' });
    expect(confirm([relay('connect01', [], { reportsResets: false }), relay('linux01', [], { readsEventLog: false, reportsResets: false })], 3600)).toEqual({
      kind: 'unconfirmable',
      olderRelays: ['connect01'],
    });
    // One relay that can confirm is enough for pending, and then missing.
    expect(confirm([relay('connect01', [], { reportsResets: false }), relay('connect02', [])], 3600)).toEqual({ kind: 'missing', windowMinutes: 15 });
  });
});

describe('the confirmation window', () => {
  it('is 15 minutes for default relays (300 s + 120 s), and twice period + grace when that is longer', () => {
    expect(CONFIRMATION_WINDOW_MINUTES).toBe(15);
    expect(confirmationWindowMinutes(parseRelays(RELAYS_JSON).relays)).toBe(15);
    expect(confirmationWindowMinutes(new Map())).toBe(15);
    const slow = parseRelays(JSON.stringify({ slow: { secret: 's'.repeat(32), periodSeconds: 900, graceSeconds: 120 } })).relays;
    expect(confirmationWindowMinutes(slow)).toBe(34);
  });
});

describe('relayResets', () => {
  const settings = parseSettings({ WBMON_RELAYS: RELAYS_JSON });
  const log = (more: Partial<EventLogReport>): EventLogReport => ({
    supported: true,
    checkedAt: '2026-03-01T10:05:00.000Z',
    lastHeartbeatAt: null,
    heartbeatFresh: false,
    failures: [],
    notices: [],
    relayNamespaces: [],
    ...more,
  });
  const put = (store: MemoryStore, relayId: string, sequence: number, eventLog?: EventLogReport) =>
    store.insert<StoredHeartbeat>(HEARTBEATS, heartbeatKey(relayId, sequence), {
      relayId,
      sequence,
      receivedAt: '2026-03-01T10:05:01.000Z',
      heartbeat: heartbeat(sequence, { relayId, ...(eventLog && { eventLog }) }),
    });

  it("maps each configured relay's latest stored heartbeat, and leaves out relays with none and relays not configured", async () => {
    const store = new MemoryStore();
    const reset: AdminReset = { eventId: 31010, time: '2026-03-01T10:00:04.000Z', user: 'rttest' };
    await put(store, 'relay-a', 9, log({ adminResets: [] }));
    await put(store, 'relay-a', 10, log({ adminResets: [reset] }));
    await put(store, 'relay-x', 11, log({ adminResets: [reset] }));
    expect(await relayResets(store, settings)).toEqual([{ relayId: 'relay-a', checkedAt: '2026-03-01T10:05:00.000Z', readsEventLog: true, reportsResets: true, adminResets: [reset] }]);
  });

  it('marks a relay whose log is unsupported, disabled or unreadable as not reading it, and an older one as reporting no resets', async () => {
    const cases: [EventLogReport | undefined, boolean, boolean][] = [
      [undefined, false, false],
      [log({ supported: false }), false, false],
      [log({ supported: false, disabled: true }), false, false],
      [log({ error: 'wevtutil failed: 5 Access is denied.' }), false, false],
      [log({}), true, false],
      [log({ adminResets: [] }), true, true],
    ];
    for (const [eventLog, readsEventLog, reportsResets] of cases) {
      const store = new MemoryStore();
      await put(store, 'relay-b', 1, eventLog);
      expect(await relayResets(store, settings), JSON.stringify(eventLog)).toEqual([
        { relayId: 'relay-b', checkedAt: eventLog?.checkedAt ?? '2026-03-01T10:00:00.000Z', readsEventLog, reportsResets, adminResets: [] },
      ]);
    }
  });
});
