/**
 * src/telemetry/preload.ts under a stand-in Functions host: the BUILT entry files are imported in
 * a child process with `@azure/functions-core` replaced (as in functions-registration.test.ts),
 * the connection string pointing at a captured ingestion. Proves telemetry starts once per worker
 * (one set of hooks however many entry files import the preload), that the worker announces
 * `WorkerOpenTelemetryEnabled` to the host, and that an invocation span continues the host's trace.
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assertBuilt, distPath, useIngestion } from '../support/ingestion.js';

const DIST = distPath();
const FUNCTIONS = resolve(DIST, '..', 'functions');
const HOST_TRACE = '0af7651916cd43dd8448eb211c80319c';
const HOST_SPAN = 'b7ad6b7169203331';

interface Observed {
  enabled: boolean;
  sameHandle: boolean;
  hooks: string[];
  functions: string[];
  capabilities: Record<string, string>;
  loaded: string[];
}

interface Envelope {
  tags: Record<string, string>;
  data: { baseType: string; baseData: Record<string, unknown> };
}

/** The child: stand-in core, every built entry file, the preload again, one simulated invocation. */
function childScript(): string {
  const url = (file: string) => JSON.stringify(pathToFileURL(file).href);
  const entries = readdirSync(FUNCTIONS).filter((f) => f.endsWith('.js')).sort().map((f) => pathToFileURL(join(FUNCTIONS, f)).href);
  return `
import Module, { registerHooks } from 'node:module';
const loaded = new Set();
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); loaded.add(r.url); return r; } });
const hooks = [];
const functions = [];
const models = [];
class Disposable { dispose() {} }
const core = {
  version: '3.10.1', hostVersion: '4.1036.0', Disposable,
  registerFunction(metadata) { functions.push(metadata.name); return new Disposable(); },
  registerHook(name, callback) { hooks.push({ name, callback }); return new Disposable(); },
  setProgrammingModel(model) { models.push(model); },
  getProgrammingModel() { return models.at(-1); },
};
const originalLoad = Module._load;
Module._load = function (request, parent, isMain) {
  return request === '@azure/functions-core' ? core : originalLoad.call(this, request, parent, isMain);
};
for (const entry of ${JSON.stringify(entries)}) await import(entry);
const { telemetry } = await import(${url(join(DIST, 'telemetry/preload.js'))});
const again = await import(${url(join(DIST, 'telemetry/preload.js'))} + '?again'); // a second module instance: must not start again
const capabilities = await models.at(-1).getCapabilities({});
const observed = {
  enabled: telemetry.enabled,
  sameHandle: again.telemetry === telemetry,
  hooks: hooks.map((h) => h.name),
  functions,
  capabilities,
  loaded: [...loaded].filter((u) => /monitor-opentelemetry|functions-opentelemetry-instrumentation/.test(u)),
};
if (telemetry.enabled) {
  // What the worker does for an invocation: the preInvocation hooks may replace the handler.
  const { inSpan, SpanKind } = await import(${url(join(DIST, 'telemetry/tracing.js'))});
  const invocationContext = { traceContext: { traceParent: '00-${HOST_TRACE}-${HOST_SPAN}-01', traceState: '', attributes: {} } };
  const coreContext = { invocationContext, inputs: [], hookData: {}, functionCallback: () => inSpan('probeEndpoints', { kind: SpanKind.SERVER }, async () => {}) };
  for (const h of hooks.filter((h) => h.name === 'preInvocation')) await h.callback(coreContext);
  await coreContext.functionCallback();
  for (const h of hooks.filter((h) => h.name === 'log')) h.callback({ level: 'information', message: 'preload test: context.log line', category: 'user', invocationContext, hookData: {} });
  await telemetry.flush();
  await telemetry.shutdown();
}
console.log('OBSERVED ' + JSON.stringify(observed));
process.exit(0);
`;
}

function observedIn(output: string): Observed {
  const line = output.split('\n').find((l) => l.startsWith('OBSERVED '));
  if (!line) throw new Error(`the child printed no OBSERVED line:\n${output}`);
  return JSON.parse(line.slice('OBSERVED '.length)) as Observed;
}

const FUNCTION_NAMES = ['badge', 'checkTenant', 'dashboard', 'evaluateHeartbeats', 'health', 'heartbeat', 'history', 'metrics', 'probeEndpoints', 'roundTrip', 'status'];

describe('preload under a stand-in Functions host', () => {
  const capture = useIngestion('wbmon-preload-');

  it('with a connection string: starts once, registers the Functions instrumentation, continues the host trace', { timeout: 60_000 }, async () => {
    assertBuilt(DIST, ['telemetry/preload.js', 'telemetry/tracing.js'], 'code');
    const ingestion = capture();
    const { code, output } = await ingestion.runTelemetryChild(childScript(), { OTEL_TRACES_SAMPLER: 'always_on' });
    expect(code, output).toBe(0);
    const observed = observedIn(output);
    expect(observed.enabled).toBe(true);
    expect(observed.sameHandle).toBe(true);
    // Five entry files (and a second copy of the preload) import it; the hooks are registered once:
    // preInvocation by the Azure Monitor distro (its own AzureFunctionsHook) and by the Functions
    // instrumentation, log by the instrumentation. Starting twice would double all three.
    expect(observed.hooks.sort()).toEqual(['log', 'preInvocation', 'preInvocation']);
    expect(observed.functions.sort()).toEqual(FUNCTION_NAMES);
    // The host is told the worker sends its own logs (so it does not duplicate them).
    expect(observed.capabilities).toMatchObject({ WorkerOpenTelemetryEnabled: 'true' });

    const envelopes = ingestion.envelopes<Envelope>();
    const requests = envelopes.filter((e) => e.data?.baseType === 'RequestData' && e.data.baseData['name'] === 'probeEndpoints');
    expect(requests, `captured: ${envelopes.map((e) => e.data?.baseType).join(', ')}\n${output}`).toHaveLength(1);
    // The invocation's span is a child of the host's: same operation, parent = the host's span.
    expect(requests[0]!.tags['ai.operation.id']).toBe(HOST_TRACE);
    expect(requests[0]!.tags['ai.operation.parentId']).toBe(HOST_SPAN);
    const messages = envelopes.filter((e) => e.data?.baseType === 'MessageData' && e.data.baseData['message'] === 'preload test: context.log line');
    expect(messages, 'context.log through the log hook').toHaveLength(1);
  });

  it('without a connection string: registers the functions and loads no telemetry SDK', { timeout: 60_000 }, async () => {
    const ingestion = capture();
    const { code, output } = await ingestion.runTelemetryChild(childScript(), { APPLICATIONINSIGHTS_CONNECTION_STRING: '' });
    expect(code, output).toBe(0);
    const observed = observedIn(output);
    expect(observed.enabled).toBe(false);
    expect(observed.hooks).toEqual([]);
    expect(observed.functions.sort()).toEqual(FUNCTION_NAMES);
    expect(observed.capabilities).not.toHaveProperty('WorkerOpenTelemetryEnabled');
    expect(observed.loaded).toEqual([]);
  });
});
