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
    ...(options.serviceName ? { resource: resourceFromAttributes({ 'service.name': options.serviceName }) } : {}),
  });
  return { enabled: true, flush: flushProviders, shutdown: () => shutdownAzureMonitor() };
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
