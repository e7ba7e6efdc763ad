/** The local HTTP API: the same handlers as the Azure Functions, on node:http. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiResponse } from '../api/handlers.js';

export type Route = () => Promise<ApiResponse> | ApiResponse;

export interface Routes {
  readonly [path: string]: { readonly method: 'GET' | 'POST'; readonly handle: Route };
}

export interface RunningApi {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startApi(routes: Routes, port: number, host = '127.0.0.1'): Promise<RunningApi> {
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
    Promise.resolve()
      .then(route.handle)
      .then(send, (err: unknown) => send({ status: 500, body: { error: `internal error: ${(err as Error).message}` } }));
  });
  // Keep-alive connections would hold close() open until they time out.
  const closeIdle = (): void => server.closeAllConnections();
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
        closeIdle();
      }),
  };
}
