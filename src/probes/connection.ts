/**
 * Establishing the connection a probe talks over: DNS, TCP, the proxy's CONNECT tunnel, and
 * TLS judged after the handshake; each phase timed. The probe and the keepalive test share it.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, rootCertificates, type SecureContext, type TLSSocket } from 'node:tls';
import { Deadline, TIMED_OUT } from './deadline.js';
import { dnsFailureCode, isIpLiteral, systemLookup, type Lookup } from './dns.js';
import { PhaseFailure } from './phase-failure.js';
import { displayProxy } from './proxy.js';
import type { PhaseTimings, ProbeResult, TlsInfo } from './result.js';
import { trustedBy } from './trust.js';

export interface ConnectOptions {
  /** The proxy to tunnel through (CONNECT), or null for a direct connection. */
  readonly proxy?: URL | null;
  readonly lookup?: Lookup;
  /** Extra trusted CA certificates (PEM), added to Node's built-in roots. */
  readonly extraCa?: readonly string[];
  /**
   * The machine's own trusted roots (PEM; on Windows the relay passes the Windows store, as
   * tls.getCACertificates('system') reads it), trusted on top of Node's bundled roots.
   */
  readonly systemCa?: readonly string[];
}

/** A certificate this close to expiry is a warning, not an outage. */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;

export interface Connection {
  /** The TLS socket for https, the TCP socket for http. */
  readonly stream: Socket;
  readonly address: string;
  readonly tls?: TlsInfo;
  readonly warnings: ProbeResult['warnings'];
  /** Destroys the sockets, outermost first. */
  close(): void;
}

/**
 * Opens a verified connection to `url`, recording phase timings in `timings` as it goes.
 * Throws PhaseFailure; `partial` receives what was learnt before a failure (address, TLS).
 */
export async function establish(
  url: URL,
  options: ConnectOptions,
  deadline: Deadline,
  timings: PhaseTimings,
  now: Date,
  partial: { address?: string; tls?: TlsInfo } = {},
): Promise<Connection> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const proxy = options.proxy ?? null;
  const sockets: Socket[] = [];
  // Outermost first: destroying the TCP socket under a live TLS socket crashed Node 22 here.
  const close = (): void => {
    for (const s of [...sockets].reverse()) s.destroy();
  };
  try {
    // DNS: the proxy's name when tunnelling (the proxy resolves the target), else the target's.
    const connectHost = proxy ? proxy.hostname.replace(/^\[|\]$/g, '') : host;
    const connectPort = proxy ? Number(proxy.port || 80) : port;
    // An address needs no resolution: no DNS phase, as blackbox_exporter's `resolve` is 0.
    const address = isIpLiteral(connectHost)
      ? connectHost
      : await timed(timings, 'dns', () => resolve(connectHost, options.lookup ?? systemLookup, deadline));
    partial.address = address;

    // Each phase's clock starts once its first packet is under way: building the socket or the
    // TLS context is this process's own work, and on a cold process it cost milliseconds that
    // would otherwise read as network time.
    const socket = netConnect({ host: address, port: connectPort });
    sockets.push(socket);
    await timed(timings, 'tcp', () => connectTcp(socket, address, connectPort, deadline, Boolean(proxy)));
    if (proxy) await timed(timings, 'proxy', () => tunnel(socket, proxy, host, port, deadline));
    if (url.protocol !== 'https:') return { stream: socket, address, warnings: [], close };

    const context = contextTrusting(options.extraCa, options.systemCa);
    const secure = await timed(timings, 'tls', () => handshake(socket, host, context, deadline));
    sockets.push(secure);
    const tls = describeTls(secure, host, now, options.systemCa);
    partial.tls = tls;
    const problem = judgeTls(secure, tls);
    if (problem) throw problem;
    const warnings: ProbeResult['warnings'] =
      tls.daysToExpiry < EXPIRY_WARNING_DAYS ? [{ code: 'tls_expiring', message: `certificate expires in ${tls.daysToExpiry} days (${tls.validTo})` }] : [];
    return { stream: secure, address, tls, warnings, close };
  } catch (err) {
    close();
    throw err;
  }
}

async function timed<T>(timings: PhaseTimings, phase: 'dns' | 'tcp' | 'proxy' | 'tls', run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await run();
  } finally {
    timings[phase] = round(performance.now() - t0);
  }
}

async function resolve(hostname: string, lookup: Lookup, deadline: Deadline): Promise<string> {
  if (isIpLiteral(hostname)) return hostname;
  let outcome: string[] | typeof TIMED_OUT;
  try {
    outcome = await deadline.race(lookup(hostname));
  } catch (err) {
    const code = dnsFailureCode(err);
    throw new PhaseFailure(code, 'dns', `${hostname}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (outcome === TIMED_OUT) throw new PhaseFailure('dns_timeout', 'dns', `${hostname}: no answer from the resolver in time`);
  const [first] = outcome;
  if (!first) throw new PhaseFailure('dns_error', 'dns', `${hostname}: no addresses`);
  return first;
}

function connectTcp(socket: Socket, address: string, port: number, deadline: Deadline, toProxy: boolean): Promise<Socket> {
  const settled = new Promise<Socket>((resolveSocket, reject) => {
    socket.once('connect', () => resolveSocket(socket));
    socket.once('error', (err: NodeJS.ErrnoException) => reject(err));
  });
  return deadline.race(settled).then(
    (outcome) => {
      if (outcome !== TIMED_OUT) return outcome;
      socket.destroy();
      throw new PhaseFailure(toProxy ? 'proxy_unreachable' : 'tcp_timeout', 'tcp', `${address}:${port}: no answer to the connection attempt (packets dropped?)`);
    },
    (err: NodeJS.ErrnoException) => {
      socket.destroy();
      const where = `${address}:${port}`;
      if (toProxy) throw new PhaseFailure('proxy_unreachable', 'tcp', `proxy ${where}: ${err.code ?? err.message}`);
      switch (err.code) {
        case 'ECONNREFUSED':
          throw new PhaseFailure('tcp_refused', 'tcp', `${where}: connection refused`);
        case 'ETIMEDOUT':
          throw new PhaseFailure('tcp_timeout', 'tcp', `${where}: connection timed out`);
        case 'EHOSTUNREACH':
        case 'ENETUNREACH':
          throw new PhaseFailure('tcp_unreachable', 'tcp', `${where}: ${err.code}`);
        default:
          throw new PhaseFailure('tcp_reset', 'tcp', `${where}: ${err.code ?? err.message}`);
      }
    },
  );
}

/** HTTP CONNECT through the proxy; resolves once the proxy answers 2xx. */
function tunnel(socket: Socket, proxy: URL, host: string, port: number, deadline: Deadline): Promise<void> {
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const headers = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.username) {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers.push(`Proxy-Authorization: Basic ${Buffer.from(credentials).toString('base64')}`);
  }
  socket.write(`${headers.join('\r\n')}\r\n\r\n`);

  let cleanup = (): void => undefined;
  const answered = new Promise<number>((resolveStatus, reject) => {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 16_384) reject(new Error('proxy answer header too long'));
        return;
      }
      socket.off('data', onData);
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      if (rest.length > 0) socket.unshift(rest);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
      if (status) resolveStatus(Number(status));
      else reject(new Error('proxy answered with something that is not HTTP'));
    };
    const onEnd = (): void => reject(new Error('proxy closed the connection'));
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', onEnd);
    // Only our own listeners come off: removing Node's internal ones corrupts the socket.
    cleanup = () => {
      socket.off('data', onData);
      socket.off('error', reject);
      socket.off('end', onEnd);
    };
  });

  const where = displayProxy(proxy);
  return deadline.race(answered).then(
    (status) => {
      if (status === TIMED_OUT) throw new PhaseFailure('proxy_timeout', 'proxy', `${where}: no answer to CONNECT ${authority} in time`);
      if (status < 200 || status > 299) {
        const hint = status === 407 ? ' (proxy authentication required)' : '';
        throw new PhaseFailure('proxy_refused', 'proxy', `${where} answered CONNECT ${authority} with ${status}${hint}`);
      }
      cleanup();
    },
    (err: Error) => {
      cleanup();
      throw new PhaseFailure('proxy_refused', 'proxy', `${where}: ${err.message}`);
    },
  );
}

function handshake(socket: Socket, host: string, secureContext: SecureContext, deadline: Deadline): Promise<TLSSocket> {
  // We verify ourselves after the handshake (rejectUnauthorized: false) so that an untrusted,
  // expired or misnamed certificate is reported precisely instead of as one opaque error.
  const secure = tlsConnect({
    socket,
    servername: isIpLiteral(host) ? undefined : host,
    secureContext,
    // Node's own host name check fetches the detailed certificate chain (~0.3 ms of CPU per
    // probe); describeTls checks the name once on the certificate it reads anyway.
    checkServerIdentity: () => undefined,
    rejectUnauthorized: false,
    ALPNProtocols: ['http/1.1'],
  });
  let onError = (_err: Error): void => undefined;
  const settled = new Promise<TLSSocket>((resolveSocket, reject) => {
    onError = reject;
    secure.once('secureConnect', () => resolveSocket(secure));
    secure.on('error', onError);
  });
  return deadline.race(settled).then(
    (outcome) => {
      if (outcome === TIMED_OUT) {
        secure.destroy();
        throw new PhaseFailure('tls_timeout', 'tls', `${host}: TCP connected but the TLS handshake did not finish in time`);
      }
      secure.off('error', onError);
      return outcome;
    },
    (err: NodeJS.ErrnoException) => {
      secure.destroy();
      throw new PhaseFailure('tls_handshake', 'tls', `${host}: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' ').trim());
    },
  );
}

/**
 * Building a context from ~140 roots costs ~12 ms of blocked event loop; per probe that made
 * a 50-target cycle CPU-bound. One context per set of trusted CAs is built once and reused
 */
const contexts = new Map<string, SecureContext>();
/** Keyed by the store's array itself: hashing ~600 roots per probe would cost more than it saves. */
const withSystem = new WeakMap<readonly string[], Map<string, SecureContext>>();
function contextTrusting(extraCa: readonly string[] | undefined, systemCa: readonly string[] | undefined): SecureContext {
  const key = extraCa?.join('\n') ?? '';
  const system = systemCa?.length ? systemCa : undefined;
  let cache = contexts;
  if (system) {
    cache = withSystem.get(system) ?? new Map();
    withSystem.set(system, cache);
  }
  let context = cache.get(key);
  if (!context) {
    // Neither: Node's default trust (its roots plus NODE_EXTRA_CA_CERTS), built once too.
    context = createSecureContext(extraCa?.length || system ? { ca: [...rootCertificates, ...(system ?? []), ...(extraCa ?? [])] } : {});
    cache.set(key, context);
  }
  return context;
}

/**
 * Reads the leaf certificate through getPeerX509Certificate: its fields are computed on
 * demand, where getPeerCertificate() builds every field (fingerprints, raw, key) at ~0.3 ms
 * of CPU per probe, which adds up when fifty probes share one event loop.
 */
function describeTls(secure: TLSSocket, host: string, now: Date, systemCa: readonly string[] | undefined): TlsInfo {
  // First: it needs the detailed chain, which Node stops giving once the X509Certificate is read.
  const trust = trustedBy(secure, systemCa);
  const cert = secure.getPeerX509Certificate();
  if (!cert) throw new PhaseFailure('tls_handshake', 'tls', `${host}: the server sent no certificate`);
  const validTo = new Date(cert.validTo);
  const info: TlsInfo = {
    protocol: secure.getProtocol(),
    subject: formatName(cert.subject),
    issuer: formatName(cert.issuer),
    validTo: validTo.toISOString(),
    daysToExpiry: Math.floor((validTo.getTime() - now.getTime()) / DAY_MS),
    authorized: secure.authorized,
    hostnameValid: (isIpLiteral(host) ? cert.checkIP(host) : cert.checkHost(host)) !== undefined,
  };
  return trust ? { ...info, trust } : info;
}

const EXPIRY_ERRORS = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

function judgeTls(secure: TLSSocket, info: TlsInfo): PhaseFailure | undefined {
  const reason = secure.authorizationError ? String(secure.authorizationError) : undefined;
  if (reason && EXPIRY_ERRORS.has(reason)) {
    return new PhaseFailure('tls_expired', 'tls', `certificate ${reason === 'CERT_HAS_EXPIRED' ? 'expired' : 'not yet valid'} (valid to ${info.validTo}; subject ${info.subject})`);
  }
  if (reason) return new PhaseFailure('tls_untrusted', 'tls', `certificate not trusted: ${reason} (issuer ${info.issuer})`);
  if (!info.hostnameValid) return new PhaseFailure('tls_hostname', 'tls', `certificate does not cover this host name (subject ${info.subject})`);
  return undefined;
}

/** X509Certificate names are one `key=value` per line; show them on one line. */
function formatName(name: string): string {
  return name.split('\n').filter(Boolean).join(', ');
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
