/**
 * UTC calendar arithmetic for history buckets. Every UTC day is 86,400 s (no daylight saving,
 * and JavaScript time has no leap seconds), so day and hour starts are plain multiples.
 */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** Hourly buckets are shown and kept for this long (the contract's "last 48 h"). */
export const HOURLY_WINDOW_HOURS = 48;

/** `YYYY-MM-DD` of the UTC day holding `t`. */
export function dayOf(t: Date): string {
  return t.toISOString().slice(0, 10);
}

/** `00`..`23`: the UTC hour of the day holding `t`. */
export function hourOf(t: Date): string {
  return t.toISOString().slice(11, 13);
}

export function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00.000Z`);
}

export function floorHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

export function floorDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** The start of the oldest hourly bucket shown at `now`: the current hour and the 47 before it. */
export function hourlyWindowStart(now: Date): number {
  return floorHour(now.getTime()) - (HOURLY_WINDOW_HOURS - 1) * HOUR_MS;
}

/** The oldest UTC day of `days` days ending today (today counts as one). */
export function firstDayOf(now: Date, days: number): string {
  return dayOf(new Date(floorDay(now.getTime()) - (days - 1) * DAY_MS));
}

/**
 * When a result or transition happened, for bucketing. The prober's own time (a relay's
 * buffered results belong to the hours they were measured in), except that a time in the
 * future (a relay's clock running ahead) or unreadable counts as now: history never holds
 * buckets ahead of the monitor's clock.
 */
export function eventTime(iso: string, now: Date): Date {
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || t > now.getTime()) return now;
  return new Date(t);
}
