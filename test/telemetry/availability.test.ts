/**
 * Availability results: the pure mapping, then the proof that the real exporter turns it into
 * Application Insights `AvailabilityData` envelopes. The proof runs the BUILT code in a child
 * process against a loopback HTTPS capture of the ingestion endpoint (the exporter always
 * posts over https, so the capture is trusted through NODE_EXTRA_CA_CERTS).
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { availabilityRecord, toTimeSpan, type AvailabilityInput } from '../../src/telemetry/availability.js';
import { startTelemetry } from '../../src/telemetry/setup.js';
import { assertBuilt, distPath, useIngestion } from '../support/ingestion.js';

const SECRET = 'planted-relay-secret-4f1d9c';
const RELAY_ID = 'relay-01';
const RELAY_TARGET = 'https://ssprdedicatedsbprodscu.servicebus.windows.net/';
const CLOUD_TARGET = 'https://passwordreset.microsoftonline.com/';

/** A relay that could not validate the Service Bus certificate (TLS inspection). */
const failedRelay: AvailabilityInput = {
  id: '11111111-1111-4111-8111-111111111111',
  maintenance: true, // inside a WBMON_MAINTENANCE window when it ran
  identity: { id: `relay:${RELAY_ID}:${RELAY_TARGET}`, kind: 'relay-probe', target: RELAY_TARGET, location: RELAY_ID },
  result: {
    target: RELAY_TARGET,
    ok: false,
    startedAt: '2026-05-04T10:00:00.000Z',
    failure: { code: 'tls_untrusted', phase: 'tls', message: 'unable to get local issuer certificate' },
    warnings: [],
    timings: { dns: 3, tcp: 12, tls: 40, total: 61 },
    proxy: null,
  },
};

/** The cloud reaching the SSPR front door. */
const goodCloud: AvailabilityInput = {
  id: '22222222-2222-4222-8222-222222222222',
  maintenance: false,
  identity: { id: `cloud:${CLOUD_TARGET}`, kind: 'probe', target: CLOUD_TARGET, location: 'westeurope' },
  result: {
    target: CLOUD_TARGET,
    ok: true,
    startedAt: '2026-05-04T10:00:01.000Z',
    warnings: [],
    timings: { dns: 2, tcp: 8, tls: 25, ttfb: 90, total: 1250 },
    proxy: null,
    http: { status: 200 },
  },
};

const RELAY_DIMENSIONS = {
  target: RELAY_TARGET,
  checkKind: 'relay-probe',
  maintenance: true,
  relay: RELAY_ID,
  failureCode: 'tls_untrusted',
  failurePhase: 'tls',
  dnsMs: 3,
  tcpMs: 12,
  tlsMs: 40,
  totalMs: 61,
};
const CLOUD_DIMENSIONS = {
  target: CLOUD_TARGET,
  checkKind: 'probe',
  maintenance: false,
  httpStatus: 200,
  dnsMs: 2,
  tcpMs: 8,
  tlsMs: 25,
  ttfbMs: 90,
  totalMs: 1250,
};
const RELAY_MESSAGE = 'tls_untrusted in tls: unable to get local issuer certificate';

describe('availabilityRecord', () => {
  it('maps a failed relay probe', () => {
    expect(availabilityRecord(failedRelay)).toEqual({
      timestamp: new Date('2026-05-04T10:00:00.000Z'),
      body: RELAY_MESSAGE,
      attributes: {
        'microsoft.availability.id': failedRelay.id,
        'microsoft.availability.name': `relay:${RELAY_ID}:${RELAY_TARGET}`,
        'microsoft.availability.duration': '00:00:00.061',
        'microsoft.availability.success': false,
        'microsoft.availability.runLocation': RELAY_ID,
        'microsoft.availability.message': RELAY_MESSAGE,
        ...RELAY_DIMENSIONS,
      },
    });
  });

  it('maps a good cloud probe', () => {
    expect(availabilityRecord(goodCloud)).toEqual({
      timestamp: new Date('2026-05-04T10:00:01.000Z'),
      body: 'ok',
      attributes: {
        'microsoft.availability.id': goodCloud.id,
        'microsoft.availability.name': `cloud:${CLOUD_TARGET}`,
        'microsoft.availability.duration': '00:00:01.250',
        'microsoft.availability.success': true,
        'microsoft.availability.runLocation': 'westeurope',
        'microsoft.availability.message': 'ok',
        ...CLOUD_DIMENSIONS,
      },
    });
  });

  it('formats durations as TimeSpans', () => {
    expect(toTimeSpan(0)).toBe('00:00:00.000');
    expect(toTimeSpan(61_000.4)).toBe('00:01:01.000');
    expect(toTimeSpan(90_061_001)).toBe('1.01:01:01.001');
    expect(toTimeSpan(-5)).toBe('00:00:00.000');
  });
});

describe('startTelemetry', () => {
  it('is a no-op without a connection string', async () => {
    const handle = await startTelemetry(undefined);
    expect(handle.enabled).toBe(false);
    await handle.flush();
    await handle.shutdown();
  });
});

// ---- The proof: real exporter, captured ingestion -------------------------------------------

const DIST = distPath('telemetry');

/** The child: start telemetry from the built code, emit two results, shut down. */
function childScript(): string {
  const url = (file: string) => JSON.stringify(pathToFileURL(join(DIST, file)).href);
  return `
import { createRequire } from 'node:module';
const { startTelemetry } = await import(${url('setup.js')});
const { availabilityRecord, emitAvailability } = await import(${url('availability.js')});
// The same api-logs the built code resolves (its global provider is shared by symbol anyway).
const { logs } = createRequire(${JSON.stringify(join(DIST, 'setup.js'))})('@opentelemetry/api-logs');
const handle = await startTelemetry(process.env.APPLICATIONINSIGHTS_CONNECTION_STRING, { serviceName: 'wbmon-test' });
if (!handle.enabled) throw new Error('telemetry not enabled');
const logger = logs.getLogger('writeback-monitor');
for (const input of ${JSON.stringify([failedRelay, goodCloud])}) emitAvailability(logger, availabilityRecord(input));
await handle.flush();
await handle.shutdown();
console.log('child done');
process.exit(0);
`;
}

describe('availability results through the Azure Monitor exporter', () => {
  const capture = useIngestion('wbmon-telemetry-');

  it('posts one AvailabilityData envelope per result, with no secret', { timeout: 60_000 }, async () => {
    assertBuilt(DIST, ['setup.js', 'availability.js'], 'telemetry code');
    const ingestion = capture();
    const run = await ingestion.runTelemetryChild(childScript(), {
      WBMON_RELAY_SECRET: SECRET, // planted: the telemetry must never read it
    });
    ingestion.expectPosted(run, [SECRET]);

    const envelopes = ingestion.envelopes<{
      name: string;
      iKey?: string;
      time: string;
      data: { baseType: string; baseData: Record<string, unknown> };
    }>();
    const availability = envelopes.filter((e) => e.data?.baseType === 'AvailabilityData');
    const byId = (id: string) => availability.filter((e) => e.data.baseData['id'] === id);
    expect(byId(failedRelay.id)).toHaveLength(1);
    expect(byId(goodCloud.id)).toHaveLength(1);

    const relay = byId(failedRelay.id)[0]!;
    expect(relay.name).toBe('Microsoft.ApplicationInsights.Availability');
    expect(new Date(relay.time).toISOString()).toBe('2026-05-04T10:00:00.000Z');
    expect(relay.data.baseData).toMatchObject({
      name: `relay:${RELAY_ID}:${RELAY_TARGET}`,
      runLocation: RELAY_ID,
      success: false,
      duration: '00:00:00.061',
      message: RELAY_MESSAGE,
    });
    expect(relay.data.baseData['properties']).toEqual(stringified(RELAY_DIMENSIONS));

    const cloud = byId(goodCloud.id)[0]!;
    expect(new Date(cloud.time).toISOString()).toBe('2026-05-04T10:00:01.000Z');
    expect(cloud.data.baseData).toMatchObject({
      name: `cloud:${CLOUD_TARGET}`,
      runLocation: 'westeurope',
      success: true,
      duration: '00:00:01.250',
      message: 'ok',
    });
    expect(cloud.data.baseData['properties']).toEqual(stringified(CLOUD_DIMENSIONS));
    for (const e of availability) expect(e.data.baseData['duration']).toMatch(/^(\d+\.)?\d\d:\d\d:\d\d\.\d{3}$/);
  });
});

/** Custom dimensions arrive as strings. */
function stringified(o: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, String(v)]));
}
