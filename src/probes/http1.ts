/**
 * A minimal HTTP/1.1 exchange over a socket we own. The keepalive test needs to know that its
 * second request travels on the very same connection as the first; with an HTTP client library
 * in between, a dead connection is silently replaced by a new one (seen with undici), so the
 * test would pass for the wrong reason.
 */
import type { Socket } from 'node:net';

export interface Http1Response {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
}

export function writeGet(stream: Socket, url: URL, userAgent: string): void {
  stream.write(
    [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, `User-Agent: ${userAgent}`, 'Accept: */*', 'Connection: keep-alive', '', ''].join('\r\n'),
  );
}

/**
 * Reads one response (Content-Length or chunked body). Rejects with an Error whose `code` is
 * the socket error (e.g. ECONNRESET) or 'EOF' when the peer closed before the response ended.
 */
export function readResponse(stream: Socket): Promise<Http1Response> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    let head: Http1Response | undefined;
    let bodyStart = 0;
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const done = (response: Http1Response): void => {
      cleanup();
      resolve(response);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onEnd = (): void => {
      cleanup();
      reject(Object.assign(new Error('connection closed by the peer (FIN)'), { code: 'EOF' }));
    };
    const onData = (chunk: Buffer): void => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!head) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
        if (!status) return onError(Object.assign(new Error('not an HTTP/1.x response'), { code: 'EPROTO' }));
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const i = line.indexOf(':');
          if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
        }
        head = { status, headers };
        bodyStart = end + 4;
      }
      const body = buffer.subarray(bodyStart);
      const length = head.headers.get('content-length');
      if (length !== undefined && body.length >= Number(length)) return done(head);
      if (/chunked/i.test(head.headers.get('transfer-encoding') ?? '') && body.includes('0\r\n\r\n') && /(^|\r\n)0\r\n\r\n$/.test(body.toString('latin1'))) return done(head);
      if (length === undefined && !/chunked/i.test(head.headers.get('transfer-encoding') ?? '') && (head.status === 204 || head.status === 304)) return done(head);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}

/** `Keep-Alive: timeout=5, max=100` -> 5. */
export function keepAliveTimeout(response: Http1Response): number | null {
  const m = /(?:^|[,\s])timeout\s*=\s*(\d+)/i.exec(response.headers.get('keep-alive') ?? '');
  return m ? Number(m[1]) : null;
}
