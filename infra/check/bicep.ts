/**
 * Finding and running a Bicep CLI, offline: `WBMON_BICEP` (a path), `bicep` on PATH, the Azure
 * CLI's `az bicep`, or a copy restored from NuGet into the cache folder. The last needs only the
 * .NET SDK: the CLI ships as the package Azure.Bicep.CommandLine.<rid>, with the executable at
 * tools/bicep inside it.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

/** The version restored from NuGet (served on the registry these machines use). */
export const BICEP_NUGET_VERSION = '0.49.2';

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type Exec = (file: string, args: readonly string[], options?: { cwd?: string }) => Promise<Run>;

/** Runs a program to completion; a missing program is exit code 127, like a shell. */
export const exec: Exec = (file, args, options = {}) =>
  new Promise((resolve) => {
    execFile(file, [...args], { cwd: options.cwd, maxBuffer: 64 * 1024 * 1024, timeout: 300_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : err.code === 'ENOENT' ? 127 : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code === 127 ? err.message : '') });
    });
  });

export interface BicepCli {
  /** Where it came from, for the report. */
  readonly description: string;
  /** Compile one file to an ARM template at `outFile`. */
  build(file: string, outFile: string): Promise<Run>;
  /** Run the linter on one file (bicepconfig.json beside it applies). */
  lint(file: string): Promise<Run>;
  /**
   * `bicep snapshot`: the deployment a .bicepparam file would make, predicted offline for this
   * scope (conditions, loops and names evaluated where they can be before deployment), written
   * to `<params file without .bicepparam>.snapshot.json`. Only the standalone CLI has it.
   */
  readonly snapshot?: (paramsFile: string, scope: SnapshotScope) => Promise<Run>;
}

/** Where a predicted deployment goes: ids of the made-up subscription, tenant and group. */
export interface SnapshotScope {
  readonly subscriptionId: string;
  readonly tenantId: string;
  readonly resourceGroup: string;
  readonly location: string;
}

export type Found = { readonly cli: BicepCli } | { readonly unavailable: string };

export interface FindOptions {
  /** Folder that holds (or will hold) the NuGet restore: `<cacheDir>/<package id>/<version>/tools/bicep`. */
  readonly cacheDir: string;
  /** Restore from NuGet with `dotnet restore` when nothing else is found. */
  readonly fetch: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly exec?: Exec;
}

function standalone(path: string, description: string, run: Exec): BicepCli {
  return {
    description,
    build: (file, outFile) => run(path, ['build', file, '--outfile', outFile]),
    lint: (file) => run(path, ['lint', file]),
    snapshot: (paramsFile, scope) =>
      run(path, [
        'snapshot',
        paramsFile,
        '--mode',
        'overwrite',
        '--subscription-id',
        scope.subscriptionId,
        '--tenant-id',
        scope.tenantId,
        '--resource-group',
        scope.resourceGroup,
        '--location',
        scope.location,
      ]),
  };
}

function azureCli(run: Exec): BicepCli {
  return {
    description: 'az bicep (Azure CLI)',
    build: (file, outFile) => run('az', ['bicep', 'build', '--file', file, '--outfile', outFile]),
    lint: (file) => run('az', ['bicep', 'lint', '--file', file]),
  };
}

/** NuGet runtime identifier of this machine, or undefined where Bicep publishes none. */
export function runtimeIdentifier(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string | undefined {
  const os = platform === 'linux' ? 'linux' : platform === 'darwin' ? 'osx' : platform === 'win32' ? 'win' : undefined;
  const cpu = arch === 'x64' ? 'x64' : arch === 'arm64' ? 'arm64' : undefined;
  return os && cpu ? `${os}-${cpu}` : undefined;
}

export function cachedBicepPath(cacheDir: string, rid: string): string {
  const exe = rid.startsWith('win') ? 'bicep.exe' : 'bicep';
  // NuGet lower-cases package folder names.
  return join(cacheDir, `azure.bicep.commandline.${rid}`, BICEP_NUGET_VERSION, 'tools', exe);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

export async function findBicep(options: FindOptions): Promise<Found> {
  const env = options.env ?? process.env;
  const run = options.exec ?? exec;
  const tried: string[] = [];

  const explicit = env.WBMON_BICEP;
  if (explicit) {
    if ((await run(explicit, ['--version'])).code === 0) return { cli: standalone(explicit, `WBMON_BICEP (${explicit})`, run) };
    return { unavailable: `WBMON_BICEP=${explicit} does not run (\`${explicit} --version\` failed)` };
  }

  if ((await run('bicep', ['--version'])).code === 0) return { cli: standalone('bicep', 'bicep on PATH', run) };
  tried.push('no `bicep` on PATH');

  const az = await run('az', ['bicep', 'version']);
  if (az.code === 0) return { cli: azureCli(run) };
  tried.push(az.code === 127 ? 'no Azure CLI (`az`)' : '`az bicep version` failed');

  const rid = runtimeIdentifier();
  if (!rid) return { unavailable: `${tried.join(', ')}, and Bicep publishes no NuGet package for ${process.platform}-${process.arch}` };
  const cached = cachedBicepPath(options.cacheDir, rid);
  if (await isFile(cached)) return { cli: standalone(cached, `NuGet Azure.Bicep.CommandLine.${rid} ${BICEP_NUGET_VERSION} (${cached})`, run) };
  tried.push(`no restored copy at ${cached}`);

  if (!options.fetch) return { unavailable: `${tried.join(', ')}; \`npm run check:infra\` restores one with the .NET SDK` };
  const restored = await restoreFromNuGet(options.cacheDir, rid, run);
  if ('failed' in restored) return { unavailable: `${tried.join(', ')}; NuGet restore failed: ${restored.failed}` };
  return { cli: standalone(restored.path, `NuGet Azure.Bicep.CommandLine.${rid} ${BICEP_NUGET_VERSION}, restored now (${restored.path})`, run) };
}

/**
 * `dotnet restore` of a throwaway project that names the package in a PackageDownload: the
 * only way to fetch a tools package with the SDK alone (no nuget.exe), and it needs no build.
 */
export async function restoreFromNuGet(cacheDir: string, rid: string, run: Exec): Promise<{ path: string } | { failed: string }> {
  const project = await mkdtemp(join(tmpdir(), 'wbmon-bicep-restore-'));
  try {
    await writeFile(
      join(project, 'restore.csproj'),
      `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net$(NETCoreAppMaximumVersion)</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Azure.Bicep.CommandLine.${rid}" Version="[${BICEP_NUGET_VERSION}]" /></ItemGroup>
</Project>
`,
    );
    const result = await run('dotnet', ['restore', '--packages', cacheDir], { cwd: project });
    if (result.code !== 0) {
      const why = result.code === 127 ? 'no .NET SDK (`dotnet`) on PATH' : lastLines(result.stdout + result.stderr);
      return { failed: why };
    }
    const path = cachedBicepPath(cacheDir, rid);
    if (!(await isFile(path))) return { failed: `the package restored but ${path} is not in it` };
    await chmod(path, 0o755); // NuGet does not keep the executable bit
    return { path };
  } finally {
    await rm(project, { recursive: true, force: true });
  }
}

function lastLines(text: string, count = 5): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}

export type Severity = 'Error' | 'Warning' | 'Info';

export interface BicepDiagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly severity: Severity;
  readonly code: string;
  readonly message: string;
}

const DIAGNOSTIC = /^(.+)\((\d+),(\d+)\) : (Error|Warning|Info) ([^:\s]+): (.*)$/;

/** Diagnostics in Bicep's text format, one per line, deduplicated (lint repeats build's). */
export function parseDiagnostics(output: string): BicepDiagnostic[] {
  const seen = new Set<string>();
  const found: BicepDiagnostic[] = [];
  for (const line of output.split(/\r?\n/)) {
    const m = DIAGNOSTIC.exec(line.trim());
    if (!m || seen.has(line.trim())) continue;
    seen.add(line.trim());
    found.push({ file: m[1]!, line: Number(m[2]), column: Number(m[3]), severity: m[4] as Severity, code: m[5]!, message: m[6]! });
  }
  return found;
}

export function formatDiagnostic(d: BicepDiagnostic): string {
  return `${d.file}(${d.line},${d.column}): ${d.severity} ${d.code}: ${d.message}`;
}
