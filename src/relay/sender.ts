/**
 * Posting one buffered heartbeat to the monitor, signed at the moment of sending (the monitor
 * accepts timestamps within 300 s, and a buffered heartbeat may be hours old), through the
 * customer's proxy when one applies, and classifying the answer for the outbox.
 */
import { request as httpRequest } from 'node:http';
import { rootCertificates } from 'node:tls';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import { isLoopback } from '../config/loopback.js';
import { sign } from '../heartbeat/verify.js';
import { usableNames } from '../roundtrip/subject-names.js';
import { proxyFor, proxyFromEnvironment } from '../probes/proxy.js';
import { VERSION } from '../version.js';
import type { RelaySettings } from './settings.js';

export type SendOutcome =
  /**
   * 202: stored. `roundtripUsers`: the round trip's test user names the monitor answered with
   * (absent when it gave none), for the next read of Connect's log.
   */
  | { kind: 'accepted'; status: number; roundtripUsers?: readonly string[] }
  /** 409: the monitor already has it (an earlier send whose answer was lost). */
  | { kind: 'duplicate'; status: number; message: string }
  /** 400, 413, 415: this body will never be accepted; drop it. */
  | { kind: 'rejected'; status: number; message: string }
  /**
   * 401 and 403: keep it and fix the settings. First the function key (WBMON_MONITOR_KEY): under
   * Azure Functions the host answers 401, with no body, before the monitor sees the request;
   * only with the right key does the monitor's own 401 say the relay id, secret or clock is wrong.
   */
  | { kind: 'unauthorized'; status: number; message: string }
  /** The monitor or the network is down (5xx, timeout, refused): keep it, try later. */
  | { kind: 'retry'; status?: number; message: string };

export interface Sender {
  send(body: string, now: Date): Promise<SendOutcome>;
  close(): Promise<void>;
}

export interface SenderRoute {
  /** The proxy for the monitor's URL (the relay's discovered route); default: the environment's. */
  readonly proxyFor?: (url: URL) => URL | null;
  /** The machine's trusted roots (Windows), trusted on top of Node's for the monitor's TLS too. */
  readonly systemCa?: readonly string[];
}

export function createSender(settings: RelaySettings, timeoutMs = 30_000, route: SenderRoute = {}): Sender {
  const url = new URL('api/heartbeat', settings.monitorUrl.href.endsWith('/') ? settings.monitorUrl : `${settings.monitorUrl.href}/`);
  const proxy = route.proxyFor ? route.proxyFor(url) : proxyFor(url, proxyFromEnvironment(settings.env, settings.proxyUrl));
  // A TLS-inspecting proxy re-signs the monitor's certificate too: trust what Windows trusts.
  const ca = route.systemCa?.length ? [...rootCertificates, ...route.systemCa] : undefined;
  const dispatcher: Dispatcher | undefined = proxy
    ? new ProxyAgent({ uri: proxy.href, ...(ca && { requestTls: { ca } }) })
    : ca
      ? new Agent({ connect: { ca } })
      : undefined;
  // A test seam for Wine, not for Windows: under Wine undici cannot connect ("connect
  // UNKNOWN") while node:http can, so the Wine tests of the relay executable set
  // WBMON_RELAY_HTTP_CLIENT=node. It is honoured only for plain http to a loopback monitor
  // without a proxy (a test set-up by definition); https, proxies and every real monitor
  // always go through undici, exactly as on Windows.
  const plainLoopback = settings.env.WBMON_RELAY_HTTP_CLIENT === 'node' && url.protocol === 'http:' && isLoopback(url.hostname) && !proxy;

  return {
    async send(body, now) {
      const timestamp = String(Math.floor(now.getTime() / 1000));
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': `writeback-monitor-relay/${VERSION}`,
        'x-wbmon-relay': settings.relayId,
        'x-wbmon-timestamp': timestamp,
        'x-wbmon-signature': sign(settings.secret, timestamp, Buffer.from(body)),
      };
      if (settings.monitorKey) headers['x-functions-key'] = settings.monitorKey;
      try {
        if (plainLoopback) {
          const res = await postWithNodeHttp(url, headers, body, timeoutMs);
          return classify(res.status, res.text);
        }
        const res = await request(url, {
          method: 'POST',
          headers,
          body,
          ...(dispatcher && { dispatcher }),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        return classify(res.statusCode, await res.body.text());
      } catch (err) {
        return { kind: 'retry', message: `${url.origin}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
      }
    },
    async close() {
      await dispatcher?.close();
    },
  };
}

function postWithNodeHttp(url: URL, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'UND_ERR_HEADERS_TIMEOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

function messageOf(text: string): string {
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    if (typeof error === 'string') return error;
  } catch {
    // not JSON: an HTML error page from a proxy or the platform
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}

/** A 401 without the monitor's JSON reason: the Functions host's own answer to the function key. */
export const NO_REASON =
  'no reason given: under Azure Functions, the host refused the function key before the monitor saw the heartbeat; check WBMON_MONITOR_KEY (a key of the heartbeat function)';

/** The names in a 202's `roundtrip.users`; none from anything else (an older monitor's answer, a proxy's page). */
function roundtripUsersOf(text: string): string[] {
  if (text.length > MAX_ANSWER_CHARS) return [];
  try {
    const answer = JSON.parse(text) as { roundtrip?: { users?: unknown } } | null;
    return usableNames(answer?.roundtrip?.users);
  } catch {
    return [];
  }
}

/** The monitor's 202 is a few hundred bytes; anything much longer is not its answer. */
const MAX_ANSWER_CHARS = 16_384;

function classify(status: number, text: string): SendOutcome {
  if (status === 202 || status === 200) {
    const users = roundtripUsersOf(text);
    return { kind: 'accepted', status, ...(users.length > 0 && { roundtripUsers: users }) };
  }
  const message = messageOf(text.slice(0, 500));
  if (status === 409) return { kind: 'duplicate', status, message };
  if (status === 401 || status === 403) return { kind: 'unauthorized', status, message: message || NO_REASON };
  if (status === 400 || status === 413 || status === 415) return { kind: 'rejected', status, message };
  return { kind: 'retry', status, message: `HTTP ${status}${message ? `: ${message}` : ''}` };
}
