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

/**
 * Retry-After as seconds or an HTTP date; undefined when absent or unreadable. A date is read
 * against the receiver's own `Date` header when it sent one (RFC 9110 §10.2.3), so that a skew
 * between its clock and ours does not stretch or shrink the wait; else against `now`.
 */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now(), receiverDate?: string | string[]): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Every HTTP date form starts with the day's name; Date.parse alone takes "-5" for a year.
  const at = /^[A-Za-z]{3,9},? /.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) return undefined;
  const theirNow = Date.parse((Array.isArray(receiverDate) ? receiverDate[0] : receiverDate) ?? '');
  return Math.max(0, at - (Number.isNaN(theirNow) ? now : theirNow));
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
  const wait = retryAfterMs(headers['retry-after'], Date.now(), headers.date);
  const transient = status === 408 || status === 429 || status >= 500;
  throw new DeliveryError(`${channel}: HTTP ${status}`, !transient, wait === undefined ? {} : { retryAfterMs: wait });
}
