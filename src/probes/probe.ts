import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { establish, type ConnectOptions, type Connection } from './connection.js';
import { Deadline, TIMED_OUT } from './deadline.js';
import { PhaseFailure } from './phase-failure.js';
import { displayProxy } from './proxy.js';
import type { FailureCode, PhaseTimings, ProbeResult } from './result.js';
import { answerRuleFor } from './rules.js';

export { EXPIRY_WARNING_DAYS } from './connection.js';

export interface ProbeOptions extends ConnectOptions {
  /** Overall budget for every phase together. */
  readonly timeoutMs: number;
  /** Wall clock for `startedAt` and certificate expiry. Durations use the monotonic clock. */
  readonly now?: () => Date;
  readonly userAgent?: string;
}

const MAX_BODY_BYTES = 64 * 1024;

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
  let connection: Connection | undefined;

  try {
    const url = new URL(target);
    connection = await establish(url, options, deadline, timings, now(), result);
    result.warnings.push(...connection.warnings);

    const answer = await exchange(connection.stream, url, options.userAgent ?? 'writeback-monitor', deadline, (sentAt, firstByteAt) => {
      timings.ttfb = round(Math.max(0, firstByteAt - sentAt));
    });
    result.http = { status: answer.status };
    const rule = answerRuleFor(url.hostname);
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
    connection?.close();
    timings.total = round(performance.now() - start);
  }
  return result;
}

/**
 * Sends a GET on the established stream and reads the status and the start of the body.
 *
 * Time to first byte is timed as blackbox_exporter's `processing` phase is: from the moment the
 * request's last byte has been handed to the socket to the first byte of the answer, both taken
 * at the socket layer (stampExchange). Starting the clock before the request is built made the
 * first request of a process (the normal case on a fresh Flex Consumption instance) pay 5-8 ms
 * for compiling Node's HTTP client, as if the server had been that much slower.
 */
function exchange(
  stream: Socket,
  url: URL,
  userAgent: string,
  deadline: Deadline,
  onFirstByte: (sentAt: number, firstByteAt: number) => void,
): Promise<{ status: number; body: string }> {
  const req = httpRequest({
    method: 'GET',
    host: url.hostname,
    path: `${url.pathname}${url.search}`,
    headers: { 'user-agent': userAgent, accept: '*/*', connection: 'close', host: url.host },
    createConnection: () => stream,
  });
  const unstamp = stampExchange(stream, onFirstByte);
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
      unstamp();
      if (outcome === TIMED_OUT) {
        req.destroy();
        throw new PhaseFailure('http_timeout', 'http', `${url.host}: request sent, no complete answer in time`);
      }
      return outcome;
    },
    (err: NodeJS.ErrnoException) => {
      unstamp();
      throw new PhaseFailure('http_error', 'http', `${url.host}: ${err.code ?? err.message}`);
    },
  );
}

/**
 * Times the exchange where bytes cross between Node's stream machinery and the native socket
 * (TLS) layer underneath, and calls `onFirstByte` once, at the first byte of the answer.
 *
 * - Sent: just before the native write that carries the request's last bytes: the socket
 *   handle's write call, which encrypts them and writes them to the kernel. That moment is before
 *   the server can have read a byte, so no preemption of this process can make ttfb shorter than
 *   the server took. Stamping after the write returned (as Go's `WroteRequest` is) did: the
 *   syscall wakes the server, which on a busy machine took the CPU inside the call, for up to
 *   11 ms, and an 80 ms answer read as 74.5. Stamping when `write()` returned was early instead:
 *   Node's HTTP client writes the request into a corked socket and sends it at `uncork()`, which
 *   a fresh process reached 0.4-1.3 ms later. Where the handle's write calls cannot be wrapped,
 *   the stream's `_write`/`_writev` (the implementation Writable hands its chunks to) is the stamp,
 *   0.2-0.4 ms of Node's own preparation earlier in a fresh process.
 * - First byte: when the socket handle's read callback starts for the read that delivers the
 *   answer's first bytes to JavaScript, already decrypted (the stream's first `push` of data
 *   happens inside that call); Go's `GotFirstResponseByte` is likewise after its read returned.
 *   Readable's buffering and the 'data' event come after it; in a fresh process Node's own code
 *   took 0.3-0.7 ms (0.1-0.2 ms warm) from the read callback to 'data', time the answer had
 *   already arrived. Where the handle offers no read callback to wrap, the first `push` is the
 *   stamp.
 *
 * The handle (`_handle`, its write methods and `onread`) is Node's internal; absent or shaped
 * otherwise, the stream-level stamps above take over. Returns the function that takes the stamps
 * off (idempotent).
 */
function stampExchange(stream: Socket, onFirstByte: (sentAt: number, firstByteAt: number) => void): () => void {
  let sentAt: number | undefined;
  /** While the handle's read callback runs: when it started. */
  let readingSince: number | undefined;
  const restore: (() => void)[] = [];
  const unstamp = (): void => {
    for (const undo of restore.splice(0)) undo();
  };
  /** Shadows `target[name]` with an own property for this socket alone; `restore` undoes it. */
  const wrap = (target: object, name: string, make: (original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown): void => {
    const original = (target as Record<string, unknown>)[name];
    if (typeof original !== 'function') return;
    const own = Object.getOwnPropertyDescriptor(target, name);
    const replacement = make(original as (...args: unknown[]) => unknown);
    // The handle's onread is an accessor (it stores the callback natively): assign through it.
    if (descriptorOf(target, name)?.set) {
      (target as Record<string, unknown>)[name] = replacement;
      restore.push(() => void ((target as Record<string, unknown>)[name] = original));
      return;
    }
    Object.defineProperty(target, name, { value: replacement, configurable: true, writable: true });
    restore.push(() => {
      if (own) Object.defineProperty(target, name, own);
      else delete (target as Record<string, unknown>)[name];
    });
  };
  // The last stamp before the answer wins: the handle's, inside `_write`, when it is there.
  const beforeWrite = (original: (...args: unknown[]) => unknown) =>
    function (this: unknown, ...args: unknown[]): unknown {
      sentAt = performance.now();
      return original.apply(this, args);
    };
  wrap(stream, '_write', beforeWrite);
  wrap(stream, '_writev', beforeWrite);
  const handle = (stream as unknown as { _handle?: object | null })._handle;
  if (handle) {
    for (const name of HANDLE_WRITES) wrap(handle, name, beforeWrite);
    wrap(handle, 'onread', (original) =>
      function (this: unknown, ...args: unknown[]): unknown {
        readingSince = performance.now();
        try {
          return original.apply(this, args);
        } finally {
          readingSince = undefined;
        }
      });
  }
  wrap(stream, 'push', (original) =>
    function (this: unknown, chunk: unknown, ...rest: unknown[]): unknown {
      if (chunk !== null && chunk !== undefined && (chunk as { length?: number }).length !== 0) {
        const firstByteAt = readingSince ?? performance.now();
        unstamp();
        // An answer before any write (a server that speaks first) counts from now: 0.
        onFirstByte(sentAt ?? firstByteAt, firstByteAt);
      }
      return original.call(this, chunk, ...rest);
    });
  return unstamp;
}

/** The native stream handle's write calls (Node's stream_base_commons uses these). */
const HANDLE_WRITES = ['writev', 'writeBuffer', 'writeLatin1String', 'writeUtf8String', 'writeAsciiString', 'writeUcs2String'];

function descriptorOf(target: object, name: string): PropertyDescriptor | undefined {
  for (let o: object | null = target; o; o = Object.getPrototypeOf(o) as object | null) {
    const found = Object.getOwnPropertyDescriptor(o, name);
    if (found) return found;
  }
  return undefined;
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
