/**
 * Shared bench helpers: a throwaway CA and `localhost` leaf made with the openssl CLI, loopback
 * HTTPS servers, and small statistics. Production dependencies only (bench runs from dist/).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface BenchCerts {
  /** The CA certificate (PEM), to pass as probe option extraCa. */
  readonly caPem: string;
  readonly keyPem: string;
  /** The leaf for localhost / 127.0.0.1 (PEM). */
  readonly certPem: string;
}

const OPENSSL = process.env.OPENSSL ?? 'openssl';

function openssl(args: string[], cwd: string): void {
  execFileSync(OPENSSL, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** ECDSA P-256 CA plus a leaf for localhost (SAN DNS:localhost, IP:127.0.0.1); the temp dir is removed before returning. */
export function makeCerts(): BenchCerts {
  const dir = mkdtempSync(join(tmpdir(), 'wbmon-bench-'));
  try {
    const ec = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    openssl(['genpkey', ...ec, '-out', 'ca.key'], dir);
    openssl(
      ['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=writeback-monitor bench CA', '-days', '30',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem'],
      dir,
    );
    openssl(['genpkey', ...ec, '-out', 'leaf.key'], dir);
    openssl(['req', '-new', '-key', 'leaf.key', '-subj', '/CN=localhost', '-out', 'leaf.csr'], dir);
    writeFileSync(
      join(dir, 'leaf.ext'),
      [
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        '',
      ].join('\n'),
    );
    openssl(
      ['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '1', '-days', '30',
        '-extfile', 'leaf.ext', '-out', 'leaf.pem'],
      dir,
    );
    return {
      caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
      keyPem: readFileSync(join(dir, 'leaf.key'), 'utf8'),
      certPem: readFileSync(join(dir, 'leaf.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Listens on 127.0.0.1 on a free port; resolves with the port. */
export async function listenLoopback(server: NetServer): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export interface BenchServer {
  readonly port: number;
  /** https://localhost:PORT/ */
  readonly url: string;
  close(): Promise<void>;
}

/** A loopback HTTPS server on 127.0.0.1 with an OS-chosen port. */
export async function startHttps(
  certs: BenchCerts,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<BenchServer> {
  const server: Server = createServer({ key: certs.keyPem, cert: certs.certPem }, handler);
  const port = await listenLoopback(server);
  return {
    port,
    url: `https://localhost:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Answers 200 `delayMs` after the request arrived, with nothing sent before: the injected time to
 * first byte. Checked against the monotonic clock, because a bare setTimeout can fire up to a
 * millisecond early on libuv's cached loop time, and later by as much.
 */
export function respondAfter(res: ServerResponse, delayMs: number): void {
  const arrived = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const answer = (): void => {
    if (closed) return;
    const left = delayMs - (performance.now() - arrived);
    // A timer overshoots by up to a millisecond or two; the last 2 ms are spun out on
    // setImmediate so that the delay is what it says, and the error measured is the probe's.
    if (left > 2) {
      timer = setTimeout(answer, Math.floor(left - 2));
      return;
    }
    if (left > 0) {
      setImmediate(answer);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  };
  answer();
  res.once('close', () => {
    closed = true;
    clearTimeout(timer);
  });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0-100). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** True when this module is the script node was started with (so each bench can also run alone). */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}
