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
 * request's last byte has been handed to the socket to the first byte of the answer. Starting the clock before the
 * request is built made the first request of a process (the normal case on a fresh Flex
 * Consumption instance) pay 5-8 ms for compiling Node's HTTP client, as if the server had been
 * that much slower.
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
  // The clock starts when the client's write of the request returns: on a connected socket
  // that write hands the bytes to the kernel synchronously (TLS encrypts them on the way). The
  // write's callback (ClientRequest's 'finish') comes a loop turn later, and on a loaded fresh
  // process that turn was seen to come after the answer had left the server.
  let sentAt: number | undefined;
  const write = stream.write;
  stream.write = function (this: Socket, ...args: Parameters<Socket['write']>): boolean {
    const accepted = write.apply(this, args);
    sentAt = performance.now();
    return accepted;
  } as Socket['write'];
  stream.once('data', () => {
    const firstByteAt = performance.now();
    stream.write = write;
    // An answer before any write (a server that speaks first) counts from now: 0.
    onFirstByte(sentAt ?? firstByteAt, firstByteAt);
  });
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
