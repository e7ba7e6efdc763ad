/**
 * The gateways of a Service Bus relay namespace. A relay namespace sends its listeners (password
 * writeback's among them) to gateway hosts of the deployment it lives on, not only to the
 * namespace's own name, and Microsoft asks firewalls to allow those gateway names, since their
 * addresses change ("configure your firewalls with the DNS names of all the Relay gateways",
 * Azure Relay's notice of February 2024). A firewall that allows the namespace but not its
 * gateways is the silent failure this finds.
 *
 * How they are found is what Azure Relay's own tool does (GetNamespaceInfo.ps1 in
 * github.com/Azure/azure-relay-dotnet, tools/; its 2024 version), from DNS only:
 *
 *  1. the namespace's CNAME (`<ns>.servicebus.windows.net` → `ns-sb2-prod-sn3-010.cloudapp.net`);
 *     when that is a private-link name (`<ns>.privatelink.servicebus.windows.net`), its CNAME;
 *  2. the deployment is that name's first label without its `ns-sb2-` or `ns-` prefix
 *     (`prod-sn3-010`);
 *  3. the gateways are `g<N>-<deployment>-sb.<namespace's parent domain>` for N from 0 to 127,
 *     and, for a deployment whose name has no `-v`, the newer `gv<N>-<deployment>-sb.…` too;
 *     those that resolve exist (Microsoft's support blog shows the same shape:
 *     `ns-sb2-prod-sy3-001.cloudapp.net` and `g0-prod-sy3-001-sb.servicebus.windows.net` to
 *     `g31-…`).
 *
 * DNS is passed in (the system's by default; tests use a loopback DNS server). The lookups are
 * many (256 names) and the answer changes slowly, so the agent keeps a discovery for an hour.
 * What only the real service shows: whether Microsoft still names its deployments this way; a
 * CNAME of another shape is reported (`deployment: null`, an error), never guessed at.
 */
import { Resolver } from 'node:dns/promises';

export interface GatewayDns {
  /** The CNAME targets of a name (ENODATA / ENOTFOUND when none). */
  readonly resolveCname: (name: string) => Promise<string[]>;
  /** The IPv4 addresses of a name (rejects when it does not resolve). */
  readonly resolve4: (name: string) => Promise<string[]>;
}

export function systemGatewayDns(servers?: readonly string[]): GatewayDns {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (servers) resolver.setServers([...servers]);
  return { resolveCname: (name) => resolver.resolveCname(name), resolve4: (name) => resolver.resolve4(name) };
}

export interface GatewayDiscovery {
  readonly namespace: string;
  readonly cnames: string[];
  readonly deployment: string | null;
  /** Gateway host names that resolved: g0…g127 first, then gv0…gv127. */
  readonly gateways: string[];
  readonly error?: string;
}

/** Indexes tried, as GetNamespaceInfo.ps1 tries them (0..127). */
export const GATEWAY_INDEXES = 128;
/** Names resolved at once. */
const DNS_CONCURRENCY = 32;

/** Pure: the deployment a CNAME target names, or null when it is not shaped as Microsoft names them. */
export function deploymentOf(cname: string): string | null {
  const label = cname.split('.')[0]?.toLowerCase() ?? '';
  if (!label.startsWith('ns-')) return null;
  const deployment = label.startsWith('ns-sb2-') ? label.slice('ns-sb2-'.length) : label.slice('ns-'.length);
  return /^[a-z0-9][a-z0-9-]{0,40}$/.test(deployment) ? deployment : null;
}

/** Pure: every gateway name to try for a deployment, in GetNamespaceInfo.ps1's order. */
export function gatewayNames(namespace: string, deployment: string): string[] {
  const parent = namespace.slice(namespace.indexOf('.') + 1);
  const names = Array.from({ length: GATEWAY_INDEXES }, (_, i) => `g${i}-${deployment}-sb.${parent}`);
  // "if (!($Deployment -like "*-v*")) { $checkForNewNodes = $True }": the gv<N> names.
  if (!deployment.includes('-v')) names.push(...Array.from({ length: GATEWAY_INDEXES }, (_, i) => `gv${i}-${deployment}-sb.${parent}`));
  return names;
}

async function cnameOf(dns: GatewayDns, name: string): Promise<string | undefined> {
  try {
    return (await dns.resolveCname(name))[0]?.toLowerCase().replace(/\.$/, '');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENODATA' || code === 'ENOTFOUND') return undefined;
    throw err;
  }
}

export async function discoverGateways(namespace: string, dns: GatewayDns): Promise<GatewayDiscovery> {
  const cnames: string[] = [];
  try {
    let hop = await cnameOf(dns, namespace);
    if (hop) cnames.push(hop);
    if (hop?.includes('.privatelink.servicebus')) {
      hop = await cnameOf(dns, hop);
      if (hop) cnames.push(hop);
    }
    if (!hop) return { namespace, cnames, deployment: null, gateways: [], error: `${namespace} has no CNAME: its deployment, and so its gateways, cannot be found` };
    const deployment = deploymentOf(hop);
    if (!deployment) return { namespace, cnames, deployment: null, gateways: [], error: `${namespace} points to ${hop}, which does not name a Service Bus deployment (ns-…): its gateways cannot be found` };
    const names = gatewayNames(namespace, deployment);
    const exists: boolean[] = new Array(names.length).fill(false);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < names.length) {
        const i = next++;
        exists[i] = await dns.resolve4(names[i]!).then(
          (addresses) => addresses.length > 0,
          () => false,
        );
      }
    };
    await Promise.all(Array.from({ length: DNS_CONCURRENCY }, worker));
    const gateways = names.filter((_, i) => exists[i]);
    return { namespace, cnames, deployment, gateways, ...(gateways.length === 0 && { error: `no gateway of deployment ${deployment} resolves (g0-${deployment}-sb… to gv127-…)` }) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { namespace, cnames, deployment: null, gateways: [], error: `DNS failed for ${namespace}: ${e.code ?? e.message}`.slice(0, 300) };
  }
}
