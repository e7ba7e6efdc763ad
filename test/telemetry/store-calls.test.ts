/**
 * State store calls in telemetry: a successful store call, or an answer the store expects (a
 * read of a missing entry, a conflicting insert, a stale ETag), exports nothing; a failed one
 * exports one `Http` dependency with its error; the exporter's own posts are never traced.
 * The proof runs the BUILT code in a child process with the real Azure Monitor distro against
 * the captured ingestion: a timer-run span with a probe cycle on a real Table Storage (an
 * in-process Azurite in this test's process, so another process for the child, as in Azure),
 * then store calls that fail: a Table endpoint answering 503 ServerBusy, and a refused port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startAzurite, type RunningAzurite } from '../../src/local/azurite.js';
import { storeAnswerExpected, storeCallFailed } from '../../src/telemetry/store-calls.js';
import { assertBuilt, distPath, useIngestion } from '../support/ingestion.js';
import { refusedPort, respond, startHttp, type Running } from '../support/servers.js';

const ENTITY = "/wbmon(PartitionKey='checks',RowKey='cloud%3Ahttps%3A%252F%252Fexample%252F')";
const QUERY = '/wbmon()';

describe('storeAnswerExpected: the answers the store reads as outcomes, as table-store.ts does', () => {
  it('a read of a missing entry, a delete of one already gone, an update of one that vanished', () => {
    expect(storeAnswerExpected('GET', ENTITY, 404)).toBe(true);
    expect(storeAnswerExpected('DELETE', ENTITY, 404)).toBe(true);
    expect(storeAnswerExpected('PUT', ENTITY, 404)).toBe(true);
    expect(storeAnswerExpected('MERGE', `/devstoreaccount1${ENTITY}`, 404)).toBe(true);
  });

  it('a conflicting insert or table creation, a conflicting update, a stale ETag', () => {
    expect(storeAnswerExpected('POST', '/wbmon', 409)).toBe(true);
    expect(storeAnswerExpected('POST', '/Tables', 409)).toBe(true);
    expect(storeAnswerExpected('PUT', ENTITY, 409)).toBe(true);
    expect(storeAnswerExpected('PUT', ENTITY, 412)).toBe(true);
    expect(storeAnswerExpected('PATCH', ENTITY, 412)).toBe(true);
  });

  it('not a 404 to a query or an insert (the table is missing), nor any other error', () => {
    expect(storeAnswerExpected('GET', QUERY, 404)).toBe(false);
    expect(storeAnswerExpected('POST', '/wbmon', 404)).toBe(false);
    expect(storeAnswerExpected('GET', ENTITY, 409)).toBe(false);
    expect(storeAnswerExpected('GET', ENTITY, 412)).toBe(false);
    for (const status of [400, 401, 403, 408, 429, 500, 503]) expect(storeAnswerExpected('GET', ENTITY, status)).toBe(false);
  });

  it('reports as failed only errors that are not expected', () => {
    expect(storeCallFailed('GET', ENTITY, 200)).toBe(false);
    expect(storeCallFailed('POST', '/wbmon', 201)).toBe(false);
    expect(storeCallFailed('PUT', ENTITY, 204)).toBe(false);
    expect(storeCallFailed('GET', ENTITY, 404)).toBe(false);
    expect(storeCallFailed('GET', QUERY, 404)).toBe(true);
    expect(storeCallFailed('GET', ENTITY, 503)).toBe(true);
    expect(storeCallFailed('PUT', ENTITY, 403)).toBe(true);
  });
});

// ---- The proof: real exporter, captured ingestion --------------------------------------------

const DIST = distPath();

interface Envelope {
  name: string;
  time: string;
  tags: Record<string, string>;
  data: { baseType: string; baseData: Record<string, unknown> & { properties?: Record<string, string> } };
}

/** The child: a timer run's span with a probe cycle on Table Storage, then store calls that fail. */
function childScript(ports: { target: number; failing: number; refused: number }, azurite: string): string {
  const url = (file: string) => JSON.stringify(pathToFileURL(join(DIST, file)).href);
  return `
import { createRequire } from 'node:module';
const { startTelemetry } = await import(${url('telemetry/setup.js')});
const handle = await startTelemetry(process.env.APPLICATIONINSIGHTS_CONNECTION_STRING, { serviceName: 'wbmon-test' });
if (!handle.enabled) throw new Error('telemetry not enabled');
const { pipelineObserver } = await import(${url('telemetry/observer.js')});
const { inSpan, SpanKind } = await import(${url('telemetry/tracing.js')});
const { runProbeCycle } = await import(${url('monitor/probe-cycle.js')});
const { parseSettings } = await import(${url('config/settings.js')});
const { TableStore } = await import(${url('store/table-store.js')});
const { StoreConflictError } = await import(${url('store/store.js')});
// The same @azure/data-tables the built store resolves.
const { TableClient, AzureNamedKeyCredential } = createRequire(${JSON.stringify(join(DIST, 'store/table-store.js'))})('@azure/data-tables');
const observer = pipelineObserver(handle, []);
const settings = parseSettings({ WBMON_TARGETS: 'http://127.0.0.1:${ports.target}/' });
const store = TableStore.fromConnectionString(${JSON.stringify(azurite)});
const endpointStore = (port) => new TableStore((table) => new TableClient('http://127.0.0.1:' + port + '/devstoreaccount1', table,
  new AzureNamedKeyCredential('devstoreaccount1', Buffer.from('not-the-key').toString('base64')),
  { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } }));
const expectConflict = (p) => p.then(() => { throw new Error('expected a conflict'); }, (err) => { if (!(err instanceof StoreConflictError)) throw err; });
const failed = [];
await inSpan('probeEndpoints', { kind: SpanKind.SERVER }, async () => {
  await store.ready();
  await store.ready(); // 409 TableAlreadyExists
  // A first cycle: every check read while missing (404), then inserted.
  await runProbeCycle(settings, store, 'westeurope', { observe: observer.result });
  // The second: read, replaced.
  await runProbeCycle(settings, store, 'westeurope', { observe: observer.result });
  if (await store.get('cursors', 'never-written') !== undefined) throw new Error('a missing entry was found');
  const etag = await store.insert('locks', 'probe', { at: 1 });
  await expectConflict(store.insert('locks', 'probe', { at: 2 })); // 409
  await store.replace('locks', 'probe', { at: 3 }, etag);
  await expectConflict(store.replace('locks', 'probe', { at: 4 }, etag)); // 412
  await store.delete('locks', 'probe');
  await store.delete('locks', 'probe'); // 404, already gone
  for (const port of [${ports.failing}, ${ports.refused}]) {
    await endpointStore(port).get('checks', 'cloud:x').then(() => failed.push('no error'), (err) => failed.push(err.name));
  }
});
await handle.flush();
await handle.shutdown();
console.log('failed: ' + JSON.stringify(failed));
process.exit(0);
`;
}

describe('state store calls through the Azure Monitor exporter', () => {
  const capture = useIngestion('wbmon-store-calls-');
  let azurite: RunningAzurite;
  let target: Running;
  let failing: Server;
  let failingPort = 0;
  let refused = 0;
  const failingRequests: string[] = [];

  beforeAll(async () => {
    azurite = await startAzurite();
    target = await startHttp(respond(200));
    // A Table endpoint that is overloaded, as Azure Storage says it: 503 with its error code.
    failing = createServer((req, res) => {
      failingRequests.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json;odata=minimalmetadata', 'x-ms-error-code': 'ServerBusy' });
      res.end(JSON.stringify({ 'odata.error': { code: 'ServerBusy', message: { lang: 'en-US', value: 'The server is busy.' } } }));
    });
    await new Promise<void>((ok) => failing.listen(0, '127.0.0.1', ok));
    failingPort = (failing.address() as AddressInfo).port;
    refused = await refusedPort();
  });
  afterAll(async () => {
    await new Promise<void>((ok) => failing.close(() => ok()));
    await target.close();
    await azurite.close();
  });

  it('exports no dependency for a successful or expected store call, one with its error for a failed one, none for the exporter itself, and no exception', { timeout: 60_000 }, async () => {
    assertBuilt(DIST, ['telemetry/setup.js', 'telemetry/store-calls.js', 'store/table-store.js'], 'code');
    const ingestion = capture();
    const run = await ingestion.runTelemetryChild(childScript({ target: target.port, failing: failingPort, refused }, azurite.connectionString), {
      OTEL_TRACES_SAMPLER: 'always_on', // the default rate-limited sampler would make this a lottery
    });
    ingestion.expectPosted(run);
    expect(run.output).toContain('failed: ["StoreUnavailableError","StoreUnavailableError"]');
    expect(failingRequests, 'no retry: one request').toHaveLength(1);

    const envelopes = ingestion.envelopes<Envelope>();
    const types = envelopes.map((e) => e.data?.baseType).join(', ');
    const requests = envelopes.filter((e) => e.data.baseType === 'RequestData' && e.data.baseData['name'] === 'probeEndpoints');
    expect(requests, types).toHaveLength(1);
    const request = requests[0]!;

    const dependencies = envelopes.filter((e) => e.data.baseType === 'RemoteDependencyData');
    const mentions = (e: Envelope, text: string) => [e.data.baseData['name'], e.data.baseData['data'], e.data.baseData['target']].some((v) => String(v ?? '').includes(text));
    // The store on Azurite: about 20 calls, all successful or expected, none exported.
    expect(dependencies.filter((e) => mentions(e, `:${azurite.port}`))).toEqual([]);
    expect(dependencies.filter((e) => String(e.data.baseData['type']).startsWith('InProc'))).toEqual([]);
    // The exporter's own posts.
    const ingestionPort = new URL(ingestion.connectionString.split('IngestionEndpoint=')[1]!).port;
    expect(dependencies.filter((e) => mentions(e, '/v2.1/track') || mentions(e, `:${ingestionPort}`))).toEqual([]);
    // The probe is still its dependency.
    expect(dependencies.filter((e) => e.data.baseData['name'] === `probe 127.0.0.1:${target.port}`)).toHaveLength(2);

    const busy = dependencies.filter((e) => mentions(e, `:${failingPort}`));
    expect(busy, `dependencies: ${dependencies.map((e) => e.data.baseData['name']).join(', ')}`).toHaveLength(1);
    expect(busy[0]!.data.baseData).toMatchObject({
      type: 'Http',
      success: false,
      resultCode: '503',
      target: '127.0.0.1', // the host, as the exporter takes it from server.address
      name: "GET /devstoreaccount1/wbmon(PartitionKey='checks',RowKey='cloud%3Ax')",
      data: `http://127.0.0.1:${failingPort}/devstoreaccount1/wbmon(PartitionKey='checks',RowKey='cloud%3Ax')`,
      properties: { error: 'HTTP 503 ServerBusy', errorCode: 'ServerBusy' },
    });
    const unreachable = dependencies.filter((e) => mentions(e, `:${refused}`));
    expect(unreachable).toHaveLength(1);
    expect(unreachable[0]!.data.baseData).toMatchObject({ type: 'Http', success: false, resultCode: '0', properties: { errorCode: 'ECONNREFUSED' } });
    expect(unreachable[0]!.data.baseData.properties!['error']).toContain('ECONNREFUSED');
    // Both inside the timer run: one operation in the portal.
    for (const e of [...busy, ...unreachable]) {
      expect(e.tags['ai.operation.id']).toBe(request.tags['ai.operation.id']);
      expect(e.tags['ai.operation.parentId']).toBe(request.data.baseData['id']);
    }
    // A read of a missing entry, a conflict, a stale ETag: none is an exception (nor is anything else here).
    expect(envelopes.filter((e) => e.data.baseType === 'ExceptionData').map((e) => JSON.stringify(e.data.baseData).slice(0, 300))).toEqual([]);
    // The availability results are all still there.
    expect(envelopes.filter((e) => e.data.baseType === 'AvailabilityData' && e.data.baseData['name'] === `cloud:http://127.0.0.1:${target.port}/`)).toHaveLength(2);
  });
});
