/**
 * Cold start (issues 5 and 15): on Flex Consumption every new worker imports the function entry
 * files (the `main` glob of package.json) before its first invocation.
 *
 * Measured (issue 15): the PACKAGED app, as deployed: dist/functionapp.zip (npm run package,
 * built from the current tree) unpacked into an empty folder, its six entry files imported in
 * sequence as the host does, with telemetry on (APPLICATIONINSIGHTS_CONNECTION_STRING set, so
 * every entry's preload starts the Azure Monitor SDK and the Functions instrumentation before the
 * entries finish loading), in a fresh Node process, under the stand-in for the host's
 * `@azure/functions-core` (test/support/functions-host.ts does the same), so registration and
 * the hooks run as under the host. The connection string points at a loopback port: importing
 * sends nothing. Baseline, same run, interleaved with it (A B C D A B C D ...): the floor, a fresh
 * process importing only `@azure/functions` and `@azure/monitor-opentelemetry` from node_modules.
 * Target: packaged / floor median <= 0.9.
 *
 * Info, same rounds: the unbundled entries (dist/functions/*.js from node_modules, as before the
 * package) with telemetry on, and without a connection string (issue 5's measure, target 1.3,
 * then the SDK imported after them, as the first invocation with telemetry would). One traced
 * child per unbundled variant (a resolve hook) lists the packages each loads; every direct
 * dependency the entries load and the floor does not is imported alone in fresh processes, and
 * the three slowest are reported. A traced packaged child counts what it resolved outside the
 * package folder (should be nothing but node: built-ins).
 *
 * Each sample is a child `node --input-type=module -e` timing its imports with performance.now()
 * and printing one JSON line with a prefix; everything else it prints (the "@azure/functions test
 * mode" warnings of the untraced floor) is ignored. Two warm-up rounds first, for the OS file cache.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packageFunctionApp } from '../packaging/build-functionapp.js';
import { isMain, median, round } from './support.js';

/** Issue 5: the unbundled entries without telemetry / the floor. */
export const COLD_START_MAX_RATIO = 1.3;
/** Issue 15: the packaged entries with telemetry on / the floor. */
export const PACKAGED_COLD_START_MAX_RATIO = 0.9;
/** A connection string whose ingestion is a closed loopback port: the SDK starts, nothing is sent while importing. */
const LOOPBACK_CONNECTION_STRING = 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FUNCTIONS_DIR = join(ROOT, 'dist', 'functions');
const PREFIX = 'COLDSTART ';
const BASELINE_SPECIFIERS = ['@azure/functions', '@azure/monitor-opentelemetry'] as const;
const TELEMETRY_SPECIFIER = '@azure/monitor-opentelemetry';
/** Imported instead of azurite's main if the entries were ever to load azurite. */
const AZURITE_SPECIFIER = 'azurite/dist/src/table/TableServer.js';

export interface ColdStartOptions {
  /** Measured rounds (default 15). */
  readonly pairs?: number;
  /** Unmeasured rounds first (default 2). */
  readonly warmup?: number;
  /** An existing Function App zip to measure; default: npm run package's, built now into dist/. */
  readonly zip?: string;
  /** Fresh processes per dependency for the per-dependency times (default 5). */
  readonly dependencyRuns?: number;
}

export interface DependencyCost {
  readonly specifier: string;
  readonly medianMs: number;
}

export interface ColdStartResult {
  readonly pairs: number;
  /** Median ms to import the packaged entry files, telemetry on, in one fresh process. */
  readonly packagedMs: number;
  /** packagedMs / baselineMs: the issue 15 measure. */
  readonly packagedRatio: number;
  readonly packagedMaxRatio: number;
  readonly packagedFiles: readonly string[];
  /** Module URLs the packaged child resolved outside its folder, node: built-ins aside. */
  readonly packagedOutside: readonly string[];
  /** Median ms for the unbundled entry files with telemetry on. */
  readonly unbundledTelemetryMs: number;
  readonly unbundledTelemetryRatio: number;
  readonly warmup: number;
  readonly entryFiles: readonly string[];
  /** Median ms to import every dist/functions/*.js in one fresh process. */
  readonly entriesMs: number;
  /** Median ms to import @azure/functions and @azure/monitor-opentelemetry in one fresh process. */
  readonly baselineMs: number;
  /** entriesMs / baselineMs. */
  readonly ratio: number;
  /** entriesMs - baselineMs: what our code adds over the floor (negative: loads less). */
  readonly ownMs: number;
  /** Median ms for the entries and then the lazily imported @azure/monitor-opentelemetry. */
  readonly entriesWithTelemetryMs: number;
  /** Direct dependencies loaded by the entries and not by the baseline. */
  readonly onlyInEntries: readonly string[];
  readonly loadsAzurite: boolean;
  /** Each of onlyInEntries imported alone in a fresh process (with its own dependencies), slowest first. */
  readonly dependencies: readonly DependencyCost[];
  readonly dependencyRuns: number;
  readonly maxRatio: number;
}

interface ChildTimes {
  readonly ms: number;
  readonly withTelemetryMs?: number;
  readonly urls?: readonly string[];
}

interface ChildOptions {
  /** Default the project root (bare specifiers resolve from its node_modules). */
  readonly cwd?: string;
  /** Telemetry on: the loopback connection string. Off: none. */
  readonly telemetry?: boolean;
}

/** The environment of every child: this one's, with telemetry set as asked and statsbeat off (no network while importing). */
function childEnv(telemetry: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true' };
  delete env['APPLICATIONINSIGHTS_CONNECTION_STRING'];
  delete env['APPLICATIONINSIGHTS_AUTHENTICATION_STRING'];
  if (telemetry) env['APPLICATIONINSIGHTS_CONNECTION_STRING'] = LOOPBACK_CONNECTION_STRING;
  return env;
}

/** Runs one child with `code` as an ESM -e script; returns its prefixed JSON line. */
function runChild(code: string, options: ChildOptions = {}): Promise<ChildTimes> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', code],
      { cwd: options.cwd ?? ROOT, env: childEnv(options.telemetry ?? false), maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`cold-start child failed: ${err.message}\n${stderr}`));
          return;
        }
        const line = stdout.split('\n').find((l) => l.startsWith(PREFIX));
        if (!line) {
          reject(new Error(`cold-start child printed no ${PREFIX.trim()} line\n${stdout}\n${stderr}`));
          return;
        }
        resolve(JSON.parse(line.slice(PREFIX.length)) as ChildTimes);
      },
    );
  });
}

// Exit only once the line has been written: a pipe takes large writes in pieces, and exiting
// at once cut a long module list short.
const report = (fields: string) =>
  `process.stdout.write('\\n' + ${JSON.stringify(PREFIX)} + JSON.stringify({ ${fields} }) + '\\n', () => process.exit(0));`;

/**
 * The host's `@azure/functions-core`, as the worker provides it to `require` (functions-registration.test.ts
 * explains the stand-in); installed before the clock starts, as the worker's is before it loads the app.
 */
const STAND_IN_CORE = [
  "const { default: Module } = await import('node:module');",
  'class Disposable { dispose() {} }',
  'const models = [];',
  "const core = { version: '3.10.1', hostVersion: '4.1036.0', Disposable, registerFunction: () => new Disposable(), registerHook: () => new Disposable(),",
  '  setProgrammingModel: (m) => models.push(m), getProgrammingModel: () => models.at(-1) };',
  'const originalLoad = Module._load;',
  "Module._load = function (request, parent, isMain) { return request === '@azure/functions-core' ? core : originalLoad.call(this, request, parent, isMain); };",
].join('\n');

/** Imports `specifiers` in sequence; optionally then `after`. Times from just before the first import. */
function importScript(specifiers: readonly string[], after?: string, standIn = false): string {
  return [
    ...(standIn ? [STAND_IN_CORE] : []),
    `const specifiers = ${JSON.stringify(specifiers)};`,
    'const t0 = performance.now();',
    'for (const s of specifiers) await import(s);',
    'const ms = performance.now() - t0;',
    after === undefined
      ? report('ms')
      : `await import(${JSON.stringify(after)}); const withTelemetryMs = performance.now() - t0; ${report('ms, withTelemetryMs')}`,
  ].join('\n');
}

/** As importScript, with a resolve hook recording every resolved URL (import and require). */
function traceScript(specifiers: readonly string[], standIn = false): string {
  return [
    ...(standIn ? [STAND_IN_CORE] : []),
    "const { registerHooks } = await import('node:module');",
    'const seen = new Set();',
    'registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.add(r.url); return r; } });',
    `for (const s of ${JSON.stringify(specifiers)}) await import(s);`,
    'const ms = 0; const urls = [...seen];',
    report('ms, urls'),
  ].join('\n');
}

/** Direct dependencies (package.json) whose top-level copy under node_modules one of `urls` is in. */
function directDependenciesIn(urls: readonly string[], dependencies: readonly string[]): Set<string> {
  const base = pathToFileURL(join(ROOT, 'node_modules')).href + '/';
  return new Set(dependencies.filter((d) => urls.some((u) => u.startsWith(`${base}${d}/`))));
}

/** Unpacks `zip` (the Function App package) into a new empty folder; returns the folder. */
async function unpackedPackage(zip: string | undefined): Promise<{ dir: string; cleanup: () => void }> {
  const { readZip } = await import('../packaging/unzip.js');
  const path = zip ?? (await packageFunctionApp({ build: false })).zip;
  const parent = mkdtempSync(join(tmpdir(), 'wbmon-coldstart-'));
  const dir = join(parent, 'wwwroot');
  for (const entry of readZip(readFileSync(path))) {
    const target = join(dir, entry.name);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, entry.data);
  }
  return { dir, cleanup: () => rmSync(parent, { recursive: true, force: true }) };
}

/** The entry files of the app in `dir`, found by its package.json `main` glob (dist/functions/*.js), as the host does. */
function entryUrlsOf(dir: string): { files: string[]; urls: string[] } {
  const main = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { main: string }).main;
  if (main !== 'dist/functions/*.js') throw new Error(`${dir}: main is ${main}, not dist/functions/*.js`);
  const functions = join(dir, 'dist', 'functions');
  const files = readdirSync(functions).filter((f) => f.endsWith('.js')).sort();
  if (files.length === 0) throw new Error(`${functions}: no entry files`);
  return { files, urls: files.map((f) => pathToFileURL(join(functions, f)).href) };
}

export async function benchColdStart(options: ColdStartOptions = {}): Promise<ColdStartResult> {
  const pairs = options.pairs ?? 15;
  const warmup = options.warmup ?? 2;
  const dependencyRuns = options.dependencyRuns ?? 5;
  if (!existsSync(FUNCTIONS_DIR)) throw new Error(`${FUNCTIONS_DIR}: missing; build first (tsc -p .)`);
  const { files: entryFiles, urls: entryUrls } = entryUrlsOf(ROOT);
  const app = await unpackedPackage(options.zip);
  try {
    const packaged = entryUrlsOf(app.dir);

    const packagedCode = importScript(packaged.urls, undefined, true);
    const unbundledTelemetryCode = importScript(entryUrls, undefined, true);
    const entriesCode = importScript(entryUrls, TELEMETRY_SPECIFIER, true);
    const baselineCode = importScript(BASELINE_SPECIFIERS);
    const packagedTimes: number[] = [];
    const unbundledTelemetry: number[] = [];
    const entries: number[] = [];
    const withTelemetry: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < warmup + pairs; i++) {
      // One round, each variant once, the floor between the packaged app and the unbundled ones.
      const a = await runChild(packagedCode, { cwd: app.dir, telemetry: true });
      const b = await runChild(baselineCode, { telemetry: true });
      const c = await runChild(unbundledTelemetryCode, { telemetry: true });
      const d = await runChild(entriesCode);
      if (i < warmup) continue;
      packagedTimes.push(a.ms);
      baseline.push(b.ms);
      unbundledTelemetry.push(c.ms);
      entries.push(d.ms);
      withTelemetry.push(d.withTelemetryMs ?? Number.NaN);
    }

    // What the packaged app resolves beyond its own folder (Node built-ins aside): should be nothing.
    const packagedUrls = (await runChild(traceScript(packaged.urls, true), { cwd: app.dir, telemetry: true })).urls ?? [];
    const inside = pathToFileURL(app.dir).href + '/';
    const packagedOutside = packagedUrls.filter((u) => !u.startsWith('node:') && !u.startsWith(inside));

    // Which direct dependencies only the unbundled entries load: one traced child per variant.
    // Development dependencies count too, so Azurite would be caught if the entries ever loaded it.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    const direct = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {})];
    const inEntries = directDependenciesIn((await runChild(traceScript(entryUrls, true))).urls ?? [], direct);
    const inBaseline = directDependenciesIn((await runChild(traceScript(BASELINE_SPECIFIERS))).urls ?? [], direct);
    const onlyInEntries = [...inEntries].filter((d) => !inBaseline.has(d)).sort();
    const loadsAzurite = inEntries.has('azurite');
    const candidates = onlyInEntries.map((d) => (d === 'azurite' ? AZURITE_SPECIFIER : d));

    const samples = new Map<string, number[]>(candidates.map((c) => [c, []]));
    for (let r = 0; r < dependencyRuns; r++) {
      for (const c of candidates) samples.get(c)!.push((await runChild(importScript([c]))).ms);
    }
    const dependencies = candidates
      .map((specifier) => ({ specifier, medianMs: round(median(samples.get(specifier)!)) }))
      .sort((x, y) => y.medianMs - x.medianMs);

    const packagedMs = median(packagedTimes);
    const unbundledTelemetryMs = median(unbundledTelemetry);
    const entriesMs = median(entries);
    const baselineMs = median(baseline);
    return {
      pairs,
      packagedMs: round(packagedMs),
      packagedRatio: round(packagedMs / baselineMs, 3),
      packagedMaxRatio: PACKAGED_COLD_START_MAX_RATIO,
      packagedFiles: packaged.files,
      packagedOutside,
      unbundledTelemetryMs: round(unbundledTelemetryMs),
      unbundledTelemetryRatio: round(unbundledTelemetryMs / baselineMs, 3),
      warmup,
      entryFiles,
      entriesMs: round(entriesMs),
      baselineMs: round(baselineMs),
      ratio: round(entriesMs / baselineMs, 3),
      ownMs: round(entriesMs - baselineMs),
      entriesWithTelemetryMs: round(median(withTelemetry)),
      onlyInEntries,
      loadsAzurite,
      dependencies,
      dependencyRuns,
      maxRatio: COLD_START_MAX_RATIO,
    };
  } finally {
    app.cleanup();
  }
}

export function formatColdStart(r: ColdStartResult): string {
  const slowest = r.dependencies.slice(0, 3).map((d) => `${d.specifier} ${d.medianMs.toFixed(1)} ms`).join(', ');
  return [
    `cold start: fresh process each, ${r.pairs} interleaved rounds after ${r.warmup} warm-ups; floor = import of @azure/functions + @azure/monitor-opentelemetry from node_modules`,
    `  packaged entry files (dist/functionapp.zip unpacked, ${r.packagedFiles.length} entries, telemetry on): median ${r.packagedMs.toFixed(1)} ms`,
    `  floor:                                                                  median ${r.baselineMs.toFixed(1)} ms`,
    `  ratio packaged/floor ${r.packagedRatio.toFixed(3)} (target <= ${r.packagedMaxRatio})`,
    `  resolved outside the package folder (node: built-ins aside): ${r.packagedOutside.length === 0 ? 'nothing' : r.packagedOutside.slice(0, 3).join(', ')}`,
    `  info: unbundled entries (dist/functions/*.js + node_modules), telemetry on: median ${r.unbundledTelemetryMs.toFixed(1)} ms, ratio ${r.unbundledTelemetryRatio.toFixed(3)}`,
    `  info: unbundled entries, no connection string: median ${r.entriesMs.toFixed(1)} ms, ratio ${r.ratio.toFixed(3)} (issue 5 target <= ${r.maxRatio}); minus floor ${r.ownMs >= 0 ? '+' : ''}${r.ownMs.toFixed(1)} ms`,
    `  info: ...then the lazily imported @azure/monitor-opentelemetry: median ${r.entriesWithTelemetryMs.toFixed(1)} ms, ${(r.entriesWithTelemetryMs / r.baselineMs).toFixed(3)} x floor`,
    `  info: direct dependencies the unbundled entries load and the floor does not: ${r.onlyInEntries.join(', ') || 'none'} (azurite ${r.loadsAzurite ? 'LOADED' : 'not loaded'})`,
    `  info: three slowest alone (fresh process, incl. their own dependencies, median of ${r.dependencyRuns}): ${slowest || 'none'}`,
  ].join('\n');
}

if (isMain(import.meta.url)) console.log(formatColdStart(await benchColdStart()));
