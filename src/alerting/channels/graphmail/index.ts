/**
 * Email without a password: the alert sent through Microsoft Graph `sendMail` as one mailbox,
 * with the Function App's managed identity (a token for the Graph resource of WBMON_GRAPH_URL),
 * or WBMON_GRAPH_TOKEN for a local run. Exchange Online retires Basic authentication for SMTP
 * AUTH client submission; this channel needs neither SMTP nor a stored secret.
 *
 * The identity needs Mail.Send for the sender mailbox: the Graph application permission
 * restricted by an application access policy, or an Exchange Online RBAC for Applications
 * "Application Mail.Send" assignment scoped to the mailbox (docs/alerts.md).
 *
 * One attempt per send; the outbox retries. 202 is accepted. 408, 429 and 5xx, timeouts and
 * network failures are worth retrying (429/503 after their Retry-After); any other answer is
 * permanent, with the likely cause named (403: permission or policy, 404: no such mailbox).
 * The token never appears in an error message: it is scrubbed from everything quoted.
 */
import { request, type Dispatcher } from 'undici';
import { DeliveryError, type Channel } from '../channel.js';
import { retryAfterMs } from '../http-post.js';
import { oneLine } from '../email/payload.js';
import { alertLinks, type LinkTargets } from '../../links.js';
import { buildPayload, senderAddress } from './payload.js';

export { buildPayload, senderAddress, sendMailPath, type GraphMailRequest, type SendMailBody } from './payload.js';

export interface GraphMailConfig {
  /** `https://graph.microsoft.com`, a national cloud, or a loopback server in tests. */
  readonly graphUrl: string;
  /** WBMON_EMAIL_FROM: the mailbox sent as (`Name <address>` or the address). */
  readonly from: string;
  readonly to: readonly string[];
  /** A token for the Graph resource, or a function that gets one (the managed identity). */
  readonly token: string | (() => Promise<string>);
  /** Headers and body together; 30 s by default. */
  readonly timeoutMs?: number;
  /** Where requests go through (tests trust their own CA with it); undici's global one by default. */
  readonly dispatcher?: Dispatcher;
  /** The status page and workbook the mail links to, read at each send. */
  readonly links?: () => LinkTargets;
}

export const DEFAULT_TIMEOUT_MS = 30_000;

export function graphMailChannel(config: GraphMailConfig): Channel {
  if (config.to.length === 0) throw new Error('graphmail channel needs at least one recipient');
  const base = new URL(config.graphUrl);
  const sender = senderAddress(config.from);
  const timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const where = `graphmail as ${sender}`;

  return {
    name: 'graphmail',
    async send(event) {
      const { path, body } = buildPayload(event, config.to, config.from, alertLinks(event, config.links?.() ?? {}));
      const token = await getToken(config.token, where);
      const scrub = (text: string): string => (token ? text.split(token).join('***') : text);
      const url = new URL(path, base);
      let status: number;
      let headers: Record<string, string | string[] | undefined>;
      let text: string;
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const res = await request(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(body),
          signal,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          ...(config.dispatcher && { dispatcher: config.dispatcher }),
        });
        status = res.statusCode;
        headers = res.headers;
        text = (await res.body.text()).slice(0, 8_192);
      } catch (err) {
        // The cause stays out: it is undici's error, whose text is not ours to vouch for.
        if (signal.aborted) throw new DeliveryError(`${where}: no complete answer from ${base.host} within ${timeoutMs} ms (timeout)`, false);
        const code = (err as NodeJS.ErrnoException)?.code ?? (err as Error)?.name ?? 'error';
        throw new DeliveryError(scrub(`${where}: no answer from ${base.host} (${oneLine(String(code)).slice(0, 80)})`), false);
      }
      if (status === 202) return;
      throw toDeliveryError(status, headers, text, sender, base, where, scrub);
    },
  };
}

async function getToken(token: GraphMailConfig['token'], where: string): Promise<string> {
  if (typeof token === 'string') return token;
  try {
    const value = await token();
    if (!value) throw new Error('empty token');
    return value;
  } catch (err) {
    // The credential's own message may be long or name where secrets live: its class only.
    const name = (err as Error)?.name ?? 'error';
    throw new DeliveryError(`${where}: could not obtain a Microsoft Graph token (${oneLine(String(name)).slice(0, 80)}); in Azure the Function App's managed identity provides it, locally set WBMON_GRAPH_TOKEN`, false);
  }
}

/** Graph's `{"error": {"code", "message"}}`, each on one line and bounded; undefined when absent. */
export function graphError(text: string): { code: string | undefined; message: string | undefined } {
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    const code = typeof error?.code === 'string' && /^[\w.-]{1,80}$/.test(error.code) ? error.code : undefined;
    const message = typeof error?.message === 'string' && error.message.trim() ? oneLine(error.message).slice(0, 300) : undefined;
    return { code, message };
  } catch {
    return { code: undefined, message: undefined };
  }
}

/** The likely cause of a refusal, in the administrator's terms; undefined when Graph's own words must do. */
export function likelyCause(status: number, code: string | undefined, message: string | undefined, sender: string, graphHost: string): string | undefined {
  const text = `${code ?? ''} ${message ?? ''}`;
  switch (status) {
    case 400:
      return `Microsoft Graph refused the message: check the addresses in WBMON_EMAIL_TO and WBMON_EMAIL_FROM`;
    case 401:
      return `the token was refused: it is not a valid token for ${graphHost} (WBMON_GRAPH_URL), or WBMON_GRAPH_TOKEN has expired`;
    case 403:
      if (/AccessPolicy|RAOP/i.test(text)) {
        return `an Exchange Online application access policy excludes the mailbox ${sender}: add it to the policy's mail-enabled security group (Test-ApplicationAccessPolicy shows the verdict)`;
      }
      return (
        `the identity may not send as ${sender}: Mail.Send is not granted (the Microsoft Graph application permission, ` +
        `infra/grant-graph-permissions.sh --mail-send, or an Exchange Online RBAC for Applications "Application Mail.Send" assignment), ` +
        `or an application access policy or the assignment's management scope excludes the mailbox`
      );
    case 404:
      return `no such mailbox: ${sender} is not a user or shared mailbox in Exchange Online (or its mailbox is on-premises, inactive or soft-deleted); WBMON_EMAIL_FROM must be its user principal name`;
    default:
      return undefined;
  }
}

function toDeliveryError(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  text: string,
  sender: string,
  base: URL,
  where: string,
  scrub: (s: string) => string,
): DeliveryError {
  const { code, message } = graphError(text);
  const said = [code, message].filter(Boolean).join(': ');
  const transient = status === 408 || status === 429 || status >= 500;
  if (transient) {
    const wait = retryAfterMs(headers['retry-after'], Date.now(), headers.date);
    const after = wait === undefined ? '' : `, Graph asks to retry after ${Math.ceil(wait / 1000)} s`;
    const what = status === 429 ? ' throttled' : status === 503 ? ' service unavailable' : '';
    return new DeliveryError(scrub(`${where}: HTTP ${status}${what}${after}${said ? ` (${said})` : ''}`), false, wait === undefined ? {} : { retryAfterMs: wait });
  }
  if (status >= 200 && status < 400) {
    // Not Graph's answer to sendMail; the mail may even have gone, so it is not repeated.
    return new DeliveryError(`${where}: unexpected HTTP ${status} (sendMail answers 202 Accepted): is WBMON_GRAPH_URL (${base.origin}) Microsoft Graph?`, true);
  }
  const cause = likelyCause(status, code, message, sender, base.host);
  return new DeliveryError(scrub(`${where}: HTTP ${status}${said ? ` (${said})` : ''}${cause ? `; ${cause}` : ''}`), true);
}
