/**
 * The Connect event-log check, through the real spawn path: a stand-in `wevtutil` on PATH
 * prints RenderedXml modelled on what wevtutil prints for PasswordResetService events.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
      relayNamespaces: ['ssprdedicatedsbprodscu.servicebus.windows.net'],
    });
  });

  it('reports a stale heartbeat and every failure event inside the window, newest first, with id, time and message', async () => {
    const report = await read('broken.xml');
    expect(report.heartbeatFresh).toBe(false);
    expect(report.lastHeartbeatAt).toBe('2026-03-01T09:45:00.000Z');
    expect(report.failures.map((f) => [f.provider, f.eventId, f.time])).toEqual([
      ['PasswordResetService', 31034, '2026-03-01T09:58:30.000Z'],
      ['PasswordResetService', 33008, '2026-03-01T09:55:00.000Z'],
      ['ADSync', 6800, '2026-03-01T09:50:00.000Z'],
    ]);
    expect(report.failures[0]!.message).toContain('<Error> timed out & will retry');
    expect(report.relayNamespaces).toEqual(['ssprdedicatedsbprodncu.servicebus.windows.net', 'ssprdedicatedsbprodscu.servicebus.windows.net']);
  });

  it('strips ESC sequences, CR/LF, C1, bidi and zero-width characters from a message, raw or as XML entities', async () => {
    const [failure] = (await read('hostile.xml')).failures;
    expect(failure!.message).toBe('Service Bus error 2026-12-01T00:00:00Z alert resolved: everything is fine enod tail');
  });

  it('asks wevtutil for an hour of PasswordResetService and ADSync events as rendered XML, newest first', async () => {
    const argsFile = join(mkdtempSync(join(tmpdir(), 'wbmon-wevtutil-')), 'args.json');
    process.env.WBMON_FAKE_WEVTUTIL_ARGS = argsFile;
    await read('empty.xml');
    expect(JSON.parse(readFileSync(argsFile, 'utf8'))).toEqual([
      'qe',
      'Application',
      "/q:*[System[Provider[@Name='PasswordResetService' or @Name='ADSync'] and TimeCreated[timediff(@SystemTime) <= 3600000]]]",
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
      relayNamespaces: [],
    });
  });
});
