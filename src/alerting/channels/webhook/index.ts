import { createHmac } from 'node:crypto';
import type { Channel } from '../channel.js';
import { postJson } from '../http-post.js';
import { alertLinks, type LinkTargets } from '../../links.js';
import { buildPayload } from './payload.js';

/**
 * The generic JSON webhook. With a secret, each request carries `X-Wbmon-Timestamp` and
 * `X-Wbmon-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, the same
 * scheme relays use towards the monitor, so receivers can verify origin and freshness.
 * `links` gives the status page and workbook for the payload's `links`, read at each send.
 */
export function webhookChannel(
  url: string,
  options: { secret?: string; timeoutMs?: number; now?: () => Date; links?: () => LinkTargets } = {},
): Channel {
  return {
    name: 'webhook',
    async send(event) {
      const body = JSON.stringify(buildPayload(event, alertLinks(event, options.links?.() ?? {})));
      const headers: Record<string, string> = {};
      if (options.secret) {
        const timestamp = String(Math.floor((options.now ?? (() => new Date()))().getTime() / 1000));
        headers['x-wbmon-timestamp'] = timestamp;
        headers['x-wbmon-signature'] = `sha256=${createHmac('sha256', options.secret).update(`${timestamp}.${body}`).digest('hex')}`;
      }
      return postJson('webhook', url, body, { headers, ...(options.timeoutMs && { timeoutMs: options.timeoutMs }) });
    },
  };
}
