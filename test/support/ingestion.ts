/**
 * A captured Application Insights ingestion, for proving telemetry end to end: a loopback HTTPS
 * server that records every request (gunzipped) and answers like `/v2.1/track`, and a runner for
 * a child process that executes the BUILT code against it. The exporter always posts over https,
 * so the child trusts the capture through NODE_EXTRA_CA_CERTS.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createTestCa } from './certs.js';

/** The built code under `dist/src`, or a file or folder in it. */
export function distPath(...segments: string[]): string {
  return resolve(import.meta.dirname, '../../dist/src', ...segments);
}

/** Throws, naming `what`, unless every file is built in `dir`. */
export function assertBuilt(dir: string, files: string[], what: string): void {
  if (files.some((file) => !existsSync(join(dir, file)))) {
    throw new Error(`built ${what} missing in ${dir}: run \`npm run build\` (npm test builds first)`);
  }
}

/** One request the capture received; `body` is already gunzipped. */
export interface Captured {
  path: string;
  body: string;
  /** The Authorization header, when the exporter sent one (Entra ID authentication). */
  authorization: string | undefined;
}

/** Decode one POST body: a JSON array or JSON lines. */
export function envelopesOf<T = Record<string, unknown>>(body: string): T[] {
  const text = body.trim();
  if (text.startsWith('[')) return JSON.parse(text) as T[];
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

export interface ChildRun {
  code: number | null;
  /** stdout and stderr, interleaved. */
  output: string;
}

export interface Ingestion {
  /** This run's own directory: the child script, the CA file and the exporter's offline storage. */
  dir: string;
  /** Points the exporter at the capture. */
  connectionString: string;
  /** Every request received, in order. */
  captured: Captured[];
  /** The requests posted to `/v2.1/track`. */
  tracks(): Captured[];
  /** Every envelope posted to `/v2.1/track`. */
  envelopes<T = Record<string, unknown>>(): T[];
  /**
   * Writes `script` (an ES module) into `dir` and runs it in a child node whose environment is
   * only: PATH, TMPDIR (this run's directory), the connection string, statsbeat off, trust in
   * the capture, then `extraEnv`.
   */
  runTelemetryChild(script: string, extraEnv?: NodeJS.ProcessEnv): Promise<ChildRun>;
  /**
   * Asserts what every capture test needs first: the child exited 0, something was posted to
   * `/v2.1/track`, and no captured request contains any of `secrets`.
   */
  expectPosted(run: ChildRun, secrets?: readonly string[]): void;
  /** Stops the server and removes `dir`. */
  close(): Promise<void>;
}

function runChild(script: string, env: NodeJS.ProcessEnv): Promise<ChildRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', fail);
    child.on('exit', (code) => done({ code, output }));
  });
}

function captureServer(key: string, cert: string, captured: Captured[]): Server {
  return createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const body = raw.toString('utf8');
      captured.push({ path: req.url ?? '', body, authorization: req.headers.authorization });
      let n = 0;
      try {
        n = req.method === 'POST' && body.trim() ? envelopesOf(body).length : 0;
      } catch {
        // not JSON: still answer, the test's assertions will tell
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: n, itemsAccepted: n, errors: [] }));
    });
  });
}

/** Starts a capture on 127.0.0.1 with a fresh test CA, in a new temp directory named `prefix…`. */
export async function startIngestion(prefix: string): Promise<Ingestion> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const captured: Captured[] = [];
  let server: Server | undefined;
  const close = async () => {
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ca = await createTestCa();
    const leaf = await ca.issue({ ips: ['127.0.0.1'], names: ['localhost'] });
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, ca.cert);
    const listening = captureServer(leaf.key, leaf.cert, captured);
    server = listening;
    await new Promise<void>((ok) => listening.listen(0, '127.0.0.1', ok));
    const { port } = listening.address() as AddressInfo;
    const connectionString = `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${port}/`;
    const tracks = () => captured.filter((c) => c.path.startsWith('/v2.1/track'));
    return {
      dir,
      connectionString,
      captured,
      tracks,
      envelopes: <T = Record<string, unknown>>() => tracks().flatMap((c) => envelopesOf<T>(c.body)),
      async runTelemetryChild(script, extraEnv = {}) {
        const file = join(dir, 'child.mjs');
        await writeFile(file, script);
        return runChild(file, {
          PATH: process.env['PATH'],
          TMPDIR: dir, // the exporter's offline storage stays in this run's directory
          APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString,
          APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
          NODE_EXTRA_CA_CERTS: caFile,
          ...extraEnv,
        });
      },
      expectPosted(run, secrets = []) {
        expect(run.code, run.output).toBe(0);
        expect(tracks().length, `captured: ${captured.map((c) => c.path).join(', ')}\n${run.output}`).toBeGreaterThan(0);
        for (const c of captured) for (const secret of secrets) expect(c.body).not.toContain(secret);
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * Starts a capture before the enclosing `describe`'s tests and closes it after them; call the
 * returned getter inside a test.
 */
export function useIngestion(prefix: string): () => Ingestion {
  let ingestion: Ingestion | undefined;
  beforeAll(async () => {
    ingestion = await startIngestion(prefix);
  });
  afterAll(async () => {
    if (ingestion) await ingestion.close();
  });
  return () => {
    if (!ingestion) throw new Error('the ingestion capture did not start');
    return ingestion;
  };
}
