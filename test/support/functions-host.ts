/**
 * A stand-in Azure Functions Node worker for child processes: the script it writes loads a
 * Function App folder the way the worker does (its package.json `main` glob, every match
 * imported in turn) with the host's module `@azure/functions-core` replaced by a recorder
 * (as in functions-registration.test.ts), then invokes functions as the worker does: the
 * programming model's invocation model builds the arguments from RPC-shaped input data, the
 * preInvocation hooks run, the handler, the postInvocation hooks, the RPC response. Everything
 * the functions log through their InvocationContext arrives at `coreCtx.log`, which is what
 * the real worker forwards to the host log.
 *
 * The child prints one line `HOST <json>` with what it observed and exits.
 */
import { pathToFileURL } from 'node:url';

export type HostStep =
  | { readonly invoke: string; readonly timer: true }
  | { readonly invoke: string; readonly http: { readonly method: string; readonly url: string; readonly headers?: Record<string, string>; readonly body?: string } };

export interface HostLog {
  readonly level: string;
  readonly category: string;
  readonly message: string;
}

export interface HostInvocation {
  readonly name: string;
  readonly logs: HostLog[];
  /** The handler's error message, when it threw (the worker reports the invocation failed with it). */
  readonly error?: string;
  /** HTTP functions: the status and body of the RPC response. */
  readonly http?: { readonly status: number; readonly body: unknown };
}

export interface CoreMetadata {
  readonly name: string;
  readonly bindings: Record<string, Record<string, unknown>>;
}

export interface HostObserved {
  /** The files the `main` glob matched, relative to the app folder, in load order. */
  readonly entries: string[];
  readonly registrations: CoreMetadata[];
  readonly callbacks: string[];
  readonly models: { name: string; version: string }[];
  readonly hooks: string[];
  readonly capabilities: Record<string, string>;
  /** Every module URL resolved while loading and invoking (import and require). */
  readonly resolved: string[];
  readonly invocations: HostInvocation[];
  readonly telemetryFlushed: boolean;
}

/** The host's trace context handed to every invocation (W3C traceparent). */
export const HOST_TRACE = '0af7651916cd43dd8448eb211c80319c';
export const HOST_SPAN = 'b7ad6b7169203331';

/** The child script: `appDir` is the unpacked Function App; `steps` run in order after loading. */
export function hostScript(appDir: string, steps: readonly HostStep[]): string {
  return `
import Module, { registerHooks } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
const appDir = ${JSON.stringify(appDir)};
// The worker runs in the app's folder (wwwroot): settings files are looked up there.
process.chdir(appDir);
const resolved = new Set();
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); resolved.add(r.url); return r; } });

const registrations = [];
const hooks = [];
const models = [];
class Disposable { constructor(onDispose) { this.onDispose = onDispose; } dispose() { this.onDispose?.(); this.onDispose = undefined; } }
const core = {
  version: '3.10.1', hostVersion: '4.1036.0', Disposable,
  registerFunction(metadata, callback) { registrations.push({ metadata: structuredClone(metadata), callback }); return new Disposable(); },
  registerHook(name, callback) { const h = { name, callback }; hooks.push(h); return new Disposable(() => hooks.splice(hooks.indexOf(h), 1)); },
  setProgrammingModel(model) { models.push(model); },
  getProgrammingModel() { return models.at(-1); },
};
const originalLoad = Module._load;
Module._load = function (request, parent, isMain) {
  return request === '@azure/functions-core' ? core : originalLoad.call(this, request, parent, isMain);
};

// The worker's loader: package.json main, a glob with one * in the file name.
const main = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')).main;
const slash = main.lastIndexOf('/');
const folder = main.slice(0, slash);
const pattern = new RegExp('^' + main.slice(slash + 1).split('*').map((s) => s.replace(/[.+?^$()|[\\]{}\\\\]/g, '\\\\$&')).join('[^/]*') + '$');
const entries = readdirSync(join(appDir, folder)).filter((f) => pattern.test(f)).sort().map((f) => folder + '/' + f);
for (const entry of entries) await import(${JSON.stringify(pathToFileURL(appDir).href)} + '/' + entry);
const capabilities = await models.at(-1).getCapabilities({});

async function invoke(step) {
  const registration = registrations.find((r) => r.metadata.name === step.invoke);
  if (!registration) throw new Error('no function ' + step.invoke);
  const [triggerName] = Object.entries(registration.metadata.bindings).find(([, b]) => b.direction === 'in');
  const data = step.timer
    ? { json: JSON.stringify({ Schedule: { AdjustForDST: true }, ScheduleStatus: null, IsPastDue: false }) }
    : { http: { method: step.http.method, url: step.http.url, headers: step.http.headers ?? {}, query: {}, params: {}, body: step.http.body === undefined ? undefined : { string: step.http.body } } };
  const logs = [];
  let context;
  const coreCtx = {
    invocationId: randomUUID(),
    metadata: registration.metadata,
    request: { inputData: [{ name: triggerName, data }], triggerMetadata: {}, traceContext: { traceParent: '00-${HOST_TRACE}-${HOST_SPAN}-01', traceState: '', attributes: {} } },
    state: 'preInvocationHooks',
    log(level, category, message) {
      logs.push({ level, category, message });
      for (const h of hooks.filter((h) => h.name === 'log')) h.callback({ level, category, message, invocationContext: context, hookData: {} });
    },
  };
  const model = models.at(-1).getInvocationModel(coreCtx);
  const args = await model.getArguments();
  context = args.context;
  const hookData = {};
  const pre = { invocationContext: context, inputs: args.inputs, hookData, functionCallback: registration.callback };
  for (const h of hooks.filter((h) => h.name === 'preInvocation')) await h.callback(pre);
  coreCtx.state = 'invocation';
  let result, error;
  try { result = await model.invokeFunction(context, pre.inputs, pre.functionCallback); } catch (err) { error = err; }
  coreCtx.state = 'postInvocationHooks';
  const post = { invocationContext: context, inputs: pre.inputs, hookData, result, error };
  for (const h of hooks.filter((h) => h.name === 'postInvocation')) await h.callback(post);
  const out = { name: step.invoke, logs };
  if (post.error) out.error = String(post.error?.message ?? post.error);
  else if (step.http) {
    const response = await model.getResponse(context, post.result);
    const http = response.returnValue.http;
    const text = http.body?.bytes ? Buffer.from(http.body.bytes).toString('utf8') : (http.body?.string ?? '');
    let body = text; try { body = JSON.parse(text); } catch {}
    out.http = { status: Number(http.statusCode), body };
  }
  return out;
}

const invocations = [];
for (const step of ${JSON.stringify(steps)}) invocations.push(await invoke(step));
// The worker would keep running; this one exits, so it stops the telemetry SDK the entries
// started (preload.ts keeps its handle under a process-wide symbol), which sends what is left.
const started = globalThis[Symbol.for('writeback-monitor.telemetry.preload')];
const handle = started ? await started : undefined;
let telemetryFlushed = false;
if (handle?.enabled) { await handle.shutdown(); telemetryFlushed = true; }
const observed = {
  entries,
  registrations: registrations.map((r) => r.metadata),
  callbacks: registrations.map((r) => typeof r.callback),
  models: models.map((m) => ({ name: m.name, version: m.version })),
  hooks: hooks.map((h) => h.name),
  capabilities,
  resolved: [...resolved],
  invocations,
  telemetryFlushed,
};
process.stdout.write('\\nHOST ' + JSON.stringify(observed) + '\\n', () => process.exit(0));
`;
}

export function observedIn(output: string): HostObserved {
  const line = output.split('\n').find((l) => l.startsWith('HOST '));
  if (!line) throw new Error(`the stand-in host printed no HOST line:\n${output}`);
  return JSON.parse(line.slice('HOST '.length)) as HostObserved;
}
