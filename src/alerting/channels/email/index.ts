/**
 * The email channel: the alert as a plain-text + HTML mail over SMTP (nodemailer).
 *
 * WBMON_SMTP_URL forms:
 *  - `smtps://user:pass@host:465`: implicit TLS.
 *  - `smtp://user:pass@host:587`: STARTTLS, required (`requireTLS`): a server that does not
 *    offer it, or a connection where it is stripped, fails instead of sending in clear.
 *    Exchange Online (smtp.office365.com:587, AUTH LOGIN), Azure Communication Services
 *    (smtp.azurecomm.net:587) and an on-prem relay (`smtp://relay.corp.example:25`, no user)
 *    all take this form.
 *  - `smtp://host:port` to a loopback host (localhost, 127.0.0.0/8, ::1): plain SMTP, for
 *    local use and tests; the only case where TLS is not used.
 * User and password are percent-decoded (`p%40ss%3Aword` is `p@ss:word`).
 *
 * The URL holds the SMTP password: no error message, log line or exception of this module
 * contains it or the URL; they name the server as `host:port` only.
 */
import { isIP } from 'node:net';
import { isLoopback } from '../../../config/loopback.js';
import type { NodemailerError, SMTPTransportOptions, Transporter } from 'nodemailer';
import type { AlertEvent } from '../../event.js';
import { DeliveryError, type Channel } from '../channel.js';
import { alertLinks, type LinkTargets } from '../../links.js';
import { buildPayload, oneLine } from './payload.js';

export { buildPayload, type EmailMessage } from './payload.js';

export interface EmailChannelConfig {
  readonly url: string;
  readonly from: string;
  readonly to: readonly string[];
  /** Per SMTP step (connect, greeting, each reply) and for the whole send; 30 s by default. */
  readonly timeoutMs?: number;
  /** Extra trusted CA certificates (PEM), for an on-prem relay with a private CA. */
  readonly tls?: { readonly ca?: readonly string[] };
  /** The status page and workbook the mail links to, read at each send. */
  readonly links?: () => LinkTargets;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

/** A WBMON_SMTP_URL that cannot be used; the message never contains the URL. */
export class SmtpUrlError extends Error {
  override readonly name = 'SmtpUrlError';
}

interface ParsedSmtpUrl {
  readonly secure: boolean;
  /** Without IPv6 brackets: what to connect to. */
  readonly host: string;
  readonly port: number;
  readonly user: string | undefined;
  readonly pass: string | undefined;
  readonly loopback: boolean;
}

function parseSmtpUrl(url: string): ParsedSmtpUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SmtpUrlError('SMTP URL is not a valid URL');
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') {
    throw new SmtpUrlError(`SMTP URL must start with smtps:// or smtp://, not ${u.protocol}//`);
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new SmtpUrlError('SMTP URL has no host');
  if (u.search) throw new SmtpUrlError(`SMTP URL ${hostPort(host, portOf(u))}: query options are not supported`);
  const decode = (v: string): string => {
    try {
      return decodeURIComponent(v);
    } catch {
      throw new SmtpUrlError(`SMTP URL ${hostPort(host, portOf(u))}: the user or password is not correctly percent-encoded`);
    }
  };
  return {
    secure: u.protocol === 'smtps:',
    host,
    port: portOf(u),
    user: u.username ? decode(u.username) : undefined,
    pass: u.password ? decode(u.password) : undefined,
    loopback: isLoopback(host),
  };
}

function portOf(u: URL): number {
  if (u.port) return Number(u.port);
  return u.protocol === 'smtps:' ? 465 : 587;
}

function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export { isLoopback };

/** `host:port` of an SMTP URL, for logs: never the user or password. */
export function describeSmtp(url: string): string {
  try {
    const p = parseSmtpUrl(url);
    return hostPort(p.host, p.port);
  } catch {
    return '(invalid SMTP URL)';
  }
}

/**
 * The nodemailer transport options for a WBMON_SMTP_URL (pure). TLS is implicit (smtps) or
 * required through STARTTLS (smtp), except to a loopback host where plain SMTP is used.
 * Certificates are always verified.
 */
export function transportOptions(
  url: string,
  options: { readonly timeoutMs?: number; readonly tls?: { readonly ca?: readonly string[] } } = {},
): SMTPTransportOptions {
  const p = parseSmtpUrl(url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const plain = !p.secure && p.loopback;
  return {
    host: p.host,
    port: p.port,
    secure: p.secure,
    ...(plain ? { ignoreTLS: true } : { requireTLS: !p.secure }),
    ...(p.user !== undefined && { auth: { user: p.user, pass: p.pass ?? '' } }),
    tls: {
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      ...(isIP(p.host) === 0 && { servername: p.host }),
      ...(options.tls?.ca && options.tls.ca.length > 0 && { ca: [...options.tls.ca] }),
    },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    logger: false,
    debug: false,
  };
}

export function emailChannel(config: EmailChannelConfig): Channel {
  if (config.to.length === 0) throw new SmtpUrlError('email channel needs at least one recipient');
  const options = transportOptions(config.url, {
    ...(config.timeoutMs !== undefined && { timeoutMs: config.timeoutMs }),
    ...(config.tls && { tls: config.tls }),
  });
  const server = describeSmtp(config.url);
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const scrub = secretScrubber(config.url, options.auth?.user, options.auth?.pass);
  // nodemailer is loaded on the first email, not when the function app starts: most runs send
  // nothing, and cold start on Flex Consumption counts every module imported up front.
  let transporter: Promise<Transporter> | undefined;
  const transport = (): Promise<Transporter> => (transporter ??= import('nodemailer').then((m) => m.createTransport(options)));

  return {
    name: 'email',
    async send(event: AlertEvent): Promise<string> {
      const message = buildPayload(event, config.to, config.from, alertLinks(event, config.links?.() ?? {}));
      let info: { rejected?: unknown[]; rejectedErrors?: NodemailerError[]; response?: string };
      try {
        info = await (await transport()).sendMail({
          from: message.from,
          to: [...message.to],
          subject: message.subject,
          text: message.text,
          html: message.html,
          headers: { 'Auto-Submitted': 'auto-generated', 'X-Wbmon-Event': oneLine(event.id) },
          ...(event.kind === 'triggered' && { priority: 'high' as const }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        throw toDeliveryError(err, server, timeoutMs, scrub);
      }
      const rejected = (info.rejected ?? []).map(String);
      if (rejected.length > 0) {
        // Sent to the others, but these recipients will never get it: retrying the whole
        // message would repeat it to the others and be refused again for these.
        const codes = (info.rejectedErrors ?? []).map((e) => e.responseCode).filter((c): c is number => typeof c === 'number');
        const deferredOnly = codes.length === rejected.length && codes.every((c) => c < 500);
        const reply = info.rejectedErrors?.[0]?.response;
        throw new DeliveryError(
          scrub(`email via ${server}: recipients rejected: ${rejected.join(', ')}${reply ? ` (${reply})` : ''}`),
          !deferredOnly,
        );
      }
      return scrub(`accepted by ${server}${info.response ? `: ${oneLine(info.response)}` : ''}`);
    },
    async close(): Promise<void> {
      (await transporter)?.close();
    },
  };
}

const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROXY', 'EABORT']);
const PERMANENT_CODES = new Set(['EENVELOPE', 'EMESSAGE', 'EAUTH', 'ENOAUTH', 'ECONFIG', 'EREQUIRETLS', 'EMAXRECIPIENTS']);

/**
 * Whether retrying could help: an SMTP reply decides by its class (5xx permanent except 503,
 * 4xx transient); without a reply, connection, TLS and timeout failures are transient, a
 * refused envelope or login is permanent, and anything unknown is retried.
 */
export function isPermanent(err: Pick<NodemailerError, 'code' | 'responseCode'>): boolean {
  if (typeof err.responseCode === 'number' && err.responseCode >= 400 && err.responseCode < 600) {
    return err.responseCode >= 500 && err.responseCode !== 503;
  }
  if (err.code && TRANSIENT_CODES.has(err.code)) return false;
  if (err.code && PERMANENT_CODES.has(err.code)) return true;
  return false;
}

function toDeliveryError(err: unknown, server: string, timeoutMs: number, scrub: (s: string) => string): DeliveryError {
  const e = (err ?? {}) as NodemailerError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  let what: string;
  if (code === 'EABORT') what = `no answer within ${timeoutMs} ms`;
  else if (code === 'ETIMEDOUT') what = `timed out${e.timeoutType ? ` (${e.timeoutType})` : ''}`;
  else what = oneLine(e.message ?? String(err)).slice(0, 500);
  const codes = [code, e.originalCode].filter((c): c is string => typeof c === 'string' && !what.includes(c));
  const detail = codes.length ? ` (${[...new Set(codes)].join(', ')})` : '';
  return new DeliveryError(scrub(`email via ${server}: ${what}${detail}`), isPermanent(e), { cause: err });
}

/** Replaces every form in which the URL or password could appear: raw, percent-encoded, base64 (AUTH LOGIN/PLAIN). */
function secretScrubber(url: string, user: string | undefined, pass: string | undefined): (s: string) => string {
  const secrets = new Set<string>([url]);
  if (pass) {
    const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
    secrets.add(pass);
    secrets.add(encodeURIComponent(pass));
    secrets.add(b64(pass));
    secrets.add(b64(`\u0000${user ?? ''}\u0000${pass}`));
    secrets.add(b64(`${user ?? ''}\u0000${user ?? ''}\u0000${pass}`));
  }
  const ordered = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return (text) => ordered.reduce((acc, secret) => acc.split(secret).join('***'), text);
}
