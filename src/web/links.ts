/**
 * Where the status page puts each check, so that alerts, badges and the page agree on one
 * address per check. The page is `<base>/api/dashboard`; each check's section carries the id
 * `dashboardAnchor(checkId)`, and an alert links to `dashboardLink(base, checkId)`.
 *
 * Check ids hold `:`, `/` and `|` (`probe:https://...`, `heartbeat:relay-1`): an HTML id may
 * hold any character but whitespace, yet a fragment in a URL must be percent-encoded, so the
 * anchor is the encoded id and the same string serves as both.
 */
export const DASHBOARD_PATH = '/api/dashboard';

export function dashboardAnchor(checkId: string): string {
  return `check-${encodeURIComponent(checkId)}`;
}

/** `base` is the monitor's base URL (scheme, host, optional path prefix), without `/api`. */
export function dashboardUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}${DASHBOARD_PATH}`;
}

export function dashboardLink(base: string, checkId: string): string {
  return `${dashboardUrl(base)}#${dashboardAnchor(checkId)}`;
}
