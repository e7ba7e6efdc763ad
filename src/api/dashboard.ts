/**
 * `GET /api/dashboard`: the status page. The model is what `/api/status` reads plus every
 * check's history rows (read a few checks at a time), and for each open incident the
 * remediation the alerts carry; src/web/dashboard.ts draws it. Everything comes from the
 * store, so any instance answers the same; storage that cannot be reached is a 503, as on the
 * other routes.
 *
 * The check state is the truth about now; the history says what happened. So an incident the
 * history still holds open while its check is up again (its recovery not recorded yet, or
 * lost) is shown as ended when the check came up, and a check that is down with no incident
 * in its history (it went down before history was kept, or that write failed) gets one from
 * its last failure: the page never shows a down check without its incident and fix.
 */
import { inPool } from '../monitor/in-pool.js';
import { remediationFor } from '../alerting/remediation.js';
import { readHistory } from '../history/history-repository.js';
import { historyView, type IncidentView } from '../history/view.js';
import type { Store } from '../store/store.js';
import { DASHBOARD_CONTENT_TYPE, DASHBOARD_CSP, DASHBOARD_DAYS, DASHBOARD_REFRESH_SECONDS, renderDashboard, type DashboardCheck, type DashboardIncident, type DashboardModel, type DashboardRelay } from '../web/dashboard.js';
import { isAnswer, readStatus, storeRead, type ViewSettings } from './check-views.js';
import type { ApiResponse, StatusEntry } from './handlers.js';

/** History reads in flight at once: enough to overlap round trips, few enough not to flood the store. */
export const DASHBOARD_READ_CONCURRENCY = 8;

export async function dashboard(store: Store, settings: ViewSettings, now: Date): Promise<ApiResponse> {
  const model = await dashboardModel(store, settings, now);
  if (isAnswer(model)) return model;
  return {
    status: 200,
    contentType: DASHBOARD_CONTENT_TYPE,
    headers: {
      'content-security-policy': DASHBOARD_CSP,
      // Under Functions the page's URL holds the function key (?code=): never send it on.
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    },
    body: renderDashboard(model),
  };
}

/** What the page shows, read from the store at `now`. */
export async function dashboardModel(store: Store, settings: ViewSettings, now: Date): Promise<DashboardModel | ApiResponse> {
  const found = await storeRead(() => readStatus(store, settings, now));
  if (isAnswer(found)) return found;
  const days = Math.max(1, Math.min(DASHBOARD_DAYS, settings.historyDays));
  const rows = await storeRead(() => inPool(found.checks, DASHBOARD_READ_CONCURRENCY, (c) => readHistory(store, c.id)));
  if (isAnswer(rows)) return rows;
  const checks = found.checks.map((entry, i): DashboardCheck => {
    const view = historyView(rows[i]!, now, days);
    return {
      id: entry.id,
      kind: entry.kind,
      target: entry.target,
      location: entry.location,
      state: entry.state,
      since: entry.since,
      ...(entry.stale && { stale: true }),
      lastResult: entry.lastResult,
      daily: view.daily,
      hourly: view.hourly,
      incidents: incidentsOf(entry, view.incidents),
    };
  });
  const settingsProblems = (found as { settingsProblems?: string[] }).settingsProblems;
  return {
    generatedAt: now.toISOString(),
    refreshSeconds: DASHBOARD_REFRESH_SECONDS,
    days,
    checks,
    relays: found.relays as DashboardRelay[],
    ...(settingsProblems && { settingsProblems }),
  };
}

/** The check's incidents, newest first, squared with its state; open ones with their remediation. */
export function incidentsOf(check: Pick<StatusEntry, 'kind' | 'target' | 'location' | 'state' | 'since' | 'lastResult'>, incidents: readonly IncidentView[]): DashboardIncident[] {
  const healthy = check.state === 'up' || check.state === 'new';
  let newer: IncidentView | undefined;
  const squared: IncidentView[] = incidents.map((i) => {
    const later = newer;
    newer = i;
    if (i.until !== null) return i;
    // A newer incident began: this one ended before it (its recovery was not recorded).
    if (later) return { ...i, until: later.at };
    if (!healthy) return i;
    // Up again: it ended when the check came up (or, with no better time, when it began).
    const since = check.since && Date.parse(check.since) >= Date.parse(i.at) ? check.since : i.at;
    return { ...i, until: since };
  });
  const failure = check.lastResult?.failure;
  if (check.state === 'down' && !squared.some((i) => i.until === null)) {
    squared.unshift({
      from: 'up',
      to: 'down',
      at: check.since ?? check.lastResult?.startedAt ?? new Date(0).toISOString(),
      until: null,
      code: failure?.code ?? null,
      phase: failure?.phase ?? null,
      message: failure?.message ?? 'down (no failure recorded)',
    });
  }
  return squared.map((i) =>
    i.until !== null
      ? i
      : {
          ...i,
          remediation: remediationFor({
            checkKind: check.kind,
            location: check.location ?? '',
            target: check.target,
            ...((i.code ?? failure?.code) && { code: (i.code ?? failure?.code)! }),
            ...((i.phase ?? failure?.phase) && { phase: (i.phase ?? failure?.phase)! }),
            message: i.message,
          }),
        },
  );
}

