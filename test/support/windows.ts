/**
 * A Windows machine stood in for the relay's sync-engine reads: the real spawn path
 * (src/relay/windows-reads.ts runProgram) runs the stand-ins in test/fixtures/windows/ (reg, sc,
 * powershell, for powershell.exe by its full path) in place of Windows' own, and each answers from one JSON description of the
 * machine. Every program run is recorded, so a test can assert the exact commands.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { powershellPath, runProgram, type RunProgram } from '../../src/relay/windows-reads.js';

const STAND_INS = join(import.meta.dirname, '..', 'fixtures', 'windows');

export interface FakeMachine {
  readonly registry?: Record<string, Record<string, string>>;
  readonly services?: Record<string, 'RUNNING' | 'STOPPED' | 'START_PENDING' | 'STOP_PENDING' | 'PAUSED'>;
  readonly files?: Record<string, string>;
  readonly stagingMode?: boolean | 'NOMODULE' | { error: string };
  readonly deny?: readonly string[];
}

export interface StoodIn {
  readonly run: RunProgram;
  readonly env: NodeJS.ProcessEnv;
  /** Every program run: its Windows name or path, and its arguments. */
  readonly calls: { file: string; args: readonly string[] }[];
}

export const WINDOWS_ENV = { SystemRoot: 'C:\\Windows', ProgramFiles: 'C:\\Program Files', ProgramData: 'C:\\ProgramData' } as const;

export function standInWindows(machine: FakeMachine): StoodIn {
  const dir = mkdtempSync(join(tmpdir(), 'wbmon-windows-'));
  const description = join(dir, 'machine.json');
  writeFileSync(description, JSON.stringify(machine));
  const env: NodeJS.ProcessEnv = { ...process.env, ...WINDOWS_ENV, WBMON_FAKE_WINDOWS: description };
  const programs: Record<string, string> = { reg: join(STAND_INS, 'reg'), sc: join(STAND_INS, 'sc'), [powershellPath(env)]: join(STAND_INS, 'powershell') };
  const calls: StoodIn['calls'] = [];
  const run: RunProgram = (file, args, options) => {
    calls.push({ file, args });
    const standIn = programs[file];
    if (!standIn) return Promise.reject(Object.assign(new Error(`${file}: ENOENT`), { code: 'ENOENT' }));
    return runProgram(standIn, args, { env: { ...env, ...options?.env, WBMON_FAKE_WINDOWS: description } });
  };
  return { run, env, calls };
}
