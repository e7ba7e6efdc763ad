import { describe, expect, it } from 'vitest';
import { applyResult as applyToCheck, newCheck, type CheckRecord, type CheckResult, type Transition } from '../../src/checks/state.js';
import { applyResult, applyTransition, rowDayOf, type HistoryRow } from '../../src/history/history.js';
import { RELATIVE_ERROR } from '../../src/history/sketch.js';
import { historyView, summarize } from '../../src/history/view.js';
import { failed, logNormal, nearestRank, ok, seeded } from './support.js';

const CHECK = 'cloud:https://passwordreset.microsoftonline.com/';
const identity = { id: CHECK, kind: 'probe' as const, target: 'https://passwordreset.microsoftonline.com/', location: 'local' };

/**
 * The pipeline as it will be wired: each result through the check state machine, then into
 * history, with the transition it caused (if any) as an incident.
 */
function pipeline(results: readonly (CheckResult & { timings?: { total: number } })[], now: Date) {
  let check: CheckRecord = newCheck(identity, new Date(results[0]!.startedAt));
  const rows = new Map<string, HistoryRow>();
  const transitions: Transition[] = [];
  for (const result of results) {
    const outcome = applyToCheck(check, result, { failure: 2, success: 2 });
    check = outcome.check;
    const day = rowDayOf(result.startedAt, now);
    rows.set(day, applyResult(rows.get(day), CHECK, result, now));
    if (outcome.transition) {
      transitions.push(outcome.transition);
      const t = outcome.transition;
      const target = rowDayOf(t.at, now);
      rows.set(target, applyTransition(rows.get(target), t, result, now) ?? rows.get(target)!);
    }
  }
  return { rows: [...rows.values()], transitions };
}

describe('history view', () => {
  it('shows 48 hourly buckets ending with the current hour and N daily buckets ending today, empty ones included', () => {
    const now = new Date('2026-03-10T12:34:56.789Z');
    const view = historyView([], now, 30);
    expect(view.hourly).toHaveLength(48);
    expect(view.hourly[0]!.start).toBe('2026-03-08T13:00:00.000Z');
    expect(view.hourly.at(-1)!.start).toBe('2026-03-10T12:00:00.000Z');
    expect(view.daily).toHaveLength(30);
    expect(view.daily[0]!.start).toBe('2026-02-09T00:00:00.000Z');
    expect(view.daily.at(-1)!.start).toBe('2026-03-10T00:00:00.000Z');
    expect(view.hourly[0]).toEqual({ start: '2026-03-08T13:00:00.000Z', runs: 0, failures: 0, uptime: null, p50Ms: null, p95Ms: null, ttfbP50Ms: null, ttfbP95Ms: null });
    expect(view.incidents).toEqual([]);
  });

  it("reports an hour's p50 and p95 of a known distribution within the sketch's 2 %", () => {
    const now = new Date('2026-03-10T11:00:00Z');
    const random = seeded(42);
    const totals = Array.from({ length: 720 }, () => logNormal(random, 250, 0.5));
    const ttfbs = totals.map((t) => t / 4);
    let row: HistoryRow | undefined;
    totals.forEach((total, i) => (row = applyResult(row, CHECK, ok(new Date(Date.parse('2026-03-10T10:00:00Z') + i * 5000).toISOString(), total, ttfbs[i]), now)));
    const hour = historyView([row!], now, 1).hourly.find((h) => h.start === '2026-03-10T10:00:00.000Z')!;
    expect(hour).toMatchObject({ runs: 720, failures: 0, uptime: 1 });
    const close = (estimate: number | null, exact: number): void => expect(Math.abs(estimate! - exact)).toBeLessThanOrEqual(RELATIVE_ERROR * exact + 0.005);
    close(hour.p50Ms, nearestRank(totals, 0.5));
    close(hour.p95Ms, nearestRank(totals, 0.95));
    close(hour.ttfbP50Ms, nearestRank(ttfbs, 0.5));
    close(hour.ttfbP95Ms, nearestRank(ttfbs, 0.95));
  });

  it('follows a check that goes down exactly at midnight UTC and recovers after it, bucket by bucket', () => {
    const now = new Date('2026-03-10T01:00:00Z');
    const { rows, transitions } = pipeline(
      [
        ok('2026-03-09T23:50:00.000Z'),
        failed('2026-03-09T23:55:00.000Z'),
        failed('2026-03-10T00:00:00.000Z'), // second failure in a row: down, in the new day
        ok('2026-03-10T00:05:00.000Z'),
        ok('2026-03-10T00:10:00.000Z'), // second success: up
      ],
      now,
    );
    expect(transitions.map((t) => `${t.from}->${t.to}@${t.at}`)).toEqual([
      'new->up@2026-03-09T23:50:00.000Z',
      'up->down@2026-03-10T00:00:00.000Z',
      'down->up@2026-03-10T00:10:00.000Z',
    ]);
    const view = historyView(rows, now, 2);
    const hour = (start: string) => view.hourly.find((h) => h.start === start)!;
    expect(hour('2026-03-09T23:00:00.000Z')).toMatchObject({ runs: 2, failures: 1, uptime: 0.5 });
    expect(hour('2026-03-10T00:00:00.000Z')).toMatchObject({ runs: 3, failures: 1, uptime: 0.666667 });
    expect(view.daily.map((d) => [d.start, d.runs, d.failures])).toEqual([
      ['2026-03-09T00:00:00.000Z', 2, 1],
      ['2026-03-10T00:00:00.000Z', 3, 1],
    ]);
    expect(view.incidents).toEqual([
      { from: 'up', to: 'down', at: '2026-03-10T00:00:00.000Z', until: '2026-03-10T00:10:00.000Z', code: 'tcp_timeout', phase: 'tcp', message: 'no answer to SYN' },
    ]);
    expect(rows.find((r) => r.day === '2026-03-09')!.incidents).toEqual([]);
  });

  it('lists incidents newest first: those that began in the window and older ones still open or ending in it', () => {
    const now = new Date('2026-03-10T12:00:00Z');
    const byDay = new Map<string, HistoryRow>();
    const transition = (from: 'up' | 'down', to: 'up' | 'down', at: string): void => {
      const day = rowDayOf(at, now);
      byDay.set(day, applyTransition(byDay.get(day), { checkId: CHECK, from, to, at, reason: 'r' }, undefined, now)!);
    };
    const open = (at: string, until?: string): void => {
      transition('up', 'down', at);
      if (until) transition('down', 'up', until);
    };
    open('2026-03-01T05:00:00.000Z', '2026-03-01T06:00:00.000Z'); // before a 7-day window: left out
    open('2026-03-02T05:00:00.000Z', '2026-03-05T06:00:00.000Z'); // began before, ended inside
    open('2026-03-08T05:00:00.000Z', '2026-03-08T06:00:00.000Z');
    open('2026-03-09T05:00:00.000Z'); // still open
    const rows = [...byDay.values()];
    expect(historyView(rows, now, 7).incidents.map((i) => [i.at, i.until])).toEqual([
      ['2026-03-09T05:00:00.000Z', null],
      ['2026-03-08T05:00:00.000Z', '2026-03-08T06:00:00.000Z'],
      ['2026-03-02T05:00:00.000Z', '2026-03-05T06:00:00.000Z'],
    ]);
  });

  it('sums up runs and uptime over the last 30 days for a badge', () => {
    const now = new Date('2026-03-10T12:00:00Z');
    const rows: HistoryRow[] = [];
    for (const [day, failures] of [['2026-02-08', 5], ['2026-02-09', 1], ['2026-03-10', 0]] as const) {
      let row: HistoryRow | undefined;
      for (let i = 0; i < 10; i++) row = applyResult(row, CHECK, (i < failures ? failed : ok)(`${day}T10:0${i}:00.000Z`), now);
      rows.push(row!);
    }
    expect(summarize(rows, now, 30)).toEqual({ runs: 20, failures: 1, uptime: 0.95 });
    expect(summarize([], now, 30)).toEqual({ runs: 0, failures: 0, uptime: null });
  });
});
