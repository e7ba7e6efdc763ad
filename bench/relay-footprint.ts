/**
 * The relay's footprint next to Connect (issue 13): resident memory of the relay after 10
 * cycles (3 targets, a real `serve` on loopback as the monitor), divided by the resident
 * memory of an idle Node process of the same binary, measured in the same run; target <= 1.5.
 * CPU time per cycle is printed. And the relay executable's start (`--version`, fresh
 * process) against the plain CLI's, when the exe is built and Wine is here: under Wine the
 * exe also pays Wine's start, so that ratio is an upper bound of what Windows shows.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSettings } from '../src/config/settings.js';
import { serve } from '../src/local/serve.js';
import { isMain, listenLoopback, median, round } from './support.js';

export const FOOTPRINT_MAX_RATIO = 1.5;
const ROOT = join(import.meta.dirname, '..', '..');
const CHILD = join(import.meta.dirname, 'relay-footprint-child.js');
const EXE = join(ROOT, 'dist', 'relay', 'writeback-monitor-relay.exe');
const WINE = '/usr/lib/wine/wine64';
const SECRET = 'f'.repeat(64);

export interface RelayFootprint {
  readonly relayRssMb: number;
  readonly bareRssMb: number;
  readonly ratio: number;
  readonly cpuMsPerCycle: number;
  readonly accepted: number;
  readonly exeStart?: { readonly exeMs: number; readonly cliMs: number; readonly ratio: number } | { readonly skipped: string };
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

async function timed(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  const started = process.hrtime.bigint();
  await run(file, args, env);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export async function benchRelayFootprint(): Promise<RelayFootprint> {
  const targets = await Promise.all([0, 1, 2].map(() => listenLoopback(createServer((_req, res) => res.writeHead(200).end('ok')))));
  const settings = parseSettings({ WBMON_TARGETS: 'http://127.0.0.1:9/', WBMON_RELAYS: JSON.stringify({ bench: { secret: SECRET } }) });
  const monitor = await serve({ settings, port: 0, log: () => undefined });
  const state = mkdtempSync(join(tmpdir(), 'wbmon-footprint-'));
  try {
    const env = {
      PATH: process.env.PATH ?? '',
      WBMON_MONITOR_URL: monitor.url,
      WBMON_RELAY_ID: 'bench',
      WBMON_RELAY_SECRET: SECRET,
      WBMON_RELAY_TARGETS: targets.map((port) => `http://127.0.0.1:${port}/`).join(','),
      WBMON_RELAY_STATE_DIR: state,
    };
    // Interleaved, so both see the same machine: relay, bare, relay, bare, relay, bare.
    const relay: { rssBytes: number; cpuMsPerCycle: number; accepted: number }[] = [];
    const bare: { rssBytes: number }[] = [];
    for (let i = 0; i < 3; i++) {
      relay.push(JSON.parse(await run(process.execPath, [CHILD], env)));
      bare.push(JSON.parse(await run(process.execPath, [CHILD, 'bare'], env)));
    }
    const relayRss = median(relay.map((r) => r.rssBytes));
    const bareRss = median(bare.map((r) => r.rssBytes));
    return {
      relayRssMb: round(relayRss / 2 ** 20, 1),
      bareRssMb: round(bareRss / 2 ** 20, 1),
      ratio: round(relayRss / bareRss, 3),
      cpuMsPerCycle: round(median(relay.map((r) => r.cpuMsPerCycle)), 1),
      accepted: Math.min(...relay.map((r) => r.accepted)),
      exeStart: await exeStart(),
    };
  } finally {
    rmSync(state, { recursive: true, force: true });
    await monitor.stop();
  }
}

async function exeStart(): Promise<RelayFootprint['exeStart']> {
  if (!existsSync(EXE)) return { skipped: 'dist/relay/writeback-monitor-relay.exe not built (npm run package:relay)' };
  if (!existsSync(WINE)) return { skipped: 'wine64 not installed' };
  const wineEnv = { ...process.env, WINEDEBUG: '-all', ...(existsSync(join(ROOT, '.cache', 'wine', 'prefix')) && { WINEPREFIX: join(ROOT, '.cache', 'wine', 'prefix') }) };
  const cli = join(ROOT, 'dist', 'src', 'cli.js');
  // Wine wants stdout and stderr to be files or a terminal; execFile gives pipes, so go through sh.
  const out = mkdtempSync(join(tmpdir(), 'wbmon-exe-'));
  try {
    const exe: number[] = [];
    const plain: number[] = [];
    await timed('/bin/sh', ['-c', `"${WINE}" "${EXE}" --version > "${out}/v.txt" 2>&1 < /dev/null`], wineEnv); // warm Wine's server
    for (let i = 0; i < 5; i++) {
      exe.push(await timed('/bin/sh', ['-c', `"${WINE}" "${EXE}" --version > "${out}/v.txt" 2>&1 < /dev/null`], wineEnv));
      plain.push(await timed(process.execPath, [cli, '--version']));
    }
    return { exeMs: round(median(exe), 1), cliMs: round(median(plain), 1), ratio: round(median(exe) / median(plain), 2) };
  } catch (err) {
    return { skipped: `the exe did not run under Wine: ${(err as Error).message.split('\n')[0]}` };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export function formatRelayFootprint(r: RelayFootprint): string {
  const lines = [
    'relay footprint: 10 cycles of 3 loopback targets against a loopback serve, vs an idle node of the same binary (median of 3 interleaved pairs)',
    `  relay rss ${r.relayRssMb} MB, idle node rss ${r.bareRssMb} MB: ratio ${r.ratio} (target <= ${FOOTPRINT_MAX_RATIO}); cpu ${r.cpuMsPerCycle} ms per cycle; ${r.accepted}/10 heartbeats accepted`,
  ];
  const e = r.exeStart;
  if (e && 'skipped' in e) lines.push(`  exe start: skipped: ${e.skipped}`);
  else if (e) lines.push(`  exe start (--version, fresh process): ${e.exeMs} ms under Wine vs plain CLI ${e.cliMs} ms: ratio ${e.ratio} (Wine's own start included)`);
  return lines.join('\n');
}

if (isMain(import.meta.url)) console.log(formatRelayFootprint(await benchRelayFootprint()));
