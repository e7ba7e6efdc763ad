/** Real loopback servers for probe tests: HTTPS with chosen certificates and behaviours, raw TCP, proxies, DNS. */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import type { KeyAndCert } from './certs.js';

export interface Running {
  port: number;
  url: string;
  close(): Promise<void>;
}

function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}

async function listen(server: Server, scheme: string, host = 'localhost'): Promise<Running> {
  const sockets = trackSockets(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `${scheme}://${host}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Answers `status` with `body`, after `delayMs` before the first byte. */
export function respond(status: number, body = 'ok', delayMs = 0, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    setTimeout(() => {
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(body);
    }, delayMs);
  };
}

export function startHttps(cert: KeyAndCert, handler: Handler = respond(200), host = 'localhost'): Promise<Running> {
  return listen(createHttpsServer({ key: cert.key, cert: cert.cert }, handler), 'https', host);
}

export function startHttp(handler: Handler = respond(200)): Promise<Running> {
  return listen(createHttpServer(handler), 'http');
}

/** Accepts TCP and then says nothing: a TLS handshake against it never completes. */
export function startSilentTcp(): Promise<Running> {
  return listen(createTcpServer(() => undefined), 'https');
}

/** A port that was free a moment ago and now has nothing listening: connecting is refused. */
export async function refusedPort(): Promise<number> {
  const s = await listen(createTcpServer(), 'tcp');
  await s.close();
  return s.port;
}

export interface ProxyServer extends Running {
  /** CONNECT authorities asked for, in order. */
  requests: string[];
}

/** A CONNECT proxy: tunnels when `allow` says so, else answers `refuseStatus`. */
export async function startConnectProxy(
  options: {
    refuseStatus?: number;
    allow?: (authority: string) => boolean;
    /** Where to tunnel an authority (a proxy that knows hosts this machine's DNS does not); default: the authority itself. */
    upstream?: (authority: string) => { host: string; port: number } | undefined;
  } = {},
): Promise<ProxyServer> {
  const requests: string[] = [];
  const server = createHttpServer((_req, res) => {
    res.writeHead(405);
    res.end();
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const authority = req.url ?? '';
    requests.push(authority);
    const allowed = options.refuseStatus === undefined && (options.allow?.(authority) ?? true);
    if (!allowed) {
      client.end(`HTTP/1.1 ${options.refuseStatus ?? 403} Refused\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const [host, port] = splitAuthority(authority);
    const to = options.upstream?.(authority) ?? { host: host === 'localhost' ? '127.0.0.1' : host, port: Number(port) };
    const upstream = connect(to.port, to.host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const running = await listen(server, 'http');
  return { ...running, url: `http://127.0.0.1:${running.port}`, requests };
}

function splitAuthority(authority: string): [string, string] {
  const i = authority.lastIndexOf(':');
  return [authority.slice(0, i).replace(/^\[|\]$/g, ''), authority.slice(i + 1)];
}

/** What the loopback DNS server knows of a name: a CNAME to follow, or IPv4 addresses. */
export interface DnsRecord {
  readonly cname?: string;
  readonly a?: readonly string[];
}

/**
 * A minimal DNS server on loopback UDP: answers A and CNAME queries from `records` (an A query
 * of a name with a CNAME gets the whole chain, as a recursive resolver gives it), NODATA for
 * another type of a known name, NXDOMAIN for every other name; or stays silent
 * (`silent: true`) so that resolvers time out. `queries` records each question as `TYPE name`.
 */
export async function startDns(options: { silent?: boolean; records?: Readonly<Record<string, DnsRecord>> } = {}): Promise<Running & { queries: string[] }> {
  const socket = createSocket('udp4');
  const queries: string[] = [];
  const records = new Map(Object.entries(options.records ?? {}).map(([name, r]) => [name.toLowerCase(), r]));
  const encodeName = (name: string): Buffer =>
    Buffer.concat([...name.replace(/\.$/, '').split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')])), Buffer.from([0])]);
  const rr = (name: string, type: number, rdata: Buffer): Buffer => {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(type, 0);
    fixed.writeUInt16BE(1, 2); // IN
    fixed.writeUInt32BE(60, 4); // TTL
    fixed.writeUInt16BE(rdata.length, 8);
    return Buffer.concat([encodeName(name), fixed, rdata]);
  };
  socket.on('message', (msg, rinfo) => {
    if (options.silent || msg.length < 12) return;
    // Echo the header and the question only (drop any EDNS record the resolver added).
    let end = 12;
    const labels: string[] = [];
    while (end < msg.length && msg[end] !== 0) {
      labels.push(msg.subarray(end + 1, end + 1 + msg[end]!).toString('ascii'));
      end += msg[end]! + 1;
    }
    const name = labels.join('.');
    const qtype = msg.readUInt16BE(end + 1);
    queries.push(`${qtype === 1 ? 'A' : qtype === 5 ? 'CNAME' : qtype} ${name.toLowerCase()}`);
    const answers: Buffer[] = [];
    let rcode = 3; // NXDOMAIN
    let current = name;
    let record = records.get(current.toLowerCase());
    if (record) rcode = 0;
    for (let hops = 0; record && hops < 8; hops++) {
      if (record.cname) {
        if (qtype !== 1 && qtype !== 5) break;
        answers.push(rr(current, 5, encodeName(record.cname)));
        if (qtype === 5) break;
        current = record.cname;
        record = records.get(current.toLowerCase());
        continue;
      }
      if (qtype === 1) for (const a of record.a ?? []) answers.push(rr(current, 1, Buffer.from(a.split('.').map(Number))));
      break;
    }
    const header = Buffer.from(msg.subarray(0, end + 5));
    header.writeUInt16BE(1, 4); // one question
    header[2] = 0x80 | 0x04 | (msg[2]! & 0x01); // QR=1, AA=1, keep RD
    header[3] = 0x80 | rcode; // RA=1
    header.writeUInt16BE(answers.length, 6);
    header.writeUInt16BE(0, 8);
    header.writeUInt16BE(0, 10);
    socket.send(Buffer.concat([header, ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  return { port, url: `127.0.0.1:${port}`, queries, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

/**
 * A plain-HTTP forward proxy: an absolute-form `GET http://host:port/path` is forwarded to that
 * host (localhost as 127.0.0.1) and its status passed back, or answered with `status` itself
 * (407 wanting authentication, 502 when it cannot reach the host). Records each request line.
 */
export async function startForwardProxy(options: { status?: number } = {}): Promise<ProxyServer> {
  const requests: string[] = [];
  const server = createHttpServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (options.status !== undefined || !/^http:\/\//.test(req.url ?? '')) {
      res.writeHead(options.status ?? 400, options.status === 407 ? { 'proxy-authenticate': 'Basic realm="corp"' } : {});
      res.end();
      return;
    }
    const url = new URL(req.url!);
    const upstream = connect(Number(url.port || 80), url.hostname === 'localhost' ? '127.0.0.1' : url.hostname, () => {
      upstream.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
    });
    let head = '';
    upstream.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
      if (status && !res.headersSent) {
        res.writeHead(Number(status));
        res.end();
        upstream.destroy();
      }
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
    });
  });
  const running = await listen(server, 'http');
  return { ...running, url: `http://127.0.0.1:${running.port}`, requests };
}
