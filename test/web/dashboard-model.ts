/** Status page models for tests: checks with 90 days of history, relays, open and ended incidents. */
import { remediationFor } from '../../src/alerting/remediation.js';
import type { BucketView } from '../../src/history/view.js';
import type { DashboardCheck, DashboardIncident, DashboardModel, DashboardRelay } from '../../src/web/dashboard.js';

export const NOW = new Date('2026-03-31T12:00:00.000Z');
const DAY = 86_400_000;
const HOUR = 3_600_000;

function bucket(start: number, runs: number, failures: number, p50: number | null): BucketView {
  return {
    start: new Date(start).toISOString(),
    runs,
    failures,
    uptime: runs === 0 ? null : (runs - failures) / runs,
    p50Ms: p50,
    p95Ms: p50 === null ? null : p50 * 1.4,
    ttfbP50Ms: p50 === null ? null : p50 / 2,
    ttfbP95Ms: p50 === null ? null : p50 * 0.7,
  };
}

/** `days` daily buckets ending today: 288 runs a day, a few failures on every 13th day. */
export function dailyBuckets(days: number, now = NOW, failuresOf: (day: number) => number = (d) => (d % 13 === 5 ? 3 : 0)): BucketView[] {
  const today = Math.floor(now.getTime() / DAY) * DAY;
  return Array.from({ length: days }, (_, d) => bucket(today - (days - 1 - d) * DAY, 288, failuresOf(d), 80));
}

export function hourlyBuckets(now = NOW): BucketView[] {
  const hour = Math.floor(now.getTime() / HOUR) * HOUR;
  return Array.from({ length: 48 }, (_, h) => bucket(hour - (47 - h) * HOUR, 12, 0, 70 + ((h * 37) % 41)));
}

export function probeCheck(id: string, target: string, overrides: Partial<DashboardCheck> = {}): DashboardCheck {
  return {
    id,
    kind: 'probe',
    target,
    location: 'westeurope',
    state: 'up',
    since: '2026-03-30T10:00:00.000Z',
    lastResult: {
      target,
      ok: true,
      startedAt: '2026-03-31T11:55:00.000Z',
      warnings: [],
      timings: { dns: 3.2, tcp: 10.5, tls: 20.1, ttfb: 40.3, total: 80.7 },
      proxy: null,
      http: { status: 200 },
    },
    daily: dailyBuckets(90),
    hourly: hourlyBuckets(),
    incidents: [],
    ...overrides,
  };
}

/** A down check with its open incident (and its remediation), and an ended one of last week. */
export function downCheck(id: string, target: string, kind = 'probe', location = 'westeurope'): DashboardCheck {
  const failure = { code: 'tls_untrusted' as const, phase: 'tls' as const, message: 'the chain does not lead to a trusted root' };
  const open: DashboardIncident = {
    from: 'up',
    to: 'down',
    at: '2026-03-31T11:20:00.000Z',
    until: null,
    code: failure.code,
    phase: failure.phase,
    message: failure.message,
    remediation: remediationFor({ checkKind: kind, location, target, code: failure.code, phase: failure.phase, message: failure.message }),
  };
  const ended: DashboardIncident = { from: 'up', to: 'down', at: '2026-03-27T08:00:00.000Z', until: '2026-03-27T08:20:00.000Z', code: 'tcp_timeout', phase: 'tcp', message: 'no answer to SYN' };
  return probeCheck(id, target, {
    kind,
    location,
    state: 'down',
    since: open.at,
    lastResult: { target, ok: false, startedAt: '2026-03-31T11:55:00.000Z', warnings: [], failure, timings: { dns: 2, tcp: 9, total: 31 }, proxy: null },
    incidents: [open, ended],
  });
}

export function relay(relayId: string, overrides: Partial<DashboardRelay> = {}): DashboardRelay {
  return {
    id: relayId,
    kind: 'relay',
    relayId,
    target: 'connect01.corp.example',
    state: 'up',
    since: '2026-03-01T00:00:00.000Z',
    lastHeartbeatAt: '2026-03-31T11:58:00.000Z',
    lastSequence: 42,
    host: 'connect01.corp.example',
    agentVersion: '0.1.0',
    buffer: { pending: 3, dropped: 0 },
    proxy: null,
    lastKeepalive: {
      target: 'https://passwordreset.microsoftonline.com/',
      requiredSeconds: 180,
      passed: true,
      finishedAt: '2026-03-31T11:40:00.000Z',
      results: [
        { target: 'https://passwordreset.microsoftonline.com/', idleSeconds: 180, startedAt: '2026-03-31T11:30:00.000Z', survived: true, serverKeepAliveSeconds: null, proxy: null },
        { target: 'https://passwordreset.microsoftonline.com/', idleSeconds: 360, startedAt: '2026-03-31T11:33:00.000Z', survived: false, died: { how: 'rst', afterSeconds: 300, during: 'idle' }, serverKeepAliveSeconds: null, proxy: null },
      ],
    },
    periodSeconds: 300,
    graceSeconds: 120,
    ...overrides,
  };
}

export function model(checks: DashboardCheck[], relays: DashboardRelay[] = [], overrides: Partial<DashboardModel> = {}): DashboardModel {
  return { generatedAt: NOW.toISOString(), refreshSeconds: 60, days: 90, checks, relays, ...overrides };
}

/**
 * 50 checks as a large set-up has them: 10 cloud probes, 3 relays with a heartbeat, a keepalive,
 * an event log, a DC and 9 relay probes each, one tenant check; two are down with open
 * incidents. Every check has 90 full days of history.
 */
export function fiftyChecks(): DashboardModel {
  const host = (i: number): string => `https://ssprdedicatedsbprod${String(i).padStart(3, '0')}.servicebus.windows.net/`;
  const checks: DashboardCheck[] = [];
  for (let i = 0; i < 10; i++) checks.push(i === 3 ? downCheck(`cloud:${host(i)}`, host(i)) : probeCheck(`cloud:${host(i)}`, host(i)));
  const relays = ['connect01', 'connect02', 'connect03'];
  for (const r of relays) {
    checks.push(probeCheck(`heartbeat:${r}`, r, { kind: 'heartbeat', location: r, lastResult: { ok: true, startedAt: '2026-03-31T11:58:00.000Z' } }));
    checks.push(probeCheck(`keepalive:${r}`, host(0), { kind: 'keepalive', location: r, lastResult: { ok: true, startedAt: '2026-03-31T11:40:00.000Z' } }));
    checks.push(probeCheck(`eventlog:${r}`, 'Application log, PasswordResetService', { kind: 'eventlog', location: r, lastResult: { ok: true, startedAt: '2026-03-31T11:58:00.000Z' } }));
    checks.push(probeCheck(`dc:${r}`, 'dc01.corp.example', { kind: 'dc', location: r, lastResult: { ok: true, startedAt: '2026-03-31T11:58:00.000Z' } }));
    for (let i = 10; i < 19; i++) {
      const id = `relay:${r}:${host(i)}`;
      checks.push(r === 'connect02' && i === 12 ? downCheck(id, host(i), 'relay-probe', r) : probeCheck(id, host(i), { kind: 'relay-probe', location: r }));
    }
  }
  checks.push(probeCheck('tenant:sync', 'directory synchronization', { kind: 'tenant', location: 'tenant', lastResult: { ok: true, startedAt: '2026-03-31T11:00:00.000Z' } }));
  return model(checks, relays.map((r) => relay(r)));
}
