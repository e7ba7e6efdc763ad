/** Wording shared by the channels, so Teams and email say the same thing the same way. */

/** "45 s", "12 min", "1 h 5 min", "2 d 3 h": what a person reads at a glance at night. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(Math.max(0, ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** The duration between two ISO times; undefined when either is unreadable. */
export function durationBetween(fromIso: string, toIso: string): string | undefined {
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  return Number.isNaN(ms) ? undefined : humanDuration(ms);
}

/**
 * A check failing because the monitor lacks access (a Microsoft Graph permission), not because
 * what it watches broke. The contract's states have no "misconfigured", so the check is down;
 * the channels word it as what it is, so nobody is woken for a tenant outage that is not one.
 */
export function isMisconfiguration(event: { readonly failure?: { readonly code: string } | undefined }): boolean {
  return event.failure?.code === 'graph_permission' || event.failure?.code === RELAY_MISCONFIGURED;
}

/** A relay's entry in WBMON_RELAYS is wrong (under Functions it is then disabled, not fatal). */
export const RELAY_MISCONFIGURED = 'relay_misconfigured';
