/**
 * What a function invocation needs under the Azure Functions host: settings read once per
 * worker, and one store connection reused across invocations (a new TableClient per call
 * would pay connection set-up each time).
 */
import { loadHostSettings, readEnvironment, type Settings } from '../config/settings.js';
import { openTableStore, storageTarget } from '../store/open.js';
import { graphToken } from '../graph/token.js';
import type { Store } from '../store/store.js';
import { SequenceCache } from '../heartbeat/ingest.js';
import { refusalLimiter } from '../api/heartbeat.js';
import type { LineLimiter } from '../text/line-limiter.js';
import { configuredChannels } from '../alerting/channels/registry.js';
import type { Channel } from '../alerting/channels/channel.js';
import type { TelemetryHandle } from '../telemetry/setup.js';
import { telemetry } from '../telemetry/preload.js';
import { HistoryCache } from '../history/history-repository.js';
import { pipelineObserver, type PipelineObserver } from '../telemetry/observer.js';

export interface Runtime {
  readonly settings: Settings;
  readonly store: Store;
  /** The Azure region the app runs in (the availability "location"). */
  readonly location: string;
  /** Highest heartbeat sequence per relay seen by this worker: saves a read per heartbeat. */
  readonly sequences: SequenceCache;
  /** Limits this worker's log lines for refused heartbeats, which anyone can cause. */
  readonly refusals: LineLimiter;
  readonly channels: ReadonlyMap<string, Channel>;
  readonly telemetry: TelemetryHandle;
  /** Availability results and metrics; undefined without a connection string. */
  readonly observer: PipelineObserver | undefined;
  /** Microsoft Graph tokens, one provider per worker so the identity's token cache is kept. */
  readonly graphToken: () => Promise<string>;
  /** The history rows this worker wrote last: a timer run's history then costs one write. */
  readonly historyCache: HistoryCache;
}

let current: Promise<Runtime> | undefined;

export function runtime(): Promise<Runtime> {
  current ??= create().catch((err: unknown) => {
    current = undefined; // try again on the next invocation rather than failing forever
    throw err;
  });
  return current;
}

async function create(): Promise<Runtime> {
  const settings = loadHostSettings();
  const target = storageTarget(readEnvironment());
  if (!target) {
    throw new Error('AzureWebJobsStorage: not set (a connection string, or AzureWebJobsStorage__accountName for the managed identity); the monitor keeps its state in Table Storage');
  }
  const store = openTableStore(target);
  // Telemetry was started once per worker by preload.ts, before the entry files loaded.
  await store.ready();
  const token = graphToken(settings.tenant.graphUrl, settings.tenant.graphToken);
  return {
    settings,
    store,
    location: process.env.REGION_NAME ?? 'azure',
    sequences: new SequenceCache(),
    refusals: refusalLimiter(),
    channels: configuredChannels(settings.alerting, { graphToken: token }),
    telemetry,
    observer: pipelineObserver(telemetry, settings.alerting.maintenance),
    graphToken: token,
    historyCache: new HistoryCache(),
  };
}
