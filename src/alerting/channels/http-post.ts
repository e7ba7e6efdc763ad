/**
 * POSTing a JSON payload for the webhook channels (Teams Workflows, generic webhook), with the
 * answer mapped to what the outbox needs: accepted, worth retrying (408, 429, 5xx, network,
 * honouring Retry-After), or permanent (any other 4xx). Error messages never contain the URL:
 * a webhook URL is a secret.
 */
import { request } from 'undici';
import { DeliveryError } from './channel.js';

export interface PostOptions {
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
  /** Statuses that mean "accepted"; any 2xx by default. */
  readonly accept?: readonly number[];
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Resolves with `HTTP <status>` when the receiver accepted the payload. */
export async function postJson(channel: string, url: string, body: string, options: PostOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  let status: number;
  let headers: Record<string, string | string[] | undefined>;
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    status = res.statusCode;
    headers = res.headers;
    await res.body.dump();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
    throw new DeliveryError(`${channel}: no answer (${code})`, false, { cause: err });
  }
  const accepted = options.accept ? options.accept.includes(status) : status >= 200 && status < 300;
  if (accepted) return `HTTP ${status}`;
  const wait = retryAfterMs(headers['retry-after']);
  const transient = status === 408 || status === 429 || status >= 500;
  throw new DeliveryError(`${channel}: HTTP ${status}`, !transient, wait === undefined ? {} : { retryAfterMs: wait });
}
