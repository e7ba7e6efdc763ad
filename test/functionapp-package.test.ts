/**
 * `npm run package` makes the app: the packager (packaging/build-functionapp.ts, on the tree
 * `npm test` has just built) writes functionapp.zip; the zip is unpacked by an independent
 * reader into an EMPTY folder, with no node_modules anywhere above it, and a stand-in Functions
 * worker (test/support/functions-host.ts) loads it in a fresh process as the host would: the
 * package.json `main` glob, `@azure/functions-core` replaced by a recorder. Every function must
 * register as it does unbundled; a timer runs one invocation against a real in-process Azurite and
 * records its results; telemetry still starts inside the bundle; bad settings give the same
 * message as the unbundled app. Nothing here is timed.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTree, FORBIDDEN, functionNames, PACKAGE_MAX_BYTES, packageFunctionApp, routeDynamicImports, type PackageResult } from '../packaging/build-functionapp.js';
import { loadHostSettings } from '../src/config/settings.js';
import { startAzurite, type RunningAzurite } from '../src/local/azurite.js';
import { openTableStore, storageTarget } from '../src/store/open.js';
import { escapeControls } from '../src/text/safe-text.js';
import { HOST_SPAN, HOST_TRACE, hostScript, observedIn, type HostObserved, type HostStep } from './support/functions-host.js';
import { useIngestion } from './support/ingestion.js';
import { refusedPort } from './support/servers.js';
import { extractZip, readZip } from '../packaging/unzip.js';

const dirs: string[] = [];
const tempDir = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

let packaged: PackageResult;
let zip: Buffer;
let appDir: string;
let target: Server;
let targetPort: number;
let refused: number;
let webhook: Server;
let webhookPort: number;
const webhookBodies: string[] = [];

beforeAll(async () => {
  // The packager without its tsc step: npm test has built the tree, and rebuilding dist/ here
  // would rewrite files other test files are importing at the same moment.
  packaged = await packageFunctionApp({ build: false, outDir: tempDir('wbmon-functionapp-out-') });
  zip = readFileSync(packaged.zip);
  appDir = tempDir('wbmon-functionapp-');
  extractZip(zip, appDir);
  target = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  await new Promise<void>((ok) => target.listen(0, '127.0.0.1', ok));
  targetPort = (target.address() as AddressInfo).port;
  refused = await refusedPort();
  webhook = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      webhookBodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((ok) => webhook.listen(0, '127.0.0.1', ok));
  webhookPort = (webhook.address() as AddressInfo).port;
}, 120_000);

afterAll(async () => {
  await new Promise<void>((ok) => (target ? target.close(() => ok()) : ok()));
  await new Promise<void>((ok) => (webhook ? webhook.close(() => ok()) : ok()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});


const ROOT = join(import.meta.dirname, '..');
const FUNCTIONS = ['badge', 'checkTenant', 'dashboard', 'evaluateHeartbeats', 'health', 'heartbeat', 'history', 'metrics', 'probeEndpoints', 'roundTrip', 'status'];

describe('dist/functionapp.zip', () => {
  it('is at most 10 MB', () => {
    expect(packaged.zipBytes).toBe(zip.length);
    expect(zip.length).toBeLessThanOrEqual(PACKAGE_MAX_BYTES);
  });

  it('holds host.json, a package.json, the notices, one entry file per function and their shared chunks, nothing else', () => {
    const names = readZip(zip).map((e) => e.name);
    expect(names.filter((n) => !n.startsWith('dist/chunks/')).sort()).toEqual(
      ['THIRD-PARTY-NOTICES.txt', 'host.json', 'package.json', ...FUNCTIONS.map((f) => `dist/functions/${f}.js`)].sort(),
    );
    const chunks = names.filter((n) => n.startsWith('dist/chunks/'));
    expect(chunks.length).toBeGreaterThan(0);
    for (const c of chunks) expect(c).toMatch(/^dist\/chunks\/[A-Za-z0-9_-]+\.js$/);
    expect(functionNames()).toEqual(FUNCTIONS);
  });

  it('has the repository host.json and a package.json the host reads as ESM with the dist/functions/*.js glob, with nothing to install', () => {
    const files = new Map(readZip(zip).map((e) => [e.name, e.data]));
    expect(files.get('host.json')!.equals(readFileSync(join(ROOT, 'host.json')))).toBe(true);
    const pkg = JSON.parse(files.get('package.json')!.toString('utf8')) as Record<string, unknown>;
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; engines: unknown };
    expect(pkg).toMatchObject({ name: root.name, version: root.version, type: 'module', main: 'dist/functions/*.js', engines: root.engines });
    for (const key of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies', 'scripts', 'bin']) expect(pkg).not.toHaveProperty(key);
  });

  it('contains nothing of Azurite, TypeScript, vitest, esbuild or the relay', () => {
    // What esbuild put in (its metafile): the packager refuses these already; this keeps it honest.
    expect(packaged.inputs.filter((i) => FORBIDDEN.test(i))).toEqual([]);
    expect(packaged.inputs.filter((i) => /azurite|typescript|vitest|esbuild|relay-cli|\/relay\/|packaging\//.test(i))).toEqual([]);
    // ...and it is not vacuous: the app's own dependencies are in.
    for (const dep of ['@azure/functions', '@azure/data-tables', '@azure/monitor-opentelemetry', 'undici', 'zod']) {
      expect(packaged.inputs.some((i) => i.startsWith(`node_modules/${dep}/`)), dep).toBe(true);
    }
    for (const { name, data } of readZip(zip)) {
      expect(name).not.toMatch(/azurite|typescript|vitest|relay|node_modules|\.map$|\.ts$/i);
      // The relay's own strings and Azurite's must not be in any file.
      const text = data.toString('utf8');
      expect(text.includes('WritebackMonitorRelay'), name).toBe(false);
      expect(text.includes('__azurite_db_table__'), name).toBe(false);
    }
  });

  it('names in THIRD-PARTY-NOTICES.txt every npm package it bundles', () => {
    const notices = readZip(zip).find((e) => e.name === 'THIRD-PARTY-NOTICES.txt')!.data.toString('utf8');
    for (const dep of ['@azure/functions', '@azure/monitor-opentelemetry', 'undici', 'zod', '@opentelemetry/api']) expect(notices).toContain(`\n${dep} `);
  });
});

describe('the packager', () => {
  it('routes every string-literal dynamic import through the CommonJS interop, and nothing else', () => {
    expect(routeDynamicImports(`const a = await import('@opentelemetry/resources'); const b = import("./x.js");`)).toBe(
      `const a = await import('@opentelemetry/resources').then(__wbmonInterop); const b = import("./x.js").then(__wbmonInterop);`,
    );
    const untouched = 'import(specifier); imported("x"); reimport("y"); System.import("z"); $import("w")';
    expect(routeDynamicImports(untouched)).toBe(untouched);
  });

  it('stops with one line naming the first error when the tree does not build', () => {
    const dir = tempDir('wbmon-broken-tree-');
    const tsconfig = { compilerOptions: { strict: true, noEmit: true, module: 'nodenext', target: 'es2023', types: [] }, include: ['*.ts'] };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    writeFileSync(join(dir, 'broken.ts'), 'export const n: number = "not a number";\nexport const m: string = 1;\n');
    const outcome = buildTree(dir);
    expect(outcome.ok).toBe(false);
    expect(outcome.problem).not.toContain('\n');
    expect(outcome.problem).toMatch(/^the tree does not build \(tsc -p \. reported 2 errors; first: broken\.ts\(1,14\): error TS2322: .*\); nothing was packaged$/);
  }, 60_000);
});

describe('the package, unpacked into an empty folder and loaded by a stand-in Functions worker', () => {
  const capture = useIngestion('wbmon-functionapp-host-');
  const runs: RunningAzurite[] = [];
  afterAll(async () => {
    for (const a of runs) await a.close();
  });
  /** A fresh Azurite per scenario: every run starts from an empty state. */
  async function freshAzurite(): Promise<RunningAzurite> {
    const a = await startAzurite({});
    runs.push(a);
    return a;
  }

  async function host(steps: HostStep[], env: NodeJS.ProcessEnv): Promise<HostObserved> {
    const run = await capture().runTelemetryChild(hostScript(appDir, steps), env);
    expect(run.code, run.output).toBe(0);
    return observedIn(run.output);
  }

  const targets = () => `http://127.0.0.1:${targetPort}/,http://127.0.0.1:${refused}/`;
  const status: HostStep = { invoke: 'status', http: { method: 'GET', url: 'http://localhost/api/status' } };

  it('registers exactly the eleven functions with their triggers, loading nothing from outside the folder, and runs a timer against Azurite that records its results', { timeout: 60_000 }, async () => {
    expect(readdirSync(appDir).sort()).toEqual(['THIRD-PARTY-NOTICES.txt', 'dist', 'host.json', 'package.json']);
    const azurite = await freshAzurite();
    const observed = await host([{ invoke: 'probeEndpoints', timer: true }, status, { invoke: 'health', http: { method: 'GET', url: 'http://localhost/api/health' } }], {
      APPLICATIONINSIGHTS_CONNECTION_STRING: '',
      AzureWebJobsStorage: azurite.connectionString,
      WBMON_TARGETS: targets(),
    });

    // As the host loads it: the main glob, every file once.
    expect(observed.entries).toEqual(FUNCTIONS.map((f) => `dist/functions/${f}.js`));
    expect(observed.models).toHaveLength(1);
    expect(observed.models[0]!.name).toBe('@azure/functions');
    expect(observed.callbacks).toEqual(FUNCTIONS.map(() => 'function'));
    // Nothing resolved outside the unpacked folder but Node's built-ins (@azure/functions-core is the stand-in's).
    const outside = observed.resolved.filter((u) => !u.startsWith('node:') && !u.startsWith(pathToFileURL(appDir).href + '/'));
    expect(outside).toEqual([]);
    // Without a connection string no telemetry SDK is loaded.
    expect(observed.hooks).toEqual([]);
    expect(observed.capabilities).toEqual({});

    const byName = new Map(observed.registrations.map((r) => [r.name, r]));
    expect([...byName.keys()].sort()).toEqual(FUNCTIONS);
    const generated = (prefix: string) => expect.stringMatching(new RegExp(`^${prefix}[0-9a-f]{10}$`));
    for (const [fn, setting] of [['probeEndpoints', 'WBMON_PROBE_SCHEDULE'], ['evaluateHeartbeats', 'WBMON_EVALUATE_SCHEDULE'], ['checkTenant', 'WBMON_TENANT_SCHEDULE'], ['roundTrip', 'WBMON_ROUNDTRIP_SCHEDULE']] as const) {
      const bindings = Object.values(byName.get(fn)!.bindings);
      expect(bindings, fn).toEqual([{ type: 'timerTrigger', direction: 'in', name: generated('timerTrigger'), schedule: `%${setting}%`, properties: { supportsDeferredBinding: 'false' } }]);
    }
    for (const [fn, method, authLevel, route] of [
      ['status', 'GET', 'function', 'status'],
      ['health', 'GET', 'anonymous', 'health'],
      ['heartbeat', 'POST', 'function', 'heartbeat'],
      ['history', 'GET', 'function', 'history'],
      ['metrics', 'GET', 'function', 'metrics'],
      ['dashboard', 'GET', 'function', 'dashboard'],
      ['badge', 'GET', 'function', 'badge/{*name}'],
    ] as const) {
      const { bindings } = byName.get(fn)!;
      expect(Object.values(bindings), fn).toEqual([
        { type: 'httpTrigger', direction: 'in', name: generated('httpTrigger'), methods: [method], authLevel, route, properties: { supportsDeferredBinding: 'false' } },
        { type: 'http', direction: 'out', name: generated('httpOutput') },
      ]);
      expect(Object.keys(bindings)).toContain('$return');
    }

    // The timer: one invocation, its summary in the host log, no failure.
    const [timer, statusCall, health] = observed.invocations;
    expect(timer!.error).toBeUndefined();
    const up = `http://127.0.0.1:${targetPort}/`;
    const down = `http://127.0.0.1:${refused}/`;
    expect(timer!.logs.map((l) => `${l.level} ${l.category} ${l.message}`)).toEqual([
      expect.stringMatching(new RegExp(`^information user probe cycle: 1/2 up, slowest \\d+ ms; cloud:${up.replace(/[.]/g, '\\.')} new->up \\(answered HTTP 200\\)$`)),
      'information user alerts: 0 new (none); delivered 0, retrying 0, failed 0',
    ]);
    // Its results are in Table Storage, read here by the repository's own store code...
    const store = openTableStore(storageTarget({ AzureWebJobsStorage: azurite.connectionString })!);
    const checks = await store.list<{ lastResult?: { ok: boolean } }>('checks');
    expect(checks.map((c) => c.key).sort()).toEqual([`cloud:${up}`, `cloud:${down}`].sort());
    await store.close();
    // ...and served by the packaged status function.
    expect(statusCall!.http!.status).toBe(200);
    const body = statusCall!.http!.body as { checks: { id: string; state: string; lastResult: { ok: boolean; failure?: { code: string } } }[] };
    const state = Object.fromEntries(body.checks.map((c) => [c.id, [c.state, c.lastResult.ok, c.lastResult.failure?.code]]));
    expect(state).toEqual({ [`cloud:${up}`]: ['up', true, undefined], [`cloud:${down}`]: ['new', false, 'tcp_refused'] });
    expect(health!.http).toEqual({ status: 200, body: { ok: true } });
  });

  it('with a connection string: starts telemetry inside the bundle, continues the host trace, and the probe spans, availability results and logs reach Application Insights, successful store calls do not', { timeout: 60_000 }, async () => {
    const azurite = await freshAzurite();
    const ingestion = capture();
    const since = Date.now();
    const observed = await host([{ invoke: 'probeEndpoints', timer: true }], {
      OTEL_TRACES_SAMPLER: 'always_on', // the default rate-limited sampler would make this a lottery
      AzureWebJobsStorage: azurite.connectionString,
      WBMON_TARGETS: targets(),
      WBMON_FAILURE_THRESHOLD: '1',
      WBMON_WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/hook`,
    });
    expect(observed.telemetryFlushed).toBe(true);
    // Once per worker although six entry files import the preload: the distro's and the Functions instrumentation's hooks.
    expect(observed.hooks.sort()).toEqual(['log', 'preInvocation', 'preInvocation']);
    expect(observed.capabilities).toMatchObject({ WorkerOpenTelemetryEnabled: 'true' });
    expect(observed.invocations[0]!.error).toBeUndefined();
    // The alert pass ran in the bundle too: the refused target went down and the webhook got it.
    expect(observed.invocations[0]!.logs.map((l) => l.message)).toContain(`alert triggered: cloud:http://127.0.0.1:${refused}/ is down (tcp_refused)`);
    expect(webhookBodies.some((b) => b.includes(`127.0.0.1:${refused}`))).toBe(true);

    interface Envelope { time: string; tags: Record<string, string>; data: { baseType: string; baseData: Record<string, unknown> } }
    // The exporter may send envelopes left on disk by an earlier run: only this run's count.
    const envelopes = ingestion.envelopes<Envelope>().filter((e) => Date.parse(e.time) >= since - 1000);
    const of = (type: string) => envelopes.filter((e) => e.data?.baseType === type);
    const seen = `captured: ${envelopes.map((e) => `${e.data?.baseType} ${String(e.data?.baseData['name'] ?? '')}`).join(', ')}`;

    const requests = of('RequestData').filter((e) => e.data.baseData['name'] === 'probeEndpoints');
    expect(requests, seen).toHaveLength(1);
    expect(requests[0]!.tags['ai.operation.id']).toBe(HOST_TRACE);
    expect(requests[0]!.tags['ai.operation.parentId']).toBe(HOST_SPAN);
    const requestId = requests[0]!.data.baseData['id'];

    // Our own spans (the probe's), children of the invocation.
    for (const [port, success] of [[targetPort, true], [refused, false]] as const) {
      const probe = of('RemoteDependencyData').filter((e) => e.data.baseData['name'] === `probe 127.0.0.1:${port}`);
      expect(probe, seen).toHaveLength(1);
      expect(probe[0]!.data.baseData['success']).toBe(success);
      expect(probe[0]!.tags['ai.operation.parentId']).toBe(requestId);
      const availability = of('AvailabilityData').filter((e) => e.data.baseData['name'] === `cloud:http://127.0.0.1:${port}/`);
      expect(availability, seen).toHaveLength(1);
      expect(availability[0]!.data.baseData['success']).toBe(success);
    }
    // context.log lines through the Functions instrumentation's log hook.
    expect(of('MessageData').some((e) => String(e.data.baseData['message']).startsWith('probe cycle: 1/2 up'))).toBe(true);
    // Successful state store calls are not exported (docs/telemetry.md): none of the run's Table
    // Storage requests to Azurite appears as a dependency, from the bundle either.
    const storeCalls = of('RemoteDependencyData').filter((e) => String(e.data.baseData['data']).includes(`:${azurite.port}/`) || String(e.data.baseData['target']).includes(`:${azurite.port}`));
    expect(storeCalls, seen).toEqual([]);
  });

  it('with bad WBMON_* settings: the host log gets the same one-line-per-problem message as the unbundled app, secrets left out', { timeout: 60_000 }, async () => {
    const azurite = await freshAzurite();
    const secret = 'sig=do-not-log-me';
    const env = {
      AzureWebJobsStorage: azurite.connectionString,
      WBMON_TARGETS: 'ftp://x/',
      WBMON_FAILURE_THRESHOLD: '0',
      WBMON_WEBHOOK_URL: `http://hooks.example.com/alert?${secret}`,
    };
    // What the unbundled code says for the same settings (no local.settings.json: an empty folder).
    let expected = '';
    try {
      loadHostSettings(env, tempDir('wbmon-no-settings-'));
    } catch (err) {
      expected = (err as Error).message;
    }
    expect(expected).toContain('WBMON_FAILURE_THRESHOLD');
    expect(expected).toContain('WBMON_TARGETS');
    expect(expected).toContain('WBMON_WEBHOOK_URL');

    const observed = await host([status, { invoke: 'probeEndpoints', timer: true }], { APPLICATIONINSIGHTS_CONNECTION_STRING: '', ...env });
    const [statusCall, timer] = observed.invocations;
    // HTTP: logged once through the invocation context, answered 503 naming the problem.
    expect(statusCall!.logs).toEqual([{ level: 'error', category: 'user', message: escapeControls(`status: ${expected}`) }]);
    expect(statusCall!.http).toEqual({ status: 503, body: { error: expected } });
    // Timer: the invocation fails with the message (the worker reports it as the exception).
    expect(timer!.error).toBe(expected);
    const everything = JSON.stringify(observed.invocations);
    expect(everything).not.toContain(secret);
  });
});

describe('azure.yaml', () => {
  it('deploys the package folder as built: dist/functionapp, no remote build, npm run package before azd packages it', () => {
    const yaml = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');
    // The service block, up to the next top-level key.
    const service = /\n {2}monitor:\n([\s\S]*?)\n(?=\S)/.exec(yaml)?.[1] ?? '';
    expect(service).toMatch(/^ {4}host: function$/m);
    expect(service).toMatch(/^ {4}dist: dist\/functionapp$/m);
    expect(service).toMatch(/^ {4}remoteBuild: false$/m);
    const prepackage = /^ {6}prepackage:\n((?: {8}.*\n?)+)/m.exec(service)?.[1] ?? '';
    expect(prepackage.match(/^ +run: npm run package$/gm)).toHaveLength(2); // posix and windows
    // The post-deploy Key Vault refresh stays.
    expect(yaml).toMatch(/^ {2}postdeploy:$/m);
    // azd refuses remoteBuild: false when the project's .funcignore excludes node_modules.
    expect(existsSync(join(ROOT, '.funcignore'))).toBe(false);
  });
});
