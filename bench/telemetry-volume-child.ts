/**
 * The child of bench/telemetry-volume.ts: the BUILT Function App entry files, called as the
 * host calls them, with telemetry on (APPLICATIONINSIGHTS_CONNECTION_STRING points at the
 * parent's loopback ingestion capture) and the state store on the parent's Azurite
 * (AzureWebJobsStorage), so that, as in Azure, the store is another process reached over HTTP.
 *
 * Two rounds; each: a heartbeat from each of the 2 relays, then the probeEndpoints,
 * evaluateHeartbeats and checkTenant timers. After each step everything is flushed and a line
 * `MARK <round> <step>` is printed: by then the capture has received all of that step's posts
 * (a flush waits for the ingestion's answer), so the parent cuts its capture there.
 *
 * `context.log` lines are emitted as the Functions OpenTelemetry instrumentation's log hook does
 * under the real host (a log record with the line as body), since the hooks only run there.
 */
import { telemetry } from '../src/telemetry/preload.js';
import { logs, SeverityNumber } from '@opentelemetry/api-logs';
import azureFunctions, { type LogLevel, type Timer } from '@azure/functions';
import { sign } from '../src/heartbeat/verify.js';
import type { Heartbeat } from '../src/heartbeat/schema.js';

const { HttpRequest, InvocationContext } = azureFunctions; // CommonJS: named exports via the default
const { probeEndpoints } = await import('../functions/probeEndpoints.js');
const { evaluateHeartbeats } = await import('../functions/evaluateHeartbeats.js');
const { checkTenant } = await import('../functions/checkTenant.js');
const { heartbeat } = await import('../functions/heartbeat.js');

if (!telemetry.enabled) throw new Error('telemetry is not enabled: APPLICATIONINSIGHTS_CONNECTION_STRING missing');

const RELAYS = JSON.parse(process.env.WBMON_RELAYS ?? '{}') as Record<string, { secret: string }>;
const RELAY_TARGETS = (process.env.BENCH_RELAY_TARGETS ?? '').split(',').filter(Boolean);

const SEVERITY: Record<string, SeverityNumber> = {
  trace: SeverityNumber.TRACE,
  debug: SeverityNumber.DEBUG,
  information: SeverityNumber.INFO,
  warning: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
  critical: SeverityNumber.FATAL,
};
const hookLogger = logs.getLogger('@azure/functions-opentelemetry-instrumentation');

function context(functionName: string): InstanceType<typeof InvocationContext> {
  return new InvocationContext({
    functionName,
    invocationId: `${functionName}-${Date.now()}`,
    logHandler: (level: LogLevel, ...args: unknown[]) => {
      hookLogger.emit({ body: args.map(String).join(' '), severityNumber: SEVERITY[level] ?? SeverityNumber.UNSPECIFIED, severityText: level });
    },
  });
}

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };

function relayHeartbeat(relayId: string, sequence: number): Heartbeat {
  const now = new Date().toISOString();
  return {
    version: 1,
    relayId,
    sequence,
    sentAt: now,
    host: `${relayId}.corp.example`,
    agentVersion: '0.1.0',
    results: RELAY_TARGETS.map((target) => ({
      target,
      ok: true,
      startedAt: now,
      warnings: [],
      timings: { dns: 3, tcp: 10, tls: 20, ttfb: 40, total: 80 },
      proxy: null,
      http: { status: 200 },
    })),
    buffer: { pending: 0, dropped: 0 },
  };
}

async function postHeartbeat(relayId: string, sequence: number): Promise<void> {
  const body = JSON.stringify(relayHeartbeat(relayId, sequence));
  const timestamp = String(Math.floor(Date.now() / 1000));
  const request = new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/heartbeat',
    body: { string: body },
    headers: {
      'content-type': 'application/json',
      'x-wbmon-relay': relayId,
      'x-wbmon-timestamp': timestamp,
      'x-wbmon-signature': sign(RELAYS[relayId]!.secret, timestamp, Buffer.from(body)),
    },
  });
  const response = await heartbeat(request, context('heartbeat'));
  if (response.status !== 202) throw new Error(`heartbeat of ${relayId} answered ${response.status}: ${JSON.stringify(response.jsonBody)}`);
}

/**
 * Timers run minutes apart: the distro's default sampler (5 traces/s, adapting over 0.1 s)
 * then samples every run's root span. A pause before each step gives it the same idle time;
 * back to back, most runs would not be sampled at all.
 */
const IDLE_MS = 1000;

async function step(round: number, name: string, work: () => Promise<void>): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  await work();
  await telemetry.flush(); // the timers flush themselves; the heartbeat function does not
  console.log(`MARK ${round} ${name}`);
}

for (const round of [1, 2]) {
  await step(round, 'heartbeat', async () => {
    for (const relayId of Object.keys(RELAYS)) await postHeartbeat(relayId, round);
  });
  await step(round, 'probeEndpoints', () => probeEndpoints(timer, context('probeEndpoints')));
  await step(round, 'evaluateHeartbeats', () => evaluateHeartbeats(timer, context('evaluateHeartbeats')));
  // The next minute's evaluation: no heartbeat arrived since (relays send every 5 minutes).
  await step(round, 'evaluateIdle', () => evaluateHeartbeats(timer, context('evaluateHeartbeats')));
  await step(round, 'checkTenant', () => checkTenant(timer, context('checkTenant')));
}
// What is left is what the distro exports on its own schedule (standard metrics, performance
// counters: once a minute while the worker lives); shutting down exports one such interval.
await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
await telemetry.shutdown();
console.log('MARK 2 periodic');
console.log('DONE');
process.exit(0);
