/**
 * A notification channel: a pure `buildPayload` (tested on its exact output) and a `send`
 * that only delivers. Channels never decide whether to alert (the policy does) nor retry (the
 * outbox does): `send` throws a DeliveryError saying whether trying again could help.
 */
import type { AlertEvent } from '../event.js';

export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    /** True when retrying cannot help (a 4xx other than 408/429, a rejected recipient). */
    readonly permanent: boolean,
    options: { cause?: unknown; retryAfterMs?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
  }
  /** The receiver asked us to wait this long (Retry-After on a 429 or 503). */
  readonly retryAfterMs: number | undefined;
}

export interface Channel {
  readonly name: string;
  /**
   * Delivers one event; resolves when the receiver accepted it, with the receiver's answer in
   * a few words (`HTTP 202`, the SMTP server's reply) for `alert test` to show.
   */
  send(event: AlertEvent): Promise<string | void>;
  close?(): Promise<void>;
}
