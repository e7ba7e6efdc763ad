/**
 * Loopback HTTPS servers in a process of their own. The servers' side of 50 TLS handshakes
 * must not share the prober's event loop: in production the endpoints are other machines, so
 * a farm in the prober's own process would bill the servers' CPU to the probe cycle.
 *
 * Run as a child: reads {certs, count, delayMs} as one JSON line on stdin, prints the ports as
 * one JSON line, and serves until stdin closes.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isMain, respondAfter, startHttps, type BenchCerts } from './support.js';

export interface ServerFarm {
  readonly urls: string[];
  close(): Promise<void>;
}

interface FarmRequest {
  readonly certs: BenchCerts;
  readonly count: number;
  readonly delayMs: number;
}

export async function startServerFarm(certs: BenchCerts, count: number, delayMs: number): Promise<ServerFarm> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { stdio: ['pipe', 'pipe', 'inherit'] });
  child.stdin.write(`${JSON.stringify({ certs, count, delayMs } satisfies FarmRequest)}\n`);
  const ports = await new Promise<number[]>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) resolve(JSON.parse(out) as number[]);
    });
    child.once('exit', (code) => reject(new Error(`server farm exited with ${code}`)));
  });
  return {
    urls: ports.map((p) => `https://localhost:${p}/`),
    close: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

async function serveFarm(): Promise<void> {
  const request = await new Promise<FarmRequest>((resolve) => {
    let input = '';
    const onData = (chunk: Buffer): void => {
      input += chunk.toString();
      if (!input.includes('\n')) return;
      process.stdin.off('data', onData);
      resolve(JSON.parse(input) as FarmRequest);
    };
    process.stdin.on('data', onData);
  });
  const servers = await Promise.all(
    Array.from({ length: request.count }, () => startHttps(request.certs, (_req, res) => respondAfter(res, request.delayMs))),
  );
  process.stdout.write(`${JSON.stringify(servers.map((s) => s.port))}\n`);
  // The parent closing our stdin is the signal to stop (it also fires if the parent dies).
  process.stdin.once('end', () => void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0)));
  process.stdin.resume();
}

if (isMain(import.meta.url)) await serveFarm();
