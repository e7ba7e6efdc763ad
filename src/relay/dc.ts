/**
 * Writeback resets passwords through a domain controller, the PDC emulator by preference. The
 * relay checks the one named in WBMON_DC_HOST, or else finds each domain's PDC emulator in DNS
 * (`_ldap._tcp.pdc._msdcs.<domain>`, the SRV record every AD domain registers) for the domains
 * in WBMON_AD_DOMAINS. It checks the ports Microsoft's "Hybrid identity required ports and
 * protocols" lists between Connect and the domain controllers: DNS 53, Kerberos 88, RPC 135,
 * LDAP 389, SMB 445, LDAPS 636 and the global catalog 3268 (TCP connects; 636 and 3268 are
 * listed as optional, a refusal is still reported for what it is).
 */
import { promises as dns } from 'node:dns';
import { connect } from 'node:net';
import type { DcReport } from '../heartbeat/schema.js';
import { isHostName } from '../config/hostname.js';

export const DC_PORTS = [53, 88, 135, 389, 445, 636, 3268] as const;

/** An SRV query; passed in (the default asks the system's DNS servers). */
export type ResolveSrv = (name: string) => Promise<{ name: string; port: number; priority: number; weight: number }[]>;

export const systemResolveSrv: ResolveSrv = (name) => dns.resolveSrv(name);

export function pdcRecordName(domain: string): string {
  return `_ldap._tcp.pdc._msdcs.${domain}`;
}

/** The PDC emulator's host name: the SRV answer with the lowest priority, then the highest weight. */
export async function findPdc(domain: string, resolveSrv: ResolveSrv): Promise<string> {
  const records = await resolveSrv(pdcRecordName(domain));
  const [best] = [...records].sort((a, b) => a.priority - b.priority || b.weight - a.weight);
  if (!best) throw Object.assign(new Error('no SRV record'), { code: 'ENODATA' });
  return best.name.replace(/\.$/, '');
}

export interface DcTargets {
  readonly dcHost: string | undefined;
  readonly adDomains: readonly string[];
}

/** One report per domain controller: the configured one, or each domain's PDC emulator. */
export async function checkDomainControllers(
  targets: DcTargets,
  timeoutMs: number,
  { resolveSrv = systemResolveSrv, ports = DC_PORTS }: { resolveSrv?: ResolveSrv | undefined; ports?: readonly number[] } = {},
): Promise<DcReport[]> {
  if (targets.dcHost) return [{ ...(await checkDomainController(targets.dcHost, timeoutMs, ports)), found: 'setting' }];
  return Promise.all(
    targets.adDomains.map(async (domain): Promise<DcReport> => {
      let host: string;
      try {
        host = await findPdc(domain, resolveSrv);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        return { host: domain, domain, found: 'dns', ports: [], error: `no PDC emulator found: ${pdcRecordName(domain)} ${code}`.slice(0, 300) };
      }
      if (!isHostName(host)) return { host: domain, domain, found: 'dns', ports: [], error: `the PDC emulator record of ${domain} names no usable host` };
      return { ...(await checkDomainController(host, timeoutMs, ports)), domain, found: 'dns' };
    }),
  );
}

/** `ports`: DC_PORTS; tests pass loopback ports of their own. */
export function checkDomainController(host: string, timeoutMs: number, ports: readonly number[] = DC_PORTS): Promise<DcReport> {
  return Promise.all(ports.map((port) => tcpCheck(host, port, timeoutMs))).then((ports) => ({ host, ports }));
}

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<DcReport['ports'][number]> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (error?: string): void => {
      socket.destroy();
      const ms = Math.round((performance.now() - started) * 100) / 100;
      resolve(error ? { port, ok: false, ms, error } : { port, ok: true, ms });
    };
    socket.once('connect', () => done());
    socket.once('timeout', () => done(`no answer within ${timeoutMs} ms`));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}
