/**
 * Telemetry start-up under the Azure Functions host, imported FIRST by every entry file
 * (functions/*.ts). The module cache runs it once per worker however many entry files import it (and a process-wide
 * symbol covers a second copy of the module).
 *
 * With `APPLICATIONINSIGHTS_CONNECTION_STRING` set it starts Azure Monitor (setup.ts) and then
 * registers the Azure Functions instrumentation, which (a) continues the host's trace in every
 * invocation (a preInvocation hook binds the host's traceparent as the active context), (b) sends
 * `context.log` lines through OpenTelemetry, and (c) tells the host so through the worker
 * capability `WorkerOpenTelemetryEnabled`, so the host does not send those logs a second time.
 *
 * ESM: the package's require hook never sees `import '@azure/functions'`, so its ESM variant is
 * used and handed the module explicitly. Top-level await: the entry files (and so the worker's
 * import of them, which precedes its capability exchange with the host) wait for this, so
 * `app.setup` runs before the setup is locked. Without a connection string nothing is loaded.
 */
import { startTelemetry, type TelemetryHandle } from './setup.js';

/** The cloud role name in Application Insights. */
export const SERVICE_NAME = 'writeback-monitor';

/**
 * Kept on the process too, so a second copy of this module (another URL or a bundle) reuses the
 * handle instead of starting the SDK and registering the hooks again.
 */
const STARTED = Symbol.for('writeback-monitor.telemetry.preload');
type WithStarted = typeof globalThis & { [STARTED]?: Promise<TelemetryHandle> };
const process_ = globalThis as WithStarted;

/** This worker's telemetry: src/host/runtime.ts reuses it rather than starting another. */
export const telemetry: TelemetryHandle = await (process_[STARTED] ??= preload(process.env.APPLICATIONINSIGHTS_CONNECTION_STRING));

async function preload(connectionString: string | undefined): Promise<TelemetryHandle> {
  const handle = await startTelemetry(connectionString, {
    serviceName: SERVICE_NAME,
    authentication: process.env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
  });
  if (!handle.enabled) return handle;
  const [{ registerInstrumentations }, instrumentation, azFunc] = await Promise.all([
    import('@opentelemetry/instrumentation'),
    import('@azure/functions-opentelemetry-instrumentation'),
    import('@azure/functions'),
  ]);
  // CommonJS without statically detectable named exports: the classes are on the default export.
  const functionsInstrumentation = new instrumentation.default.AzureFunctionsInstrumentationESM();
  // Gives it the global (Azure Monitor) tracer, meter and logger providers.
  registerInstrumentations({ instrumentations: [functionsInstrumentation] });
  functionsInstrumentation.registerAzFunc(azFunc);
  return handle;
}
