/** The local HTTP API: the same handlers as the Azure Functions, on node:http. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiResponse } from '../api/handlers.js';

export interface ApiRequest {
  header(name: string): string | undefined;
  readonly body: Uint8Array;
}

export type Route = (request: ApiRequest) => Promise<ApiResponse> | ApiResponse;

export interface Routes {
  readonly [path: string]: { readonly method: 'GET' | 'POST'; readonly handle: Route };
}

export interface RunningApi {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ApiOptions {
  /** Bodies longer than this are not read: the route gets the first `maxBodyBytes + 1` bytes. */
  readonly maxBodyBytes: number;
}

export async function startApi(routes: Routes, port: number, options: ApiOptions, host = '127.0.0.1'): Promise<RunningApi> {
  const server: Server = createServer((req, res) => {
    const send = (answer: ApiResponse): void => {
      const body = JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '');
    const route = routes[path];
    if (!route) return send({ status: 404, body: { error: `no such endpoint: ${path || '/'}` } });
    if (req.method !== route.method) {
      res.setHeader('allow', route.method);
      return send({ status: 405, body: { error: `${path} accepts ${route.method} only` } });
    }
    readBody(req, options.maxBodyBytes)
      .then((body) => route.handle({ header: (name) => headerOf(req, name), body }))
      .then(send, (err: unknown) => send({ status: 500, body: { error: `internal error: ${(err as Error).message}` } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections would hold close() open until they time out.
        server.closeAllConnections();
      }),
  };
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
