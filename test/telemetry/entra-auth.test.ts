/**
 * Telemetry with local authentication off, as infra/ deploys Application Insights: with
 * APPLICATIONINSIGHTS_AUTHENTICATION_STRING `Authorization=AAD;ClientId=<id>` the exporter
 * must post with a token of the user-assigned identity. The child runs the BUILT setup against
 * a loopback stand-in for the App Service identity endpoint (IDENTITY_ENDPOINT and
 * IDENTITY_HEADER, what the platform gives a Function App) and the captured ingestion.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAuthenticationString } from '../../src/telemetry/setup.js';
import { assertBuilt, distPath, useIngestion } from '../support/ingestion.js';

const DIST = distPath('telemetry');
const CLIENT_ID = '11111111-2222-3333-4444-555555555555';
const IDENTITY_HEADER = 'identity-header-from-the-platform';
const TOKEN = 'eyJ0eXAiOiJKV1QifQ.test-token-for-monitor.signature';

describe('parseAuthenticationString', () => {
  it('reads the App Service form, in any order and case', () => {
    expect(parseAuthenticationString(`Authorization=AAD;ClientId=${CLIENT_ID}`)).toEqual({ clientId: CLIENT_ID });
    expect(parseAuthenticationString(`clientid=${CLIENT_ID}; authorization=aad;`)).toEqual({ clientId: CLIENT_ID });
    expect(parseAuthenticationString('Authorization=AAD')).toEqual({});
  });

  it('means instrumentation key only when unset or blank', () => {
    expect(parseAuthenticationString(undefined)).toBeUndefined();
    expect(parseAuthenticationString('  ')).toBeUndefined();
  });

  it('refuses what it cannot honour, naming the setting', () => {
    expect(() => parseAuthenticationString('Authorization=Basic')).toThrow('APPLICATIONINSIGHTS_AUTHENTICATION_STRING: Authorization must be AAD, not "Basic"');
    expect(() => parseAuthenticationString('ClientId')).toThrow('APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "ClientId" is not key=value');
  });
});

interface TokenRequest {
  url: string;
  identityHeader: string | undefined;
}

describe('telemetry with Entra ID authentication', () => {
  const capture = useIngestion('wbmon-entra-');
  const tokenRequests: TokenRequest[] = [];
  let identity: Server;
  let identityEndpoint = '';

  beforeAll(async () => {
    identity = createServer((req, res) => {
      tokenRequests.push({ url: req.url ?? '', identityHeader: req.headers['x-identity-header'] as string | undefined });
      const expiresOn = Math.floor(Date.now() / 1000) + 3600;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: TOKEN, expires_on: String(expiresOn), resource: 'https://monitor.azure.com/', token_type: 'Bearer', client_id: CLIENT_ID }));
    });
    await new Promise<void>((ok) => identity.listen(0, '127.0.0.1', ok));
    identityEndpoint = `http://127.0.0.1:${(identity.address() as AddressInfo).port}/msi/token`;
  });
  afterAll(async () => {
    await new Promise<void>((ok) => identity.close(() => ok()));
  });

  it('posts with a token of the user-assigned identity named in the setting', { timeout: 60_000 }, async () => {
    assertBuilt(DIST, ['setup.js', 'availability.js'], 'telemetry code');
    const url = (file: string) => JSON.stringify(pathToFileURL(join(DIST, file)).href);
    const script = `
import { createRequire } from 'node:module';
const { startTelemetry } = await import(${url('setup.js')});
const { availabilityRecord, emitAvailability } = await import(${url('availability.js')});
const { logs } = createRequire(${JSON.stringify(join(DIST, 'setup.js'))})('@opentelemetry/api-logs');
const handle = await startTelemetry(process.env.APPLICATIONINSIGHTS_CONNECTION_STRING, {
  serviceName: 'wbmon-test',
  authentication: process.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
});
const { inSpan, SpanKind } = await import(${url('tracing.js')});
// Inside a timer-run span, so that spans are exported too (the trace exporter's posts, and the
// token requests they make, are what a tracing instrumentation could see).
await inSpan('probeEndpoints', { kind: SpanKind.SERVER }, async () => {
  emitAvailability(logs.getLogger('writeback-monitor'), availabilityRecord({
    id: 'entra-1',
    identity: { id: 'cloud:https://passwordreset.microsoftonline.com/', kind: 'probe', target: 'https://passwordreset.microsoftonline.com/', location: 'westeurope' },
    result: { ok: true, startedAt: Date.now(), timings: { total: 120 } },
  }));
});
await handle.flush();
// A second flush: had the token request or the post been traced, its span (ended during the
// first) would be exported now.
await handle.flush();
await handle.shutdown();
process.exit(0);
`;
    const ingestion = capture();
    const run = await ingestion.runTelemetryChild(script, {
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: `Authorization=AAD;ClientId=${CLIENT_ID}`,
      IDENTITY_ENDPOINT: identityEndpoint,
      IDENTITY_HEADER,
      OTEL_TRACES_SAMPLER: 'always_on',
    });
    ingestion.expectPosted(run, [IDENTITY_HEADER]);
    const { output } = run;

    expect(tokenRequests.length, output).toBeGreaterThan(0);
    const asked = new URL(tokenRequests[0]!.url, 'http://127.0.0.1');
    expect(asked.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(asked.searchParams.get('resource')).toBe('https://monitor.azure.com');
    expect(tokenRequests[0]!.identityHeader).toBe(IDENTITY_HEADER);

    for (const t of ingestion.tracks()) expect(t.authorization).toBe(`Bearer ${TOKEN}`);
    const envelopes = ingestion.envelopes<{ data: { baseType: string; baseData: { id?: string; name?: string; data?: string } } }>();
    expect(envelopes.filter((e) => e.data.baseType === 'RequestData').map((e) => e.data.baseData.name)).toEqual(['probeEndpoints']);
    const ids = envelopes.filter((e) => e.data.baseType === 'AvailabilityData').map((e) => e.data.baseData.id);
    expect(ids).toEqual(['entra-1']);
    // Neither the token requests nor the exporter's own posts are traced as dependencies.
    const dependencies = envelopes.filter((e) => e.data.baseType === 'RemoteDependencyData').map((e) => `${e.data.baseData.name} ${e.data.baseData.data}`);
    expect(dependencies).toEqual([]);
  });
});
