/**
 * What a function invocation needs under the Azure Functions host: settings read once per
 * worker, and one store connection reused across invocations (a new TableClient per call
 * would pay connection set-up each time).
 */
import { loadHostSettings, readEnvironment, type Env, type Settings } from '../config/settings.js';
import { keyVaultScope, resolveKeyVaultReferences } from '../config/keyvault-references.js';
import { openTableStore, storageTarget } from '../store/open.js';
import { graphToken, identityToken } from '../graph/token.js';
import type { Store } from '../store/store.js';
import { SequenceCache } from '../heartbeat/ingest.js';
import { refusalLimiter } from '../api/heartbeat.js';
import { SubjectNamesCache } from '../roundtrip/subject-names.js';
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
  /** The round trip's test user names this worker read last: a heartbeat's answer then costs no read. */
  readonly subject: SubjectNamesCache;
  readonly channels: ReadonlyMap<string, Channel>;
  readonly telemetry: TelemetryHandle;
  /** Availability results and metrics; undefined without a connection string. */
  readonly observer: PipelineObserver | undefined;
  /** Microsoft Graph tokens, one provider per worker so the identity's token cache is kept. */
  readonly graphToken: () => Promise<string>;
  /** The history rows this worker wrote last: a timer run's history then costs one write. */
  readonly historyCache: HistoryCache;
  /**
   * With WBMON_KEY_VAULT_URL: settings whose Key Vault reference the app read itself, and those
   * it could not read for another reason than a missing secret (`NAME: why`). Worth a line.
   */
  readonly keyVault: { readonly resolved: readonly string[]; readonly problems: readonly string[] };
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
  const { env, resolved, problems } = await withKeyVaultSecrets(readEnvironment());
  const settings = loadHostSettings(env);
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
    subject: new SubjectNamesCache(),
    channels: configuredChannels(settings.alerting, { graphToken: token }),
    telemetry,
    observer: pipelineObserver(telemetry, settings.alerting.maintenance),
    graphToken: token,
    historyCache: new HistoryCache(),
    keyVault: { resolved, problems },
  };
}

/**
 * The references the platform could not resolve, read by the app from WBMON_KEY_VAULT_URL with
 * the managed identity (a private vault on Flex Consumption: keyvault-references.ts).
 */
async function withKeyVaultSecrets(env: Env): Promise<{ env: Env; resolved: readonly string[]; problems: readonly string[] }> {
  const vaultUrl = env.WBMON_KEY_VAULT_URL?.trim();
  if (!vaultUrl) return { env, resolved: [], problems: [] };
  let scope: string;
  try {
    scope = keyVaultScope(new URL(vaultUrl));
  } catch {
    scope = '';
  }
  return resolveKeyVaultReferences(env, {
    vaultUrl,
    fetch: globalThis.fetch,
    token: identityToken(scope, 'Key Vault'),
  });
}
