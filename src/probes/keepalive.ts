/**
 * The idle-keepalive test. Writeback keeps its connection to the Service Bus relay open and
 * idle between uses; a firewall or proxy that silently drops idle connections breaks it without
 * any error on the Connect server. For each idle length, on a connection of its own: one
 * request, then silence for that long, then a second request that must travel on the same
 * connection. All lengths run at once, so the test costs the longest one, not the sum.
 *
 * How a connection dies tells where to look:
 *   fin      the peer closed it in an orderly way (a proxy's idle timeout, or the server's own)
 *   rst      it was reset (a firewall dropping state, then rejecting the next packet)
 *   timeout  the second request got no answer at all (a black hole: state dropped silently)
 * A Keep-Alive timeout that the server itself announced is recorded, so that a server closing
 * on its own schedule is not blamed on the firewall.
 */
import { establish, type ConnectOptions } from './connection.js';
import { Deadline } from './deadline.js';
import { readResponse, keepAliveTimeout, writeGet } from './http1.js';
import { PhaseFailure } from './phase-failure.js';
import { displayProxy } from './proxy.js';
import type { PhaseTimings, ProbeResult } from './result.js';

export type DeathKind = 'fin' | 'rst' | 'timeout';

export interface KeepaliveResult {
  readonly target: string;
  readonly idleSeconds: number;
  readonly startedAt: string;
  readonly survived: boolean;
  /** How and when the connection died; absent when it survived or never opened. */
  readonly died?: { how: DeathKind; afterSeconds: number; during: 'idle' | 'second-request' };
  /** The `Keep-Alive: timeout=N` the server announced on the first answer, if any. */
  readonly serverKeepAliveSeconds: number | null;
  /** `server` when the server's own announced limit explains the death; `network` otherwise. */
  readonly blame?: 'server' | 'network';
  /** The first request could not be made at all (same codes as a probe). */
  readonly failure?: ProbeResult['failure'];
  readonly proxy: string | null;
}

export interface KeepaliveOptions extends ConnectOptions {
  /** Budget for opening the connection and for each answer. */
  readonly timeoutMs: number;
  readonly now?: () => Date;
  /** Called about once a second while idling, with the seconds left (for a countdown). */
  readonly onTick?: (idleSeconds: number, secondsLeft: number) => void;
  /** Aborting closes the connections at once (an agent shutting down mid-test). */
  readonly signal?: AbortSignal;
}

export function keepaliveTest(target: string, idleSeconds: readonly number[], options: KeepaliveOptions): Promise<KeepaliveResult[]> {
  return Promise.all(idleSeconds.map((idle) => oneIdleLength(target, idle, options)));
}

async function oneIdleLength(target: string, idleSeconds: number, options: KeepaliveOptions): Promise<KeepaliveResult> {
  const now = options.now ?? (() => new Date());
  const url = new URL(target);
  const base = {
    target,
    idleSeconds,
    startedAt: now().toISOString(),
    proxy: options.proxy ? displayProxy(options.proxy) : null,
  };
  const timings: PhaseTimings = { total: 0 };
  let connection;
  try {
    connection = await establish(url, options, new Deadline(options.timeoutMs), timings, now());
  } catch (err) {
    const failure = err instanceof PhaseFailure ? { code: err.code, phase: err.phase, message: err.message } : unexpected(err);
    return { ...base, survived: false, serverKeepAliveSeconds: null, failure };
  }
  const stream = connection.stream;
  const abort = (): void => connection.close();
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    writeGet(stream, url, 'writeback-monitor keepalive');
    let first;
    try {
      first = await withTimeout(readResponse(stream), options.timeoutMs);
    } catch (err) {
      return { ...base, survived: false, serverKeepAliveSeconds: null, failure: { code: 'http_error', phase: 'http', message: `first request: ${describe(err)}` } };
    }
    const serverKeepAliveSeconds = keepAliveTimeout(first);
    const result = (died: NonNullable<KeepaliveResult['died']>): KeepaliveResult => ({
      ...base,
      survived: false,
      died,
      serverKeepAliveSeconds,
      blame: serverKeepAliveSeconds !== null && serverKeepAliveSeconds < idleSeconds && died.how === 'fin' ? 'server' : 'network',
    });

    const idleStart = performance.now();
    const death = await idle(stream, idleSeconds, options.onTick);
    if (death) return result({ how: death, afterSeconds: round((performance.now() - idleStart) / 1000), during: 'idle' });

    writeGet(stream, url, 'writeback-monitor keepalive');
    try {
      await withTimeout(readResponse(stream), options.timeoutMs);
    } catch (err) {
      const how: DeathKind = (err as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'timeout' : (err as NodeJS.ErrnoException).code === 'EOF' ? 'fin' : 'rst';
      return result({ how, afterSeconds: idleSeconds, during: 'second-request' });
    }
    return { ...base, survived: true, serverKeepAliveSeconds };
  } finally {
    options.signal?.removeEventListener('abort', abort);
    connection.close();
  }
}

/** Waits `seconds` in silence; resolves early with how the connection died if it did. */
function idle(stream: import('node:net').Socket, seconds: number, onTick: KeepaliveOptions['onTick']): Promise<DeathKind | undefined> {
  return new Promise((resolve) => {
    const started = Date.now();
    const finish = (how: DeathKind | undefined): void => {
      clearTimeout(timer);
      clearInterval(ticker);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      resolve(how);
    };
    const onEnd = (): void => finish('fin');
    const onError = (err: NodeJS.ErrnoException): void => finish(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'rst' : 'fin');
    const onClose = (): void => finish('fin');
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('close', onClose);
    const timer = setTimeout(() => finish(undefined), seconds * 1000);
    const ticker = setInterval(() => onTick?.(seconds, Math.max(0, Math.ceil(seconds - (Date.now() - started) / 1000))), 1000);
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : e.message;
}

function unexpected(err: unknown): NonNullable<ProbeResult['failure']> {
  return { code: 'http_error', phase: 'http', message: `unexpected: ${(err as Error).message}` };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
