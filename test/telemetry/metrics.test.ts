/**
 * Metrics: first the exact data points, collected from an in-memory SDK reader; then the proof
 * that the real Azure Monitor exporter posts them as `MetricData` envelopes to the ingestion
 * endpoint (the BUILT code in a child process against a loopback HTTPS capture, as in
 * availability.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import {
  createMeters,
  longestSurvived,
  recordAlertDelivery,
  recordHeartbeatAge,
  recordKeepalive,
  recordProbeMetrics,
  safeTarget,
  type Meters,
} from '../../src/telemetry/metrics.js';
import type { CheckIdentity } from '../../src/checks/state.js';
import type { ProbeResult } from '../../src/probes/result.js';
import type { KeepaliveReport } from '../../src/heartbeat/schema.js';
import { assertBuilt, distPath, useIngestion } from '../support/ingestion.js';

const SECRET = 'planted-relay-secret-4f1d9c';
const TARGET = 'https://passwordreset.microsoftonline.com/';

const identity: CheckIdentity = { id: `cloud:${TARGET}`, kind: 'probe', target: TARGET, location: 'westeurope' };

/** A probe through a proxy: every phase ran. */
const probe: ProbeResult = {
  target: TARGET,
  ok: true,
  startedAt: '2026-05-04T10:00:01.000Z',
  warnings: [],
  timings: { dns: 2, proxy: 5, tcp: 8, tls: 25, ttfb: 90, total: 1250 },
  proxy: 'http://proxy.contoso.local:3128',
  tls: {
    protocol: 'TLSv1.3',
    subject: 'CN=passwordreset.microsoftonline.com',
    issuer: 'CN=Microsoft Azure RSA TLS Issuing CA 04',
    validTo: '2026-08-01T00:00:00.000Z',
    daysToExpiry: 88,
    authorized: true,
    hostnameValid: true,
  },
  http: { status: 200 },
};

const keepalive: KeepaliveReport = {
  target: 'https://ssprdedicatedsbprodscu.servicebus.windows.net/',
  requiredSeconds: 240,
  passed: false,
  finishedAt: '2026-05-04T10:10:00.000Z',
  results: [
    { target: 'https://ssprdedicatedsbprodscu.servicebus.windows.net/', idleSeconds: 60, startedAt: '2026-05-04T10:00:00.000Z', survived: true, serverKeepAliveSeconds: null, proxy: null },
    { target: 'https://ssprdedicatedsbprodscu.servicebus.windows.net/', idleSeconds: 120, startedAt: '2026-05-04T10:01:00.000Z', survived: true, serverKeepAliveSeconds: null, proxy: null },
    {
      target: 'https://ssprdedicatedsbprodscu.servicebus.windows.net/',
      idleSeconds: 240,
      startedAt: '2026-05-04T10:03:00.000Z',
      survived: false,
      died: { how: 'rst', afterSeconds: 230, during: 'idle' },
      serverKeepAliveSeconds: null,
      blame: 'network',
      proxy: null,
    },
  ],
};

/** Everything the tests record, the same in-process and in the child. */
function recordAll(meters: Meters): void {
  recordProbeMetrics(meters, identity, probe);
  recordHeartbeatAge(meters, 'relay-01', 42);
  recordKeepalive(meters, 'relay-01', keepalive);
  recordAlertDelivery(meters, 'email', 'sent');
  recordAlertDelivery(meters, 'email', 'sent');
  recordAlertDelivery(meters, 'teams', 'sent');
  recordAlertDelivery(meters, 'teams', 'failed');
}

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

async function collect(record: (meters: Meters) => void): Promise<Map<string, MetricData>> {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  record(createMeters(provider.getMeter('writeback-monitor')));
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  await provider.shutdown();
  const scopes = resourceMetrics.scopeMetrics;
  for (const s of scopes) expect(s.scope.name).toBe('writeback-monitor');
  return new Map(scopes.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
}

function points(metric: MetricData | undefined): { attributes: unknown; value: unknown }[] {
  expect(metric).toBeDefined();
  return metric!.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }));
}

describe('metrics data points', () => {
  it('records every instrument with exact names, units, attributes and values', async () => {
    const got = await collect(recordAll);
    expect([...got.keys()].sort()).toEqual([
      'wbmon.alerts.failed',
      'wbmon.alerts.sent',
      'wbmon.relay.heartbeat_age',
      'wbmon.relay.keepalive_longest_survived',
      'wbmon.tls.days_remaining',
    ]);

    const tls = got.get('wbmon.tls.days_remaining')!;
    expect(tls.descriptor.unit).toBe('d');
    expect(tls.dataPointType).toBe(DataPointType.GAUGE);
    expect(points(tls)).toEqual([{ attributes: { target: TARGET, location: 'westeurope' }, value: 88 }]);

    const age = got.get('wbmon.relay.heartbeat_age')!;
    expect(age.descriptor.unit).toBe('s');
    expect(age.dataPointType).toBe(DataPointType.GAUGE);
    expect(points(age)).toEqual([{ attributes: { relay: 'relay-01' }, value: 42 }]);

    const survived = got.get('wbmon.relay.keepalive_longest_survived')!;
    expect(survived.descriptor.unit).toBe('s');
    expect(survived.dataPointType).toBe(DataPointType.GAUGE);
    expect(points(survived)).toEqual([{ attributes: { relay: 'relay-01' }, value: 120 }]);

    for (const name of ['wbmon.alerts.sent', 'wbmon.alerts.failed']) {
      expect(got.get(name)!.descriptor.unit).toBe('{alert}');
      expect(got.get(name)!.dataPointType).toBe(DataPointType.SUM);
    }
    const byChannel = (name: string) =>
      Object.fromEntries(points(got.get(name)).map((p) => [(p.attributes as { channel: string }).channel, p.value]));
    expect(byChannel('wbmon.alerts.sent')).toEqual({ email: 2, teams: 1 });
    expect(byChannel('wbmon.alerts.failed')).toEqual({ teams: 1 });
  });

  it('keeps the last gauge value per target and location', async () => {
    const got = await collect((m) => {
      recordProbeMetrics(m, identity, { ...probe, tls: { ...probe.tls!, daysToExpiry: 30 } });
      recordProbeMetrics(m, identity, { ...probe, tls: { ...probe.tls!, daysToExpiry: 29 } });
      recordProbeMetrics(m, { ...identity, location: 'relay-01', kind: 'relay-probe' }, { ...probe, tls: { ...probe.tls!, daysToExpiry: -1 } });
      recordHeartbeatAge(m, 'relay-01', 10);
      recordHeartbeatAge(m, 'relay-01', 70);
      recordHeartbeatAge(m, 'relay-02', -3); // clock skew: never a negative age
    });
    expect(points(got.get('wbmon.tls.days_remaining'))).toEqual([
      { attributes: { target: TARGET, location: 'westeurope' }, value: 29 },
      { attributes: { target: TARGET, location: 'relay-01' }, value: -1 },
    ]);
    expect(points(got.get('wbmon.relay.heartbeat_age'))).toEqual([
      { attributes: { relay: 'relay-01' }, value: 70 },
      { attributes: { relay: 'relay-02' }, value: 0 },
    ]);
  });

  it('records no phase durations (the availability results carry them), and nothing for a result without timings', async () => {
    const got = await collect((m) => {
      const failed: ProbeResult = {
        target: TARGET,
        ok: false,
        startedAt: '2026-05-04T10:00:00.000Z',
        failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer' },
        warnings: [],
        timings: { dns: 3, tcp: 10_000, total: 10_004 },
        proxy: null,
      };
      recordProbeMetrics(m, identity, failed);
      recordProbeMetrics(m, { id: 'heartbeat:relay-01', kind: 'heartbeat', target: 'relay-01', location: 'relay-01' }, {
        ok: false,
        startedAt: '2026-05-04T10:00:00.000Z',
        failure: { code: 'heartbeat_missing', phase: 'heartbeat', message: 'no heartbeat for 600 s' },
      });
    });
    expect([...got.keys()]).toEqual([]);
  });

  it('strips credentials, query and fragment from targets', async () => {
    expect(safeTarget(TARGET)).toBe(TARGET);
    expect(safeTarget('https://passwordreset.microsoftonline.com')).toBe('https://passwordreset.microsoftonline.com');
    expect(safeTarget(`https://user:${SECRET}@example.com/path?sig=${SECRET}#frag`)).toBe('https://example.com/path');
    expect(safeTarget(`https://example.com/?code=${SECRET}`)).toBe('https://example.com/');
    expect(safeTarget('dc01.contoso.local:389')).toBe('dc01.contoso.local:389');
    expect(safeTarget(`admin:${SECRET}@dc01.contoso.local:389?x=${SECRET}`)).toBe('dc01.contoso.local:389');
    const got = await collect((m) => recordProbeMetrics(m, { ...identity, target: `https://u:${SECRET}@example.com/?k=${SECRET}` }, probe));
    expect(JSON.stringify([...got.values()].map((m) => m.dataPoints.map((p) => p.attributes)))).not.toContain(SECRET);
  });

  it('takes 0 as the longest survived when no idle length survived', () => {
    expect(longestSurvived(keepalive)).toBe(120);
    expect(longestSurvived({ results: keepalive.results.map((r) => ({ ...r, survived: false })) })).toBe(0);
  });
});

// ---- The proof: real exporter, captured ingestion -------------------------------------------

const DIST = distPath('telemetry');

/** The child: start telemetry from the built code, record the same metrics, flush, shut down. */
function childScript(): string {
  const url = (file: string) => JSON.stringify(pathToFileURL(join(DIST, file)).href);
  return `
const { startTelemetry } = await import(${url('setup.js')});
const m = await import(${url('metrics.js')});
const handle = await startTelemetry(process.env.APPLICATIONINSIGHTS_CONNECTION_STRING, { serviceName: 'wbmon-test' });
if (!handle.enabled) throw new Error('telemetry not enabled');
const meters = m.createMeters();
const identity = ${JSON.stringify(identity)};
m.recordProbeMetrics(meters, identity, ${JSON.stringify(probe)});
m.recordHeartbeatAge(meters, 'relay-01', 42);
m.recordKeepalive(meters, 'relay-01', ${JSON.stringify(keepalive)});
m.recordAlertDelivery(meters, 'email', 'sent');
m.recordAlertDelivery(meters, 'email', 'sent');
m.recordAlertDelivery(meters, 'teams', 'sent');
m.recordAlertDelivery(meters, 'teams', 'failed');
await handle.flush();
await handle.shutdown();
console.log('child done');
process.exit(0);
`;
}

interface MetricEnvelope {
  name: string;
  data: {
    baseType: string;
    baseData: { metrics: { name: string; value: number; count?: number; min?: number; max?: number }[]; properties: Record<string, string> };
  };
}

describe('metrics through the Azure Monitor exporter', () => {
  const capture = useIngestion('wbmon-metrics-');

  it('posts one MetricData envelope per data point, with no secret', { timeout: 60_000 }, async () => {
    assertBuilt(DIST, ['setup.js', 'metrics.js'], 'telemetry code');
    const ingestion = capture();
    const run = await ingestion.runTelemetryChild(childScript(), {
      WBMON_RELAY_SECRET: SECRET, // planted: the telemetry must never read it
    });
    ingestion.expectPosted(run, [SECRET]);

    const ours = ingestion.envelopes<MetricEnvelope>().filter(
      (e) => e.data?.baseType === 'MetricData' && e.data.baseData.metrics.some((m) => m.name.startsWith('wbmon.')),
    );
    for (const e of ours) {
      expect(e.name).toBe('Microsoft.ApplicationInsights.Metric');
      expect(e.data.baseData.metrics).toHaveLength(1);
    }
    const find = (name: string, props: Record<string, string>) =>
      ours.filter((e) => e.data.baseData.metrics[0]!.name === name && Object.entries(props).every(([k, v]) => e.data.baseData.properties[k] === v));

    expect(ours.filter((e) => e.data.baseData.metrics[0]!.name === 'wbmon.probe.phase.duration')).toEqual([]);
    const one = (name: string, props: Record<string, string>) => {
      const found = find(name, props);
      expect(found, name).toHaveLength(1);
      expect(found[0]!.data.baseData.properties).toEqual(props);
      return found[0]!.data.baseData.metrics[0]!.value;
    };
    expect(one('wbmon.tls.days_remaining', { target: TARGET, location: 'westeurope' })).toBe(88);
    expect(one('wbmon.relay.heartbeat_age', { relay: 'relay-01' })).toBe(42);
    expect(one('wbmon.relay.keepalive_longest_survived', { relay: 'relay-01' })).toBe(120);
    expect(one('wbmon.alerts.sent', { channel: 'email' })).toBe(2);
    expect(one('wbmon.alerts.sent', { channel: 'teams' })).toBe(1);
    expect(one('wbmon.alerts.failed', { channel: 'teams' })).toBe(1);
  });
});
