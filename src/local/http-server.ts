/**
 * The local HTTP API: the same handlers as the Azure Functions, on node:http.
 *
 * Everything a client sends is hostile until a handler says otherwise, and nothing a client
 * sends may stop the process: a request target that does not parse is a 400, a Host that is
 * not this server's is a 421, and an exception in a route is logged and answered, never
 * thrown. Connections are capped (the oldest goes when a new one arrives at the cap, so a
 * client hoarding sockets cannot lock out /api/health), and slow clients are cut off by
 * timeouts sized for the largest body a route takes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ApiResponse } from '../api/handlers.js';

export interface ApiRequest {
  header(name: string): string | undefined;
  readonly body: Uint8Array;
  /** The route path as sent (percent-encoding kept), without query or trailing slashes. */
  readonly path: string;
  readonly query: URLSearchParams;
}

export type Route = (request: ApiRequest) => Promise<ApiResponse> | ApiResponse;

/**
 * Exact paths, or, with `prefix`, every path under one (`/api/badge/` + a check id): the route
 * reads the rest from `request.path`.
 */
export interface Routes {
  readonly [path: string]: { readonly method: 'GET' | 'POST'; readonly handle: Route; readonly prefix?: true };
}

export interface RunningApi {
  readonly url: string;
  readonly port: number;
  /** Requests whose route threw (answered 500 and logged), since start. */
  readonly routeErrors: () => number;
  close(): Promise<void>;
}

export interface ApiOptions {
  /** Bodies longer than this are not read: the route gets the first `maxBodyBytes + 1` bytes. */
  readonly maxBodyBytes: number;
  /** Open connections at most; at the cap, the oldest is closed for each new one. */
  readonly maxConnections?: number;
  /** Whole request (headers and body) within this, or the socket is closed. */
  readonly requestTimeoutMs?: number;
  /** The monitor's log, for route failures (never the request's content). */
  readonly log?: (line: string) => void;
}

/**
 * 128 connections is far more than a monitor's few relays and a browser need, and far below
 * the descriptors the process needs for its own store and probes (EMFILE stops everything).
 */
export const DEFAULT_MAX_CONNECTIONS = 128;
/**
 * A 64 KiB heartbeat at the slowest realistic uplink (a few KB/s) takes well under 30 s; a
 * client dripping a byte a second no longer holds a socket for Node's default 300 s.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 10_000;

/** What Node itself would answer to these, the rest being 400. */
const CLIENT_ERRORS: Readonly<Record<string, string>> = {
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
};

export async function startApi(routes: Routes, port: number, options: ApiOptions, host = '127.0.0.1'): Promise<RunningApi> {
  const log = options.log ?? (() => undefined);
  let routeErrors = 0;
  let actualPort = port;

  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const timeouts = {
    requestTimeout,
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
    // Node looks for expired requests only this often (default 30 s).
    connectionsCheckingInterval: Math.max(100, Math.min(5_000, requestTimeout / 4)),
  };
  const server: Server = createServer(timeouts, (req, res) => {
    const send = answer(res);
    const path = requestPath(req.url);
    if (path === undefined) return send({ status: 400, body: { error: 'request target is not a valid path' } });
    if (!isOwnHost(req.headers.host, host, actualPort)) {
      return send({ status: 421, body: { error: `this server answers only to ${authority(host, actualPort)}` } });
    }
    const route = routeFor(routes, path);
    if (!route) return send({ status: 404, body: { error: `no such endpoint: ${path || '/'}` } });
    if (req.method !== route.method) {
      res.setHeader('allow', route.method);
      return send({ status: 405, body: { error: `${path} accepts ${route.method} only` } });
    }
    readBody(req, options.maxBodyBytes).then(
      (body) =>
        Promise.resolve()
          .then(() => route.handle({ header: (name) => headerOf(req, name), body, path, query: requestQuery(req.url) }))
          .then(send, (err: unknown) => {
            routeErrors++;
            log(`${path}: internal error (${routeErrors} since start): ${(err as Error)?.message ?? String(err)}`);
            send({ status: 500, body: { error: 'internal error; the monitor logged it' } });
          }),
      // The client went away mid-body: nobody to answer.
      () => res.destroy(),
    );
  });

  // The cap: Node's own maxConnections refuses new sockets, which would lock out exactly the
  // health check and the relays when someone hoards connections. Close the oldest instead.
  const cap = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const open = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    if (open.size >= cap) open.values().next().value?.destroy();
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  // A malformed request line or header: answer 400 and close, as Node would, without an
  // 'error' event reaching anything that could throw.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || socket.destroyed) return void socket.destroy();
    const status = CLIENT_ERRORS[err.code ?? ''] ?? '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://${authority(host, actualPort)}`,
    port: actualPort,
    routeErrors: () => routeErrors,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections would hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
}

function answer(res: ServerResponse): (answer: ApiResponse) => void {
  return (a) => {
    if (res.headersSent) return;
    const body = a.contentType === undefined ? JSON.stringify(a.body) : String(a.body);
    res.writeHead(a.status, {
      'cache-control': 'no-store',
      ...a.headers,
      'content-type': a.contentType ?? 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
  };
}

function routeFor(routes: Routes, path: string): Routes[string] | undefined {
  if (Object.hasOwn(routes, path)) return routes[path];
  for (const [prefix, route] of Object.entries(routes)) {
    if (route.prefix && path.startsWith(prefix) && path.length > prefix.length) return route;
  }
  return undefined;
}

/** The query of a request target that requestPath accepted. */
function requestQuery(target: string | undefined): URLSearchParams {
  try {
    return new URL(target ?? '/', 'http://localhost').searchParams;
  } catch {
    return new URLSearchParams();
  }
}

/**
 * The route part of a request target (origin form, or absolute form as proxies send it),
 * without query and trailing slashes; undefined when it does not parse (`//`, `//@`, `//[`,
 * `*`...), which WHATWG URL parsing throws on.
 */
export function requestPath(target: string | undefined): string | undefined {
  if (!target) return undefined;
  try {
    return new URL(target, 'http://localhost').pathname.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}

function authority(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * A page in a browser can make it send requests to 127.0.0.1 under any name it controls (DNS
 * rebinding); answering only to this server's own names keeps such pages out.
 */
function isOwnHost(header: string | undefined, host: string, port: number): boolean {
  if (!header) return false;
  const names = new Set([authority(host, port), `localhost:${port}`]);
  if (host === '127.0.0.1' || host === '::1') names.add(`127.0.0.1:${port}`).add(`[::1]:${port}`);
  return names.has(header.toLowerCase());
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Reads at most `max + 1` bytes: enough for the handler to see that the body is too large,
 * without holding a hostile client's gigabyte in memory. The rest is discarded unread.
 */
function readBody(req: IncomingMessage, max: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > max) {
      req.resume();
      return resolve(new Uint8Array(max + 1));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size > max) return;
      chunks.push(chunk);
      size += chunk.length;
    });
    req.once('end', () => resolve(new Uint8Array(Buffer.concat(chunks).subarray(0, max + 1))));
    req.once('error', reject);
  });
}
