import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, rootCertificates, type SecureContext, type TLSSocket } from 'node:tls';
import { Deadline, TIMED_OUT } from './deadline.js';
import { dnsFailureCode, isIpLiteral, systemLookup, type Lookup } from './dns.js';
import { displayProxy } from './proxy.js';
import type { FailureCode, Phase, PhaseTimings, ProbeResult, TlsInfo } from './result.js';
import { answerRuleFor } from './rules.js';

export interface ProbeOptions {
  /** Overall budget for every phase together. */
  readonly timeoutMs: number;
  /** The proxy to tunnel through (CONNECT), or null for a direct connection. */
  readonly proxy?: URL | null;
  readonly lookup?: Lookup;
  /** Extra trusted CA certificates (PEM), added to Node's built-in roots. */
  readonly extraCa?: readonly string[];
  /** Wall clock for `startedAt`. Durations use the monotonic clock. */
  readonly now?: () => Date;
  readonly userAgent?: string;
}

/** A certificate this close to expiry is a warning, not an outage. */
export const EXPIRY_WARNING_DAYS = 14;
const MAX_BODY_BYTES = 64 * 1024;
const DAY_MS = 86_400_000;

/** Thrown inside the probe to end it with a stable code; never escapes probeTarget. */
class PhaseFailure extends Error {
  override readonly name = 'PhaseFailure';
  constructor(
    readonly code: FailureCode,
    readonly phase: Phase,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Probes one URL: DNS, TCP, (proxy CONNECT), TLS, HTTP GET, each phase timed. Never throws:
 * every failure becomes a result with a code and the phase it happened in.
 */
export async function probeTarget(target: string, options: ProbeOptions): Promise<ProbeResult> {
  const now = options.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const start = performance.now();
  const deadline = new Deadline(options.timeoutMs);
  const timings: PhaseTimings = { total: 0 };
  const proxy = options.proxy ?? null;
  const result: ProbeResult = { target, ok: false, startedAt, warnings: [], timings, proxy: proxy ? displayProxy(proxy) : null };
  const sockets: Socket[] = [];

  try {
    const url = new URL(target);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));

    // DNS: the proxy's name when tunnelling (the proxy resolves the target), else the target's.
    const connectHost = proxy ? proxy.hostname.replace(/^\[|\]$/g, '') : host;
    const connectPort = proxy ? Number(proxy.port || 80) : port;
    const address = await timed(timings, 'dns', () => resolve(connectHost, options.lookup ?? systemLookup, deadline));
    result.address = address;

    const socket = await timed(timings, 'tcp', () => connectTcp(address, connectPort, deadline, Boolean(proxy)));
    sockets.push(socket);

    if (proxy) await timed(timings, 'proxy', () => tunnel(socket, proxy, host, port, deadline));

    let stream: Socket = socket;
    if (url.protocol === 'https:') {
      const secure = await timed(timings, 'tls', () => handshake(socket, host, options.extraCa, deadline));
      sockets.push(secure);
      result.tls = describeTls(secure, host, now());
      const tlsProblem = judgeTls(secure, result.tls);
      if (tlsProblem) throw tlsProblem;
      if (result.tls.daysToExpiry < EXPIRY_WARNING_DAYS) {
        result.warnings.push({
          code: 'tls_expiring',
          message: `certificate expires in ${result.tls.daysToExpiry} days (${result.tls.validTo})`,
        });
      }
      stream = secure;
    }

    const requestStart = performance.now();
    const answer = await exchange(stream, url, options.userAgent ?? 'writeback-monitor', deadline, () => {
      timings.ttfb = round(performance.now() - requestStart);
    });
    result.http = { status: answer.status };
    const rule = answerRuleFor(host);
    if (!rule.accepts(answer.status, answer.body)) {
      const code: FailureCode = answer.status >= 500 ? 'http_status' : 'http_unexpected';
      throw new PhaseFailure(code, 'http', `HTTP ${answer.status}; expected ${rule.expects}`);
    }
    result.ok = true;
  } catch (err) {
    result.failure = err instanceof PhaseFailure
      ? { code: err.code, phase: err.phase, message: err.message }
      : { code: 'http_error', phase: 'http', message: `unexpected probe error: ${(err as Error).message}` };
  } finally {
    // Outermost first: the TLS socket must go before the TCP socket it wraps.
    for (const s of sockets.reverse()) s.destroy();
    timings.total = round(performance.now() - start);
  }
  return result;
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

function connectTcp(address: string, port: number, deadline: Deadline, toProxy: boolean): Promise<Socket> {
  const socket = netConnect({ host: address, port });
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

function handshake(socket: Socket, host: string, extraCa: readonly string[] | undefined, deadline: Deadline): Promise<TLSSocket> {
  // We verify ourselves after the handshake (rejectUnauthorized: false) so that an untrusted,
  // expired or misnamed certificate is reported precisely instead of as one opaque error.
  const secure = tlsConnect({
    socket,
    servername: isIpLiteral(host) ? undefined : host,
    secureContext: contextTrusting(extraCa),
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
 * a 50-target cycle CPU-bound. One context per set of extra CAs is built once and reused.
 */
const contexts = new Map<string, SecureContext>();
function contextTrusting(extraCa: readonly string[] | undefined): SecureContext {
  const key = extraCa?.join('\n') ?? '';
  let context = contexts.get(key);
  if (!context) {
    // No extra CA: Node's default trust (its roots plus NODE_EXTRA_CA_CERTS), built once too.
    context = createSecureContext(extraCa?.length ? { ca: [...rootCertificates, ...extraCa] } : {});
    contexts.set(key, context);
  }
  return context;
}

/**
 * Reads the leaf certificate through getPeerX509Certificate: its fields are computed on
 * demand, where getPeerCertificate() builds every field (fingerprints, raw, key) at ~0.3 ms
 * of CPU per probe, which adds up when fifty probes share one event loop.
 */
function describeTls(secure: TLSSocket, host: string, now: Date): TlsInfo {
  const cert = secure.getPeerX509Certificate();
  if (!cert) throw new PhaseFailure('tls_handshake', 'tls', `${host}: the server sent no certificate`);
  const validTo = new Date(cert.validTo);
  return {
    protocol: secure.getProtocol(),
    subject: formatName(cert.subject),
    issuer: formatName(cert.issuer),
    validTo: validTo.toISOString(),
    daysToExpiry: Math.floor((validTo.getTime() - now.getTime()) / DAY_MS),
    authorized: secure.authorized,
    hostnameValid: (isIpLiteral(host) ? cert.checkIP(host) : cert.checkHost(host)) !== undefined,
  };
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

/** Sends a GET on the established stream and reads the status and the start of the body. */
function exchange(stream: Socket, url: URL, userAgent: string, deadline: Deadline, onFirstByte: () => void): Promise<{ status: number; body: string }> {
  const req = httpRequest({
    method: 'GET',
    host: url.hostname,
    path: `${url.pathname}${url.search}`,
    headers: { 'user-agent': userAgent, accept: '*/*', connection: 'close', host: url.host },
    createConnection: () => stream,
  });
  stream.once('data', onFirstByte);
  const answered = new Promise<{ status: number; body: string }>((resolveAnswer, reject) => {
    req.once('error', reject);
    req.once('response', (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = (): void => resolveAnswer({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      res.on('data', (chunk: Buffer) => {
        if (size >= MAX_BODY_BYTES) return;
        chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_BODY_BYTES) finish();
      });
      res.once('end', finish);
      res.once('error', reject);
      res.once('aborted', finish);
    });
  });
  req.end();
  return deadline.race(answered).then(
    (outcome) => {
      if (outcome === TIMED_OUT) {
        req.destroy();
        throw new PhaseFailure('http_timeout', 'http', `${url.host}: request sent, no complete answer in time`);
      }
      return outcome;
    },
    (err: NodeJS.ErrnoException) => {
      throw new PhaseFailure('http_error', 'http', `${url.host}: ${err.code ?? err.message}`);
    },
  );
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
