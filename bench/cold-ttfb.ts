/**
 * First byte measured cold (issue 14): `writeback-monitor probe --json` in a fresh Node process
 * (as a timer on a new Flex Consumption instance runs it) against a loopback HTTPS server that
 * holds its first byte for 20, 80 and 200 ms after the request arrived. Targets, median of 5
 * fresh processes per delay: |ttfb - delay| <= 3 ms, and |ttfb - blackbox_exporter's
 * `processing` phase| <= 2 ms, blackbox_exporter probing the same server in the same run,
 * interleaved with ours.
 *
 * blackbox_exporter is the Debian package `prometheus-blackbox-exporter`. When it is missing the
 * bench installs it with apt-get if it runs as root, and otherwise says that the side-by-side
 * line was not measured (and why) instead of passing it.
 *
 * Info lines: the other phases (dns, tcp, tls) side by side; ours are a fresh process's, theirs a
 * warm Go process's, so they only show where cold costs remain.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProbeResult } from '../src/probes/result.js';
import { isMain, listenLoopback, makeCerts, median, respondAfter, round, startHttps } from './support.js';

export const COLD_TTFB_MAX_ERROR_MS = 3;
export const COLD_TTFB_MAX_VS_BLACKBOX_MS = 2;

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const BLACKBOX = 'prometheus-blackbox-exporter';

export interface ColdDelay {
  readonly delayMs: number;
  /** Median of our fresh processes. */
  readonly ttfbMs: number;
  /** ttfbMs - delayMs. */
  readonly errorMs: number;
  /** Median of blackbox_exporter's `processing` phase, absent when it could not run. */
  readonly blackboxMs?: number;
  /** ttfbMs - blackboxMs. */
  readonly vsBlackboxMs?: number;
}

export interface PhaseSideBySide {
  readonly phase: 'dns' | 'tcp' | 'tls';
  readonly oursMs: number;
  readonly blackboxMs?: number;
}

export interface ColdTtfbResult {
  readonly samples: number;
  readonly delays: ColdDelay[];
  readonly phases: PhaseSideBySide[];
  /** Why blackbox_exporter is not in the result, when it is not. */
  readonly blackboxMissing?: string;
  readonly maxErrorMs: number;
  readonly maxVsBlackboxMs: number;
}

export async function benchColdTtfb(options: { delaysMs?: readonly number[]; samples?: number } = {}): Promise<ColdTtfbResult> {
  const delays = options.delaysMs ?? [20, 80, 200];
  const samples = options.samples ?? 5;
  const certs = makeCerts();
  const dir = mkdtempSync(join(tmpdir(), 'wbmon-cold-ttfb-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, certs.caPem);
  const server = await startHttps(certs, (req, res) => respondAfter(res, Number(/^\/delay\/(\d+)$/.exec(req.url ?? '')?.[1] ?? 0)));
  const blackbox = await startBlackbox(dir, caFile);
  try {
    const ours = new Map<number, ProbeResult[]>(delays.map((d) => [d, []]));
    const theirs = new Map<number, BlackboxPhases[]>(delays.map((d) => [d, []]));
    await probeFresh(`${server.url}delay/0`, caFile); // the OS file cache, not the process
    if (!('missing' in blackbox)) await blackbox.probe(`${server.url}delay/0`);
    for (let i = 0; i < samples; i++) {
      for (const d of delays) {
        const url = `${server.url}delay/${d}`;
        ours.get(d)!.push(await probeFresh(url, caFile));
        if (!('missing' in blackbox)) theirs.get(d)!.push(await blackbox.probe(url));
      }
    }
    const all = [...ours.values()].flat();
    const allTheirs = [...theirs.values()].flat();
    return {
      samples,
      maxErrorMs: COLD_TTFB_MAX_ERROR_MS,
      maxVsBlackboxMs: COLD_TTFB_MAX_VS_BLACKBOX_MS,
      ...('missing' in blackbox && { blackboxMissing: blackbox.missing }),
      delays: delays.map((d) => {
        const ttfb = median(ours.get(d)!.map((r) => r.timings.ttfb!));
        const bb = theirs.get(d)!.length ? median(theirs.get(d)!.map((p) => p.processing)) : undefined;
        return {
          delayMs: d,
          ttfbMs: round(ttfb),
          errorMs: round(ttfb - d),
          ...(bb !== undefined && { blackboxMs: round(bb), vsBlackboxMs: round(ttfb - bb) }),
        };
      }),
      phases: (['dns', 'tcp', 'tls'] as const).map((phase) => {
        const theirName = ({ dns: 'resolve', tcp: 'connect', tls: 'tls' } as const)[phase];
        return {
          phase,
          oursMs: round(median(all.map((r) => r.timings[phase] ?? 0))),
          ...(allTheirs.length && { blackboxMs: round(median(allTheirs.map((p) => p[theirName]))) }),
        };
      }),
    };
  } finally {
    if (!('missing' in blackbox)) blackbox.stop();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One `writeback-monitor probe --json` in a new Node process. */
function probeFresh(url: string, caFile: string): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, 'probe', '--json', '--target', url], { env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: caFile }, cwd: tmpdir() }, (_err, stdout, stderr) => {
      try {
        const [result] = JSON.parse(stdout) as ProbeResult[];
        if (!result?.ok || result.timings.ttfb === undefined) throw new Error(result?.failure?.message ?? 'no result');
        resolve(result);
      } catch (err) {
        reject(new Error(`probe of ${url} failed: ${(err as Error).message} ${stderr}`));
      }
    });
  });
}

interface BlackboxPhases {
  readonly resolve: number;
  readonly connect: number;
  readonly tls: number;
  readonly processing: number;
}

interface Blackbox {
  probe(url: string): Promise<BlackboxPhases>;
  stop(): void;
}

function installed(): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${BLACKBOX}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Finds or installs blackbox_exporter and starts it on a free loopback port. */
async function startBlackbox(dir: string, caFile: string): Promise<Blackbox | { missing: string }> {
  if (!installed()) {
    if (process.getuid?.() !== 0) return { missing: `${BLACKBOX} is not installed and this is not root (apt-get install ${BLACKBOX})` };
    try {
      execFileSync('apt-get', ['install', '-y', '-q', BLACKBOX], { stdio: 'ignore', timeout: 180_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } catch (err) {
      return { missing: `apt-get install ${BLACKBOX} failed: ${(err as Error).message.split('\n')[0]}` };
    }
    if (!installed()) return { missing: `${BLACKBOX} still not on PATH after apt-get install` };
  }
  const config = join(dir, 'blackbox.yml');
  writeFileSync(
    config,
    ['modules:', '  https_2xx:', '    prober: http', '    timeout: 5s', '    http:', '      preferred_ip_protocol: ip4', '      tls_config:', `        ca_file: ${caFile}`, ''].join('\n'),
  );
  const port = await freePort();
  const child: ChildProcess = spawn(BLACKBOX, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  const probe = async (url: string): Promise<BlackboxPhases> => {
    const text = await (await fetch(`${base}/probe?module=https_2xx&target=${encodeURIComponent(url)}`)).text();
    if (!/^probe_success 1$/m.test(text)) throw new Error(`blackbox_exporter could not probe ${url}:\n${text.slice(0, 400)}`);
    const phase = (name: string): number => Number(new RegExp(`probe_http_duration_seconds\\{phase="${name}"\\} (\\S+)`).exec(text)?.[1] ?? NaN) * 1000;
    return { resolve: phase('resolve'), connect: phase('connect'), tls: phase('tls'), processing: phase('processing') };
  };
  for (let i = 0; i < 50; i++) {
    try {
      await fetch(`${base}/-/healthy`);
      return { probe, stop: () => child.kill() };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill();
  return { missing: `${BLACKBOX} did not start on ${base}` };
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  const port = await listenLoopback(server);
  await new Promise((r) => server.close(r));
  return port;
}

export function formatColdTtfb(r: ColdTtfbResult): string {
  const sign = (n: number): string => `${n >= 0 ? '+' : ''}${n.toFixed(2)}`;
  const lines = [`cold ttfb: probe --json in a fresh process vs injected first-byte delay (median of ${r.samples} processes each)`];
  for (const d of r.delays) {
    const bb = d.blackboxMs === undefined ? 'blackbox_exporter not measured' : `blackbox_exporter ${d.blackboxMs.toFixed(2)} ms, ours - theirs ${sign(d.vsBlackboxMs!)} ms (target |x| <= ${r.maxVsBlackboxMs})`;
    lines.push(`  delay ${String(d.delayMs).padStart(3)} ms: ttfb ${d.ttfbMs.toFixed(2)} ms, error ${sign(d.errorMs)} ms (target |error| <= ${r.maxErrorMs}); ${bb}`);
  }
  lines.push(`  other phases, ours cold / theirs warm: ${r.phases.map((p) => `${p.phase} ${p.oursMs.toFixed(2)}${p.blackboxMs === undefined ? '' : ` / ${p.blackboxMs.toFixed(2)}`} ms`).join(', ')}`);
  if (r.blackboxMissing) lines.push(`  blackbox_exporter: ${r.blackboxMissing}`);
  return lines.join('\n');
}

if (isMain(import.meta.url)) console.log(formatColdTtfb(await benchColdTtfb()));
