/**
 * What counts as a host name: a DNS name or an IP literal, nothing else. Host names reach
 * PowerShell the remediation asks an administrator to paste on a Tier-0 server
 * (`Test-NetConnection {host} -Port 389`), so free text such as `dc02; Start-Process calc` must
 * be refused where it enters (heartbeat schema, relay settings) and never filled in
 * (src/alerting/remediation.ts) — both use this one definition.
 *
 * Labels are letters, digits, `-` and `_` (Windows DNS and NetBIOS-derived names use `_`); none of
 * them means anything to PowerShell or a POSIX shell. IPv6 literals come without brackets or
 * zone ids (`%eth0` would be free text again).
 */
import { isIP } from 'node:net';

export const MAX_HOST_NAME = 253;

const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const DNS_NAME = `${LABEL}(?:\\.${LABEL})*\\.?`;
/** Only the characters of an IPv6 literal; isIP decides whether they make one. */
const IPV6_CHARS = '[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*';

/** Published in the JSON Schema as dc.host's `pattern`; exact for DNS names and IPv4. */
export const HOST_NAME_PATTERN = new RegExp(`^(?:${DNS_NAME}|${IPV6_CHARS})$`);

export const HOST_NAME_RULE = 'must be a DNS name or an IP address (letters, digits, ".", "-", "_"; or an IPv6 literal)';

export function isHostName(text: string): boolean {
  if (text.length === 0 || text.length > MAX_HOST_NAME || !HOST_NAME_PATTERN.test(text)) return false;
  return !text.includes(':') || isIP(text) === 6;
}
