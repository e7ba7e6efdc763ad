/**
 * Telemetry set-up: Azure Monitor (Application Insights) through OpenTelemetry when a
 * connection string is given, nothing otherwise.
 *
 * `@azure/monitor-opentelemetry` is imported lazily, so a run without a connection string
 * (local `serve`, tests) does not pay for loading the SDK. The only global state is what the
 * OpenTelemetry API itself keeps (its registered tracer, meter and logger providers).
 */
import { metrics, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { watchStoreCalls } from './store-calls.js';

export interface TelemetryHandle {
  /** True when telemetry goes to Application Insights. */
  readonly enabled: boolean;
  /** Send everything buffered (call before a timer invocation returns). */
  flush(): Promise<void>;
  /** Flush and stop the SDK; nothing is sent after this. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** Becomes `service.name`, which Application Insights shows as the cloud role name. */
  serviceName?: string;
  /**
   * `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` (`Authorization=AAD;ClientId=<id>`): send with
   * a managed identity token, required when the component has local authentication off (as
   * infra/ deploys it). The Functions host reads the same setting for its own telemetry; the
   * exporter does not, so it is handed a credential here.
   */
  authentication?: string;
}

/** What an authentication string asks for: undefined for none (instrumentation key only). */
export function parseAuthenticationString(text: string | undefined): { clientId?: string } | undefined {
  if (!text || text.trim() === '') return undefined;
  const pairs = new Map<string, string>();
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "${part.trim()}" is not key=value`);
    pairs.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  const authorization = pairs.get('authorization');
  if (authorization === undefined) return undefined;
  if (authorization.toUpperCase() !== 'AAD') {
    throw new Error(`APPLICATIONINSIGHTS_AUTHENTICATION_STRING: Authorization must be AAD, not "${authorization}"`);
  }
  const clientId = pairs.get('clientid');
  return clientId ? { clientId } : {};
}

const DISABLED: TelemetryHandle = { enabled: false, flush: async () => {}, shutdown: async () => {} };

/**
 * The distro's instrumentations, all off. What the app exports is its own: timer-run and probe
 * spans (tracing.ts), availability results, metrics and logs, and the state store's failed
 * requests (store-calls.ts). Of what the distro would add:
 *  - `azureSdk` made an `InProc | Microsoft.Data.Tables` dependency of every store call, with
 *    an HTTP span of the SDK's pipeline under it, and an exception of every expected 404/409;
 *  - `http` made a third span of every store call, traced the exporter's own posts to
 *    `/v2.1/track` and the identity endpoint's token requests, and (under `serve`) every
 *    request to the API and to the embedded Azurite. Under the Functions host the HTTP
 *    triggers reach the worker over gRPC, not through `node:http`, and the host reports them;
 *    no outgoing request of the app but the store's goes through `node:http` (Graph, alert
 *    channels and probes use undici or their own sockets).
 *  - the database and cache instrumentations hook modules the app does not use.
 * Each is a require hook the distro registers; off, none of them is, which also makes the
 * outcome the same whether the app is loaded from files or from a bundle.
 */
export const INSTRUMENTATIONS = {
  azureSdk: { enabled: false },
  http: { enabled: false },
  mongoDb: { enabled: false },
  mySql: { enabled: false },
  postgreSql: { enabled: false },
  redis: { enabled: false },
  redis4: { enabled: false },
} as const;

export async function startTelemetry(
  connectionString: string | undefined,
  options: TelemetryOptions = {},
): Promise<TelemetryHandle> {
  if (!connectionString) return DISABLED;
  const aad = parseAuthenticationString(options.authentication);
  const [{ useAzureMonitor, shutdownAzureMonitor }, { resourceFromAttributes }, credential] = await Promise.all([
    import('@azure/monitor-opentelemetry'),
    import('@opentelemetry/resources'),
    aad ? import('@azure/identity').then(({ ManagedIdentityCredential }) => new ManagedIdentityCredential(aad.clientId ? { clientId: aad.clientId } : {})) : undefined,
  ]);
  useAzureMonitor({
    azureMonitorExporterOptions: { connectionString, ...(credential ? { credential } : {}) },
    instrumentationOptions: INSTRUMENTATIONS,
    ...(options.serviceName ? { resource: resourceFromAttributes({ 'service.name': options.serviceName }) } : {}),
  });
  const storeCalls = watchStoreCalls();
  return {
    enabled: true,
    flush: flushProviders,
    shutdown: async () => {
      storeCalls.stop();
      await shutdownAzureMonitor();
    },
  };
}

/** What the SDK providers offer; the API types do not declare forceFlush. */
interface Flushable {
  forceFlush?: () => Promise<void>;
  getDelegate?: () => unknown;
}

/** Force-flush the global logger, meter and tracer providers (unwrapping API proxies). */
async function flushProviders(): Promise<void> {
  const providers = [logs.getLoggerProvider(), metrics.getMeterProvider(), trace.getTracerProvider()];
  await Promise.all(
    providers.map(async (provider) => {
      const p = provider as Flushable;
      const target = (typeof p.getDelegate === 'function' ? p.getDelegate() : p) as Flushable;
      if (typeof target.forceFlush === 'function') await target.forceFlush();
    }),
  );
}
