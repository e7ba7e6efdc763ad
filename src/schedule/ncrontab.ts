/**
 * NCRONTAB parser and next-occurrence calculator (the six-field timer syntax
 * used by Azure Functions): `{second} {minute} {hour} {day} {month} {day-of-week}`.
 *
 * All evaluation is in UTC. Azure Functions also evaluates timer schedules in
 * UTC unless the app setting WEBSITE_TIME_ZONE is set; we deliberately ignore
 * that setting, so schedules here always mean UTC.
 *
 * Day and day-of-week must both match, as in the NCrontab library that the
 * Functions host uses (not Vixie cron's "either"): `0 0 0 13 * FRI` fires on
 * Friday the 13th only. This way `serve` fires exactly when Azure would.
 */

export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}

export interface Schedule {
  readonly expression: string;
  /** First matching instant strictly after `after`, at a whole second, UTC. */
  next(after: Date): Date;
}

interface FieldSpec {
  readonly label: string;
  readonly min: number;
  /** Largest value accepted in the text (day-of-week accepts 7 for Sunday). */
  readonly max: number;
  /** Where `*` and `a/n` stop; defaults to max (day-of-week stops at 6). */
  readonly top?: number;
  readonly names?: readonly string[];
  readonly nameKind?: string;
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const FIELDS: readonly FieldSpec[] = [
  { label: 'second', min: 0, max: 59 },
  { label: 'minute', min: 0, max: 59 },
  { label: 'hour', min: 0, max: 23 },
  { label: 'day', min: 1, max: 31 },
  // Month names map to 1-12, day names to 0-6.
  { label: 'month', min: 1, max: 12, names: MONTH_NAMES, nameKind: 'month name' },
  { label: 'day-of-week', min: 0, max: 7, top: 6, names: DAY_NAMES, nameKind: 'day name' },
];

/**
 * How far ahead `next` searches before giving up. Nominally "about five
 * years", but a Feb 29 schedule can legitimately wait 8 years across a
 * non-leap century year (2096-02-29 -> 2104-02-29), so allow a little more.
 */
const SEARCH_YEARS = 30; // Feb 29 on a given weekday recurs every 28 years

/** A parsed field: sorted distinct values plus a membership table. */
class Field {
  readonly values: readonly number[];
  private readonly member: readonly boolean[];

  constructor(values: Iterable<number>) {
    const set = new Set(values);
    this.values = [...set].sort((a, b) => a - b);
    const member: boolean[] = [];
    for (const v of set) member[v] = true;
    this.member = member;
  }

  has(v: number): boolean {
    return this.member[v] === true;
  }

  /** Smallest value >= v, or undefined. */
  atLeast(v: number): number | undefined {
    for (const x of this.values) if (x >= v) return x;
    return undefined;
  }
}

function fail(message: string): never {
  throw new ScheduleError(message);
}

function parseValue(text: string, spec: FieldSpec): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n < spec.min || n > spec.max) fail(`${spec.label}: ${text} is out of range ${spec.min}-${spec.max}`);
    return n;
  }
  if (spec.names) {
    const index = spec.names.indexOf(text.toUpperCase());
    if (index >= 0) return spec.label === 'month' ? index + 1 : index;
    fail(`${spec.label}: "${text}" is not a number or ${spec.nameKind ?? 'name'}`);
  }
  fail(`${spec.label}: "${text}" is not a number`);
}

function parseStep(text: string, spec: FieldSpec): number {
  if (!/^\d+$/.test(text)) fail(`${spec.label}: step "${text}" is not a number`);
  const n = Number(text);
  if (n < 1) fail(`${spec.label}: step must be at least 1, got ${text}`);
  return n;
}

function parseField(text: string, spec: FieldSpec): Field {
  const values: number[] = [];
  for (const item of text.split(',')) {
    if (item === '') fail(`${spec.label}: empty list item`);

    const slash = item.split('/');
    if (slash.length > 2) fail(`${spec.label}: "${item}" has more than one step`);
    const [base = '', stepText] = slash;
    const step = stepText === undefined ? 1 : parseStep(stepText, spec);

    let from: number;
    let to: number;
    if (base === '*') {
      from = spec.min;
      to = spec.top ?? spec.max;
    } else if (base.includes('-')) {
      const parts = base.split('-');
      const [a = '', b = ''] = parts;
      if (parts.length !== 2 || a === '' || b === '') fail(`${spec.label}: "${base}" is not a valid range`);
      from = parseValue(a, spec);
      to = parseValue(b, spec);
      if (from > to) fail(`${spec.label}: range ${base} is reversed`);
    } else {
      from = parseValue(base, spec);
      // `a/n` means "from a to the maximum, every n"; a bare `a` is just a.
      to = stepText === undefined ? from : Math.max(from, spec.top ?? spec.max);
    }

    for (let v = from; v <= to; v += step) values.push(v);
  }
  return new Field(values);
}

/** UTC instant for the given fields; month is 1-12. Safe for years 0-99. */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date;
}

function daysInMonth(year: number, month: number): number {
  // Day 0 of the following month is the last day of this one.
  return utc(year, month + 1, 0).getUTCDate();
}

/** Longest possible length of each month (Feb 29 in leap years). */
const MAX_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function parseSchedule(expression: string): Schedule {
  const parts = expression.trim() === '' ? [] : expression.trim().split(/\s+/);
  if (parts.length !== FIELDS.length) {
    fail(`expected 6 fields (second minute hour day month day-of-week), got ${parts.length}`);
  }

  const [seconds, minutes, hours, days, months, dowRaw] = FIELDS.map((spec, i) =>
    parseField(parts[i] ?? '', spec),
  ) as [Field, Field, Field, Field, Field, Field];
  // 7 is an alias for Sunday.
  const weekdays = new Field(dowRaw.values.map((d) => (d === 7 ? 0 : d)));

  const dayRestricted = parts[3] !== '*';
  const dowRestricted = parts[5] !== '*';

  const dayMatches = (year: number, month: number, day: number): boolean => {
    const byDay = days.has(day);
    if (!dowRestricted) return byDay;
    const byDow = weekdays.has(utc(year, month, day).getUTCDay());
    if (!dayRestricted) return byDow;
    return byDay && byDow;
  };

  // Static check for schedules that can never fire, e.g. `0 0 0 31 2 *`.
  if (dayRestricted) {
    const possible = months.values.some((m) => days.values.some((d) => d <= (MAX_DAYS[m - 1] ?? 0)));
    if (!possible) fail('never matches');
  }

  const next = (after: Date): Date => {
    const time = after.getTime();
    if (Number.isNaN(time)) throw new TypeError('next: "after" is not a valid Date');

    // First whole second strictly after `after`.
    const start = new Date(Math.floor(time / 1000) * 1000 + 1000);
    let y = start.getUTCFullYear();
    let mo = start.getUTCMonth() + 1;
    let d = start.getUTCDate();
    let h = start.getUTCHours();
    let mi = start.getUTCMinutes();
    let s = start.getUTCSeconds();
    const lastYear = y + SEARCH_YEARS;

    // Each step either accepts the current unit or jumps to the next candidate
    // for it (resetting all smaller units), so the loop runs at most a few
    // times per day visited, and days are only visited within allowed months.
    for (;;) {
      if (y > lastYear) fail('never matches');

      const nextMonth = months.atLeast(mo);
      if (nextMonth === undefined) {
        y += 1;
        mo = 1;
        d = 1;
        h = mi = s = 0;
        continue;
      }
      if (nextMonth !== mo) {
        mo = nextMonth;
        d = 1;
        h = mi = s = 0;
      }

      const lastDay = daysInMonth(y, mo);
      let nextDay = d;
      while (nextDay <= lastDay && !dayMatches(y, mo, nextDay)) nextDay += 1;
      if (nextDay > lastDay) {
        mo += 1;
        if (mo > 12) {
          y += 1;
          mo = 1;
        }
        d = 1;
        h = mi = s = 0;
        continue;
      }
      if (nextDay !== d) {
        d = nextDay;
        h = mi = s = 0;
      }

      const nextHour = hours.atLeast(h);
      if (nextHour === undefined) {
        d += 1; // may run past the month end; the day scan above handles it
        h = mi = s = 0;
        continue;
      }
      if (nextHour !== h) {
        h = nextHour;
        mi = s = 0;
      }

      const nextMinute = minutes.atLeast(mi);
      if (nextMinute === undefined) {
        h += 1;
        mi = s = 0;
        continue;
      }
      if (nextMinute !== mi) {
        mi = nextMinute;
        s = 0;
      }

      const nextSecond = seconds.atLeast(s);
      if (nextSecond === undefined) {
        mi += 1;
        s = 0;
        continue;
      }

      return utc(y, mo, d, h, mi, nextSecond);
    }
  };

  return Object.freeze({ expression, next });
}
