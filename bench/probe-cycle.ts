/**
 * Probe-cycle concurrency: a cycle over many targets should last about as long as its slowest
 * target, not the sum. Measured as the ratio `cycle wall time / slowest target probed alone`,
 * both in the same run, so machine speed cancels out.
 */
import { parseSettings } from '../src/config/settings.js';
import { probeAll } from '../src/monitor/probe-cycle.js';
import type { ProbeResult } from '../src/probes/result.js';
import { connect as tlsConnect, createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { startServerFarm } from './server-farm.js';
import { isMain, makeCerts, median, round } from './support.js';

export interface ProbeCycleOptions {
  readonly targets?: number;
  readonly rounds?: number;
  /** Injected delay before each server's first byte. */
  readonly delayMs?: number;
}

export interface ProbeCycleRound {
  readonly wallMs: number;
  /** The slowest target's probe time when probed alone (the baseline). */
  readonly slowestTotalMs: number;
  /** wallMs / slowestTotalMs */
  readonly ratio: number;
  /** The slowest probe's own total inside this cycle (it includes time spent waiting on CPU). */
  readonly slowestInCycleMs: number;
  /** wallMs / slowestInCycleMs: any time the cycle adds beyond its slowest probe. */
  readonly inCycleRatio: number;
}

export interface ProbeCycleResult {
  readonly targets: number;
  readonly delayMs: number;
  readonly rounds: ProbeCycleRound[];
  readonly medianRatio: number;
  readonly medianInCycleRatio: number;
  /** Target: medianRatio at most this. */
  readonly maxRatio: number;
  /**
   * Floor: the same 50 HTTPS requests made with bare tls.connect (same trust store, no
   * phases, no result model), concurrently. What Node's TLS costs by itself on this machine.
   */
  readonly floor: { readonly wallMs: number; readonly cpuMs: number; readonly cycleCpuMs: number; readonly ratio: number };
  /** Reference: one concurrent cycle against a sequential loop over the same targets. */
  readonly baseline: { readonly concurrentMs: number; readonly sequentialMs: number; readonly ratio: number; readonly ideal: number };
}

export const PROBE_CYCLE_MAX_RATIO = 1.25;

function assertAllUp(results: readonly ProbeResult[], when: string): void {
  const down = results.filter((r) => !r.ok);
  if (down.length > 0) {
    const first = down[0]!;
    throw new Error(`${when}: ${down.length}/${results.length} probes failed, e.g. ${first.target}: ${first.failure?.code} ${first.failure?.message}`);
  }
}

export async function benchProbeCycle(options: ProbeCycleOptions = {}): Promise<ProbeCycleResult> {
  const count = options.targets ?? 50;
  const rounds = options.rounds ?? 5;
  const delayMs = options.delayMs ?? 50;
  const certs = makeCerts();
  const farm = await startServerFarm(certs, count, delayMs);
  try {
    const targets = farm.urls;
    const settings = parseSettings({ WBMON_TARGETS: targets.join(','), WBMON_PROBE_TIMEOUT_MS: '10000' });
    const io = { extraCa: [certs.caPem] };

    assertAllUp(await probeAll(settings.targets, settings, io), 'warm-up');

    // Baseline: each target probed alone, one after another; the slowest of these is what a
    // perfectly concurrent cycle would take. Measured in this run, interleaved with the cycles.
    const aloneMs: number[] = [];
    const s0 = performance.now();
    for (const target of settings.targets) {
      const [alone] = await probeAll([target], settings, io);
      assertAllUp([alone!], 'baseline (alone)');
      aloneMs.push(alone!.timings.total);
    }
    const sequentialMs = performance.now() - s0;
    const slowestAloneMs = Math.max(...aloneMs);

    const measured: ProbeCycleRound[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now();
      const results = await probeAll(settings.targets, settings, io);
      const wallMs = performance.now() - t0;
      assertAllUp(results, `round ${r + 1}`);
      const slowestInCycleMs = Math.max(...results.map((x) => x.timings.total));
      measured.push({
        wallMs: round(wallMs),
        slowestTotalMs: round(slowestAloneMs),
        ratio: round(wallMs / slowestAloneMs, 3),
        slowestInCycleMs: round(slowestInCycleMs),
        inCycleRatio: round(wallMs / slowestInCycleMs, 3),
      });
    }
    const concurrentMs = median(measured.map((m) => m.wallMs));

    const context = createSecureContext({ ca: [...rootCertificates, certs.caPem] });
    const floorWall: number[] = [];
    const floorCpu: number[] = [];
    const cycleCpu: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let cpu = process.cpuUsage();
      let t0 = performance.now();
      await Promise.all(targets.map((t) => bareHttpsGet(new URL(t), context)));
      floorWall.push(performance.now() - t0);
      floorCpu.push(cpuMs(process.cpuUsage(cpu)));
      cpu = process.cpuUsage();
      t0 = performance.now();
      await probeAll(settings.targets, settings, io);
      cycleCpu.push(cpuMs(process.cpuUsage(cpu)));
    }
    const floorWallMs = median(floorWall);

    return {
      targets: count,
      delayMs,
      rounds: measured,
      medianRatio: round(median(measured.map((m) => m.ratio)), 3),
      medianInCycleRatio: round(median(measured.map((m) => m.inCycleRatio)), 3),
      maxRatio: PROBE_CYCLE_MAX_RATIO,
      floor: {
        wallMs: round(floorWallMs),
        cpuMs: round(median(floorCpu)),
        cycleCpuMs: round(median(cycleCpu)),
        ratio: round(concurrentMs / floorWallMs, 3),
      },
      baseline: {
        concurrentMs: round(concurrentMs),
        sequentialMs: round(sequentialMs),
        ratio: round(concurrentMs / sequentialMs, 4),
        ideal: round(1 / count, 4),
      },
    };
  } finally {
    await farm.close();
  }
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

/** One GET over a fresh TLS connection, nothing else: the floor a probe cannot go below. */
function bareHttpsGet(url: URL, secureContext: SecureContext): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(url.port), servername: url.hostname, secureContext }, () => {
      socket.write(`GET / HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', () => undefined);
    socket.once('end', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

export function formatProbeCycle(r: ProbeCycleResult): string {
  const lines = [`probe cycle: ${r.targets} loopback HTTPS targets, ${r.delayMs} ms first-byte delay each`];
  r.rounds.forEach((m, i) =>
    lines.push(
      `  round ${i + 1}: cycle wall ${m.wallMs.toFixed(1)} ms / slowest target probed alone ${m.slowestTotalMs.toFixed(1)} ms = ${m.ratio.toFixed(3)}` +
        ` (/ slowest probe in the cycle ${m.slowestInCycleMs.toFixed(1)} ms = ${m.inCycleRatio.toFixed(3)})`,
    ),
  );
  lines.push(`  median cycle / slowest target probed alone: ${r.medianRatio.toFixed(3)} (target <= ${r.maxRatio})`);
  lines.push(`  median cycle / slowest probe in the same cycle: ${r.medianInCycleRatio.toFixed(3)} (nothing serialised after the probes)`);
  const f = r.floor;
  lines.push(
    `  floor: the same requests over bare tls.connect take ${f.wallMs.toFixed(1)} ms (CPU ${f.cpuMs.toFixed(1)} ms; a probe cycle uses ${f.cycleCpuMs.toFixed(1)} ms CPU)`,
    `  median cycle / bare-TLS floor: ${f.ratio.toFixed(3)}`,
  );
  const b = r.baseline;
  lines.push(
    `  reference: median concurrent cycle ${b.concurrentMs.toFixed(1)} ms / sequential ${b.sequentialMs.toFixed(1)} ms = ${b.ratio.toFixed(4)} (ideal ~1/${r.targets} = ${b.ideal.toFixed(4)})`,
  );
  return lines.join('\n');
}

if (isMain(import.meta.url)) console.log(formatProbeCycle(await benchProbeCycle()));
