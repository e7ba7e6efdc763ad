/**
 * What both the relay and the monitor know of the sync engines, pure and shared (the monitor's
 * bundle carries none of src/relay/): comparing builds, the end-of-support verdict, and the
 * provisioning agent's service names and the build writeback needs.
 */

/** Compares dotted versions number by number (2.5.79.0 < 2.5.190.0); missing parts are 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** Days before the end of support that the connect check warns. */
export const SUPPORT_WARNING_DAYS = 90;
const DAY_MS = 86_400_000;

export type SupportVerdict = { readonly state: 'supported' } | { readonly state: 'ending'; readonly daysLeft: number } | { readonly state: 'ended'; readonly daysAgo: number };

/**
 * At `now`: ended from the end-of-support day (00:00 UTC) on, ending in the 90 days before it,
 * else supported. No end of support: supported.
 */
export function supportVerdict(endOfSupport: string | null, now: Date): SupportVerdict {
  if (endOfSupport === null) return { state: 'supported' };
  const end = Date.parse(`${endOfSupport}T00:00:00Z`);
  const left = end - now.getTime();
  if (left <= 0) return { state: 'ended', daysAgo: Math.floor((now.getTime() - end) / DAY_MS) };
  if (left <= SUPPORT_WARNING_DAYS * DAY_MS) return { state: 'ending', daysLeft: Math.ceil(left / DAY_MS) };
  return { state: 'supported' };
}

/** The provisioning agent's service, and its updater's (the installer's own service names). */
export const AGENT_SERVICE = 'AADConnectProvisioningAgent';
export const UPDATER_SERVICE = 'AADConnectAgentUpdater';
/** Cloud Sync's password writeback needs this agent build or later. */
export const WRITEBACK_MIN_AGENT = '1.1.977.0';
