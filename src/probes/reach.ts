/**
 * The reach probe: can this machine get to a host at all, where no particular answer is
 * expected (the certificate revocation hosts, the provisioning agent's endpoints, a relay
 * namespace's gateways). Three kinds, by the target's scheme:
 *
 *  - `http://host[:port]/`: plain HTTP reachability (port 80 by default): any HTTP answer of
 *    the host counts. Through a proxy the request goes to the proxy in absolute form (`GET
 *    http://host/`), as .NET and WinHTTP send plain HTTP through one, not through CONNECT
 *    (proxies commonly refuse CONNECT to port 80). The proxy's own 407 is `proxy_refused`, and
 *    so are its 502 and 504 (it could not reach the host); any other status is taken as the
 *    host's answer: a proxy's 403 block page cannot be told from the host's own 403 here.
 *  - `tcp://host:port`: a TCP connect (through a proxy: its CONNECT tunnel), nothing sent.
 *  - `https://host[:port]/`: TCP and a verified TLS handshake (the certificate must be trusted
 *    and name the host), no HTTP request: what a Service Bus gateway must allow before anything.
 *
 * Never throws: failures carry the stable codes of src/probes/result.ts and their phase.
 */
import type { Socket } from 'node:net';
import { establish, type ConnectOptions } from './connection.js';
import { Deadline, TIMED_OUT } from './deadline.js';
import { PhaseFailure } from './phase-failure.js';
import type { FailureCode, Phase, PhaseTimings } from './result.js';

export interface ReachOptions extends ConnectOptions {
  readonly timeoutMs: number;
  readonly now?: () => Date;
}

export interface ReachResult {
  readonly target: string;
  readonly ok: boolean;
  /** Whole probe, milliseconds. */
  readonly ms: number;
  /** The HTTP status an http:// target answered with. */
  readonly status?: number;
  readonly failure?: { readonly code: FailureCode; readonly phase: Phase; readonly message: string };
}

export async function reachTarget(target: string, options: ReachOptions): Promise<ReachResult> {
  const start = performance.now();
  const deadline = new Deadline(options.timeoutMs);
  const timings: PhaseTimings = { total: 0 };
  const now = (options.now ?? (() => new Date()))();
  const done = (extra: Partial<ReachResult>): ReachResult => ({ target, ok: false, ms: Math.round((performance.now() - start) * 100) / 100, ...extra });
  let close = (): void => undefined;
  try {
    const url = new URL(target);
    if (url.protocol === 'https:' || url.protocol === 'tcp:') {
      // establish() connects to port 80 for anything but https: a tcp:// target names its port.
      const asUrl = url.protocol === 'tcp:' ? new URL(`http://${url.host}/`) : url;
      if (url.protocol === 'tcp:' && !url.port) throw new PhaseFailure('tcp_refused', 'tcp', `${target}: a tcp:// target needs a port`);
      const connection = await establish(asUrl, options, deadline, timings, now);
      connection.close();
      return done({ ok: true });
    }
    if (url.protocol !== 'http:') throw new PhaseFailure('http_error', 'http', `${target}: not an http, https or tcp target`);
    const proxy = options.proxy ?? null;
    let socket: Socket;
    if (proxy) {
      try {
        const connection = await establish(new URL(`http://${proxy.host}/`), { ...options, proxy: null }, deadline, timings, now);
        socket = connection.stream;
        close = connection.close;
      } catch (err) {
        if (err instanceof PhaseFailure && (err.phase === 'dns' || err.phase === 'tcp')) throw new PhaseFailure('proxy_unreachable', 'tcp', `proxy ${proxy.host}: ${err.message}`);
        throw err;
      }
    } else {
      const connection = await establish(url, options, deadline, timings, now);
      socket = connection.stream;
      close = connection.close;
    }
    const status = await plainGet(socket, url, proxy, deadline);
    if (proxy && (status === 407 || status === 502 || status === 504)) {
      throw new PhaseFailure('proxy_refused', 'proxy', `the proxy answered GET ${url.origin}/ with ${status}${status === 407 ? ' (proxy authentication required)' : ' (it could not reach the host)'}`);
    }
    return done({ ok: true, status });
  } catch (err) {
    const failure = err instanceof PhaseFailure ? { code: err.code, phase: err.phase, message: err.message } : { code: 'http_error' as const, phase: 'http' as const, message: `unexpected probe error: ${(err as Error).message}` };
    return done({ failure });
  } finally {
    close();
  }
}

/** GET / over `socket` (origin form direct, absolute form to a proxy); resolves with the status. */
function plainGet(socket: Socket, url: URL, proxy: URL | null, deadline: Deadline): Promise<number> {
  const lines = [`GET ${proxy ? `${url.origin}/` : '/'} HTTP/1.1`, `Host: ${url.host}`, 'User-Agent: writeback-monitor', 'Accept: */*', 'Connection: close'];
  if (proxy?.username) {
    lines.push(`Proxy-Authorization: Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`);
  }
  let cleanup = (): void => undefined;
  const answered = new Promise<number>((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const status = /^HTTP\/\d(?:\.\d)? (\d{3})/.exec(head)?.[1];
      if (status) resolve(Number(status));
      else if (head.includes('\r\n') || head.length > 1024) reject(new Error('the answer is not HTTP'));
    };
    const onEnd = (): void => reject(new Error('closed before answering'));
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', onEnd);
    cleanup = () => {
      socket.off('data', onData);
      socket.off('error', reject);
      socket.off('end', onEnd);
    };
  });
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return deadline.race(answered).then(
    (status) => {
      cleanup();
      if (status === TIMED_OUT) throw new PhaseFailure('http_timeout', 'http', `${url.host}: request sent, no answer in time`);
      return status;
    },
    (err: NodeJS.ErrnoException) => {
      cleanup();
      throw new PhaseFailure('http_error', 'http', `${url.host}: ${err.code ?? err.message}`);
    },
  );
}
