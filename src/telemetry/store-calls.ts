/**
 * State store calls in telemetry: the failed ones, and only those.
 *
 * The store (src/store/table-store.ts) reaches Table Storage through @azure/data-tables, whose
 * pipeline (@azure/core-rest-pipeline) sends over `node:https`. Left to the distro's defaults,
 * every call was exported three times (the SDK's `TableClient.*` span as an `InProc |
 * Microsoft.Data.Tables` dependency, the pipeline's `HTTP <method>` span and the http
 * instrumentation's span), an expected "not found" became an exception, and the exporter's own
 * posts and token requests were traced too. setup.ts turns both instrumentations off, and this
 * module reports what is worth reporting: a store request that FAILED, as one CLIENT span
 * (an `Http` dependency with success false, the status as its result code and the error as
 * the properties `error` and `errorCode`), a child of whatever span was active when the
 * request was sent (the timer run's, usually). A request that succeeded, or that got an answer
 * the store expects and handles (storeAnswerExpected), is not reported at all.
 *
 * It listens on Node's own diagnostics channels of the HTTP client
 * (`http.client.request.start`, `http.client.response.finish`, `http.client.request.error`),
 * which see every request whoever loaded `node:http`: no require hook, so nothing depends on
 * how the app is loaded or bundled. A store request is one sent by @azure/data-tables (its
 * User-Agent): nothing else in the app uses that SDK. Each attempt the pipeline retries is a
 * request of its own, so a call retried three times and failing each time is three failed
 * dependencies, as the service saw it.
 *
 * Only `@opentelemetry/api` is used: with no SDK registered the spans are non-recording.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context } from '@opentelemetry/api';

const TRACER = 'writeback-monitor';

/** The User-Agent of @azure/data-tables starts `azsdk-js-data-tables/<version>`. */
const STORE_USER_AGENT = 'azsdk-js-data-tables';

const CHANNELS = {
  start: 'http.client.request.start',
  response: 'http.client.response.finish',
  error: 'http.client.request.error',
} as const;

/** An entity's own URL path ends in its keys, `(PartitionKey='…',RowKey='…')`; a query ends in `()`. */
function isEntityPath(pathname: string): boolean {
  return /\([^)/][^/]*\)$/.test(pathname);
}

/**
 * Whether an HTTP answer is one the store reads as an outcome rather than a failure, exactly
 * as src/store/table-store.ts does:
 *  - 409 to a POST: the table already exists (ready) or the entry does (insert: a conflict the
 *    caller expects and handles); 409 to an update (PUT, MERGE, PATCH) is a conflict too;
 *  - 404 to an entity's own URL: a read of a missing entry (get returns undefined), an update
 *    of an entry that vanished (a conflict), a delete of what is already gone;
 *  - 412 to an update or delete of an entity: its ETag is stale (a conflict, re-read).
 * Everything else of 400 and above is a failure, including a 404 to a query (the table is
 * missing) or to an insert.
 */
export function storeAnswerExpected(method: string, pathname: string, status: number): boolean {
  const m = method.toUpperCase();
  const update = m === 'PUT' || m === 'MERGE' || m === 'PATCH';
  if (status === 409) return m === 'POST' || update;
  if (status === 404) return isEntityPath(pathname) && (m === 'GET' || m === 'DELETE' || update);
  if (status === 412) return isEntityPath(pathname) && (m === 'DELETE' || update);
  return false;
}

/** Whether a store request with this answer is reported (a failure): not for 1xx-3xx, nor for an expected answer. */
export function storeCallFailed(method: string, pathname: string, status: number): boolean {
  return status >= 400 && !storeAnswerExpected(method, pathname, status);
}

interface Pending {
  readonly parent: Context;
  /** Epoch milliseconds, sub-millisecond precision. */
  readonly startTime: number;
  readonly method: string;
  readonly protocol: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly pathname: string;
}

/** Epoch milliseconds with the monotonic clock's precision. */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function headerText(value: unknown): string {
  if (Array.isArray(value)) return value.join(' ');
  return typeof value === 'string' ? value : '';
}

function pendingOf(request: ClientRequest): Pending | undefined {
  if (!headerText(request.getHeader('user-agent')).includes(STORE_USER_AGENT)) return undefined;
  const protocol = (request as { protocol?: string }).protocol ?? 'http:';
  // Node's own Host header carries the port unless it is the scheme's default.
  const port = /:(\d+)$/.exec(headerText(request.getHeader('host')))?.[1];
  return {
    parent: context.active(),
    startTime: nowMs(),
    method: request.method,
    protocol,
    host: request.host,
    port: port ? Number(port) : undefined,
    // Never the query: a SAS token would be there.
    pathname: request.path.split('?')[0] ?? '/',
  };
}

function report(pending: Pending, attributes: Attributes, message: string): void {
  const { method, protocol, host, port, pathname } = pending;
  const authority = port !== undefined ? `${host}:${port}` : host;
  const span = trace.getTracer(TRACER).startSpan(
    `${method} ${pathname}`,
    {
      kind: SpanKind.CLIENT,
      startTime: pending.startTime,
      attributes: {
        'http.request.method': method,
        'url.full': `${protocol}//${authority}${pathname}`,
        'server.address': host,
        ...(port !== undefined && { 'server.port': port }),
        ...attributes,
        error: message,
      },
    },
    pending.parent,
  );
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end(nowMs());
}

export interface StoreCallWatch {
  /** Stops listening; requests in flight are not reported. */
  stop(): void;
}

/**
 * Starts reporting failed state store requests as dependencies (see the module comment).
 * One watch per process is enough; each watch reports independently.
 */
export function watchStoreCalls(): StoreCallWatch {
  const pending = new WeakMap<object, Pending>();
  const onStart = (message: unknown): void => {
    const request = (message as { request?: ClientRequest }).request;
    if (!request) return;
    const p = pendingOf(request);
    if (p) pending.set(request, p);
  };
  const onResponse = (message: unknown): void => {
    const { request, response } = message as { request?: ClientRequest; response?: IncomingMessage };
    const p = request && pending.get(request);
    if (!p || !response) return;
    pending.delete(request);
    const status = response.statusCode ?? 0;
    if (!storeCallFailed(p.method, p.pathname, status)) return;
    const errorCode = headerText(response.headers['x-ms-error-code']);
    report(
      p,
      { 'http.response.status_code': status, ...(errorCode && { errorCode }) },
      `HTTP ${status}${errorCode ? ` ${errorCode}` : response.statusMessage ? ` ${response.statusMessage}` : ''}`,
    );
  };
  const onError = (message: unknown): void => {
    const { request, error } = message as { request?: ClientRequest; error?: unknown };
    const p = request && pending.get(request);
    if (!p) return;
    pending.delete(request);
    const err = error as { code?: unknown; message?: unknown } | undefined;
    const code = typeof err?.code === 'string' ? err.code : undefined;
    const text = typeof err?.message === 'string' ? err.message.split('\n')[0]!.slice(0, 300) : String(error);
    report(p, code ? { errorCode: code } : {}, code && !text.includes(code) ? `${code}: ${text}` : text);
  };
  subscribe(CHANNELS.start, onStart);
  subscribe(CHANNELS.response, onResponse);
  subscribe(CHANNELS.error, onError);
  return {
    stop() {
      unsubscribe(CHANNELS.start, onStart);
      unsubscribe(CHANNELS.response, onResponse);
      unsubscribe(CHANNELS.error, onError);
    },
  };
}
