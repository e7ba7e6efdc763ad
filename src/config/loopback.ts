/**
 * Loopback hosts: where plain http and SMTP without TLS are allowed (local runs, tests), and
 * nowhere else. One definition for settings, the store, the relay and the email channel.
 */
import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/**
 * A host name or address (URL form with brackets accepted) that can only mean this machine.
 * Names under `.localhost` are not: RFC 6761 asks resolvers to keep them on loopback, but
 * Node resolves them through the system resolver, and a DNS server may answer anything.
 * `localhost` itself comes from the hosts file on every system this runs on.
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
  if (h === 'localhost') return true;
  const family = isIP(h);
  if (family === 4) return LOOPBACK.check(h, 'ipv4');
  if (family === 6) return LOOPBACK.check(h, 'ipv6');
  return false;
}
