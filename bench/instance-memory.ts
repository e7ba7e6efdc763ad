/**
 * Instance size from measurement (issue 15): the peak resident memory of a Functions worker
 * running each timer, so that Flex Consumption's `instanceMemoryMB` (infra/main.bicep) is chosen
 * from a figure, not a guess. On Flex Consumption every timer function scales on instances of
 * its own, and the HTTP functions share theirs, so each is measured in a fresh Node process of
 * its own (bench/instance-memory-child.ts): the built entry files loaded under a stand-in host
 * module, then the invocations the way the worker makes them, with telemetry on (the connection
 * string points at a loopback capture of Application Insights ingestion, trusted through
 * NODE_EXTRA_CA_CERTS; the envelopes it received are counted to show it was on).
 *
 *   probeEndpoints      3 runs of the probe cycle over 3 loopback HTTPS targets, one answering
 *                       503 (so a check goes down and the Teams alert is composed and posted)
 *   evaluateHeartbeats  3 runs over 10 relays, each with 2 fresh heartbeats of 3 results
 *   checkTenant         3 runs against a loopback HTTPS Graph stand-in: licences, organisation,
 *                       and 1,000 directory audit entries in 5 pages (a busy tenant's hour)
 *   http (info)         100 heartbeats from the 10 relays, 16 in flight, then 5 status reads
 *
 * State lives in an in-process Azurite in this (parent) process, a fresh one per child. Each
 * child runs REPEATS times, interleaved with the others; the peak reported is the largest of
 * the repeats (for sizing, the worst run counts), against the 512 MB instance. Target:
 * peak / 512 MB <= 0.5, leaving half the instance to what this does not hold: the worker's own
 * gRPC channel to the host, larger real answers, and the host itself where the platform's extra
 * 272 MB does not cover it. Also printed: an idle Node and a worker that only loaded the entry
 * files, for scale.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ingestHeartbeat } from '../src/heartbeat/ingest.js';
import type { Heartbeat } from '../src/heartbeat/schema.js';
import { startAzurite, type RunningAzurite } from '../src/local/azurite.js';
import { TableStore } from '../src/store/table-store.js';
import { isMain, listenLoopback, makeCerts, median, round, startHttps, type BenchServer } from './support.js';

export const INSTANCE_MEMORY_MB = 512;
export const INSTANCE_MEMORY_MAX_RATIO = 0.5;
const CHILD = join(import.meta.dirname, 'instance-memory-child.js');
const PREFIX = 'MEMORY ';
const RELAYS = 10;
const RUNS = 3;
const MIB = 2 ** 20;

export type Workload = 'probeEndpoints' | 'evaluateHeartbeats' | 'checkTenant' | 'http';
const WORKLOADS: readonly Workload[] = ['probeEndpoints', 'evaluateHeartbeats', 'checkTenant', 'http'];
const DESCRIBED: Record<Workload | 'load' | 'bare', string> = {
  probeEndpoints: `probe cycle, 3 HTTPS targets (1 down), ${RUNS} runs`,
  evaluateHeartbeats: `evaluation, ${RELAYS} relays x 2 heartbeats, ${RUNS} runs`,
  checkTenant: `tenant checks, 1,000 audit entries, ${RUNS} runs`,
  http: `HTTP group: 100 heartbeats (16 in flight) + 5 status`,
  load: 'entry files loaded, no invocation',
  bare: 'idle node',
};

export interface InstanceMemoryOptions {
  /** Fresh processes per workload (default 3). */
  readonly repeats?: number;
  /** Timer invocations per process (default 3). */
  readonly runs?: number;
  /** Only these workloads (default all). */
  readonly only?: readonly Workload[];
}

interface ChildReport {
  mode: string;
  node: string;
  loadedPeakBytes: number;
  invocationPeakBytes: number[];
  logLines: number;
  statuses?: Record<string, number>;
  telemetry: boolean;
  peakBytes: number;
}

export interface WorkloadMemory {
  readonly workload: Workload | 'load' | 'bare';
  readonly description: string;
  /** The largest peak RSS over the repeats, MiB. */
  readonly peakMb: number;
  readonly medianPeakMb: number;
  /** Peak once the entry files were loaded, before the first invocation (median), MiB. */
  readonly loadedMb: number;
  /** Peak after each invocation in the repeat with the largest peak, MiB. */
  readonly perInvocationMb: readonly number[];
  /** peakMb / INSTANCE_MEMORY_MB. */
  readonly ratio: number;
  /** Telemetry envelopes the capture received from one child (the smallest count). */
  readonly envelopes: number;
  readonly telemetry: boolean;
  readonly statuses?: Record<string, number>;
}

export interface InstanceMemoryResult {
  readonly node: string;
  readonly repeats: number;
  readonly instanceMemoryMb: number;
  readonly maxRatio: number;
  readonly workloads: readonly WorkloadMemory[];
  /** Idle node and entry files only. */
  readonly baselines: readonly WorkloadMemory[];
  /** The largest ratio of the timer workloads. */
  readonly worstTimerRatio: number;
}

/** A capture of Application Insights ingestion (`/v2.1/track`) and of the Teams webhook. */
function captureServer(certs: ReturnType<typeof makeCerts>, counter: { envelopes: number; teams: number }): Server {
  return createServer({ key: certs.keyPem, cert: certs.certPem }, (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.startsWith('/teams')) {
        counter.teams++;
        res.writeHead(202).end();
        return;
      }
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const text = raw.toString('utf8').trim();
      const n = !text ? 0 : text.startsWith('[') ? (JSON.parse(text) as unknown[]).length : text.split('\n').filter((l) => l.trim()).length;
      counter.envelopes += n;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: n, itemsAccepted: n, errors: [] }));
    });
  });
}

const json = (res: ServerResponse, body: unknown) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

/** Graph v1.0 shapes (the documentation's examples), 1,000 self-service reset audit entries in 5 pages. */
function graphHandler(base: () => string): (req: IncomingMessage, res: ServerResponse) => void {
  const now = Date.now();
  const entry = (i: number) => {
    const at = new Date(now - (i + 1) * 3_000).toISOString();
    const upn = `user${i}@contoso.com`;
    return {
      id: `SSPR_${i}`, category: 'UserManagement', correlationId: 'da159bfb-54fa-4092-8a38-8e1ea3f1ab7a',
      result: i % 50 === 0 ? 'failure' : 'success', resultReason: i % 50 === 0 ? 'OnPremisesConnectivityError' : '',
      activityDisplayName: 'Reset password (self-service)', activityDateTime: at, loggedByService: 'Self-service Password Management', operationType: 'Update',
      initiatedBy: { app: null, user: { id: '728309ae-8ecf-4d8e-9ed3-0b2bcba0b7a0', displayName: null, userPrincipalName: upn, ipAddress: '203.0.113.7' } },
      targetResources: [{ id: '728309ae-8ecf-4d8e-9ed3-0b2bcba0b7a0', displayName: null, type: 'User', userPrincipalName: upn, modifiedProperties: [] }],
      additionalDetails: [],
    };
  };
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    if (url.pathname === '/v1.0/subscribedSkus') {
      return json(res, {
        value: [{
          capabilityStatus: 'Enabled', consumedUnits: 14, id: '48a80680-7326-48cd-9935-b556b81d3a4e_EMS', prepaidUnits: { enabled: 25, suspended: 0, warning: 0, lockedOut: 0 },
          servicePlans: [{ servicePlanId: '41781fb2-bc02-4b7c-bd55-b576c07bb09d', servicePlanName: 'AAD_PREMIUM', provisioningStatus: 'Success', appliesTo: 'User' }],
          skuId: 'c7df2760-2c81-4ef7-b578-5b5392b571df', skuPartNumber: 'EMS', appliesTo: 'User',
        }],
      });
    }
    if (url.pathname === '/v1.0/organization') {
      return json(res, { value: [{ onPremisesSyncEnabled: true, onPremisesLastSyncDateTime: new Date(now - 10 * 60_000).toISOString() }] });
    }
    if (url.pathname === '/v1.0/auditLogs/directoryAudits') {
      const page = Number(url.searchParams.get('page') ?? 0);
      const value = Array.from({ length: 200 }, (_, i) => entry(page * 200 + i));
      return json(res, { value, ...(page < 4 && { '@odata.nextLink': `${base()}/v1.0/auditLogs/directoryAudits?page=${page + 1}` }) });
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"Request_ResourceNotFound","message":"not found"}}');
  };
}

function relaysJson(): string {
  return JSON.stringify(Object.fromEntries(Array.from({ length: RELAYS }, (_, i) => [`relay-${i}`, { secret: `${i}`.repeat(32).slice(0, 32) + 'f'.repeat(32), periodSeconds: 300, graceSeconds: 120 }])));
}

function heartbeat(relayId: string, sequence: number, at: Date): Heartbeat {
  const result = (target: string) => ({
    target, ok: true, startedAt: at.toISOString(), warnings: [], proxy: null, http: { status: 200 },
    timings: { dns: 3, tcp: 10, tls: 20, ttfb: 40, total: 80 },
  });
  return {
    version: 1, relayId, sequence, sentAt: at.toISOString(), host: 'connect01.corp.example', agentVersion: '0.1.0',
    results: [result('https://passwordreset.microsoftonline.com/'), result('https://ssprdedicatedsbprodscu.servicebus.windows.net/'), result('https://ssprdedicatedsbprodncu.servicebus.windows.net/')],
    buffer: { pending: 0, dropped: 0 },
  } as Heartbeat;
}

function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, ...args], { env, timeout: 180_000, maxBuffer: 16 * MIB }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith(PREFIX));
      if (err || !line) {
        reject(new Error(`instance-memory child ${args.join(' ')} failed: ${err?.message ?? `no ${PREFIX.trim()} line`}\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(line.slice(PREFIX.length)) as ChildReport);
    });
  });
}

export async function benchInstanceMemory(options: InstanceMemoryOptions = {}): Promise<InstanceMemoryResult> {
  const repeats = options.repeats ?? 3;
  const runs = options.runs ?? RUNS;
  const chosen = options.only ?? WORKLOADS;
  const certs = makeCerts();
  const dir = mkdtempSync(join(tmpdir(), 'wbmon-instance-memory-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, certs.caPem);
  const counter = { envelopes: 0, teams: 0 };
  const capture = captureServer(certs, counter);
  const capturePort = await listenLoopback(capture);
  let graphBase = '';
  const graph = createServer({ key: certs.keyPem, cert: certs.certPem }, graphHandler(() => graphBase));
  graphBase = `https://127.0.0.1:${await listenLoopback(graph)}`;
  const targets: BenchServer[] = [
    await startHttps(certs, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')),
    await startHttps(certs, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')),
    await startHttps(certs, (_req, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable')),
  ];
  const relays = relaysJson();
  let sequence = 0;
  const samples = new Map<string, ChildReport[]>();
  const envelopes = new Map<string, number[]>();
  try {
    for (let r = 0; r < repeats; r++) {
      for (const mode of ['bare', 'load', ...chosen] as const) {
        let azurite: RunningAzurite | undefined;
        try {
          azurite = mode === 'bare' ? undefined : await startAzurite({});
          if (azurite && mode === 'evaluateHeartbeats') {
            const store = TableStore.fromConnectionString(azurite.connectionString);
            await store.ready();
            const now = Date.now();
            for (let i = 0; i < RELAYS; i++) {
              for (let k = 1; k >= 0; k--) await ingestHeartbeat(store, `relay-${i}`, heartbeat(`relay-${i}`, ++sequence, new Date(now - k * 60_000)), new Date(now - k * 60_000));
            }
            await store.close();
          }
          // The exporter keeps what it could not send on disk and sends it in a later run: a
          // directory per child, so each count is that child's own.
          const childTmp = mkdtempSync(join(dir, `${mode}-`));
          const env: NodeJS.ProcessEnv = {
            PATH: process.env.PATH ?? '',
            TMPDIR: childTmp,
            NODE_EXTRA_CA_CERTS: caFile,
            ...(mode !== 'bare' && {
              APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:${capturePort}/`,
              APPLICATIONINSIGHTS_STATSBEAT_DISABLED: 'true',
              AzureWebJobsStorage: azurite!.connectionString,
              REGION_NAME: 'bench',
              WBMON_TARGETS: targets.map((t) => t.url).join(','),
              WBMON_RELAYS: relays,
              WBMON_GRAPH_URL: graphBase,
              WBMON_GRAPH_TOKEN: 'bench-token',
              WBMON_TEAMS_WEBHOOK_URL: `https://127.0.0.1:${capturePort}/teams/workflow`,
            }),
          };
          const before = counter.envelopes;
          const args = mode === 'http' ? ['http', '100', '16'] : mode === 'bare' || mode === 'load' ? [mode] : [mode, String(runs)];
          const report = await runChild(args, env);
          // The exporter may still post after the child flushed: give stragglers a moment.
          await new Promise((ok) => setTimeout(ok, mode === 'bare' ? 0 : 500));
          samples.set(mode, [...(samples.get(mode) ?? []), report]);
          envelopes.set(mode, [...(envelopes.get(mode) ?? []), counter.envelopes - before]);
        } finally {
          await azurite?.close();
        }
      }
    }
  } finally {
    await Promise.all(targets.map((t) => t.close()));
    await new Promise<void>((ok) => graph.close(() => ok()));
    capture.closeAllConnections();
    await new Promise<void>((ok) => capture.close(() => ok()));
    rmSync(dir, { recursive: true, force: true });
  }

  const summarise = (mode: Workload | 'load' | 'bare'): WorkloadMemory => {
    const reports = samples.get(mode)!;
    const worst = reports.reduce((a, b) => (b.peakBytes > a.peakBytes ? b : a));
    const peakMb = round(worst.peakBytes / MIB, 1);
    return {
      workload: mode,
      description: DESCRIBED[mode],
      peakMb,
      medianPeakMb: round(median(reports.map((x) => x.peakBytes)) / MIB, 1),
      loadedMb: round(median(reports.map((x) => x.loadedPeakBytes)) / MIB, 1),
      perInvocationMb: worst.invocationPeakBytes.map((b) => round(b / MIB, 1)),
      ratio: round(peakMb / INSTANCE_MEMORY_MB, 3),
      envelopes: Math.min(...envelopes.get(mode)!),
      telemetry: reports.every((x) => x.telemetry),
      ...(worst.statuses && { statuses: worst.statuses }),
    };
  };
  const workloads = chosen.map(summarise);
  return {
    node: samples.get('load')![0]!.node,
    repeats,
    instanceMemoryMb: INSTANCE_MEMORY_MB,
    maxRatio: INSTANCE_MEMORY_MAX_RATIO,
    workloads,
    baselines: (['bare', 'load'] as const).map(summarise),
    worstTimerRatio: Math.max(...workloads.filter((w) => w.workload !== 'http').map((w) => w.ratio)),
  };
}

export function formatInstanceMemory(r: InstanceMemoryResult): string {
  const width = Math.max(...[...r.workloads, ...r.baselines].map((w) => w.workload.length + w.description.length + 3));
  const row = (w: WorkloadMemory) =>
    `  ${`${w.workload} (${w.description})`.padEnd(width)}  peak ${w.peakMb.toFixed(1).padStart(6)} MiB (median ${w.medianPeakMb.toFixed(1)}), ` +
    `loaded ${w.loadedMb.toFixed(1)}, after each invocation [${w.perInvocationMb.map((m) => m.toFixed(1)).join(', ')}]; ` +
    `${w.ratio.toFixed(3)} of ${r.instanceMemoryMb} MB; ${w.telemetry ? `telemetry on, ${w.envelopes} envelopes` : 'telemetry off'}` +
    (w.statuses ? `; answers ${Object.entries(w.statuses).map(([s, n]) => `${n}x${s}`).join(' ')}` : '');
  return [
    `instance memory: peak RSS (getrusage maxRSS) of a fresh worker per function, ${r.node}, worst of ${r.repeats} interleaved processes, against a ${r.instanceMemoryMb} MB Flex Consumption instance (target <= ${r.maxRatio})`,
    ...r.workloads.map(row),
    ...r.baselines.map(row),
  ].join('\n');
}

if (isMain(import.meta.url)) console.log(formatInstanceMemory(await benchInstanceMemory()));
