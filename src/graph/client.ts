/**
 * A small Microsoft Graph client for the tenant checks: GET with paging through
 * `@odata.nextLink`, 429/503 honoured with `Retry-After`, a timeout per request, and typed
 * errors. The token never appears in an error message.
 */
import { request } from 'undici';
import { retryAfterMs } from '../alerting/channels/http-post.js';

export interface GraphGetOptions {
  /** `https://graph.microsoft.com`, a national cloud, or a loopback server in tests. */
  readonly baseUrl: string;
  readonly token: string | (() => Promise<string>);
  /** Per request, headers and body together. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /** Retries of one request after 429 or 503. Default 3. */
  readonly maxRetries?: number;
  /** Pages followed through `@odata.nextLink`. Default 50. */
  readonly maxPages?: number;
  /** The longest wait honoured for one `Retry-After`. Default 60 000 ms. */
  readonly maxRetryWaitMs?: number;
  /** Injectable for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export type GraphErrorKind = 'http' | 'json' | 'timeout' | 'network' | 'paging' | 'token';

export class GraphError extends Error {
  override readonly name = 'GraphError';
  constructor(
    message: string,
    readonly kind: GraphErrorKind,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** HTTP 403: the application lacks a Graph permission; `permission` names the one to grant. */
export class GraphPermissionError extends Error {
  override readonly name = 'GraphPermissionError';
  constructor(
    message: string,
    readonly permission: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The application permission a Graph path needs (the least privileged that reads it, per the
 * API reference: listing directoryAudits names AuditLog.Read.All *and* Directory.Read.All;
 * a service principal's synchronization jobs, Synchronization.Read.All; service principals
 * themselves, Application.Read.All or Directory.Read.All, which the grant scripts give anyway).
 */
export function permissionFor(path: string): string {
  const p = path.replace(/^\/?(v1\.0|beta)\//, '').replace(/^\//, '').toLowerCase().split('?')[0] ?? '';
  if (p.startsWith('auditlogs/')) return 'AuditLog.Read.All and Directory.Read.All';
  if (p.startsWith('subscribedskus') || p.startsWith('organization')) return 'Organization.Read.All';
  if (p.startsWith('serviceprincipals/') && p.includes('/synchronization/')) return 'Synchronization.Read.All';
  if (p.startsWith('serviceprincipals')) return 'Directory.Read.All';
  // The round trip's guard rails: the test user and its roles.
  if (p.startsWith('users/') || p.startsWith('rolemanagement/directory/')) return 'Directory.Read.All';
  return 'the Microsoft Graph permission for this resource';
}

const sleepReal = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** GET a collection, following `@odata.nextLink`; returns every `value` item of every page. */
export async function graphGet(path: string, options: GraphGetOptions): Promise<unknown[]> {
  const base = new URL(options.baseUrl);
  const maxPages = options.maxPages ?? 50;
  const shown = describePath(path);
  const items: unknown[] = [];
  let url: URL | undefined = new URL(path, base);
  for (let page = 0; url; page++) {
    if (page >= maxPages) throw new GraphError(`GET ${shown}: more than ${maxPages} pages`, 'paging');
    const body = await getPage(url, path, shown, options);
    const value = (body as { value?: unknown }).value;
    if (!Array.isArray(value)) throw new GraphError(`GET ${shown}: the answer has no value array`, 'json');
    items.push(...value);
    const next = (body as { '@odata.nextLink'?: unknown })['@odata.nextLink'];
    if (typeof next !== 'string') break;
    url = new URL(next, base);
    // The token goes to the configured Graph endpoint only, never to another origin.
    if (url.origin !== base.origin) throw new GraphError(`GET ${shown}: @odata.nextLink points to another origin (${url.origin})`, 'paging');
  }
  return items;
}

async function getPage(url: URL, path: string, shown: string, options: GraphGetOptions): Promise<unknown> {
  const maxRetries = options.maxRetries ?? 3;
  const maxWait = options.maxRetryWaitMs ?? 60_000;
  const sleep = options.sleep ?? sleepReal;
  for (let attempt = 0; ; attempt++) {
    const token = await getToken(options.token);
    const { status, headers, text } = await fetchOnce(url, token, shown, options.timeoutMs ?? 30_000);
    if (status === 200) {
      try {
        const body: unknown = JSON.parse(text);
        if (typeof body !== 'object' || body === null) throw new Error('not an object');
        return body;
      } catch (err) {
        throw new GraphError(`GET ${shown}: malformed JSON in the answer`, 'json', status, { cause: err });
      }
    }
    if ((status === 429 || status === 503) && attempt < maxRetries) {
      const wait = Math.min(maxWait, retryAfterMs(headers['retry-after'], Date.now(), headers.date) ?? 1000 * 2 ** attempt);
      await sleep(wait);
      continue;
    }
    const code = graphErrorCode(text);
    const suffix = code ? ` ${code}` : '';
    if (status === 403) {
      const permission = permissionFor(path);
      throw new GraphPermissionError(
        `Microsoft Graph refused GET ${shown} (HTTP 403${suffix}): grant the application permission ${permission}`,
        permission,
      );
    }
    const retried = attempt > 0 ? ` after ${attempt} retries` : '';
    throw new GraphError(`GET ${shown}: HTTP ${status}${suffix}${retried}`, 'http', status);
  }
}

async function getToken(token: GraphGetOptions['token']): Promise<string> {
  if (typeof token === 'string') return token;
  try {
    return await token();
  } catch (err) {
    // The credential's own message may be long or name secrets' locations: name the class only.
    throw new GraphError(`could not obtain a Microsoft Graph token (${(err as Error)?.name ?? 'error'})`, 'token', undefined, { cause: err });
  }
}

export interface GraphAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/**
 * One request and its whole answer, no retries: the caller decides what a 429 or a 5xx means
 * (a password reset is not repeated blindly). Network failures and timeouts are GraphErrors.
 */
export async function graphSend(
  method: 'GET' | 'POST',
  url: URL,
  options: { readonly token: GraphGetOptions['token']; readonly timeoutMs?: number; readonly body?: Buffer },
): Promise<GraphAnswer> {
  const token = await getToken(options.token);
  return fetchOnce(url, token, `${describePath(url.pathname)}`, options.timeoutMs ?? 30_000, method, options.body);
}

async function fetchOnce(
  url: URL,
  token: string,
  shown: string,
  timeoutMs: number,
  method: 'GET' | 'POST' = 'GET',
  body?: Buffer,
): Promise<GraphAnswer> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await request(url, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body && { 'content-type': 'application/json' }) },
      ...(body && { body }),
      signal: controller.signal,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text };
  } catch (err) {
    if (controller.signal.aborted) throw new GraphError(`${method} ${shown}: no complete answer within ${timeoutMs} ms (timeout)`, 'timeout', undefined, { cause: err });
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
    throw new GraphError(`${method} ${shown}: no answer (${code})`, 'network', undefined, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/** The path without its query, for messages (filters are long and say nothing new). */
function describePath(path: string): string {
  return path.split('?')[0] ?? path;
}

export function graphErrorCode(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && /^[\w.-]{1,80}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}
