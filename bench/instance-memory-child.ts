/**
 * One Functions worker, as bench/instance-memory.ts runs it: a fresh Node process that loads
 * every built entry file (dist/functions/*.js, the `main` glob of package.json, in the order the
 * worker imports them) under a stand-in for the host's `@azure/functions-core` module, so that
 * the functions register and the telemetry hooks install as under the real host (test mode would
 * skip both). Then it runs the invocations it was asked for the way the worker does: the
 * preInvocation hooks, the exported handler with an InvocationContext whose log lines go to the
 * log hooks (OpenTelemetry, as the worker hands them over), the postInvocation hooks.
 *
 * Its settings come from the environment the parent gives it. It prints one line,
 * `MEMORY {json}`: the peak resident set size (getrusage maxRSS, the kernel's high-water mark,
 * so nothing between samples is missed) after loading and after each invocation.
 *
 *   node instance-memory-child.js bare                    an idle Node process, the floor
 *   node instance-memory-child.js load                    the entry files only
 *   node instance-memory-child.js <timer function> RUNS   that timer, RUNS times in a row
 *   node instance-memory-child.js http REQUESTS INFLIGHT  heartbeats from every relay in
 *                                                        WBMON_RELAYS, INFLIGHT at once, then status
 */
import { createHmac, randomUUID } from 'node:crypto';
import Module from 'node:module';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const FUNCTIONS_DIR = join(import.meta.dirname, '..', 'functions');
const PREFIX = 'MEMORY ';

const peak = (): number => process.resourceUsage().maxRSS * 1024;

interface Report {
  mode: string;
  node: string;
  /** maxRSS when the process had started, before any import. */
  startedPeakBytes: number;
  /** maxRSS once every entry file was loaded. */
  loadedPeakBytes: number;
  /** maxRSS after each invocation (http: after the heartbeats, then after status). */
  invocationPeakBytes: number[];
  /** Each invocation's own log lines, as the handler wrote them. */
  logLines: number;
  /** Requests the handlers answered, by status (http only). */
  statuses?: Record<string, number>;
  telemetry: boolean;
  peakBytes: number;
  heapUsedBytes: number;
}

type Hook = { name: string; callback: (context: Record<string, unknown>) => unknown };

const mode = process.argv[2] ?? 'bare';
const startedPeakBytes = peak();

if (mode === 'bare') {
  // The same as node -e "setInterval(()=>{},1e3)", measured once it has settled.
  const idle = setInterval(() => undefined, 1e3);
  setTimeout(() => {
    clearInterval(idle);
    finish({ mode, node: process.version, startedPeakBytes, loadedPeakBytes: peak(), invocationPeakBytes: [], logLines: 0, telemetry: false, peakBytes: peak(), heapUsedBytes: process.memoryUsage().heapUsed });
  }, 1_000);
} else {
  await worker();
}

async function worker(): Promise<void> {
  // The host's side of @azure/functions (which loads it with require): functions register,
  // hooks install, the programming model is set, as in test/telemetry/preload.test.ts.
  const hooks: Hook[] = [];
  const models: { getCapabilities?(request: unknown): unknown }[] = [];
  class Disposable {
    dispose(): void {}
  }
  const core = {
    version: '3.10.1',
    hostVersion: '4.1036.0',
    Disposable,
    registerFunction: () => new Disposable(),
    registerHook(name: string, callback: Hook['callback']) {
      hooks.push({ name, callback });
      return new Disposable();
    },
    setProgrammingModel(model: (typeof models)[number]) {
      models.push(model);
    },
    getProgrammingModel: () => models.at(-1),
  };
  const loader = Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown };
  const originalLoad = loader._load;
  loader._load = function (request, parent, isMain) {
    return request === '@azure/functions-core' ? core : originalLoad.call(this, request, parent, isMain);
  };

  const modules: Record<string, Record<string, unknown>> = {};
  for (const file of readdirSync(FUNCTIONS_DIR).filter((f) => f.endsWith('.js')).sort()) {
    modules[file.slice(0, -3)] = (await import(pathToFileURL(join(FUNCTIONS_DIR, file)).href)) as Record<string, unknown>;
  }
  // The worker asks for the capabilities before the first invocation (telemetry announces itself).
  await models.at(-1)?.getCapabilities?.({});
  const loadedPeakBytes = peak();
  const { telemetry } = (await import(pathToFileURL(join(import.meta.dirname, '..', 'src', 'telemetry', 'preload.js')).href)) as { telemetry: { enabled: boolean; flush(): Promise<void> } };
  // CommonJS: not every class is a statically detectable named export; the default has them all.
  const imported = (await import('@azure/functions')) as typeof import('@azure/functions') & { default?: typeof import('@azure/functions') };
  const functions = imported.default ?? imported;

  let logLines = 0;
  const invoke = async (name: string, call: (context: import('@azure/functions').InvocationContext) => Promise<unknown>): Promise<unknown> => {
    const traceParent = `00-${randomUUID().replace(/-/g, '')}-${randomUUID().replace(/-/g, '').slice(0, 16)}-01`;
    const invocationContext = { invocationId: randomUUID(), functionName: name, traceContext: { traceParent, traceState: '', attributes: {} } };
    const context = new functions.InvocationContext({
      functionName: name,
      invocationId: invocationContext.invocationId,
      logHandler: (level, ...args) => {
        logLines++;
        const message = args.map(String).join(' ');
        for (const h of hooks.filter((h) => h.name === 'log')) h.callback({ level, message, category: 'user', invocationContext, hookData: {} });
      },
    });
    const hookData = {};
    const coreContext: Record<string, unknown> = { invocationContext, inputs: [], hookData, functionCallback: () => call(context) };
    for (const h of hooks.filter((h) => h.name === 'preInvocation')) await h.callback(coreContext);
    let result: unknown;
    let error: unknown;
    try {
      result = await (coreContext.functionCallback as () => Promise<unknown>)();
    } catch (err) {
      error = err;
    }
    for (const h of hooks.filter((h) => h.name === 'postInvocation')) await h.callback({ invocationContext, inputs: [], result, error, hookData });
    if (error) throw error;
    return result;
  };

  const invocationPeakBytes: number[] = [];
  let statuses: Record<string, number> | undefined;
  if (mode === 'http') {
    statuses = {};
    const requests = Number(process.argv[3] ?? 100);
    const inFlight = Number(process.argv[4] ?? 16);
    const answer = (response: unknown) => {
      const status = String((response as { status?: number }).status ?? 200);
      statuses![status] = (statuses![status] ?? 0) + 1;
    };
    const relays = Object.entries(JSON.parse(process.env.WBMON_RELAYS ?? '{}') as Record<string, { secret: string }>);
    const sequences = new Map<string, number>();
    const handler = modules.heartbeat!.heartbeat as (r: import('@azure/functions').HttpRequest, c: import('@azure/functions').InvocationContext) => Promise<unknown>;
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < requests) {
          const [relayId, { secret }] = relays[next++ % relays.length]!;
          const sequence = (sequences.get(relayId) ?? 0) + 1;
          sequences.set(relayId, sequence);
          const body = JSON.stringify(heartbeat(relayId, sequence));
          const timestamp = String(Math.floor(Date.now() / 1000));
          const signature = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
          const request = new functions.HttpRequest({
            method: 'POST',
            url: 'https://func-wbmon.azurewebsites.net/api/heartbeat',
            body: { string: body },
            headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'x-wbmon-relay': relayId, 'x-wbmon-timestamp': timestamp, 'x-wbmon-signature': signature },
          });
          answer(await invoke('heartbeat', (context) => handler(request, context)));
        }
      }),
    );
    invocationPeakBytes.push(peak());
    const status = modules.status!.status as (r: import('@azure/functions').HttpRequest, c: import('@azure/functions').InvocationContext) => Promise<unknown>;
    for (let i = 0; i < 5; i++) {
      const request = new functions.HttpRequest({ method: 'GET', url: 'https://func-wbmon.azurewebsites.net/api/status', headers: {} });
      answer(await invoke('status', (context) => status(request, context)));
    }
    invocationPeakBytes.push(peak());
    await telemetry.flush();
  } else if (mode !== 'load') {
    const handler = modules[mode]?.[mode] as ((timer: unknown, context: import('@azure/functions').InvocationContext) => Promise<void>) | undefined;
    if (!handler) throw new Error(`no timer function "${mode}" in ${FUNCTIONS_DIR}`);
    const runs = Number(process.argv[3] ?? 3);
    for (let i = 0; i < runs; i++) {
      const timer = { isPastDue: false, scheduleStatus: { last: new Date().toISOString(), next: new Date().toISOString(), lastUpdated: new Date().toISOString() } };
      await invoke(mode, (context) => handler(timer, context)); // timerRun flushes the telemetry before it returns
      invocationPeakBytes.push(peak());
    }
  }
  finish({
    mode,
    node: process.version,
    startedPeakBytes,
    loadedPeakBytes,
    invocationPeakBytes,
    logLines,
    ...(statuses && { statuses }),
    telemetry: telemetry.enabled,
    peakBytes: peak(),
    heapUsedBytes: process.memoryUsage().heapUsed,
  });
}

/** A relay's heartbeat with its three writeback endpoints up, as bench/heartbeat-ingest.ts sends. */
function heartbeat(relayId: string, sequence: number): unknown {
  const at = new Date().toISOString();
  const result = (target: string) => ({
    target, ok: true, startedAt: at, warnings: [], proxy: null, http: { status: 200 },
    timings: { dns: 3, tcp: 10, tls: 20, ttfb: 40, total: 80 },
  });
  return {
    version: 1, relayId, sequence, sentAt: at, host: 'connect01.corp.example', agentVersion: '0.1.0',
    results: [result('https://passwordreset.microsoftonline.com/'), result('https://ssprdedicatedsbprodscu.servicebus.windows.net/'), result('https://ssprdedicatedsbprodncu.servicebus.windows.net/')],
    buffer: { pending: 0, dropped: 0 },
  };
}

/** Prints the report and exits once the line is written (a pipe may take it in pieces). */
function finish(report: Report): void {
  process.stdout.write(`\n${PREFIX}${JSON.stringify(report)}\n`, () => process.exit(0));
}
