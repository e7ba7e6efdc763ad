/**
 * Where the relay runs: on a Connect server in staging mode (which handles no writeback) the
 * event-log part says so instead of paging event_31019_missing forever; a relay placed next to,
 * not on, the Connect server turns the event-log part off (WBMON_EVENTLOG=off). Windows is
 * stood in (test/support/windows.ts: reg, sc, powershell.exe; wevtutil by its seam).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heartbeatSchema, type EventLogReport } from '../src/heartbeat/schema.js';
import { eventLogResult, STAGING_NOTE } from '../src/monitor/evaluate-heartbeats.js';
import { RelayAgent } from '../src/relay/agent.js';
import { parseRelaySettings } from '../src/relay/settings.js';
import { SECRET_A } from './support/heartbeats.js';
import { startHttp, type Running } from './support/servers.js';
import { standInWindows } from './support/windows.js';

const NOW = new Date('2026-12-02T10:00:00Z');
const CONNECT_KEY = 'HKLM\\SOFTWARE\\Microsoft\\Azure AD Connect';
let monitor: Running;
let target: Running;
const dirs: string[] = [];

beforeAll(async () => {
  monitor = await startHttp((_req, res) => res.writeHead(202).end());
  target = await startHttp();
});
afterAll(async () => {
  await monitor.close();
  await target.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function settings(extra: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'wbmon-placement-'));
  dirs.push(dir);
  return parseRelaySettings(
    { WBMON_MONITOR_URL: monitor.url, WBMON_RELAY_ID: 'relay-a', WBMON_RELAY_SECRET: SECRET_A, WBMON_RELAY_TARGETS: target.url, WBMON_RELAY_STATE_DIR: dir, WBMON_PROXY_DISCOVERY: 'off', ...extra },
    {},
    'win32',
  );
}

const report = (extra: Partial<EventLogReport> = {}): EventLogReport => ({
  supported: true,
  checkedAt: NOW.toISOString(),
  lastHeartbeatAt: null,
  heartbeatFresh: false,
  failures: [],
  notices: [],
  relayNamespaces: [],
  ...extra,
});

describe('a relay on a Connect server in staging mode', () => {
  it('reports staging mode with the event log, and the eventlog check stays up with a warning instead of event_31019_missing', async () => {
    const machine = standInWindows({ registry: { [CONNECT_KEY]: { Version: '2.6.91.0' } }, services: { ADSync: 'RUNNING' }, stagingMode: true });
    const agent = new RelayAgent(settings(), { platform: 'win32', now: () => NOW, systemCertificates: () => [], eventLog: { run: async () => '' }, windows: machine });
    try {
      const { heartbeat } = await agent.cycle();
      expect(heartbeatSchema.safeParse(heartbeat).success).toBe(true);
      expect(heartbeat.connectSync?.stagingMode).toBe(true);
      expect(heartbeat.eventLog).toMatchObject({ supported: true, heartbeatFresh: false, stagingMode: true });
      expect(eventLogResult(heartbeat.eventLog!)).toEqual({ ok: true, startedAt: NOW.toISOString(), warnings: [{ code: 'connect_staging', message: STAGING_NOTE }] });
    } finally {
      await agent.close();
    }
  });

  it('still fails on an outage event there, and on the active server still pages a missing 31019', () => {
    const outage = { provider: 'PasswordResetService', eventId: 31034, time: '2026-12-02T09:58:00.000Z', message: 'listener error' };
    expect(eventLogResult(report({ stagingMode: true, failures: [outage] }))?.failure?.code).toBe('event_31034');
    expect(eventLogResult(report())?.failure?.code).toBe('event_31019_missing');
  });
});

describe('a relay next to, not on, the Connect server (WBMON_EVENTLOG=off)', () => {
  it('does not read the log, says so in the heartbeat, and the monitor makes no eventlog check of it', async () => {
    let reads = 0;
    const agent = new RelayAgent(settings({ WBMON_EVENTLOG: 'off' }), {
      platform: 'win32',
      now: () => NOW,
      systemCertificates: () => [],
      eventLog: { run: async () => (reads++, '') },
      windows: standInWindows({}),
    });
    try {
      const { heartbeat } = await agent.cycle();
      expect(reads).toBe(0);
      expect(heartbeat.eventLog).toEqual({ supported: false, disabled: true, checkedAt: NOW.toISOString(), lastHeartbeatAt: null, heartbeatFresh: false, failures: [], notices: [], relayNamespaces: [] });
      expect(heartbeatSchema.safeParse(heartbeat).success).toBe(true);
      expect(eventLogResult(heartbeat.eventLog!)).toBeUndefined();
    } finally {
      await agent.close();
    }
  });

  it('takes "on" or "off" only, "on" by default, and names the setting when wrong', () => {
    expect(settings().eventLog).toBe(true);
    expect(settings({ WBMON_EVENTLOG: 'off' }).eventLog).toBe(false);
    expect(() => settings({ WBMON_EVENTLOG: 'no' })).toThrow(/WBMON_EVENTLOG: must be "on" \(read Connect's Application log on this server\) or "off"/);
  });
});
