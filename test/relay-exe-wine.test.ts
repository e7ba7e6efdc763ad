/**
 * The relay executable itself (dist/relay/writeback-monitor-relay.exe, from `npm run
 * package:relay`), run under Wine: what an administrator's first commands show.
 *
 * Two Wine gaps, not Windows ones, are worked around here, and nothing else:
 *  - Under Wine a console program's stdout and stderr must be files: `console.log` to a pipe
 *    throws EBADF. So the exe writes to files in a temporary folder, which the test reads.
 *  - Under Wine undici cannot connect ("connect UNKNOWN") while node:http can. So the relay
 *    is told WBMON_RELAY_HTTP_CLIENT=node, a seam src/relay/sender.ts honours only for plain
 *    http to a loopback monitor; on Windows, and for every https monitor, undici sends.
 *
 * Skipped, saying why, when wine64, its prefix (`wine64 winecfg -v win10`) or the exe is
 * missing; .ci/run provides all three, so CI runs these.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../src/config/settings.js';
import { startAzurite, type RunningAzurite } from '../src/local/azurite.js';
import { serve, type RunningMonitor } from '../src/local/serve.js';
import { VERSION } from '../src/version.js';
import { RELAYS_JSON, SECRET_A } from './support/heartbeats.js';
import { startHttp, type Running } from './support/servers.js';

const ROOT = join(import.meta.dirname, '..');
const WINE = '/usr/lib/wine/wine64';
const EXE = join(ROOT, 'dist', 'relay', 'writeback-monitor-relay.exe');
const PREFIX = process.env.WINEPREFIX ?? join(ROOT, '.cache', 'wine', 'prefix');

function whyNot(): string | undefined {
  if (!existsSync(WINE)) return `${WINE} is not installed (apt-get install wine64; .ci/run does)`;
  if (!existsSync(join(PREFIX, 'system.reg'))) return `no Wine prefix at ${PREFIX} (WINEPREFIX=${PREFIX} ${WINE} winecfg -v win10; .ci/run does)`;
  if (!existsSync(EXE)) return `${EXE} is not built (npm run package:relay; .ci/run does)`;
  return undefined;
}
const skip = whyNot();
if (skip) console.warn(`relay-exe-wine tests skipped: ${skip}`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wbmon-exe-'));
  dirs.push(dir);
  return dir;
}

/** Linux path as Wine's drive Z: sees it. */
function winePath(path: string): string {
  return `Z:${path.replace(/\//g, '\\')}`;
}

async function runExe(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const dir = tempDir();
  const out = openSync(join(dir, 'stdout'), 'w');
  const err = openSync(join(dir, 'stderr'), 'w');
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WBMON_') && k !== 'AzureWebJobsStorage'));
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(WINE, [EXE, ...args], {
        cwd: dir,
        env: { ...base, WINEPREFIX: PREFIX, WINEDEBUG: '-all', ...env },
        stdio: ['ignore', out, err],
      });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    return { code, stdout: readFileSync(join(dir, 'stdout'), 'utf8'), stderr: readFileSync(join(dir, 'stderr'), 'utf8') };
  } finally {
    closeSync(out);
    closeSync(err);
  }
}

describe.skipIf(skip !== undefined)('the relay executable under Wine', () => {
  let azurite: RunningAzurite;
  let monitor: RunningMonitor;
  let target: Running;

  beforeAll(async () => {
    target = await startHttp();
    azurite = await startAzurite({});
    const settings = parseSettings({ WBMON_TARGETS: target.url, WBMON_RELAYS: RELAYS_JSON, AzureWebJobsStorage: azurite.connectionString });
    monitor = await serve({ settings, port: 0, log: () => undefined });
    await monitor.firstCycle;
  }, 60_000);
  afterAll(async () => {
    await monitor?.stop();
    await azurite?.close();
    await target?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('--version prints the version and exits 0', async () => {
    const run = await runExe(['--version']);
    expect(run).toEqual({ code: 0, stdout: `writeback-monitor-relay ${VERSION}\n`, stderr: '' });
  }, 60_000);

  it('a settings error exits 2 with one line per problem, naming each setting, and no stack trace', async () => {
    const run = await runExe(['relay', '--once'], { WBMON_MONITOR_URL: 'ftp://monitor.example', WBMON_RELAY_ID: 'relay-a' });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split(/\r?\n/)).toEqual([
      'WBMON_MONITOR_URL: must be https (plain http only to a loopback host)',
      'WBMON_RELAY_SECRET: required: the secret given to this relay in WBMON_RELAYS on the monitor',
    ]);
  }, 60_000);

  it('an unknown command exits 2 and shows the relay-only usage', async () => {
    const run = await runExe(['serve']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown command "serve"');
    expect(run.stderr).toContain('relay [--once [--keepalive]]');
    expect(run.stderr).not.toContain('alert test');
  }, 60_000);

  it('relay --once delivers a heartbeat to serve on loopback: exit 0, and the relay is up in /api/status', async () => {
    const state = tempDir();
    const run = await runExe(['relay', '--once'], {
      WBMON_MONITOR_URL: monitor.url,
      WBMON_RELAY_ID: 'relay-a',
      WBMON_RELAY_SECRET: SECRET_A,
      WBMON_RELAY_TARGETS: target.url,
      WBMON_RELAY_STATE_DIR: winePath(state),
      WBMON_PROBE_TIMEOUT_MS: '3000',
      WBMON_RELAY_HTTP_CLIENT: 'node',
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/relay relay-a: heartbeat \d+ accepted \(HTTP 202\)/);
    expect(run.code).toBe(0);
    const status = (await (await fetch(`${monitor.url}/api/status`)).json()) as { relays: { relayId: string; state: string }[] };
    expect(status.relays.find((r) => r.relayId === 'relay-a')).toMatchObject({ state: 'up' });
    // The exe kept its sequence file and an empty buffer in the state folder it was given.
    expect(existsSync(join(state, 'sequence'))).toBe(true);
  }, 90_000);
});
