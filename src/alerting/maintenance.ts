/**
 * Maintenance windows (WBMON_MAINTENANCE): no notifications inside one, transitions still
 * recorded. JSON, a list of windows, each absolute or recurring, for all checks or some:
 *
 *   [{"start": "2026-03-01T02:00:00Z", "end": "2026-03-01T04:00:00Z"},
 *    {"cron": "0 0 2 * * SUN", "duration": "PT2H", "checks": ["relay:*", "heartbeat:connect01"]}]
 *
 * `checks` patterns match check ids, `*` standing for any run of characters.
 */
import { parseSchedule, type Schedule } from '../schedule/ncrontab.js';

export type MaintenanceWindow =
  | { readonly kind: 'once'; readonly start: number; readonly end: number; readonly checks: readonly RegExp[] | null }
  | { readonly kind: 'recurring'; readonly schedule: Schedule; readonly durationMs: number; readonly checks: readonly RegExp[] | null };

const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** ISO 8601 durations of days, hours, minutes and seconds (PT2H, P1DT30M). */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const [, d = '0', h = '0', min = '0', s = '0'] = m;
  const ms = ((Number(d) * 24 + Number(h)) * 60 + Number(min)) * 60_000 + Number(s) * 1000;
  return ms > 0 ? ms : undefined;
}

function pattern(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

export function parseMaintenance(text: string | undefined): { windows: MaintenanceWindow[]; problems: string[] } {
  const windows: MaintenanceWindow[] = [];
  if (!text || text.trim() === '') return { windows, problems: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { windows, problems: ['not valid JSON: expected a list of {"start", "end"} or {"cron", "duration"} windows'] };
  }
  if (!Array.isArray(raw)) return { windows, problems: ['must be a JSON list of windows'] };
  const problems: string[] = [];
  raw.forEach((w: unknown, i) => {
    const where = `window ${i + 1}`;
    if (typeof w !== 'object' || w === null) return void problems.push(`${where}: must be an object`);
    const { start, end, cron, duration, checks } = w as Record<string, unknown>;
    let scope: RegExp[] | null = null;
    if (checks !== undefined) {
      if (!Array.isArray(checks) || checks.length === 0 || !checks.every((c) => typeof c === 'string' && c !== '')) {
        return void problems.push(`${where}: "checks" must be a non-empty list of check id patterns`);
      }
      scope = (checks as string[]).map(pattern);
    }
    if (cron !== undefined) {
      const ms = typeof duration === 'string' ? parseDuration(duration) : undefined;
      if (!ms) problems.push(`${where}: "duration" must be an ISO 8601 duration such as PT2H`);
      let schedule: Schedule | undefined;
      try {
        schedule = parseSchedule(String(cron));
      } catch (err) {
        problems.push(`${where}: "cron" ${(err as Error).message}`);
      }
      if (ms && schedule) windows.push({ kind: 'recurring', schedule, durationMs: ms, checks: scope });
      return;
    }
    const s = typeof start === 'string' ? Date.parse(start) : NaN;
    const e = typeof end === 'string' ? Date.parse(end) : NaN;
    if (Number.isNaN(s) || Number.isNaN(e)) return void problems.push(`${where}: needs "start" and "end" (ISO date-times), or "cron" and "duration"`);
    if (e <= s) return void problems.push(`${where}: "end" must be after "start"`);
    windows.push({ kind: 'once', start: s, end: e, checks: scope });
  });
  return { windows, problems };
}

/** Whether `checkId` is inside a window at `now`: [start, end) for both kinds. */
export function inMaintenance(windows: readonly MaintenanceWindow[], checkId: string, now: Date): boolean {
  const t = now.getTime();
  return windows.some((w) => {
    if (w.checks && !w.checks.some((p) => p.test(checkId))) return false;
    if (w.kind === 'once') return t >= w.start && t < w.end;
    // The first occurrence after (now - duration) is the one whose window could cover now.
    const occurrence = w.schedule.next(new Date(t - w.durationMs - 1000)).getTime();
    return occurrence <= t && t < occurrence + w.durationMs;
  });
}
