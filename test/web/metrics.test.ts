import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { StatusEntry } from '../../src/api/handlers.js';
import type { ProbeResult } from '../../src/probes/result.js';
import { escapeLabelValue, renderMetrics, type RelayEntry } from '../../src/web/metrics.js';

const NOW = new Date('2026-03-10T12:00:00.000Z');
const promtool = spawnSync('promtool', ['--version']).status === 0;

function probeResult(over: Partial<ProbeResult> = {}): ProbeResult {
  return {
    target: 'https://passwordreset.microsoftonline.com/',
    ok: true,
    startedAt: '2026-03-10T11:59:00.000Z',
    warnings: [],
    timings: { dns: 1.5, tcp: 10, tls: 22.25, ttfb: 80, total: 130.5 },
    proxy: null,
    tls: { protocol: 'TLSv1.3', subject: 'CN=x', issuer: 'CN=y', validTo: '2026-09-01T00:00:00.000Z', daysToExpiry: 174, authorized: true, hostnameValid: true },
    http: { status: 200 },
    ...over,
  };
}

const CHECKS: StatusEntry[] = [
  { id: 'cloud:https://passwordreset.microsoftonline.com/', kind: 'probe', target: 'https://passwordreset.microsoftonline.com/', location: 'westeurope', state: 'up', since: '2026-03-10T10:00:00.000Z', lastResult: probeResult() },
  { id: 'heartbeat:connect01', kind: 'heartbeat', target: 'connect01', location: 'connect01', state: 'down', since: '2026-03-10T11:00:00.000Z', lastResult: { ok: false, startedAt: '2026-03-10T11:00:00.000Z', failure: { code: 'heartbeat_missing', phase: 'heartbeat', message: 'none for 900 s' } } },
  { id: 'relay:connect01:https://contoso.servicebus.windows.net/', kind: 'relay-probe', target: 'https://contoso.servicebus.windows.net/', location: 'connect01', state: 'paused', since: '2026-03-10T09:00:00.000Z', lastResult: probeResult({ tls: undefined }), stale: true },
  { id: 'keepalive:connect01', kind: 'keepalive', target: 'https://contoso.servicebus.windows.net/', location: 'connect01', state: 'new', since: null, lastResult: null },
];

const RELAYS: RelayEntry[] = [
  {
    id: 'connect01', kind: 'relay', target: 'connect01.contoso.local', relayId: 'connect01', state: 'late', since: '2026-03-10T11:50:00.000Z',
    lastHeartbeatAt: '2026-03-10T11:45:00.000Z', lastSequence: 7, host: 'connect01.contoso.local', agentVersion: '0.1.0', buffer: { pending: 4, dropped: 0 }, proxy: null,
    lastKeepalive: {
      target: 'https://contoso.servicebus.windows.net/', requiredSeconds: 180, passed: false, finishedAt: '2026-03-10T11:40:00.000Z',
      results: [
        { target: 'https://contoso.servicebus.windows.net/', idleSeconds: 120, startedAt: '2026-03-10T11:30:00.000Z', survived: true, serverKeepAliveSeconds: null, proxy: null },
        { target: 'https://contoso.servicebus.windows.net/', idleSeconds: 240, startedAt: '2026-03-10T11:33:00.000Z', survived: false, died: { how: 'rst', afterSeconds: 230, during: 'idle' }, serverKeepAliveSeconds: null, proxy: null },
      ],
    },
    periodSeconds: 300, graceSeconds: 120,
  },
  { id: 'broken', kind: 'relay', relayId: 'broken', state: 'down' }, // disabled by a wrong WBMON_RELAYS entry
];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Sample lines read back, label values unescaped; also fails on a repeated series. */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  const series = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(m, line).not.toBeNull();
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
    const body = m![2] ?? '';
    let read = 0;
    for (let l = re.exec(body); l; l = re.exec(body)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      read = re.lastIndex;
    }
    expect(read, `labels of ${line}`).toBe(body.length);
    const key = `${m![1]}${JSON.stringify(labels)}`;
    expect(series.has(key), `repeated series ${key}`).toBe(false);
    series.add(key);
    out.push({ name: m![1]!, labels, value: Number(m![3]) });
  }
  return out;
}

function checkWithPromtool(text: string): void {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  expect(`${run.stdout}${run.stderr}`).toBe('');
  expect(run.status).toBe(0);
}

const value = (all: Sample[], name: string, match: Record<string, string>): number | undefined =>
  all.find((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))?.value;

describe('Prometheus metrics', () => {
  const text = renderMetrics(CHECKS, RELAYS, { teams: 3, email: 0 }, NOW);

  it.skipIf(!promtool)(promtool ? 'passes promtool check metrics (parser and linter)' : 'passes promtool check metrics (SKIPPED: promtool not installed; apt-get install prometheus)', () => {
    checkWithPromtool(text);
  });

  it('has HELP and TYPE for each family, and units in the names', () => {
    for (const name of ['wbmon_check_up', 'wbmon_check_state', 'wbmon_probe_phase_seconds', 'wbmon_tls_cert_expiry_timestamp_seconds', 'wbmon_relay_heartbeat_age_seconds', 'wbmon_keepalive_survived_seconds', 'wbmon_alerts_sent_total']) {
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
      expect(text).toMatch(new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'));
    }
    expect(text).toMatch(/^# TYPE wbmon_alerts_sent_total counter$/m);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('has every check and relay, with its state as one of five and up only where there is a verdict', () => {
    const all = samples(text);
    for (const c of CHECKS) {
      const states = all.filter((s) => s.name === 'wbmon_check_state' && s.labels.check === c.id);
      expect(states.map((s) => s.labels.state)).toEqual(['new', 'up', 'late', 'down', 'paused']);
      expect(states.filter((s) => s.value === 1).map((s) => s.labels.state)).toEqual([c.state]);
      expect(states[0]!.labels).toMatchObject({ kind: c.kind, location: c.location, target: c.target });
    }
    for (const r of RELAYS) expect(value(all, 'wbmon_check_state', { check: r.relayId, kind: 'relay', state: r.state })).toBe(1);
    expect(value(all, 'wbmon_check_up', { check: CHECKS[0]!.id })).toBe(1);
    expect(value(all, 'wbmon_check_up', { check: 'heartbeat:connect01' })).toBe(0);
    expect(value(all, 'wbmon_check_up', { check: 'connect01' })).toBe(0); // late
    expect(value(all, 'wbmon_check_up', { check: CHECKS[2]!.id })).toBeUndefined(); // paused
    expect(value(all, 'wbmon_check_up', { check: 'keepalive:connect01' })).toBeUndefined(); // new
    expect(value(all, 'wbmon_check_stale', { check: CHECKS[2]!.id })).toBe(1);
  });

  it('has phase timings in seconds, certificate expiry, heartbeat age, keepalive and alert counts', () => {
    const all = samples(text);
    const cloud = { check: CHECKS[0]!.id };
    expect(all.filter((s) => s.name === 'wbmon_probe_phase_seconds' && s.labels.check === cloud.check).map((s) => [s.labels.phase, s.value])).toEqual([
      ['dns', 0.0015],
      ['tcp', 0.01],
      ['tls', 0.02225],
      ['ttfb', 0.08],
    ]);
    expect(value(all, 'wbmon_probe_duration_seconds', cloud)).toBe(0.1305);
    expect(value(all, 'wbmon_probe_http_status_code', cloud)).toBe(200);
    expect(value(all, 'wbmon_tls_cert_expiry_timestamp_seconds', cloud)).toBe(Date.parse('2026-09-01T00:00:00Z') / 1000);
    expect(value(all, 'wbmon_tls_cert_expiry_timestamp_seconds', { check: CHECKS[2]!.id })).toBeUndefined();
    expect(value(all, 'wbmon_relay_heartbeat_age_seconds', { check: 'connect01', target: 'connect01.contoso.local' })).toBe(900);
    expect(value(all, 'wbmon_relay_heartbeat_age_seconds', { check: 'broken' })).toBeUndefined();
    expect(value(all, 'wbmon_relay_buffer_pending_heartbeats', { check: 'connect01' })).toBe(4);
    const keepalive = { check: 'keepalive:connect01', kind: 'keepalive', location: 'connect01', target: 'https://contoso.servicebus.windows.net/' };
    expect(value(all, 'wbmon_keepalive_survived_seconds', keepalive)).toBe(120);
    expect(value(all, 'wbmon_keepalive_required_seconds', keepalive)).toBe(180);
    expect(value(all, 'wbmon_alerts_sent_total', { channel: 'teams' })).toBe(3);
    expect(value(all, 'wbmon_alerts_sent_total', { channel: 'email' })).toBe(0);
  });

  it('renders an empty monitor as families without samples, still valid', () => {
    const empty = renderMetrics([], [], {}, NOW);
    expect(samples(empty)).toEqual([]);
    if (promtool) checkWithPromtool(empty);
  });

  describe('hostile ids, targets and hosts', () => {
    const SECRETS = ['alice', 's3cret', 'TOKEN', 'frag', 'bob', 'hunter2', 'SAS', 'proxypass'];
    const hostileChecks: StatusEntry[] = [
      { id: 'relay:r1:https://alice:s3cret@sb.example/p?sig=TOKEN#frag', kind: 'relay-probe', target: 'https://alice:s3cret@sb.example/p?sig=TOKEN#frag', location: 'r1', state: 'down', since: null, lastResult: null },
      { id: 'relay:r1:https://sb.example/p?sig=SAS', kind: 'relay-probe', target: 'HTTPS:bob:hunter2@sb.example/p', location: 'r1', state: 'up', since: null, lastResult: null },
      { id: 'cloud:"quoted"\\back\\slash\nnew"line}', kind: 'probe', target: 'https://x.example/\r\n# TYPE injected gauge\ninjected 1', location: 'l"\\\n', state: 'up', since: 'not a time', lastResult: null },
      { id: `relay:r1:https://sb.example/${'a'.repeat(5000)}`, kind: 'relay-probe', target: 'x', location: 'r1', state: 'up', since: null, lastResult: null },
      { id: `relay:r1:https://sb.example/${'a'.repeat(5000)}b`, kind: 'relay-probe', target: 'x', location: 'r1', state: 'up', since: null, lastResult: null },
      { id: 'relay:r1:\u202eevil\u200b\u0000', kind: 'relay-probe', target: 'https:\u200b//alice:s3cret@h/', location: 'r1', state: 'up', since: null, lastResult: null },
    ];
    const hostileRelays: RelayEntry[] = [
      { id: 'r1', relayId: 'r1', kind: 'relay', state: 'up', host: 'proxyuser:proxypass@host?x=TOKEN', lastHeartbeatAt: NOW.toISOString(), lastKeepalive: { target: 'https://alice:s3cret@k.example/?TOKEN', requiredSeconds: 180, passed: true, finishedAt: NOW.toISOString(), results: [{ target: 'x', idleSeconds: 180, startedAt: NOW.toISOString(), survived: true, serverKeepAliveSeconds: null, proxy: 'http://proxyuser:proxypass@p/' }] } },
    ];
    const hostile = renderMetrics(hostileChecks, hostileRelays, { 'teams"\n': 1 }, NOW);

    it.skipIf(!promtool)(promtool ? 'still passes promtool check metrics' : 'still passes promtool check metrics (SKIPPED: promtool not installed; apt-get install prometheus)', () => {
      checkWithPromtool(hostile);
    });

    it("never shows a URL's user, password, query or fragment, nor a proxy", () => {
      for (const secret of SECRETS) expect(hostile).not.toContain(secret);
      const all = samples(hostile);
      expect(value(all, 'wbmon_check_state', { check: 'relay:r1:https://sb.example/p', state: 'down' })).toBe(1);
      expect(value(all, 'wbmon_check_state', { target: 'https://sb.example/p', state: 'down' })).toBe(1);
      expect(value(all, 'wbmon_check_state', { check: 'relay:r1:https://sb.example/p (2)', target: 'HTTPS:sb.example/p', state: 'up' })).toBe(1);
      expect(value(all, 'wbmon_check_state', { check: 'r1', target: 'host', state: 'up' })).toBe(1);
      expect(value(all, 'wbmon_keepalive_survived_seconds', { check: 'keepalive:r1', target: 'https://k.example/' })).toBe(180);
    });

    it('keeps each sample one line: quotes and backslashes escaped, line breaks and controls gone, so nothing is injected', () => {
      const all = samples(hostile);
      expect(all.some((s) => s.name === 'injected')).toBe(false);
      expect(hostile).not.toMatch(/^injected/m);
      expect(hostile).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202e\u200b]/);
      const quoted = all.find((s) => s.name === 'wbmon_check_state' && s.labels.check?.startsWith('cloud:"quoted"'))!;
      expect(quoted.labels.check).toBe('cloud:"quoted"\\back\\slash new"line}');
      expect(quoted.labels.location).toBe('l"\\ ');
      expect(value(all, 'wbmon_alerts_sent_total', { channel: 'teams" ' })).toBe(1);
    });

    it('cuts long ids and keeps series apart when two ids come out the same (a cut, a removed query)', () => {
      const states = samples(hostile).filter((s) => s.name === 'wbmon_check_state' && s.labels.state === 'up');
      const checks = states.map((s) => s.labels.check!);
      expect(new Set(checks).size).toBe(checks.length);
      for (const c of checks) expect(Array.from(c).length).toBeLessThanOrEqual(256 + 4);
      expect(checks.filter((c) => c.startsWith('relay:r1:https://sb.example/aaa'))).toHaveLength(2);
      expect(checks.filter((c) => c.endsWith(' (2)'))).toHaveLength(2);
      expect(checks).toContain('relay:r1:https://sb.example/p (2)'); // the query was all that told it apart
    });
  });

  it('escapes label values as the format asks: backslash, double quote, line feed', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });
});
