/**
 * Traces: a span per probe (CLIENT, marked by its result) and per timer run, errors recorded on
 * the span. An in-memory SDK exporter (test-only import) captures what the API produced.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { probeAll, type ProbeSettings } from '../../src/monitor/probe-cycle.js';
import type { PhaseTimings } from '../../src/probes/result.js';
import { inSpan } from '../../src/telemetry/tracing.js';
import { assertBuilt, distPath, useIngestion } from '../support/ingestion.js';
import { respond, startHttp, type Running } from '../support/servers.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();
let good: Running;
let refusedPort: number;

const settings: ProbeSettings = { probeTimeoutMs: 5000, proxyUrl: undefined, env: {} };

beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  trace.setGlobalTracerProvider(provider);
  good = await startHttp(respond(200));
  // A port that was just listening and is now closed: connecting to it is refused.
  const closed: Server = createServer();
  await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
  refusedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((ok) => closed.close(() => ok()));
});

afterEach(() => exporter.reset());

afterAll(async () => {
  await good.close();
  await provider.shutdown();
  trace.disable();
  context.disable();
});

describe('probe spans', () => {
  it('opens one CLIENT span per probe, marked by its result, inside the timer run span', async () => {
    const okTarget = `http://127.0.0.1:${good.port}/`;
    const refusedTarget = `http://127.0.0.1:${refusedPort}/`;
    const results = await inSpan('probeEndpoints', { kind: SpanKind.SERVER }, () => probeAll([okTarget, refusedTarget], settings));
    expect(results.map((r) => [r.ok, r.failure?.code])).toEqual([
      [true, undefined],
      [false, 'tcp_refused'],
    ]);

    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual([`probe 127.0.0.1:${good.port}`, `probe 127.0.0.1:${refusedPort}`, 'probeEndpoints'].sort());
    const byName = (name: string) => spans.find((s) => s.name === name)!;
    const root = byName('probeEndpoints');
    const okSpan = byName(`probe 127.0.0.1:${good.port}`);
    const failed = byName(`probe 127.0.0.1:${refusedPort}`);

    expect(root.kind).toBe(SpanKind.SERVER);
    expect(root.status.code).toBe(SpanStatusCode.UNSET);
    for (const probe of [okSpan, failed]) {
      expect(probe.kind).toBe(SpanKind.CLIENT);
      expect(probe.spanContext().traceId).toBe(root.spanContext().traceId);
      expect(probe.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    }

    const okResult = results[0]!;
    expect(okSpan.attributes).toEqual({
      target: okTarget,
      ok: true,
      httpStatus: 200,
      ...timingAttributes(okResult.timings),
    });
    expect(okSpan.status.code).toBe(SpanStatusCode.UNSET);

    const failedResult = results[1]!;
    expect(failed.attributes).toEqual({
      target: refusedTarget,
      ok: false,
      failureCode: 'tcp_refused',
      failurePhase: 'tcp',
      ...timingAttributes(failedResult.timings),
    });
    expect(failed.attributes['totalMs']).toBeTypeOf('number');
    expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: 'tcp_refused in tcp' });
    expect(failed.events).toEqual([]); // a failed probe is a result, not an exception
  });
});

describe('inSpan', () => {
  it('records a thrown error on the span, sets ERROR and rethrows', async () => {
    const boom = new Error('store unavailable');
    await expect(
      inSpan('evaluateHeartbeats', { kind: SpanKind.SERVER, attributes: { run: 'test' } }, async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);

    const [span, ...rest] = exporter.getFinishedSpans();
    expect(rest).toEqual([]);
    expect(span!.name).toBe('evaluateHeartbeats');
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.attributes).toEqual({ run: 'test' });
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'store unavailable' });
    expect(span!.events.map((e) => e.name)).toEqual(['exception']);
    expect(span!.events[0]!.attributes).toMatchObject({ 'exception.type': 'Error', 'exception.message': 'store unavailable' });
    expect(span!.ended).toBe(true);
  });

  it('returns the value and ends the span when fn succeeds', async () => {
    expect(await inSpan('work', {}, (span) => (span.isRecording() ? 42 : 0))).toBe(42);
    const [span] = exporter.getFinishedSpans();
    expect(span!.kind).toBe(SpanKind.INTERNAL);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  });
});

/** The phase timings a result carries, under their span attribute names. */
function timingAttributes(timings: PhaseTimings): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [field, value] of Object.entries(timings)) if (value !== undefined) out[`${field}Ms`] = value;
  return out;
}

// ---- The proof: real exporter, captured ingestion (as in availability.test.ts) --------------

const DIST = distPath();

interface Envelope {
  name: string;
  tags: Record<string, string>;
  data: { baseType: string; baseData: Record<string, unknown> };
}

/** The child: telemetry from the built code, one probe cycle inside a timer-run span, flush. */
function childScript(targets: string[]): string {
  const url = (file: string) => JSON.stringify(pathToFileURL(join(DIST, file)).href);
  return `
const { startTelemetry } = await import(${url('telemetry/setup.js')});
const handle = await startTelemetry(process.env.APPLICATIONINSIGHTS_CONNECTION_STRING, { serviceName: 'wbmon-test' });
if (!handle.enabled) throw new Error('telemetry not enabled');
const { pipelineObserver } = await import(${url('telemetry/observer.js')});
const { inSpan, SpanKind } = await import(${url('telemetry/tracing.js')});
const { runProbeCycle } = await import(${url('monitor/probe-cycle.js')});
const { parseSettings } = await import(${url('config/settings.js')});
const { MemoryStore } = await import(${url('store/memory-store.js')});
const settings = parseSettings({ WBMON_TARGETS: ${JSON.stringify(targets.join(','))} });
const store = new MemoryStore();
await store.ready();
// A maintenance window over the relay's probe only (WBMON_MAINTENANCE as the app reads it).
const { windows } = (await import(${url('alerting/maintenance.js')})).parseMaintenance(JSON.stringify([
  { start: new Date(Date.now() - 3_600_000).toISOString(), end: new Date(Date.now() + 3_600_000).toISOString(), checks: ['relay:connect01:*'] },
]));
const observer = pipelineObserver(handle, windows);
await inSpan('probeEndpoints', { kind: SpanKind.SERVER }, () => runProbeCycle(settings, store, 'westeurope', { observe: observer.result }));
// A heartbeat evaluation too: relay-reported results and the relay's dead-man's switch.
const { ingestHeartbeat } = await import(${url('heartbeat/ingest.js')});
const { evaluateHeartbeats } = await import(${url('monitor/evaluate-heartbeats.js')});
const relaySettings = parseSettings({ WBMON_RELAYS: JSON.stringify({ connect01: { secret: 'x'.repeat(40) } }) });
const now = new Date();
await ingestHeartbeat(store, 'connect01', {
  version: 1, relayId: 'connect01', sequence: 1, sentAt: now.toISOString(), host: 'connect01.corp.example', agentVersion: '0.1.0',
  results: [{ target: 'https://ssprdedicatedsbprodscu.servicebus.windows.net/', ok: false, startedAt: now.toISOString(), warnings: [],
    timings: { dns: 2, tcp: 21000, total: 21002 }, proxy: null, failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer' } }],
}, now);
await inSpan('evaluateHeartbeats', { kind: SpanKind.SERVER }, () =>
  evaluateHeartbeats(relaySettings, store, new Date(now.getTime() + 1000), { observe: observer.result, onRelay: observer.relay }));
await handle.flush();
await handle.shutdown();
console.log('child done');
process.exit(0);
`;
}

describe('traces through the Azure Monitor exporter', () => {
  const capture = useIngestion('wbmon-traces-');

  it('posts each timer run as a request, each probe as a dependency, and the availability results of a probe cycle and a heartbeat evaluation, correlated, each saying whether its check was in maintenance', { timeout: 60_000 }, async () => {
    assertBuilt(DIST, ['telemetry/setup.js', 'telemetry/tracing.js', 'monitor/probe-cycle.js'], 'code');
    const ingestion = capture();
    const okTarget = `http://127.0.0.1:${good.port}/`;
    const refusedTarget = `http://127.0.0.1:${refusedPort}/`;
    const { code, output } = await ingestion.runTelemetryChild(childScript([okTarget, refusedTarget]), {
      OTEL_TRACES_SAMPLER: 'always_on', // the default rate-limited sampler would make this a lottery
    });
    expect(code, output).toBe(0);
    const envelopes = ingestion.envelopes<Envelope>();
    const named = (baseType: string, name: string) => envelopes.filter((e) => e.data?.baseType === baseType && e.data.baseData['name'] === name);

    const requests = named('RequestData', 'probeEndpoints');
    expect(requests, `captured: ${envelopes.map((e) => e.data?.baseType).join(', ')}\n${output}`).toHaveLength(1);
    const request = requests[0]!;
    const operationId = request.tags['ai.operation.id'];
    expect(operationId).toMatch(/^[0-9a-f]{32}$/);
    expect(request.data.baseData['success']).toBe(true);

    const okDependency = named('RemoteDependencyData', `probe 127.0.0.1:${good.port}`);
    const failedDependency = named('RemoteDependencyData', `probe 127.0.0.1:${refusedPort}`);
    expect(okDependency).toHaveLength(1);
    expect(failedDependency).toHaveLength(1);
    expect(okDependency[0]!.data.baseData).toMatchObject({ success: true, properties: { target: okTarget, ok: 'true', httpStatus: '200' } });
    expect(failedDependency[0]!.data.baseData).toMatchObject({
      success: false,
      properties: { target: refusedTarget, ok: 'false', failureCode: 'tcp_refused', failurePhase: 'tcp' },
    });

    const okAvailability = named('AvailabilityData', `cloud:${okTarget}`);
    const failedAvailability = named('AvailabilityData', `cloud:${refusedTarget}`);
    expect(okAvailability).toHaveLength(1);
    expect(failedAvailability).toHaveLength(1);
    for (const e of [...okAvailability, ...failedAvailability]) expect(e.data.baseData['properties']).toMatchObject({ maintenance: 'false' });

    // One operation: the timer run, its probes and their availability results correlate in the portal.
    for (const e of [...okDependency, ...failedDependency, ...okAvailability, ...failedAvailability]) {
      expect(e.tags['ai.operation.id']).toBe(operationId);
      expect(e.tags['ai.operation.parentId']).toBe(request.data.baseData['id']);
    }

    // The heartbeat evaluation: the relay's own result and its heartbeat, located at the relay.
    const evaluation = named('RequestData', 'evaluateHeartbeats');
    expect(evaluation).toHaveLength(1);
    const relayProbe = named('AvailabilityData', 'relay:connect01:https://ssprdedicatedsbprodscu.servicebus.windows.net/');
    const relayHeartbeat = named('AvailabilityData', 'heartbeat:connect01');
    expect(relayProbe).toHaveLength(1);
    expect(relayHeartbeat).toHaveLength(1);
    expect(relayProbe[0]!.data.baseData).toMatchObject({
      runLocation: 'connect01',
      success: false,
      duration: '00:00:21.002',
      message: 'tcp_timeout in tcp: no answer',
      properties: { checkKind: 'relay-probe', relay: 'connect01', failureCode: 'tcp_timeout', tcpMs: '21000', maintenance: 'true' },
    });
    // The window names the relay's probes, not its heartbeat.
    expect(relayHeartbeat[0]!.data.baseData).toMatchObject({ runLocation: 'connect01', success: true, message: 'ok', properties: { maintenance: 'false' } });
    for (const e of [...relayProbe, ...relayHeartbeat]) expect(e.tags['ai.operation.id']).toBe(evaluation[0]!.tags['ai.operation.id']);
    // The heartbeat age reached the metrics.
    const metricNames = envelopes.filter((e) => e.data?.baseType === 'MetricData').flatMap((e) => ((e.data.baseData['metrics'] as { name: string }[]) ?? []).map((m) => m.name));
    expect(metricNames).toContain('wbmon.relay.heartbeat_age');
  });
});
