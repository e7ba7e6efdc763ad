import { describe, expect, it } from 'vitest';
import { parseSchedule, ScheduleError } from '../src/schedule/ncrontab.js';

const at = (iso: string): Date => new Date(iso);

/** The next occurrence of `expression` after the UTC instant `after`, as ISO text. */
function nextAfter(expression: string, after: string): string {
  return parseSchedule(expression).next(at(after)).toISOString();
}

/** The first `count` occurrences after `after`, as ISO text. */
function occurrences(expression: string, after: string, count: number): string[] {
  const schedule = parseSchedule(expression);
  const result: string[] = [];
  let cursor = at(after);
  for (let i = 0; i < count; i += 1) {
    cursor = schedule.next(cursor);
    result.push(cursor.toISOString());
  }
  return result;
}

function rejectionOf(expression: string): ScheduleError {
  try {
    parseSchedule(expression);
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleError);
    return error as ScheduleError;
  }
  throw new Error(`expected "${expression}" to be rejected`);
}

describe('parseSchedule', () => {
  it('keeps the original expression on the schedule', () => {
    expect(parseSchedule('0 */5 * * * *').expression).toBe('0 */5 * * * *');
  });

  it('accepts fields separated by any run of whitespace', () => {
    expect(nextAfter('  0\t*/5  * * *   * ', '2025-06-10T12:03:10Z')).toBe('2025-06-10T12:05:00.000Z');
  });

  it('finds the next five-minute mark after 12:03:10', () => {
    expect(nextAfter('0 */5 * * * *', '2025-06-10T12:03:10Z')).toBe('2025-06-10T12:05:00.000Z');
  });

  it('returns an instant strictly after the given one even when that one matches', () => {
    expect(nextAfter('0 * * * * *', '2025-06-10T12:00:00Z')).toBe('2025-06-10T12:01:00.000Z');
  });

  it('rounds up to a whole second when the given instant has milliseconds', () => {
    expect(nextAfter('*/10 * * * * *', '2025-06-10T12:00:09.999Z')).toBe('2025-06-10T12:00:10.000Z');
    expect(nextAfter('* * * * * *', '2025-06-10T12:00:09.001Z')).toBe('2025-06-10T12:00:10.000Z');
  });

  it('fires every ten seconds and rolls over into the next minute', () => {
    expect(occurrences('*/10 * * * * *', '2025-06-10T12:00:35Z', 4)).toEqual([
      '2025-06-10T12:00:40.000Z',
      '2025-06-10T12:00:50.000Z',
      '2025-06-10T12:01:00.000Z',
      '2025-06-10T12:01:10.000Z',
    ]);
  });

  it('fires hourly across midnight', () => {
    expect(nextAfter('0 0 * * * *', '2025-06-10T23:30:00Z')).toBe('2025-06-11T00:00:00.000Z');
  });

  it('fires hourly across a month end', () => {
    expect(nextAfter('0 0 * * * *', '2025-01-31T23:30:00Z')).toBe('2025-02-01T00:00:00.000Z');
  });

  it('fires hourly across a year end', () => {
    expect(nextAfter('0 0 * * * *', '2025-12-31T23:59:59Z')).toBe('2026-01-01T00:00:00.000Z');
  });

  it('skips the weekend for a weekday schedule seen from Friday evening', () => {
    // 2025-01-03 is a Friday.
    expect(nextAfter('0 30 9 * * MON-FRI', '2025-01-03T18:00:00Z')).toBe('2025-01-06T09:30:00.000Z');
  });

  it('finds the next leap day from March 2027', () => {
    expect(nextAfter('0 0 0 29 2 *', '2027-03-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z');
  });

  it('finds the next leap day across a non-leap century year', () => {
    // 2100 is not a leap year, so the gap is eight years.
    expect(nextAfter('0 0 0 29 2 *', '2097-03-01T00:00:00Z')).toBe('2104-02-29T00:00:00.000Z');
  });

  it('skips days a month does not have', () => {
    expect(occurrences('0 0 0 31 * *', '2025-01-31T00:00:00Z', 3)).toEqual([
      '2025-03-31T00:00:00.000Z',
      '2025-05-31T00:00:00.000Z',
      '2025-07-31T00:00:00.000Z',
    ]);
  });

  it('fires at each hour of a list', () => {
    expect(occurrences('0 0 6,18 * * *', '2025-06-10T07:00:00Z', 3)).toEqual([
      '2025-06-10T18:00:00.000Z',
      '2025-06-11T06:00:00.000Z',
      '2025-06-11T18:00:00.000Z',
    ]);
  });

  it('steps through a range and then waits for the next hour', () => {
    expect(occurrences('0 0-30/15 * * * *', '2025-06-10T12:00:00Z', 4)).toEqual([
      '2025-06-10T12:15:00.000Z',
      '2025-06-10T12:30:00.000Z',
      '2025-06-10T13:00:00.000Z',
      '2025-06-10T13:15:00.000Z',
    ]);
  });

  it('steps from a start value to the end of the range', () => {
    expect(occurrences('0 10/20 * * * *', '2025-06-10T12:00:00Z', 4)).toEqual([
      '2025-06-10T12:10:00.000Z',
      '2025-06-10T12:30:00.000Z',
      '2025-06-10T12:50:00.000Z',
      '2025-06-10T13:10:00.000Z',
    ]);
  });

  it('combines lists of ranges, steps and single values', () => {
    expect(occurrences('0 0 1-2,*/12,23 * * *', '2025-06-10T00:00:00Z', 5)).toEqual([
      '2025-06-10T01:00:00.000Z',
      '2025-06-10T02:00:00.000Z',
      '2025-06-10T12:00:00.000Z',
      '2025-06-10T23:00:00.000Z',
      '2025-06-11T00:00:00.000Z',
    ]);
  });

  it('requires both the day and the weekday when both are restricted, as Azure does', () => {
    // Friday the 13th: June 2025, then February and March 2026.
    expect(occurrences('0 0 0 13 * FRI', '2025-01-01T00:00:00Z', 3)).toEqual([
      '2025-06-13T00:00:00.000Z',
      '2026-02-13T00:00:00.000Z',
      '2026-03-13T00:00:00.000Z',
    ]);
  });

  it('uses only the day when the weekday is a star', () => {
    expect(nextAfter('0 0 0 13 * *', '2025-01-01T00:00:00Z')).toBe('2025-01-13T00:00:00.000Z');
  });

  it('uses only the weekday when the day is a star', () => {
    expect(nextAfter('0 0 0 * * FRI', '2025-01-01T00:00:00Z')).toBe('2025-01-03T00:00:00.000Z');
  });

  it('treats both 0 and 7 as Sunday', () => {
    // 2025-01-05 is a Sunday.
    expect(nextAfter('0 0 0 * * 0', '2025-01-01T00:00:00Z')).toBe('2025-01-05T00:00:00.000Z');
    expect(nextAfter('0 0 0 * * 7', '2025-01-01T00:00:00Z')).toBe('2025-01-05T00:00:00.000Z');
    expect(nextAfter('0 0 0 * * 6-7', '2025-01-05T12:00:00Z')).toBe('2025-01-11T00:00:00.000Z');
  });

  it('does not add Sunday when a weekday step runs to the end of the week', () => {
    // 1/2 means Monday, Wednesday, Friday; 2025-01-03 is a Friday.
    expect(nextAfter('0 0 0 * * 1/2', '2025-01-03T12:00:00Z')).toBe('2025-01-06T00:00:00.000Z');
  });

  it('reads month and day names in any case', () => {
    // July 2025 starts on a Tuesday, so its first Sunday is the 6th.
    expect(nextAfter('0 0 12 * jul Sun', '2025-01-01T00:00:00Z')).toBe('2025-07-06T12:00:00.000Z');
    expect(nextAfter('0 0 12 1 Jan-mar *', '2025-03-05T00:00:00Z')).toBe('2026-01-01T12:00:00.000Z');
    expect(nextAfter('0 30 9 * * mon-fri', '2025-01-03T18:00:00Z')).toBe('2025-01-06T09:30:00.000Z');
  });

  it('does not search second by second for sparse schedules', () => {
    const schedule = parseSchedule('59 59 23 31 12 *');
    const started = performance.now();
    let cursor = at('2025-01-01T00:00:00Z');
    for (let i = 0; i < 200; i += 1) cursor = schedule.next(cursor);
    expect(cursor.toISOString()).toBe('2224-12-31T23:59:59.000Z');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('rejects an invalid Date passed to next', () => {
    expect(() => parseSchedule('* * * * * *').next(new Date(Number.NaN))).toThrow(TypeError);
  });
});

describe('parseSchedule rejections', () => {
  it.each([
    ['0 */5 * * *', 'expected 6 fields (second minute hour day month day-of-week), got 5'],
    ['0 */5 * * * * 2025', 'expected 6 fields (second minute hour day month day-of-week), got 7'],
    ['', 'expected 6 fields (second minute hour day month day-of-week), got 0'],
    ['0 75 * * * *', 'minute: 75 is out of range 0-59'],
    ['0 0 24 * * *', 'hour: 24 is out of range 0-23'],
    ['0 0 0 0 * *', 'day: 0 is out of range 1-31'],
    ['0 0 0 * 13 *', 'month: 13 is out of range 1-12'],
    ['0 0 0 * * 8', 'day-of-week: 8 is out of range 0-7'],
    ['0 */0 * * * *', 'minute: step must be at least 1, got 0'],
    ['0 */x * * * *', 'minute: step "x" is not a number'],
    ['0 1/2/3 * * * *', 'minute: "1/2/3" has more than one step'],
    ['0 10-5 * * * *', 'minute: range 10-5 is reversed'],
    ['0 1- * * * *', 'minute: "1-" is not a valid range'],
    ['0 -1 * * * *', 'minute: "-1" is not a valid range'],
    ['0 x * * * *', 'minute: "x" is not a number'],
    ['0 0 x * * *', 'hour: "x" is not a number'],
    ['0 0 0 * FOO *', 'month: "FOO" is not a number or month name'],
    ['0 0 0 * * FUN', 'day-of-week: "FUN" is not a number or day name'],
    ['0 0 0 * * SAT-SUN', 'day-of-week: range SAT-SUN is reversed'],
    ['0 1,,2 * * * *', 'minute: empty list item'],
    ['0 1, * * * *', 'minute: empty list item'],
    ['0 0 0 31 2 *', 'never matches'],
    ['0 0 0 30,31 2 *', 'never matches'],
    ['0 0 0 31 4,6,9,11 *', 'never matches'],
  ])('rejects "%s" with "%s"', (expression, message) => {
    const error = rejectionOf(expression);
    expect(error.name).toBe('ScheduleError');
    expect(error.message).toBe(message);
  });

  it('rejects an impossible day even when a weekday is given', () => {
    expect(rejectionOf('0 0 0 31 2 MON').message).toBe('never matches');
  });

  it('finds a leap day on a given weekday decades ahead', () => {
    // The next Monday, 29 February after 2025 is in 2044.
    expect(nextAfter('0 0 0 29 2 MON', '2025-01-01T00:00:00Z')).toBe('2044-02-29T00:00:00.000Z');
  });
});
