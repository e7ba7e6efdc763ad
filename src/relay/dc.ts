/**
 * Writeback resets passwords through a domain controller (the PDC emulator by preference):
 * when WBMON_DC_HOST is set, the relay checks that it answers on LDAP (389) and Kerberos (88).
 */
import { connect } from 'node:net';
import type { DcReport } from '../heartbeat/schema.js';

export const DC_PORTS = [389, 88] as const;

export function checkDomainController(host: string, timeoutMs: number): Promise<DcReport> {
  return Promise.all(DC_PORTS.map((port) => tcpCheck(host, port, timeoutMs))).then((ports) => ({ host, ports }));
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
