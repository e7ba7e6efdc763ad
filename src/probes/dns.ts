import { promises as dns, Resolver } from 'node:dns';
import { isIP } from 'node:net';

/** Resolves a host name to addresses; passed in so tests and relays can choose the resolver. */
export type Lookup = (hostname: string) => Promise<string[]>;

/**
 * The operating system's resolver (getaddrinfo): honours the hosts file, as other clients on
 * the host do. IPv4 first: the probe connects to the first address, and a host with an AAAA
 * record but no IPv6 route would otherwise report an outage that Windows clients (which fall
 * back to IPv4) never see.
 */
export const systemLookup: Lookup = async (hostname) => {
  const found = await dns.lookup(hostname, { all: true, order: 'ipv4first' });
  return found.map((a) => a.address);
};

/** A DNS-protocol resolver pointed at given servers (tests use a loopback DNS server). */
export function resolverLookup(servers: string[], options: { timeoutMs?: number; tries?: number } = {}): Lookup {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 2000, tries: options.tries ?? 2 });
  resolver.setServers(servers);
  return (hostname) =>
    new Promise((resolve, reject) => {
      resolver.resolve4(hostname, (err, addresses) => (err ? reject(err) : resolve(addresses)));
    });
}

export function isIpLiteral(hostname: string): boolean {
  return isIP(hostname) !== 0;
}

/** Maps a resolver error to our stable code. */
export function dnsFailureCode(err: unknown): 'dns_nxdomain' | 'dns_timeout' | 'dns_error' {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOTFOUND') return 'dns_nxdomain';
  if (code === 'ETIMEOUT' || code === 'EAI_AGAIN') return 'dns_timeout';
  return 'dns_error';
}
