/**
 * Cold start (issue 5): on Flex Consumption every new worker imports the function entry files
 * (the `main` glob of package.json, dist/functions/*.js) before its first invocation. Measured:
 * the time to import every entry file, in sequence as the host does, in a fresh Node process.
 * Baseline, same run, interleaved (A B A B ...): a fresh process importing only
 * `@azure/functions` and `@azure/monitor-opentelemetry`, the floor any such app pays.
 * Target: entries / baseline median <= 1.3.
 *
 * Each sample is a child `node --input-type=module -e` with cwd at the project root (so bare
 * specifiers resolve as they do for the app) timing its imports with performance.now() and
 * printing one JSON line with a prefix; everything else it prints (the "@azure/functions test
 * mode" warnings) is ignored. Two warm-up pairs first, for the OS file cache.
 *
 * Info: the entries child also imports `@azure/monitor-opentelemetry` after the entries (our
 * telemetry setup imports it lazily, on the first invocation with a connection string), so the
 * cost including it is known. One traced child per variant (a resolve hook) lists the packages
 * each loads; every direct dependency the entries load and the baseline does not is then imported
 * alone in fresh processes, and the three slowest are reported.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMain, median, round } from './support.js';

export const COLD_START_MAX_RATIO = 1.3;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FUNCTIONS_DIR = join(ROOT, 'dist', 'functions');
const PREFIX = 'COLDSTART ';
const BASELINE_SPECIFIERS = ['@azure/functions', '@azure/monitor-opentelemetry'] as const;
const TELEMETRY_SPECIFIER = '@azure/monitor-opentelemetry';
/** Imported instead of azurite's main if the entries were ever to load azurite. */
const AZURITE_SPECIFIER = 'azurite/dist/src/table/TableServer.js';

export interface ColdStartOptions {
  /** Measured A/B pairs (default 15). */
  readonly pairs?: number;
  /** Unmeasured pairs first (default 2). */
  readonly warmup?: number;
  /** Fresh processes per dependency for the per-dependency times (default 5). */
  readonly dependencyRuns?: number;
}

export interface DependencyCost {
  readonly specifier: string;
  readonly medianMs: number;
}

export interface ColdStartResult {
  readonly pairs: number;
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

/** Runs one child with `code` as an ESM -e script at the project root; returns its prefixed JSON line. */
function runChild(code: string): Promise<ChildTimes> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', code],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
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

/** Imports `specifiers` in sequence; optionally then `after`. Times from just before the first import. */
function importScript(specifiers: readonly string[], after?: string): string {
  return [
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
function traceScript(specifiers: readonly string[]): string {
  return [
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

export async function benchColdStart(options: ColdStartOptions = {}): Promise<ColdStartResult> {
  const pairs = options.pairs ?? 15;
  const warmup = options.warmup ?? 2;
  const dependencyRuns = options.dependencyRuns ?? 5;
  if (!existsSync(FUNCTIONS_DIR)) throw new Error(`${FUNCTIONS_DIR}: missing; build first (tsc -p .)`);
  const entryFiles = readdirSync(FUNCTIONS_DIR).filter((f) => f.endsWith('.js')).sort();
  if (entryFiles.length === 0) throw new Error(`${FUNCTIONS_DIR}: no entry files`);
  const entryUrls = entryFiles.map((f) => pathToFileURL(join(FUNCTIONS_DIR, f)).href);

  const entriesCode = importScript(entryUrls, TELEMETRY_SPECIFIER);
  const baselineCode = importScript(BASELINE_SPECIFIERS);
  const entries: number[] = [];
  const withTelemetry: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < warmup + pairs; i++) {
    const a = await runChild(entriesCode);
    const b = await runChild(baselineCode);
    if (i < warmup) continue;
    entries.push(a.ms);
    withTelemetry.push(a.withTelemetryMs ?? Number.NaN);
    baseline.push(b.ms);
  }

  // Which direct dependencies only the entries load: one traced child per variant.
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const direct = Object.keys(pkg.dependencies ?? {});
  const inEntries = directDependenciesIn((await runChild(traceScript(entryUrls))).urls ?? [], direct);
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

  const entriesMs = median(entries);
  const baselineMs = median(baseline);
  return {
    pairs,
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
}

export function formatColdStart(r: ColdStartResult): string {
  const slowest = r.dependencies.slice(0, 3).map((d) => `${d.specifier} ${d.medianMs.toFixed(1)} ms`).join(', ');
  return [
    `cold start: import of the ${r.entryFiles.length} entry files (dist/functions/*.js) vs @azure/functions + @azure/monitor-opentelemetry, fresh process each (${r.pairs} interleaved pairs after ${r.warmup} warm-ups)`,
    `  entry files: median ${r.entriesMs.toFixed(1)} ms`,
    `  baseline:    median ${r.baselineMs.toFixed(1)} ms`,
    `  ratio entries/baseline ${r.ratio.toFixed(3)} (target <= ${r.maxRatio})`,
    `  entries minus baseline (what our code adds): ${r.ownMs >= 0 ? '+' : ''}${r.ownMs.toFixed(1)} ms`,
    `  entries then the lazily imported @azure/monitor-opentelemetry (first invocation with telemetry): median ${r.entriesWithTelemetryMs.toFixed(1)} ms, ${(r.entriesWithTelemetryMs / r.baselineMs).toFixed(3)} x baseline`,
    `  direct dependencies the entries load and the baseline does not: ${r.onlyInEntries.join(', ') || 'none'} (azurite ${r.loadsAzurite ? 'LOADED' : 'not loaded'})`,
    `  three slowest alone (fresh process, incl. their own dependencies, median of ${r.dependencyRuns}): ${slowest || 'none'}`,
  ].join('\n');
}

if (isMain(import.meta.url)) console.log(formatColdStart(await benchColdStart()));
