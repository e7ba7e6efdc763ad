/**
 * `npm run bench`: both benchmarks in sequence, then a PASS/FAIL summary against each target.
 * Exits 0 whatever the numbers (benchmarks do not gate CI); only a crash exits non-zero.
 */
import { benchProbeCycle, formatProbeCycle } from './probe-cycle.js';
import { benchTimingAccuracy, formatTimingAccuracy } from './timing-accuracy.js';

interface Check {
  readonly name: string;
  readonly measured: string;
  readonly target: string;
  readonly pass: boolean;
}

const started = performance.now();

const cycle = await benchProbeCycle();
console.log(formatProbeCycle(cycle));
console.log();
const timing = await benchTimingAccuracy();
console.log(formatTimingAccuracy(timing));

const checks: Check[] = [
  {
    name: `probe cycle / slowest target (${cycle.targets} targets)`,
    measured: cycle.medianRatio.toFixed(3),
    target: `<= ${cycle.maxRatio}`,
    pass: cycle.medianRatio <= cycle.maxRatio,
  },
  ...timing.delays.map((d) => ({
    name: `ttfb error at ${d.delayMs} ms delay`,
    measured: `${d.errorMs >= 0 ? '+' : ''}${d.errorMs.toFixed(2)} ms`,
    target: `|error| <= ${timing.maxErrorMs} ms`,
    pass: Math.abs(d.errorMs) <= timing.maxErrorMs,
  })),
];

const width = Math.max(...checks.map((c) => c.name.length));
console.log();
console.log('summary');
for (const c of checks) console.log(`  ${c.pass ? 'PASS' : 'FAIL'}  ${c.name.padEnd(width)}  ${c.measured.padStart(9)}  (${c.target})`);
const b = cycle.baseline;
console.log(`  INFO  ${'reference: concurrent / sequential cycle'.padEnd(width)}  ${b.ratio.toFixed(4).padStart(9)}  (ideal ~${b.ideal.toFixed(4)}; no target)`);
console.log(`  INFO  ${'probe cycle / slowest probe in that cycle'.padEnd(width)}  ${cycle.medianInCycleRatio.toFixed(3).padStart(9)}  (no serialisation after the probes)`);
console.log(`  INFO  ${'probe cycle / bare-TLS floor (same run)'.padEnd(width)}  ${cycle.floor.ratio.toFixed(3).padStart(9)}  (our overhead over Node's own TLS)`);
const missed = checks.filter((c) => !c.pass);
console.log(
  missed.length === 0
    ? `all ${checks.length} targets met`
    : `MISSED ${missed.length} of ${checks.length} targets: ${missed.map((c) => c.name).join('; ')}`,
);
console.log(`(bench took ${((performance.now() - started) / 1000).toFixed(1)} s; informational, exit code 0 regardless)`);
