/**
 * Traces: a span per probe (CLIENT, marked by its result) and per timer run, errors recorded on
 * the span. An in-memory SDK exporter (test-only import) captures what the API produced.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { probeAll, type ProbeSettings } from '../../src/monitor/probe-cycle.js';
import type { PhaseTimings } from '../../src/probes/result.js';
import { inSpan } from '../../src/telemetry/tracing.js';
import { createTestCa } from '../support/certs.js';
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

const DIST = resolve(import.meta.dirname, '../../dist/src');

/** Decode one POST body: a JSON array or JSON lines. */
function envelopesOf(body: string): Envelope[] {
  const text = body.trim();
  if (text.startsWith('[')) return JSON.parse(text) as Envelope[];
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Envelope);
}

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
const observer = pipelineObserver(handle);
await inSpan('probeEndpoints', { kind: SpanKind.SERVER }, () => runProbeCycle(settings, store, 'westeurope', { observe: observer.result }));
await handle.flush();
await handle.shutdown();
console.log('child done');
process.exit(0);
`;
}

function runChild(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', fail);
    child.on('exit', (code) => done({ code, output }));
  });
}

describe('traces through the Azure Monitor exporter', () => {
  let dir: string;
  let ingestion: HttpsServer;
  let port: number;
  let caFile: string;
  const captured: { path: string; body: string }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wbmon-traces-'));
    const ca = await createTestCa();
    const leaf = await ca.issue({ ips: ['127.0.0.1'], names: ['localhost'] });
    caFile = join(dir, 'ca.pem');
    await writeFile(caFile, ca.cert);
    ingestion = createHttpsServer({ key: leaf.key, cert: leaf.cert }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let raw = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
        const body = raw.toString('utf8');
        captured.push({ path: req.url ?? '', body });
        let n = 0;
        try {
          n = req.method === 'POST' && body.trim() ? envelopesOf(body).length : 0;
        } catch {
          // not JSON: still answer, the assertions will tell
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ itemsReceived: n, itemsAccepted: n, errors: [] }));
      });
    });
    await new Promise<void>((ok) => ingestion.listen(0, '127.0.0.1', ok));
    port = (ingestion.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((ok) => (ingestion ? ingestion.close(() => ok()) : ok()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('posts the timer run as a request, each probe as a dependency, and correlates the availability results', { timeout: 60_000 }, async () => {
    for (const file of ['telemetry/setup.js', 'telemetry/tracing.js', 'monitor/probe-cycle.js']) {
      if (!existsSync(join(DIST, file))) throw new Error(`built code missing in ${DIST}: run \`npm run build\` (npm test builds first)`);
    }
    const okTarget = `http://127.0.0.1:${good.port}/`;
    const refusedTarget = `http://127.0.0.1:${refusedPort}/`;
    const script = join(dir, 'child.mjs');
    await writeFile(script, childScript([okTarget, refusedTarget]));
    const { code, output } = await runChild(script, {
      PATH: process.env['PATH'],
      TMPDIR: dir,
      APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${port}/`,
      APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
      NODE_EXTRA_CA_CERTS: caFile,
      OTEL_TRACES_SAMPLER: 'always_on', // the default rate-limited sampler would make this a lottery
    });
    expect(code, output).toBe(0);
    const envelopes = captured.filter((c) => c.path.startsWith('/v2.1/track')).flatMap((c) => envelopesOf(c.body));
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

    // One operation: the timer run, its probes and their availability results correlate in the portal.
    for (const e of [...okDependency, ...failedDependency, ...okAvailability, ...failedAvailability]) {
      expect(e.tags['ai.operation.id']).toBe(operationId);
      expect(e.tags['ai.operation.parentId']).toBe(request.data.baseData['id']);
    }
  });
});
