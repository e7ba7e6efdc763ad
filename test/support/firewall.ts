/**
 * A firewall simulator: a loopback TCP proxy that treats a connection idle longer than a limit
 * the way real middleboxes do: reset it (RST), close it (FIN both ways), or black-hole it
 * (forward nothing more, keep the sockets open, answer nothing).
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export type IdleAction = 'reset' | 'close' | 'blackhole';

export interface Firewall {
  readonly port: number;
  close(): Promise<void>;
}

export async function startFirewall(upstreamPort: number, idleLimitMs: number, action: IdleAction): Promise<Firewall> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let holed = false;
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(expire, idleLimitMs);
    };
    const expire = (): void => {
      if (action === 'reset') {
        client.resetAndDestroy();
        upstream.destroy();
      } else if (action === 'close') {
        client.end();
        upstream.end();
      } else {
        holed = true;
      }
    };
    const forwardTo = (to: Socket) => (chunk: Buffer) => {
      if (holed) return;
      arm();
      to.write(chunk);
    };
    client.on('data', forwardTo(upstream));
    upstream.on('data', forwardTo(client));
    for (const s of [client, upstream]) {
      s.on('error', () => undefined);
      s.on('close', () => {
        clearTimeout(timer);
        sockets.delete(s);
        (s === client ? upstream : client).destroy();
      });
    }
    arm();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
