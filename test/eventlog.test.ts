/**
 * The Connect event-log check, through the real spawn path: a stand-in `wevtutil` on PATH
 * prints RenderedXml modelled on what wevtutil prints for PasswordResetService events.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { heartbeatSchema } from '../src/heartbeat/schema.js';
import { readEventLog } from '../src/relay/eventlog.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'wevtutil');
const NOW = new Date('2026-03-01T10:00:00Z');
const saved = { ...process.env };

beforeEach(() => {
  process.env.PATH = `${FIXTURES}${delimiter}${saved.PATH ?? ''}`;
});
afterEach(() => {
  process.env = { ...saved };
});

function read(fixture: string) {
  process.env.WBMON_FAKE_WEVTUTIL_XML = join(FIXTURES, fixture);
  return readEventLog({ platform: 'win32', now: () => NOW });
}

describe('Connect event log (wevtutil)', () => {
  it('finds a fresh 31019 heartbeat, no failures, and the tenant relay namespace', async () => {
    expect(await read('healthy.xml')).toEqual({
      supported: true,
      checkedAt: NOW.toISOString(),
      lastHeartbeatAt: '2026-03-01T09:57:01.123Z',
      heartbeatFresh: true,
      failures: [],
      notices: [],
      relayNamespaces: ['ssprdedicatedsbprodscu.servicebus.windows.net'],
    });
  });

  it('reports a stale heartbeat and the outage events inside the window, newest first, and not a policy refusal (33008)', async () => {
    const report = await read('broken.xml');
    expect(report.heartbeatFresh).toBe(false);
    expect(report.lastHeartbeatAt).toBe('2026-03-01T09:45:00.000Z');
    expect(report.failures.map((f) => [f.provider, f.eventId, f.time])).toEqual([
      ['PasswordResetService', 31034, '2026-03-01T09:58:30.000Z'],
      ['ADSync', 6800, '2026-03-01T09:50:00.000Z'],
    ]);
    expect(report.notices).toEqual([]);
    expect(report.failures[0]!.message).toContain('<Error> timed out & will retry');
    // The 31034 names its relay; the 6800 names one too, but 6800 is not a connection event of writeback's.
    expect(report.relayNamespaces).toEqual(['ssprdedicatedsbprodscu.servicebus.windows.net']);
  });

  it('reports outages as failures, warnings and per-user admin work as notices, masked, and users’ own refusals not at all', async () => {
    const report = await read('every-class.xml');
    expect(report.failures.map((f) => `${f.provider} ${f.eventId}`)).toEqual([
      'PasswordResetService 31016',
      'PasswordResetService 31034',
      'PasswordResetService 31044',
      'PasswordResetService 32001',
      'PasswordResetService 32002',
      'PasswordResetService 32009',
      'ADSync 6800',
    ]);
    expect(report.notices.map((f) => `${f.provider} ${f.eventId}`)).toEqual([
      'PasswordResetService 32014',
      'PasswordResetService 32015',
      'PasswordResetService 32004',
      'PasswordResetService 32005',
      'PasswordResetService 32008',
      'PasswordResetService 32010',
      'PasswordResetService 33001',
      'PasswordResetService 33002',
      'PasswordResetService 33003',
      'PasswordResetService 33004',
      'PasswordResetService 33009',
      'ADSync 6329',
    ]);
    expect(report.notices.find((n) => n.eventId === 33002)?.message).toBe(
      'TrackingId: d3e5f7a9-1b2c-4d4e-9f60-8b0c2d4e6f81, Reason: ADUserNotFoundError: Synchronization Engine returned an error hr=80230402, message=Object could not be found. UserPrincipalName: b***@contoso.com',
    );
    expect(JSON.stringify(report)).not.toMatch(/ann\.lee|bob\.old|jane\.doe|dadmin/);
    expect(report.relayNamespaces).toEqual(['ssprdedicatedsbprodncu.servicebus.windows.net', 'ssprdedicatedsbprodscu.servicebus.windows.net']);
  });

  it("reports an expired application certificate (1012) as a failure, one due for rotation (1011) and a failed admin reset (31011) as notices, masked", async () => {
    const report = await read('credential-and-admin.xml');
    expect(report.failures.map((f) => `${f.provider} ${f.eventId}`)).toEqual(['Directory Synchronization 1012']);
    expect(report.notices.map((f) => `${f.provider} ${f.eventId}`)).toEqual(['ADSync 1011', 'PasswordResetService 31011']);
    expect(JSON.stringify(report)).not.toMatch(/ann\.lee|bob\.old/);
    expect(report.heartbeatFresh).toBe(true);
  });

  it('strips ESC sequences, CR/LF, C1, bidi and zero-width characters from a message, raw or as XML entities', async () => {
    const [failure] = (await read('hostile.xml')).failures;
    expect(failure!.message).toBe('Service Bus error 2026-12-01T00:00:00Z alert resolved: everything is fine enod tail');
  });

  it('does not report a foreign Service Bus host that a fake event under PasswordResetService names', async () => {
    const report = await read('fake-fix.xml');
    expect(report.failures.map((f) => f.eventId)).toEqual([31034]);
    expect(report.relayNamespaces).toEqual([]);
  });

  it('keeps a masked message within the 1,000 characters the heartbeat schema allows, though masking lengthens short names', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `${String.fromCharCode(97 + (i % 26))}@c.io`).join(' ');
    const xml = `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='PasswordResetService'/><EventID Qualifiers='0'>33004</EventID><Level>2</Level><TimeCreated SystemTime='2026-03-01T09:59:00.0000000Z'/><Channel>Application</Channel></System><RenderingInfo Culture='en-US'><Message>ADPermissionsError: ${names}</Message></RenderingInfo></Event>`;
    const report = await readEventLog({ platform: 'win32', now: () => NOW, run: async () => xml });
    expect(report.notices[0]!.message).toHaveLength(1000);
    expect(report.notices[0]!.message.startsWith('ADPermissionsError: a***@c.io b***@c.io')).toBe(true);
    expect(heartbeatSchema.shape.eventLog.safeParse(report).success).toBe(true);
  });

  it('asks wevtutil for an hour of PasswordResetService, ADSync and Directory Synchronization events as rendered XML, newest first', async () => {
    const argsFile = join(mkdtempSync(join(tmpdir(), 'wbmon-wevtutil-')), 'args.json');
    process.env.WBMON_FAKE_WEVTUTIL_ARGS = argsFile;
    await read('empty.xml');
    expect(JSON.parse(readFileSync(argsFile, 'utf8'))).toEqual([
      'qe',
      'Application',
      "/q:*[System[Provider[@Name='PasswordResetService' or @Name='ADSync' or @Name='Directory Synchronization'] and TimeCreated[timediff(@SystemTime) <= 3600000]]]",
      '/f:RenderedXml',
      '/rd:true',
      '/c:500',
    ]);
  });

  it('treats an empty log as no heartbeat at all', async () => {
    expect(await read('empty.xml')).toMatchObject({ supported: true, lastHeartbeatAt: null, heartbeatFresh: false, failures: [] });
  });

  it('reports wevtutil failing (access denied) as an error, not as events', async () => {
    process.env.WBMON_FAKE_WEVTUTIL_FAIL = 'Failed to read events. Access is denied.';
    const report = await read('healthy.xml');
    expect(report.error).toBe('wevtutil failed: 5 Failed to read events. Access is denied.');
    expect(report.heartbeatFresh).toBe(false);
  });

  it('is unsupported, not failing, on systems other than Windows', async () => {
    expect(await readEventLog({ platform: 'linux', now: () => NOW })).toEqual({
      supported: false,
      checkedAt: NOW.toISOString(),
      lastHeartbeatAt: null,
      heartbeatFresh: false,
      failures: [],
      notices: [],
      relayNamespaces: [],
    });
  });
});

describe("the round trip's admin resets in Connect's event log", () => {
  const readFor = (users: readonly string[]) => {
    process.env.WBMON_FAKE_WEVTUTIL_XML = join(FIXTURES, 'admin-resets.xml');
    return readEventLog({ platform: 'win32', now: () => NOW }, { users });
  };

  it("reports the given user's 31009, 31010 and 31011 of the last hour, newest first, named as the monitor gave them, and no other user's", async () => {
    const report = await readFor(['rt-test@contoso.com', 'rttest']);
    expect(report.adminResets).toEqual([
      { eventId: 31010, time: '2026-03-01T09:50:02.000Z', user: 'rt-test@contoso.com' },
      { eventId: 31009, time: '2026-03-01T09:50:00.000Z', user: 'rt-test@contoso.com' },
      {
        eventId: 31011,
        time: '2026-03-01T09:48:00.000Z',
        user: 'rt-test@contoso.com',
        excerpt:
          'TrackingId: 2b4d6f80-3333-4c5d-9e6f-7a8b9c0d1e2f, Reset User Password by Admin Fail: ADPasswordPolicyError: hr=80230619, message=A restriction prevents the password from being changed to the current one specified. Account: CONTOSO\\r***, UserPrincipalName: r***@contoso.com by a***@contoso.com',
      },
      { eventId: 31009, time: '2026-03-01T09:30:00.000Z', user: 'rttest' },
    ]);
    expect(heartbeatSchema.shape.eventLog.safeParse(report).success).toBe(true);
  });

  it('leaves the rest of the reading as it was: the 31011 is still a masked notice, and no name is unmasked elsewhere', async () => {
    const report = await readFor(['rt-test@contoso.com', 'rttest']);
    const { adminResets, ...rest } = report;
    expect(adminResets).toHaveLength(4);
    expect(rest).toEqual({ ...(await read('admin-resets.xml')), checkedAt: NOW.toISOString() });
    expect(rest.notices.map((n) => `${n.provider} ${n.eventId}`)).toEqual(['PasswordResetService 31011']);
    expect(JSON.stringify(rest)).not.toMatch(/rt-test@|\\rttest|ann\.lee|\\bob/i);
  });

  it('takes a name whole: bob is found in CONTOSO\\bob, not in CONTOSO\\bobby nor in the UPN bob@contoso.com', async () => {
    expect((await readFor(['bob'])).adminResets).toEqual([{ eventId: 31010, time: '2026-03-01T09:35:00.000Z', user: 'bob' }]);
    expect((await readFor(['BOB@contoso.com'])).adminResets).toEqual([{ eventId: 31010, time: '2026-03-01T09:37:00.000Z', user: 'BOB@contoso.com' }]);
    expect((await readFor(['CONTOSO\\bobby'])).adminResets).toEqual([{ eventId: 31010, time: '2026-03-01T09:36:00.000Z', user: 'CONTOSO\\bobby' }]);
  });

  it('reports an empty list when the given user has no admin reset in the last hour, and no adminResets at all when no user is given', async () => {
    expect((await readFor(['nobody@contoso.com'])).adminResets).toEqual([]);
    expect(await readFor([])).not.toHaveProperty('adminResets');
    expect(await read('admin-resets.xml')).not.toHaveProperty('adminResets');
  });

  it('cuts a 31011 excerpt to 300 characters and reports at most the 10 newest admin resets', async () => {
    const event = (id: number, minute: number, text: string) =>
      `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='PasswordResetService'/><EventID Qualifiers='0'>${id}</EventID><Level>2</Level><TimeCreated SystemTime='2026-03-01T09:${String(minute).padStart(2, '0')}:00.0000000Z'/><Channel>Application</Channel></System><RenderingInfo Culture='en-US'><Message>${text}</Message></RenderingInfo></Event>`;
    const xml = [event(31011, 59, `Reset User Password by Admin Fail for rt-test@contoso.com: ${'x'.repeat(400)}`), ...Array.from({ length: 11 }, (_, i) => event(31009, 40 + i, 'Start. UserPrincipalName: rt-test@contoso.com'))].join('');
    const report = await readEventLog({ platform: 'win32', now: () => NOW, run: async () => xml }, { users: ['rt-test@contoso.com'] });
    expect(report.adminResets).toHaveLength(10);
    expect(report.adminResets![0]!.excerpt).toBe(`Reset User Password by Admin Fail for r***@contoso.com: ${'x'.repeat(300 - 56)}`);
    expect(report.adminResets![0]!.excerpt).toHaveLength(300);
    expect(report.adminResets!.at(-1)!.time).toBe('2026-03-01T09:42:00.000Z');
  });

  it('reports no adminResets when wevtutil fails', async () => {
    process.env.WBMON_FAKE_WEVTUTIL_FAIL = 'Failed to read events. Access is denied.';
    expect(await readFor(['rt-test@contoso.com'])).not.toHaveProperty('adminResets');
  });
});
