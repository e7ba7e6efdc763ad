import { describe, expect, it } from 'vitest';
import {
  applyResult,
  applyTransition,
  DEFAULT_HISTORY_DAYS,
  incidentsOf,
  historyKey,
  isRetained,
  MAX_INCIDENTS_PER_DAY,
  mergeBuckets,
  prune,
  readRow,
  rowDayOf,
  SEEN_PER_ROW,
  viewDays,
  type HistoryResult,
  type HistoryRow,
} from '../../src/history/history.js';
import { sketchCount } from '../../src/history/sketch.js';
import { down, failed, ok, recovered } from './support.js';

const CHECK = 'cloud:https://passwordreset.microsoftonline.com/';
const NOW = new Date('2026-03-10T12:00:00.000Z');

/** Applies results in order, each to the row of its own day, as the repository does. */
function feed(results: readonly HistoryResult[], now = NOW, rows = new Map<string, HistoryRow>()): Map<string, HistoryRow> {
  for (const r of results) {
    const day = rowDayOf(r.startedAt, now);
    rows.set(day, applyResult(rows.get(day), CHECK, r, now));
  }
  return rows;
}

describe('history aggregation', () => {
  it('counts a result at 09:59:59.999 in hour 09 and one at 10:00:00.000 in hour 10 of the same day', () => {
    const rows = feed([ok('2026-03-10T09:59:59.999Z'), ok('2026-03-10T10:00:00.000Z'), failed('2026-03-10T10:59:59.999Z')]);
    const row = rows.get('2026-03-10')!;
    expect(Object.keys(row.hours!).sort()).toEqual(['09', '10']);
    expect(row.hours!['09']).toMatchObject({ runs: 1, failures: 0 });
    expect(row.hours!['10']).toMatchObject({ runs: 2, failures: 1 });
    expect(row.daily).toMatchObject({ runs: 3, failures: 1 });
  });

  it('splits UTC days at midnight UTC, whatever offset the prober wrote its time in', () => {
    const rows = feed([ok('2026-03-09T23:59:59.999Z'), ok('2026-03-10T00:00:00.000Z'), ok('2026-03-10T01:30:00.000+02:00')]);
    expect([...rows.keys()].sort()).toEqual(['2026-03-09', '2026-03-10']);
    expect(rows.get('2026-03-09')!.daily.runs).toBe(2); // 01:30+02:00 is 23:30Z the day before
    expect(rows.get('2026-03-09')!.hours!['23']!.runs).toBe(2);
    expect(rows.get('2026-03-10')!.hours!['00']!.runs).toBe(1);
  });

  it('refuses a row of another day or check: the caller read the wrong row', () => {
    const row = applyResult(undefined, CHECK, ok('2026-03-09T23:59:59.999Z'), NOW);
    expect(() => applyResult(row, CHECK, ok('2026-03-10T00:00:00.000Z'), NOW)).toThrow(RangeError);
    expect(() => applyResult(row, 'cloud:other', ok('2026-03-09T10:00:00.000Z'), NOW)).toThrow(RangeError);
  });

  it("counts a result stamped in the future (a relay's clock ahead) in the monitor's current hour", () => {
    const rows = feed([ok('2026-03-11T08:00:00.000Z')]);
    expect(rows.get('2026-03-10')!.hours!['12']!.runs).toBe(1);
    expect(rowDayOf('not a time', NOW)).toBe('2026-03-10');
  });

  it('counts the same result given twice once (the same row object comes back)', () => {
    const first = applyResult(undefined, CHECK, ok('2026-03-10T10:00:00.000Z'), NOW);
    expect(applyResult(first, CHECK, ok('2026-03-10T10:00:00.000Z'), NOW)).toBe(first);
    expect(first.daily.runs).toBe(1);
  });

  it(`remembers only the last ${SEEN_PER_ROW} results for that, so a row stays bounded`, () => {
    const results = Array.from({ length: 300 }, (_, i) => ok(new Date(Date.parse('2026-03-10T00:00:00Z') + i * 1000).toISOString()));
    const row = feed(results).get('2026-03-10')!;
    expect(row.seen).toHaveLength(SEEN_PER_ROW);
    expect(row.daily.runs).toBe(300);
  });

  it('keeps durations of successes only, and ttfb only from results that have one', () => {
    const rows = feed([ok('2026-03-10T10:00:00Z', 120, 30), ok('2026-03-10T10:01:00Z', 140), failed('2026-03-10T10:02:00Z', 10_000), { ok: true, startedAt: '2026-03-10T10:03:00Z' }]);
    const hour = rows.get('2026-03-10')!.hours!['10']!;
    expect(hour.runs).toBe(4);
    expect(hour.failures).toBe(1);
    expect(sketchCount(hour.total!)).toBe(2);
    expect(sketchCount(hour.ttfb!)).toBe(1);
  });

  it('keeps the daily bucket equal to its hours merged', () => {
    const results = Array.from({ length: 288 }, (_, i) => (i % 7 === 0 ? failed : ok)(new Date(Date.parse('2026-03-09T00:00:00Z') + i * 300_000).toISOString(), 50 + (i % 40) * 9, 10 + (i % 5)));
    const row = feed(results).get('2026-03-09')!;
    expect(Object.keys(row.hours!)).toHaveLength(24);
    expect(Object.values(row.hours!).reduce(mergeBuckets, { runs: 0, failures: 0 })).toEqual(row.daily);
  });

  it('opens an incident at exactly midnight in the new day and ends it by a recovery in a later day', () => {
    const opened = applyTransition(undefined, down(CHECK, '2026-03-09T00:00:00.000Z'), failed('2026-03-09T00:00:00.000Z'), NOW)!;
    expect(opened.day).toBe('2026-03-09');
    expect(opened.incidents).toEqual([{ from: 'up', to: 'down', at: '2026-03-09T00:00:00.000Z', code: 'tcp_timeout', phase: 'tcp', message: 'no answer to SYN' }]);
    expect(incidentsOf([opened]).map((i) => i.until)).toEqual([null]);
    const recovery = applyTransition(undefined, recovered(CHECK, '2026-03-10T07:00:00.000Z'), undefined, NOW)!;
    expect(recovery).toMatchObject({ day: '2026-03-10', incidents: [], recoveries: ['2026-03-10T07:00:00.000Z'] });
    expect(applyTransition(recovery, recovered(CHECK, '2026-03-10T07:00:00.000Z'), undefined, NOW)).toBe(recovery); // a repeat
    expect(incidentsOf([recovery, opened]).map((i) => i.until)).toEqual(['2026-03-10T07:00:00.000Z']);
  });

  it('pairs each incident with its recovery whatever order racing writers recorded them in', () => {
    const times = ['2026-03-10T01:00:00.000Z', '2026-03-10T02:00:00.000Z', '2026-03-10T05:00:00.000Z', '2026-03-10T06:00:00.000Z'];
    const transitions = [down(CHECK, times[0]!), recovered(CHECK, times[1]!), down(CHECK, times[2]!), recovered(CHECK, times[3]!)];
    for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [2, 3, 0, 1], [0, 3, 2, 1], [1, 0, 3, 2]]) {
      let row: HistoryRow | undefined;
      for (const i of order) row = applyTransition(row, transitions[i]!, undefined, NOW);
      expect(incidentsOf([row!]).map((i) => [i.at, i.until]), order.join()).toEqual([
        [times[0], times[1]],
        [times[2], times[3]],
      ]);
    }
  });

  it('ends an incident whose recovery is not kept where the next one began, and leaves a recovery with no incident before it unused', () => {
    const rows = [
      applyTransition(applyTransition(undefined, recovered(CHECK, '2026-03-10T00:30:00.000Z'), undefined, NOW), down(CHECK, '2026-03-10T01:00:00.000Z'), undefined, NOW)!,
    ];
    const withNext = [applyTransition(rows[0], down(CHECK, '2026-03-10T03:00:00.000Z'), undefined, NOW)!];
    expect(incidentsOf(withNext).map((i) => [i.at, i.until])).toEqual([
      ['2026-03-10T01:00:00.000Z', '2026-03-10T03:00:00.000Z'],
      ['2026-03-10T03:00:00.000Z', null],
    ]);
  });

  it('records the same transition twice as one incident, and a new -> up transition as none', () => {
    const once = applyTransition(undefined, down(CHECK, '2026-03-10T10:00:00.000Z'), undefined, NOW)!;
    expect(applyTransition(once, down(CHECK, '2026-03-10T10:00:00.000Z'), undefined, NOW)).toBe(once);
    expect(once.incidents[0]).toMatchObject({ code: null, phase: null, message: 'tcp_timeout in tcp: no answer to SYN' });
    expect(applyTransition(undefined, { checkId: CHECK, from: 'new', to: 'up', at: '2026-03-10T10:00:00Z', reason: 'answered' }, undefined, NOW)).toBeUndefined();
    const early = applyTransition(once, recovered(CHECK, '2026-03-10T09:00:00.000Z'), undefined, NOW)!;
    expect(incidentsOf([early]).map((i) => i.until)).toEqual([null]); // ends before it began: not this one
  });

  it(`merges a flapping check's outages beyond ${MAX_INCIDENTS_PER_DAY} a day into the last one, which stays open until the last ends`, () => {
    let row: HistoryRow | undefined;
    const at = (minute: number): string => new Date(Date.parse('2026-03-10T00:00:00Z') + minute * 60_000).toISOString();
    for (let i = 0; i < MAX_INCIDENTS_PER_DAY + 10; i++) {
      row = applyTransition(row, down(CHECK, at(i * 20)), undefined, NOW);
      if (i === MAX_INCIDENTS_PER_DAY + 5) row = applyTransition(row, down(CHECK, at(i * 20)), undefined, NOW); // retried
      row = applyTransition(row, recovered(CHECK, at(i * 20 + 10)), undefined, NOW);
      if (i === MAX_INCIDENTS_PER_DAY + 8) expect(incidentsOf([row!]).at(-1)!.until).toBe(at(i * 20 + 10));
      if (i === MAX_INCIDENTS_PER_DAY + 9) row = applyTransition(row, down(CHECK, at(i * 20 + 15)), undefined, NOW);
    }
    expect(row!.incidents).toHaveLength(MAX_INCIDENTS_PER_DAY);
    const last = row!.incidents.at(-1)!;
    expect(last.at).toBe(at((MAX_INCIDENTS_PER_DAY - 1) * 20));
    expect(last.repeats).toBe(11);
    expect(incidentsOf([row!]).at(-1)!.until).toBeNull();
  });

  it('keeps incident text safe to show and short, whatever a relay sent', () => {
    const hostile = { failure: { code: `x\u001b[2K${'c'.repeat(500)}`, phase: 'tcp\u202e\r\n', message: `forged\r\n2026-01-01 resolved\u0000 ${'😀'.repeat(400)}` } };
    const row = applyTransition(undefined, down(CHECK, '2026-03-10T10:00:00Z'), hostile, NOW)!;
    const incident = row.incidents[0]!;
    expect(incident.code!.length).toBeLessThanOrEqual(64);
    expect(incident.phase).toBe('tcp ');
    expect(incident.message).not.toMatch(/[\u0000-\u001f\u202e]/);
    expect(incident.message.length).toBeLessThanOrEqual(300);
    expect(incident.message).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/); // no half of a surrogate pair
  });
});

describe('history retention', () => {
  const rowOf = (day: string): HistoryRow => applyResult(undefined, CHECK, ok(`${day}T10:00:00.000Z`), new Date(`${day}T23:00:00Z`));

  it('drops hours of a day only once its last hour has left the 48-hour window', () => {
    const row = rowOf('2026-03-08'); // its last hour, 23:00, leaves the window when 2026-03-10T23:00 begins
    expect(prune([row], new Date('2026-03-10T22:59:59.999Z'), 90).compacted).toEqual([]);
    const { compacted, expired } = prune([row], new Date('2026-03-10T23:00:00.000Z'), 90);
    expect(expired).toEqual([]);
    expect(compacted).toHaveLength(1);
    expect(compacted[0]!.hours).toBeUndefined();
    expect(compacted[0]!.seen).toBeUndefined();
    expect(compacted[0]!.daily).toEqual(row.daily);
    expect(prune(compacted, new Date('2026-03-11T00:00:00Z'), 90).compacted).toEqual([]); // already compact
  });

  it(`keeps daily buckets for WBMON_HISTORY_DAYS UTC days, today included (default ${DEFAULT_HISTORY_DAYS})`, () => {
    const rows = ['2025-12-10', '2025-12-11', '2025-12-12', '2026-03-10'].map(rowOf);
    // 90 days ending 2026-03-10 begin 2025-12-11.
    expect(prune(rows, new Date('2026-03-10T00:00:00.000Z'), 90).expired.map((r) => r.day)).toEqual(['2025-12-10']);
    expect(prune(rows, new Date('2026-03-10T23:59:59.999Z'), 90).expired.map((r) => r.day)).toEqual(['2025-12-10']);
    expect(prune(rows, new Date('2026-03-11T00:00:00.000Z'), 90).expired.map((r) => r.day)).toEqual(['2025-12-10', '2025-12-11']);
  });

  it('keeps the rows the hourly window needs even when fewer days are kept', () => {
    const rows = ['2026-03-07', '2026-03-08', '2026-03-09', '2026-03-10'].map(rowOf);
    const { expired, compacted } = prune(rows, NOW, 1);
    expect(expired.map((r) => r.day)).toEqual(['2026-03-07']);
    expect(compacted).toEqual([]);
  });

  it('says which result times are still kept', () => {
    expect(isRetained(new Date('2025-12-11T00:00:00Z'), NOW, 90)).toBe(true);
    expect(isRetained(new Date('2025-12-10T23:59:59.999Z'), NOW, 90)).toBe(false);
    expect(isRetained(new Date('2026-03-08T13:00:00Z'), NOW, 1)).toBe(true); // the window's first hour
    expect(isRetained(new Date('2026-03-08T12:59:59.999Z'), NOW, 1)).toBe(false);
  });

  it('reads stored rows and refuses what is not one', () => {
    const row = rowOf('2026-03-10');
    expect(readRow(JSON.parse(JSON.stringify(row)))).toEqual(row);
    for (const junk of [null, 1, { ...row, v: 2 }, { ...row, day: 'yesterday' }, { ...row, daily: { runs: 1, failures: 2 } }, { ...row, incidents: [{}] }, { ...row, hours: { '10': { runs: 'x' } } }]) {
      expect(readRow(junk)).toBeUndefined();
    }
    expect(historyKey(CHECK, '2026-03-10')).toBe(`${CHECK}|2026-03-10`);
  });
});

describe('history settings', () => {
  it('reads ?days= of /api/history: 30 when absent, at most what is kept, else a problem', () => {
    expect(viewDays(null, 90)).toEqual({ days: 30 });
    expect(viewDays(undefined, 7)).toEqual({ days: 7 });
    expect(viewDays('60', 90)).toEqual({ days: 60 });
    expect(viewDays('365', 90)).toEqual({ days: 90 });
    expect(viewDays('9'.repeat(400), 90)).toEqual({ days: 90 });
    for (const bad of ['0', '000', '-3', 'x', '2.5', '1e3', ' 7']) expect(viewDays(bad, 90)).toHaveProperty('problem');
  });
});
