/**
 * The hosts the relay reaches for the sync engines, besides its writeback targets:
 *
 *  - `revocation`: the certificate revocation hosts, plain HTTP on port 80. Cloud Sync's
 *    prerequisites list them for the provisioning agent (crl.microsoft.com, mscrl.microsoft.com,
 *    ocsp.msocsp.com, oneocsp.microsoft.com, ocsp.digicert.com, crl3.digicert.com); Connect
 *    Sync needs HTTP 80 for revocation lists too. Probed when either engine is installed.
 *  - `cloudsync`: the agent's HTTPS endpoints: login.microsoftonline.com and login.windows.net,
 *    and the Service Bus and application proxy hosts its trace names (the prerequisites give
 *    only the wildcards `*.msappproxy.net` and `*.servicebus.windows.net`, which cannot be
 *    probed as such). Probed when the agent is installed.
 *  - `gateways:<namespace>`: the gateways of a tenant relay namespace (src/relay/gateways.ts).
 *
 * Each through the proxy the relay takes for that URL, a bounded number at a time.
 */
import { reachTarget, type ReachOptions } from '../probes/reach.js';
import type { ReachResultBody } from '../heartbeat/schema.js';

export const REVOCATION_TARGETS: readonly string[] = [
  'http://crl.microsoft.com/',
  'http://mscrl.microsoft.com/',
  'http://ocsp.msocsp.com/',
  'http://oneocsp.microsoft.com/',
  'http://ocsp.digicert.com/',
  'http://crl3.digicert.com/',
];

export const CLOUD_SYNC_TARGETS: readonly string[] = ['https://login.microsoftonline.com/', 'https://login.windows.net/'];

/** Reach probes in flight at once. */
export const REACH_CONCURRENCY = 16;

export interface ReachItem {
  readonly group: string;
  readonly target: string;
}

export async function reachAll(
  items: readonly ReachItem[],
  options: Omit<ReachOptions, 'proxy'> & { readonly proxyFor: (url: URL) => URL | null },
  concurrency = REACH_CONCURRENCY,
): Promise<ReachResultBody[]> {
  const results: ReachResultBody[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const { group, target } = items[i]!;
      const url = new URL(target);
      // A tcp:// target is tunnelled as the https one on that port would be.
      const proxy = options.proxyFor(url.protocol === 'tcp:' ? new URL(`https://${url.host}/`) : url);
      const r = await reachTarget(target, { ...options, proxy });
      results[i] = { group, target, ok: r.ok, ms: r.ms, ...(r.status !== undefined && { status: r.status }), ...(r.failure && { failure: { ...r.failure, message: r.failure.message.slice(0, 1024) } }) };
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
