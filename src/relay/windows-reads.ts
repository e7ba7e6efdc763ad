/**
 * The Windows reads of the relay's sync-engine checks, each through a program it spawns, so
 * tests put stand-ins of those programs in their place (test/fixtures/windows/), as the
 * event-log reader's `wevtutil` is stood in for:
 *
 *  - `reg query <key> /v <value> /reg:64`: one registry value (reg.exe prints
 *    `    <name>    REG_SZ    <data>` under the key's full name, or "ERROR: The system was
 *    unable to find the specified registry key or value." and exits 1);
 *  - `sc query <service>`: a service's state (`STATE : 4  RUNNING`), or
 *    "[SC] EnumQueryServicesStatus:OpenService FAILED 1060" (exit 1060) when it is not installed;
 *  - Windows PowerShell, by its full path under %SystemRoot% (never found on PATH, as the event
 *    writer calls it), for what only .NET or a cmdlet reads: a file's version, Connect's
 *    scheduler. The script is fixed text; nothing from outside goes into it.
 *
 * The parsers are pure. What only a real Windows Server can show: the exact text these
 * programs print in other languages than English (the parsers key on the untranslated parts:
 * `REG_SZ`, the `STATE` line's number, exit codes), and the rights a service account needs.
 */
import { execFile } from 'node:child_process';
import { win32 } from 'node:path';

export interface ProgramOutput {
  /** The exit code; null when the program was killed (timeout). */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a program and gives what it printed, whatever its exit code. Rejects only when it could
 * not be started (ENOENT, EACCES) or ran out of time.
 */
export type RunProgram = (file: string, args: readonly string[], options?: { readonly env?: NodeJS.ProcessEnv }) => Promise<ProgramOutput>;

export const runProgram: RunProgram = (file, args, options = {}) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      { maxBuffer: 8 * 1024 * 1024, timeout: 60_000, windowsHide: true, ...(options.env && { env: options.env }) },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: string | number; killed?: boolean }) | null;
        if (e && (typeof e.code === 'string' || e.killed)) {
          reject(Object.assign(new Error(e.killed ? `${file} did not finish within 60 s` : `${file}: ${e.code}`), { code: e.code }));
          return;
        }
        resolve({ exitCode: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });

export type RegistryRead =
  | { readonly found: true; readonly type: string; readonly data: string }
  | { readonly found: false }
  | { readonly found: false; readonly error: string };

/** reg.exe's answer for one value: found, absent (the key or value does not exist), or an error (access denied). */
export function parseRegQuery(output: ProgramOutput, value: string): RegistryRead {
  const escaped = value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const line = new RegExp(`^\\s+${escaped}\\s+(REG_[A-Z_]+)\\s+(.*?)\\s*$`, 'im').exec(output.stdout);
  if (output.exitCode === 0 && line) return { found: true, type: line[1]!, data: line[2]! };
  const said = `${output.stderr}\n${output.stdout}`;
  if (output.exitCode === 1 && /unable to find/i.test(said)) return { found: false };
  return { found: false, error: `reg query exited ${output.exitCode}: ${firstLine(said) || 'no output'}` };
}

export async function readRegistryValue(run: RunProgram, key: string, value: string): Promise<RegistryRead> {
  try {
    return parseRegQuery(await run('reg', ['query', key, '/v', value, '/reg:64']), value);
  } catch (err) {
    return { found: false, error: `reg query could not run: ${(err as Error).message}` };
  }
}

/** The states `sc query` prints, by the number before the name (the name is translated on some systems). */
const SERVICE_STATES: Readonly<Record<number, ServiceState>> = {
  1: 'stopped',
  2: 'start-pending',
  3: 'stop-pending',
  4: 'running',
  5: 'continue-pending',
  6: 'pause-pending',
  7: 'paused',
};

export type ServiceState = 'running' | 'stopped' | 'start-pending' | 'stop-pending' | 'continue-pending' | 'pause-pending' | 'paused' | 'missing' | 'unknown';

export interface ServiceRead {
  readonly name: string;
  readonly state: ServiceState;
  /** sc could not run, or said something else (access denied). */
  readonly error?: string;
}

/** 1060: ERROR_SERVICE_DOES_NOT_EXIST. */
const SERVICE_DOES_NOT_EXIST = 1060;

export function parseScQuery(name: string, output: ProgramOutput): ServiceRead {
  const state = /^\s*STATE\s*:\s*(\d+)/m.exec(output.stdout);
  if (output.exitCode === 0 && state) return { name, state: SERVICE_STATES[Number(state[1])] ?? 'unknown' };
  const said = `${output.stdout}\n${output.stderr}`;
  if (output.exitCode === SERVICE_DOES_NOT_EXIST || /FAILED 1060/.test(said)) return { name, state: 'missing' };
  return { name, state: 'unknown', error: `sc query ${name} exited ${output.exitCode}: ${firstLine(said) || 'no output'}` };
}

export async function readService(run: RunProgram, name: string): Promise<ServiceRead> {
  try {
    return parseScQuery(name, await run('sc', ['query', name]));
  } catch (err) {
    return { name, state: 'unknown', error: `sc query could not run: ${(err as Error).message}` };
  }
}

/** Windows PowerShell 5.1, by its full path: a fixed script, its one input in an environment variable. */
export function powershellPath(env: NodeJS.ProcessEnv): string {
  return win32.join(env.SystemRoot ?? env.SYSTEMROOT ?? 'C:\\Windows', 'System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe');
}

export const POWERSHELL_ARGS = ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command'] as const;

/** Runs a fixed PowerShell script; `input` reaches it as $env:WBMON_READ_INPUT, never inside the command. */
export async function runPowershell(run: RunProgram, env: NodeJS.ProcessEnv, script: string, input = ''): Promise<ProgramOutput> {
  return run(powershellPath(env), [...POWERSHELL_ARGS, script], { env: { ...env, WBMON_READ_INPUT: input } });
}

/** A file's version (FileVersionInfo.FileVersion), as Explorer's Details tab shows it. */
export const FILE_VERSION_SCRIPT =
  "$ErrorActionPreference = 'Stop'; if (Test-Path -LiteralPath $env:WBMON_READ_INPUT) { [System.Diagnostics.FileVersionInfo]::GetVersionInfo($env:WBMON_READ_INPUT).FileVersion } else { 'MISSING' }";

export type FileVersionRead = { readonly found: true; readonly version: string } | { readonly found: false; readonly error?: string };

export async function readFileVersion(run: RunProgram, env: NodeJS.ProcessEnv, path: string): Promise<FileVersionRead> {
  try {
    const out = await runPowershell(run, env, FILE_VERSION_SCRIPT, path);
    const text = out.stdout.trim();
    if (out.exitCode === 0 && text === 'MISSING') return { found: false };
    const version = /^(\d+(?:\.\d+){1,3})\b/.exec(text)?.[1];
    if (out.exitCode === 0 && version) return { found: true, version };
    return { found: false, error: `powershell.exe exited ${out.exitCode}: ${firstLine(`${out.stderr}\n${out.stdout}`) || 'no version printed'}` };
  } catch (err) {
    return { found: false, error: `powershell.exe could not run: ${(err as Error).message}` };
  }
}

export { compareVersions } from '../heartbeat/sync-engines.js';

export const VERSION_PATTERN = /^\d{1,5}(?:\.\d{1,6}){1,3}$/;

function firstLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find(Boolean)
      ?.slice(0, 300) ?? ''
  );
}
