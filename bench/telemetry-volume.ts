/**
 * Telemetry volume (issue 15): bytes of everything the app exports to Application Insights,
 * divided by the bytes of its availability results (what the workbook and the alert rules
 * read), for one probe cycle of 3 targets and one evaluation of 2 relays, each with the alert
 * pass its timer run makes. Target <= 2.5.
 *
 * The BUILT Function App entry files run in a child process (telemetry-volume-child.ts) with
 * the real Azure Monitor distro, against a loopback HTTPS capture of the ingestion endpoint
 * (trusted through NODE_EXTRA_CA_CERTS, since the exporter always posts over https), with the
 * state store on an Azurite in this process (so, as in Azure, the store is reached over HTTP
 * and its server side is not in the app's process), probe targets and a Microsoft Graph
 * stand-in on loopback HTTPS. Round 1 starts from an empty store (every check and record
 * created); round 2 is the steady state every later run looks like. The ratio is round 2's;
 * round 1's is printed too.
 *
 * Bytes are those of each envelope as JSON, uncompressed (what is ingested; the wire carries
 * it gzipped). The sampler is the distro's default (rate limited at 5 traces/s), as deployed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startAzurite } from '../src/local/azurite.js';
import { isMain, listenLoopback, makeCerts, round, startHttps, type BenchCerts } from './support.js';

export const VOLUME_MAX_RATIO = 2.5;
const CHILD = join(import.meta.dirname, 'telemetry-volume-child.js');
const RELAY_TARGETS = ['https://passwordreset.microsoftonline.com/', 'https://ssprdedicatedsbprodscu.servicebus.windows.net/', 'https://ssprdedicatedsbprodncu.servicebus.windows.net/'];

/**
 * What the child does, in order, per round: a heartbeat from each relay, the probe timer, the
 * evaluation that processes those heartbeats, the next minute's evaluation (nothing new), the
 * tenant checks. `periodic` (after round 2) is what the distro exports on its own once a minute.
 */
export const STEPS = ['heartbeat', 'probeEndpoints', 'evaluateHeartbeats', 'evaluateIdle', 'checkTenant', 'periodic'] as const;
export type Step = (typeof STEPS)[number];

/** Count and bytes of the envelopes of one type (RequestData, AvailabilityData, ...). */
export interface TypeVolume {
  readonly count: number;
  readonly bytes: number;
}

export interface StepVolume {
  readonly round: number;
  readonly step: Step;
  readonly byType: Readonly<Record<string, TypeVolume>>;
  readonly bytes: number;
  readonly availabilityBytes: number;
  /** Dependency envelopes by their `type | target` (what each dependency called). */
  readonly dependencies: Readonly<Record<string, number>>;
  /** Metric envelopes by metric name. */
  readonly metrics: Readonly<Record<string, TypeVolume>>;
}

/** The defaults (docs/telemetry.md): runs a day of each timer, heartbeats a day, minutes a day. */
export const PER_DAY = {
  probeEndpoints: 288, // every 5 minutes
  evaluateHeartbeats: 1440, // every minute
  heartbeatsPerRelay: 288, // each relay every 300 s
  checkTenant: 24, // hourly
  minutes: 1440,
} as const;

export interface DailyVolume {
  /** Bytes a day by source, from round 2's measured bytes per run × runs a day. */
  readonly parts: Readonly<Record<string, number>>;
  /** Everything the worker exports in a day, in bytes (JSON envelopes, uncompressed). */
  readonly bytes: number;
  /** The same without the distro's periodic exports (a lower bound: an instance that idles between runs). */
  readonly perRunBytes: number;
}

export interface TelemetryVolume {
  readonly steps: StepVolume[];
  /** Round 2 (steady state): probeEndpoints + evaluateHeartbeats, everything / availability. */
  readonly ratio: number;
  /** The same for round 1, from an empty store. */
  readonly firstRatio: number;
  readonly maxRatio: number;
  /** Round 2's ratio leaving out the wbmon.probe.phase.duration envelopes (for comparison; no target). */
  readonly ratioWithoutPhaseHistogram: number;
  readonly daily: DailyVolume;
  /** Posts the capture received (all rounds), and their gzipped bytes on the wire. */
  readonly posts: number;
  readonly wireBytes: number;
}

interface Envelope {
  name?: string;
  data?: { baseType?: string; baseData?: Record<string, unknown> };
}

interface Post {
  readonly envelopes: Envelope[];
  readonly wireBytes: number;
}

function envelopesOf(body: string): Envelope[] {
  const text = body.trim();
  if (!text) return [];
  if (text.startsWith('[')) return JSON.parse(text) as Envelope[];
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Envelope);
}

/** A loopback stand-in for `/v2.1/track` that keeps every envelope it is sent. */
async function startCapture(certs: BenchCerts, posts: Post[]): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      let envelopes: Envelope[] = [];
      if (req.method === 'POST' && (req.url ?? '').startsWith('/v2.1/track')) {
        envelopes = envelopesOf(body);
        posts.push({ envelopes, wireBytes: raw.length });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: envelopes.length, itemsAccepted: envelopes.length, errors: [] }));
    });
  });
  const port = await listenLoopback(server);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Microsoft Graph as a healthy tenant answers the three tenant checks (shapes from the v1.0 docs). */
function graph(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'https://localhost').pathname;
  if (path === '/v1.0/subscribedSkus') {
    return json(res, {
      value: [{
        capabilityStatus: 'Enabled', consumedUnits: 14, id: '48a80680-7326-48cd-9935-b556b81d3a4e_EMS',
        prepaidUnits: { enabled: 25, suspended: 0, warning: 0, lockedOut: 0 },
        servicePlans: [{ servicePlanId: '41781fb2-bc02-4b7c-bd55-b576c07bb09d', servicePlanName: 'AAD_PREMIUM', provisioningStatus: 'Success', appliesTo: 'User' }],
        skuId: 'c7df2760-2c81-4ef7-b578-5b5392b571df', skuPartNumber: 'EMS', appliesTo: 'User',
      }],
    });
  }
  if (path === '/v1.0/organization') {
    return json(res, { value: [{ onPremisesSyncEnabled: true, onPremisesLastSyncDateTime: new Date(Date.now() - 10 * 60_000).toISOString() }] });
  }
  if (path === '/v1.0/auditLogs/directoryAudits') return json(res, { value: [] });
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code: 'Request_ResourceNotFound', message: 'not found' } }));
}

function runChild(env: NodeJS.ProcessEnv, onMark: (round: number, step: Step) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      pending += d.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const mark = /^MARK (\d+) (\S+)$/.exec(line.trim());
        if (mark) onMark(Number(mark[1]), mark[2] as Step);
      }
    });
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`telemetry-volume child exited ${code}:\n${output}`))));
  });
}

function volumeOf(round: number, step: Step, envelopes: readonly Envelope[]): StepVolume {
  const byType: Record<string, { count: number; bytes: number }> = {};
  const dependencies: Record<string, number> = {};
  const metrics: Record<string, { count: number; bytes: number }> = {};
  let bytes = 0;
  for (const e of envelopes) {
    const type = e.data?.baseType ?? e.name ?? 'unknown';
    const size = Buffer.byteLength(JSON.stringify(e));
    bytes += size;
    const t = (byType[type] ??= { count: 0, bytes: 0 });
    t.count += 1;
    t.bytes += size;
    if (type === 'RemoteDependencyData') {
      const d = e.data?.baseData ?? {};
      const key = `${String(d['type'] ?? '?')} | ${String(d['target'] ?? '?')}`;
      dependencies[key] = (dependencies[key] ?? 0) + 1;
    }
    if (type === 'MetricData') {
      const name = ((e.data?.baseData?.['metrics'] as { name?: string }[] | undefined) ?? [])[0]?.name ?? '?';
      const m = (metrics[name] ??= { count: 0, bytes: 0 });
      m.count += 1;
      m.bytes += size;
    }
  }
  return { round, step, byType, bytes, availabilityBytes: byType['AvailabilityData']?.bytes ?? 0, dependencies, metrics };
}

const PHASE_HISTOGRAM = 'wbmon.probe.phase.duration';

function stepOf(steps: readonly StepVolume[], roundNo: number, step: Step): StepVolume {
  const found = steps.find((s) => s.round === roundNo && s.step === step);
  if (!found) throw new Error(`telemetry-volume: no capture for round ${roundNo} ${step}`);
  return found;
}

/**
 * Round 2's bytes per run × runs a day. Evaluations: every one pays what an evaluation with no
 * new heartbeat pays; each processed heartbeat adds half of what the evaluation of both relays'
 * heartbeats paid over that. Heartbeat invocations: half of round 2's two, each.
 */
function dailyOf(steps: readonly StepVolume[]): DailyVolume {
  const b = (step: Step) => stepOf(steps, 2, step).bytes;
  const heartbeats = PER_DAY.heartbeatsPerRelay * 2;
  const parts = {
    probeEndpoints: b('probeEndpoints') * PER_DAY.probeEndpoints,
    evaluateHeartbeats: b('evaluateIdle') * PER_DAY.evaluateHeartbeats + ((b('evaluateHeartbeats') - b('evaluateIdle')) / 2) * heartbeats,
    heartbeat: (b('heartbeat') / 2) * heartbeats,
    checkTenant: b('checkTenant') * PER_DAY.checkTenant,
    periodic: b('periodic') * PER_DAY.minutes,
  };
  const bytes = Object.values(parts).reduce((sum, v) => sum + v, 0);
  return { parts, bytes: Math.round(bytes), perRunBytes: Math.round(bytes - parts.periodic) };
}

function ratioOf(steps: readonly StepVolume[], roundNo: number, leaveOut?: string): number {
  const measured = steps.filter((s) => s.round === roundNo && (s.step === 'probeEndpoints' || s.step === 'evaluateHeartbeats'));
  const all = measured.reduce((sum, s) => sum + s.bytes - (leaveOut ? (s.metrics[leaveOut]?.bytes ?? 0) : 0), 0);
  const availability = measured.reduce((sum, s) => sum + s.availabilityBytes, 0);
  return availability > 0 ? all / availability : Number.POSITIVE_INFINITY;
}

export async function benchTelemetryVolume(): Promise<TelemetryVolume> {
  const certs = makeCerts();
  const dir = mkdtempSync(join(tmpdir(), 'wbmon-volume-'));
  const posts: Post[] = [];
  const capture = await startCapture(certs, posts);
  const azurite = await startAzurite();
  const targets = await Promise.all([0, 1, 2].map(() => startHttps(certs, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'))));
  const graphServer = await startHttps(certs, graph);
  try {
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, certs.caPem);
    const relays = Object.fromEntries(['relay-a', 'relay-b'].map((id) => [id, { secret: `${id}-bench-secret-`.padEnd(48, 'x'), periodSeconds: 300, graceSeconds: 120 }]));
    const cuts: { round: number; step: Step; at: number }[] = [];
    await runChild(
      {
        PATH: process.env.PATH ?? '',
        TMPDIR: dir, // the exporter's offline storage stays in this run's directory
        NODE_EXTRA_CA_CERTS: caFile,
        APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${capture.port}/`,
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
        AzureWebJobsStorage: azurite.connectionString,
        REGION_NAME: 'westeurope',
        WBMON_TARGETS: targets.map((t) => t.url).join(','),
        WBMON_RELAYS: JSON.stringify(relays),
        WBMON_GRAPH_URL: graphServer.url.replace(/\/$/, ''),
        WBMON_GRAPH_TOKEN: 'bench-graph-token',
        BENCH_RELAY_TARGETS: RELAY_TARGETS.join(','),
      },
      (roundNo, step) => cuts.push({ round: roundNo, step, at: posts.length }),
    );
    if (process.env.BENCH_VOLUME_DUMP) writeFileSync(process.env.BENCH_VOLUME_DUMP, JSON.stringify({ cuts, posts }, null, 1));
    const steps: StepVolume[] = [];
    let from = 0;
    for (const cut of cuts) {
      steps.push(volumeOf(cut.round, cut.step, posts.slice(from, cut.at).flatMap((p) => p.envelopes)));
      from = cut.at;
    }
    return {
      steps,
      ratio: round(ratioOf(steps, 2), 3),
      firstRatio: round(ratioOf(steps, 1), 3),
      maxRatio: VOLUME_MAX_RATIO,
      ratioWithoutPhaseHistogram: round(ratioOf(steps, 2, PHASE_HISTOGRAM), 3),
      daily: dailyOf(steps),
      posts: posts.length,
      wireBytes: posts.reduce((sum, p) => sum + p.wireBytes, 0),
    };
  } finally {
    await Promise.all([capture.close(), graphServer.close(), ...targets.map((t) => t.close())]);
    await azurite.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatTelemetryVolume(r: TelemetryVolume): string {
  const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;
  const lines = ['telemetry volume: bytes exported per timer run, by envelope type (count/bytes, uncompressed JSON)'];
  for (const s of r.steps) {
    const types = Object.entries(s.byType)
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .map(([type, v]) => `${type.replace(/Data$/, '')} ${v.count}/${v.bytes}`)
      .join(', ');
    lines.push(`  round ${s.round} ${s.step.padEnd(18)} ${String(s.bytes).padStart(7)} B  (${types || 'nothing'})`);
    for (const [dep, n] of Object.entries(s.dependencies).sort((a, b) => b[1] - a[1])) lines.push(`      dependency ${dep}: ${n}`);
    if (s.round === 2) {
      for (const [name, v] of Object.entries(s.metrics).sort((a, b) => b[1].bytes - a[1].bytes)) lines.push(`      metric ${name}: ${v.count}/${v.bytes}`);
    }
  }
  lines.push(`  probe cycle (3 targets) + evaluation (2 relays), alert pass in each: everything / availability results = ${r.ratio} steady (round 2), ${r.firstRatio} from an empty store (round 1); target <= ${r.maxRatio}`);
  lines.push(`  the same leaving out ${PHASE_HISTOGRAM}: ${r.ratioWithoutPhaseHistogram} (no target)`);
  const d = r.daily;
  lines.push(
    `  a day at the defaults (round 2 bytes per run x runs a day): ${(d.bytes / 1e6).toFixed(2)} MB with the distro's periodic exports every minute, ${(d.perRunBytes / 1e6).toFixed(2)} MB without; ` +
      Object.entries(d.parts).map(([k, v]) => `${k} ${kb(v)}`).join(', '),
  );
  lines.push(`  ${r.posts} posts to /v2.1/track, ${r.wireBytes} B gzipped on the wire`);
  return lines.join('\n');
}

if (isMain(import.meta.url)) {
  const result = await benchTelemetryVolume();
  console.log(formatTelemetryVolume(result));
  if (process.argv.includes('--json')) console.log(JSON.stringify(result));
}
