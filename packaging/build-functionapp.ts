/**
 * `npm run package`: the Function App exactly as deployed, `dist/functionapp.zip` (and the same
 * files unpacked in `dist/functionapp/`, the folder azd zips and deploys).
 *
 *  1. builds the tree (`tsc -p .`); if it does not build, stops with one line and packages nothing,
 *     so a stale dist/ is never shipped;
 *  2. esbuild bundles the entry files (one per function, functions/*.ts as built in dist/functions)
 *     into ES modules with code splitting: `dist/functions/<name>.js` per function (what the host's
 *     `main` glob finds) importing shared chunks from `dist/chunks/`, so a worker that loads all six
 *     entries evaluates each module once (one `@azure/functions`, one telemetry start), and the
 *     lazily imported parts (the Azure Monitor SDK, @azure/identity, nodemailer) stay separate
 *     chunks loaded only when used. `@azure/functions-core` stays external: the host provides it;
 *  3. fails if anything of the development side got in (Azurite, TypeScript, vitest, esbuild, the
 *     relay's agent and Windows packaging, the local `serve` runner);
 *  4. writes host.json, a package.json without dependencies (nothing is left to install), the
 *     licences of what was bundled, and the zip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noticesText, packagesIn } from './notices.js';
import { writeZip, type ZipEntry } from './zip.js';

/** The repository root: this file runs as dist/packaging/build-functionapp.js, tests load packaging/build-functionapp.ts. */
export const ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the build script');
    dir = up;
  }
  return dir;
})();

/** The zipped package must stay at or under 10 MB (decimal: 10,000,000 bytes), the issue's target. */
export const PACKAGE_MAX_BYTES = 10_000_000;

/**
 * What must never be bundled: development tools and the parts of this repository that are not
 * the Function App (the relay agent and its CLI, the local runner with its embedded Azurite, the
 * packaging scripts). Matched against esbuild's input paths (forward slashes).
 */
export const FORBIDDEN =
  /(^|\/)node_modules\/(azurite|typescript|@typescript|vitest|@vitest|vite|esbuild|@esbuild|fast-check|smtp-server|postject|@kusto|@peculiar|ajv)\/|^dist\/(src\/(relay\/|relay-cli\.js|local\/|cli\/|cli\.js)|packaging\/|bench\/|infra\/)/;

/**
 * Dynamic `import()` of a CommonJS module gives, under Node, a namespace with the module's
 * named exports (found by Node's CommonJS lexer) and `default` = `module.exports`. esbuild, when
 * it splits such a module into a chunk of its own, emits only `export default module.exports`,
 * so `(await import('@opentelemetry/resources')).resourceFromAttributes` would be undefined in
 * the bundle. Every string-literal `import()` in the bundled code is therefore routed through
 * `__wbmonInterop`, which gives a namespace that has nothing but `default` the named exports
 * Node would have given; real ES module namespaces pass through unchanged.
 */
const INTEROP = [
  'const __wbmonInterop = (ns) => {',
  '  const d = ns.default;',
  '  const keys = Object.keys(ns);',
  "  return keys.length === 1 && keys[0] === 'default' && d !== null && (typeof d === 'object' || typeof d === 'function') ? { ...d, default: d } : ns;",
  '};',
].join(' ');

/**
 * Heads every output file. `require`: CommonJS packages in the bundle (`@azure/functions`
 * among them) `require` Node built-ins and the host's `@azure/functions-core`; esbuild's ESM
 * output calls the `require` in scope, and one made by createRequire goes through
 * `Module.prototype.require`, where the host (and instrumentation's require hooks) see it.
 */
const BANNER = `import { createRequire as __wbmonCreateRequire } from 'node:module'; const require = __wbmonCreateRequire(import.meta.url); ${INTEROP}`;

// Not a method called import (`loader.import('x')`): only the import() expression.
const DYNAMIC_IMPORT = /(?<![.\w$])import\(\s*(["'])([^"'\n\\]+)\1\s*\)/g;

/** Rewrites every `import('literal')` in `source` to pass through __wbmonInterop (see INTEROP). */
export function routeDynamicImports(source: string): string {
  return source.replace(DYNAMIC_IMPORT, (_m, quote: string, specifier: string) => `import(${quote}${specifier}${quote}).then(__wbmonInterop)`);
}

function log(line: string): void {
  process.stdout.write(`package: ${line}\n`);
}

/** The functions: one entry per source file in functions/ (so a new function is packaged without a list to update). */
export function functionNames(root = ROOT): string[] {
  return readdirSync(join(root, 'functions'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

export interface BuildOutcome {
  readonly ok: boolean;
  /** One line saying why not, when not ok. */
  readonly problem?: string;
}

/** Runs `tsc -p .` in `dir`; a failure is summed up in one line (the error count and the first error). */
export function buildTree(dir = ROOT): BuildOutcome {
  let tsc: string;
  try {
    const req = createRequire(join(ROOT, 'package.json'));
    const pkgPath = req.resolve('typescript/package.json');
    const bin = (JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin: Record<string, string> }).bin['tsc']!;
    tsc = join(dirname(pkgPath), bin);
  } catch {
    return { ok: false, problem: 'TypeScript is not installed: run npm install (it installs the build tools too)' };
  }
  const run = spawnSync(process.execPath, [tsc, '-p', '.', '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
  if (run.status === 0) return { ok: true };
  const lines = `${run.stdout ?? ''}${run.stderr ?? ''}`.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const errors = lines.filter((l) => /\berror TS\d+:/.test(l));
  const first = errors[0] ?? lines[0] ?? run.error?.message ?? `exit ${run.status}`;
  const count = errors.length > 0 ? `${errors.length} error${errors.length === 1 ? '' : 's'}` : 'a failure';
  return { ok: false, problem: `the tree does not build (tsc -p . reported ${count}; first: ${first}); nothing was packaged` };
}

export interface BundleResult {
  /** esbuild's input paths, relative to the root, forward slashes. */
  readonly inputs: string[];
  /** Output files, relative to the output folder, forward slashes. */
  readonly outputs: string[];
}

/** Bundles the built entry files into `outDir` (`dist/functions/*.js` and `dist/chunks/*.js` under it). */
export async function bundleFunctions(outDir: string, root = ROOT): Promise<BundleResult> {
  const { build } = await import('esbuild');
  const { readFile } = await import('node:fs/promises');
  const entryPoints: Record<string, string> = {};
  for (const name of functionNames(root)) {
    const built = join(root, 'dist', 'functions', `${name}.js`);
    if (!existsSync(built)) throw new Error(`${relative(root, built)} is missing: the tree was not built`);
    entryPoints[`dist/functions/${name}`] = built;
  }
  const result = await build({
    entryPoints,
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    // The host's own module, found by `require` at run time (see BANNER).
    external: ['@azure/functions-core'],
    chunkNames: 'dist/chunks/[name]-[hash]',
    banner: { js: BANNER },
    // Licences are in THIRD-PARTY-NOTICES.txt, whole.
    legalComments: 'none',
    // Whitespace and syntax only: identifiers keep their names, so a stack trace in Application
    // Insights still names our functions and the libraries' own.
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: root,
    plugins: [
      {
        name: 'dynamic-import-interop',
        setup(b) {
          b.onLoad({ filter: /\.(m|c)?js$/ }, async (args) => {
            const source = await readFile(args.path, 'utf8');
            return { contents: source.includes('import(') ? routeDynamicImports(source) : source, loader: 'js' };
          });
        },
      },
    ],
  });
  if (result.warnings.length > 0) throw new Error(`esbuild warnings: ${result.warnings.map((w) => w.text).join('; ')}`);
  const slash = (p: string): string => p.split(sep).join('/');
  const inputs = Object.keys(result.metafile.inputs).map(slash);
  const forbidden = inputs.filter((i) => FORBIDDEN.test(i));
  if (forbidden.length > 0) throw new Error(`the Function App bundle must not contain development tools or the relay, but has: ${forbidden.slice(0, 5).join(', ')}`);
  const outputs = Object.keys(result.metafile.outputs).map((o) => slash(relative(outDir, join(root, o))));
  return { inputs, outputs };
}

/** The package's own package.json: what the host reads (type, main), nothing to install. */
export function packageJson(root = ROOT): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string; description?: string; engines?: unknown };
  return `${JSON.stringify(
    {
      name: pkg.name,
      version: pkg.version,
      description: pkg.description,
      private: true,
      type: 'module',
      main: 'dist/functions/*.js',
      ...(pkg.engines ? { engines: pkg.engines } : {}),
    },
    null,
    2,
  )}\n`;
}

/** Every file under `dir`, relative with forward slashes, sorted. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}

export interface PackageResult {
  readonly zip: string;
  readonly folder: string;
  readonly zipBytes: number;
  readonly entries: string[];
  readonly inputs: string[];
}

export interface PackageOptions {
  /** Run `tsc -p .` first (default true). */
  readonly build?: boolean;
  /** Where `functionapp/` and `functionapp.zip` go (default dist/). */
  readonly outDir?: string;
}

/** Stages the package in `<outDir>/functionapp/` and zips it to `<outDir>/functionapp.zip`. */
export async function packageFunctionApp(options: PackageOptions = {}): Promise<PackageResult> {
  if (options.build ?? true) {
    const built = buildTree(ROOT);
    if (!built.ok) throw new PackageError(built.problem!);
  }
  const outDir = options.outDir ?? join(ROOT, 'dist');
  const folder = join(outDir, 'functionapp');
  const zip = join(outDir, 'functionapp.zip');
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });

  const { inputs } = await bundleFunctions(folder);
  writeFileSync(join(folder, 'host.json'), readFileSync(join(ROOT, 'host.json')));
  writeFileSync(join(folder, 'package.json'), packageJson());
  // Nested copies of one release (the same name and version in several node_modules) are one notice.
  const seen = new Set<string>();
  const packages = packagesIn(inputs, ROOT).filter((p) => !seen.has(`${p.name}@${p.version}`) && Boolean(seen.add(`${p.name}@${p.version}`)));
  const notices = noticesText(packages, [], {
    title: 'writeback-monitor Function App: third-party notices',
    intro: 'dist/ holds the Function App bundled with esbuild; it contains the following third-party software, under the licences below.',
  });
  writeFileSync(join(folder, 'THIRD-PARTY-NOTICES.txt'), notices);

  const entries = filesUnder(folder);
  // One fixed time for every entry: the same tree gives the same zip.
  const mtime = new Date(Date.UTC(2000, 0, 1));
  const files: ZipEntry[] = entries.map((name) => ({ name, data: readFileSync(join(folder, name)), mtime }));
  writeFileSync(zip, writeZip(files, mtime));
  const zipBytes = statSync(zip).size;
  if (zipBytes > PACKAGE_MAX_BYTES) throw new PackageError(`${relative(ROOT, zip)} is ${(zipBytes / 1e6).toFixed(1)} MB, over the ${PACKAGE_MAX_BYTES / 1e6} MB limit`);
  return { zip, folder, zipBytes, entries, inputs };
}

/** A problem worth one line to the user, not a stack trace. */
export class PackageError extends Error {
  override readonly name = 'PackageError';
}

async function main(): Promise<void> {
  const r = await packageFunctionApp();
  const functions = r.entries.filter((e) => /^dist\/functions\/[^/]+\.js$/.test(e)).length;
  const chunks = r.entries.filter((e) => e.startsWith('dist/chunks/')).length;
  log(`bundled ${r.inputs.length} modules into ${functions} entry files and ${chunks} shared chunks`);
  log(`wrote ${relative(ROOT, r.zip)} (${(r.zipBytes / 1e6).toFixed(2)} MB, ${r.entries.length} files; unpacked in ${relative(ROOT, r.folder)}/)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`package: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
