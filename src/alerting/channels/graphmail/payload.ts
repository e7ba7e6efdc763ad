/**
 * The Microsoft Graph `sendMail` request for an alert: the same subject and HTML body as the
 * SMTP channel (one builder, src/alerting/channels/email/payload.ts), sent as the sender's
 * mailbox. Pure: the same event gives the same request.
 *
 * POST {graph}/v1.0/users/{userPrincipalName}/sendMail answers 202 Accepted with no body; with
 * `saveToSentItems: false` the alerts do not pile up in the sender mailbox's Sent Items.
 */
import type { AlertEvent } from '../../event.js';
import type { AlertLinks } from '../../links.js';
import { buildPayload as buildEmail } from '../email/payload.js';

export interface GraphRecipient {
  readonly emailAddress: { readonly address: string };
}

export interface SendMailBody {
  readonly message: {
    readonly subject: string;
    readonly body: { readonly contentType: 'HTML'; readonly content: string };
    readonly toRecipients: readonly GraphRecipient[];
    readonly importance: 'high' | 'normal';
    /** Graph takes only `X-` headers here; this one carries the alert id, ASCII only. */
    readonly internetMessageHeaders: readonly { readonly name: string; readonly value: string }[];
  };
  readonly saveToSentItems: false;
}

export interface GraphMailRequest {
  /** `/v1.0/users/<sender>/sendMail`, the sender percent-encoded except its `@`. */
  readonly path: string;
  readonly body: SendMailBody;
}

/** The address in `Name <address>` or a bare address: the mailbox Graph sends as. */
export function senderAddress(from: string): string {
  return from.replace(/^.*<(.+)>\s*$/, '$1').trim();
}

/** The path of the sender's sendMail action (no query, nothing of the sender left unescaped). */
export function sendMailPath(sender: string): string {
  return `/v1.0/users/${encodeURIComponent(senderAddress(sender)).replace(/%40/g, '@')}/sendMail`;
}

export const EVENT_HEADER = 'X-Wbmon-Event';
const HEADER_MAX = 500;

export function buildPayload(event: AlertEvent, to: readonly string[], sender: string, links: AlertLinks = {}): GraphMailRequest {
  const mail = buildEmail(event, to, senderAddress(sender), links);
  return {
    path: sendMailPath(sender),
    body: {
      message: {
        subject: mail.subject,
        body: { contentType: 'HTML', content: mail.html },
        toRecipients: mail.to.map((address) => ({ emailAddress: { address } })),
        importance: event.kind === 'triggered' ? 'high' : 'normal',
        internetMessageHeaders: [{ name: EVENT_HEADER, value: asciiHeader(event.id) }],
      },
      saveToSentItems: false,
    },
  };
}

/** Printable ASCII only (anything else percent-encoded), at most HEADER_MAX characters. */
function asciiHeader(value: string): string {
  // Buffer, not encodeURIComponent: a lone surrogate becomes U+FFFD instead of throwing.
  const ascii = value.replace(/[^\x20-\x7e]/gu, (c) => [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
  return ascii.length <= HEADER_MAX ? ascii : ascii.slice(0, HEADER_MAX).replace(/%[0-9A-F]?$/, '');
}
