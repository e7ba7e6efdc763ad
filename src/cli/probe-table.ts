/** The `probe` command's table: one row per target, every phase in milliseconds. */
import type { ProbeResult } from '../probes/result.js';

const COLUMNS = ['TARGET', 'RESULT', 'DNS', 'TCP', 'PROXY', 'TLS', 'TTFB', 'TOTAL', 'DETAIL'] as const;

function ms(value: number | undefined): string {
  return value === undefined ? '-' : String(Math.round(value));
}

function verdict(r: ProbeResult): string {
  if (!r.ok) return 'DOWN';
  return r.warnings.length > 0 ? 'WARN' : 'up';
}

function detail(r: ProbeResult): string {
  const parts: string[] = [];
  if (r.failure) parts.push(`${r.failure.code} (${r.failure.phase}): ${r.failure.message}`);
  else if (r.http) parts.push(`HTTP ${r.http.status}`);
  if (r.tls && !r.failure) parts.push(`${r.tls.protocol ?? 'TLS'}, cert ${r.tls.daysToExpiry} days left`);
  for (const w of r.warnings) parts.push(`${w.code}: ${w.message}`);
  if (r.proxy) parts.push(`via ${r.proxy}`);
  return parts.join('; ');
}

export function probeTable(results: readonly ProbeResult[]): string {
  const rows = results.map((r) => [
    r.target,
    verdict(r),
    ms(r.timings.dns),
    ms(r.timings.tcp),
    ms(r.timings.proxy),
    ms(r.timings.tls),
    ms(r.timings.ttfb),
    ms(r.timings.total),
    detail(r),
  ]);
  const all = [[...COLUMNS], ...rows];
  const widths = COLUMNS.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}
