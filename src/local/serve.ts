/**
 * `writeback-monitor serve`: the whole monitor on one machine. The state store is the one in
 * AzureWebJobsStorage, or the SQLite file of --data DIR, or an Azurite embedded in this
 * process; the timers run on their NCRONTAB schedules; the HTTP API answers on loopback.
 *
 * When the store cannot be reached, serve keeps answering /api/health, says which setting is
 * at fault, and tries again on every timer run.
 */
import { health, status, unavailable, type ApiResponse } from '../api/handlers.js';
import { badge, history, metrics } from '../api/check-views.js';
import { dashboard } from '../api/dashboard.js';
import { DASHBOARD_PATH } from '../web/links.js';
import { safeLog } from '../text/safe-text.js';
import { MAX_BODY_BYTES, receiveHeartbeat, refusalLimiter } from '../api/heartbeat.js';
import type { Settings } from '../config/settings.js';
import { runProbeCycle, type ProbeEnvironment } from '../monitor/probe-cycle.js';
import { summarizeAlerts, summarizeCycle, summarizeRoundtrip, summarizeTenant } from '../monitor/summary.js';
import { runTenantCycle } from '../monitor/tenant-cycle.js';
import { runRoundtrip } from '../monitor/roundtrip-cycle.js';
import { roundtripWiring } from '../roundtrip/wiring.js';
import { MIN_ROUNDTRIP_INTERVAL_MINUTES, shortestGapMinutes } from '../config/roundtrip-settings.js';
import type { Dispatcher } from 'undici';
import { graphToken } from '../graph/token.js';
import { runEvaluation } from '../monitor/evaluation-run.js';
import { SequenceCache } from '../heartbeat/ingest.js';
import { SubjectNamesCache } from '../roundtrip/subject-names.js';
import { HistoryCache } from '../history/history-repository.js';
import { evaluateAlerts } from '../alerting/evaluate-alerts.js';
import { deliver, type DeliveryClock } from '../alerting/outbox.js';
import { configuredChannels } from '../alerting/channels/registry.js';
import { linkTargets } from '../alerting/links.js';
import { dashboardUrl } from '../web/links.js';
import type { Channel } from '../alerting/channels/channel.js';
import { startTelemetry } from '../telemetry/setup.js';
import { pipelineObserver } from '../telemetry/observer.js';
import { openDataDirStore } from '../store/data-dir.js';
import { TableStore } from '../store/table-store.js';
import type { Store } from '../store/store.js';
import { startAzurite, type RunningAzurite } from './azurite.js';
import { startApi } from './http-server.js';
import { startScheduler, systemClock, type Clock, type Job } from './scheduler.js';

const DEV_STORAGE_TABLE_PORT = 10002;

export interface ServeOptions {
  readonly settings: Settings;
  readonly port: number;
  /**
   * Keep the state here, in DIR/state.sqlite (SqliteStore), unless AzureWebJobsStorage names a
   * store; with UseDevelopmentStorage=true, the embedded Azurite keeps its file here instead.
   * Omitted = the embedded Azurite, in memory.
   */
  readonly dataDir?: string;
  readonly log: (line: string) => void;
  readonly clock?: Clock;
  readonly probe?: ProbeEnvironment;
  /** The state store; AzureWebJobsStorage or the embedded Azurite unless given. */
  readonly store?: Store;
  /** Alert channels by name; built from the settings unless given. */
  readonly channels?: ReadonlyMap<string, Channel>;
  /** The round trip's sign-in traffic goes through this (tests: a loopback authority's CA). */
  readonly roundtripDispatcher?: Dispatcher;
  /** The longest a round trip's reset may take, polling included (tests shorten it). */
  readonly roundtripWaitMs?: number;
}

export interface RunningMonitor {
  readonly url: string;
  /** Resolves when the first probe cycle at start-up has finished. */
  readonly firstCycle: Promise<void>;
  /** Runs a timer job now, as the host's admin endpoint does for a timer function. */
  run(job: 'probeEndpoints' | 'evaluateHeartbeats' | 'checkTenant' | 'roundTrip'): Promise<void>;
  stop(): Promise<void>;
}

export async function serve(options: ServeOptions): Promise<RunningMonitor> {
  const { settings } = options;
  // Relay-supplied text reaches many of serve's lines: every one goes out as one safe line.
  const log = safeLog(options.log);
  const clock = options.clock ?? systemClock;
  let azurite: RunningAzurite | undefined;
  let store: Store;
  /** What to name when the store cannot be reached. */
  let storeSetting = 'AzureWebJobsStorage';
  const devStorage = settings.storageConnection === 'UseDevelopmentStorage=true';
  if (options.store) {
    store = options.store;
  } else if (settings.storageConnection && !devStorage) {
    store = TableStore.fromConnectionString(settings.storageConnection);
    if (options.dataDir) log(`state store: AzureWebJobsStorage is set, so --data ${options.dataDir} is not used`);
  } else if (options.dataDir && !devStorage) {
    // --data is a SQLite file: whatever serve acknowledges is on disk first (see sqlite-store.ts).
    const opened = openDataDirStore(options.dataDir);
    store = opened.store;
    storeSetting = '--data';
    for (const line of opened.lines) log(line);
  } else {
    // UseDevelopmentStorage=true (as in local.settings.sample.json) means Azurite's fixed
    // table port and well-known key, so `func start` and Storage Explorer can share the
    // embedded one. Otherwise it takes a random key per run: no other local process can use it.
    azurite = await startAzurite({
      ...(devStorage && { port: DEV_STORAGE_TABLE_PORT, wellKnownKey: true }),
      ...(options.dataDir && { dataDir: options.dataDir }),
    });
    store = TableStore.fromConnectionString(azurite.connectionString);
    log(
      `state store: embedded Azurite on port ${azurite.port} (${options.dataDir ? `data in ${options.dataDir}` : 'in memory'}; ` +
        `${devStorage ? "Azurite's well-known key, for UseDevelopmentStorage=true" : 'a random account key for this run'})`,
    );
  }

  let ready: Store | undefined;
  const readyStore = async (): Promise<Store> => {
    if (ready) return ready;
    try {
      await store.ready();
    } catch (err) {
      throw new Error(`${storeSetting}: cannot reach the state store: ${(err as Error).message}`, { cause: err });
    }
    ready = store;
    return store;
  };

  const location = 'local';
  // With a connection string, serve reports to Application Insights too; without, its log
  // lines are the readable summary.
  const telemetry = await startTelemetry(settings.telemetryConnection, { serviceName: 'writeback-monitor' });
  const observer = pipelineObserver(telemetry, settings.alerting.maintenance);
  if (telemetry.enabled) log('telemetry: Application Insights (APPLICATIONINSIGHTS_CONNECTION_STRING)');
  // Alerts link to the status page at serve's own address (WBMON_PUBLIC_URL wins), which is
  // known only once the API listens, below; no alert is delivered before that.
  let ownUrl: string | undefined;
  const channels = options.channels ?? configuredChannels(settings.alerting, { links: () => linkTargets(settings.alerting, ownUrl) });
  log(`alert channels: ${channels.size ? [...channels.keys()].join(', ') : 'none configured (WBMON_TEAMS_WEBHOOK_URL, WBMON_WEBHOOK_URL, WBMON_SMTP_URL or WBMON_EMAIL_VIA=graph)'}`);
  // Unsigned is allowed (a receiver may rely on the URL's own secret), but never silently.
  if (settings.alerting.webhookUrl && !settings.alerting.webhookSecret) {
    log('webhook: WBMON_WEBHOOK_SECRET is not set, so webhook requests are unsigned: receivers cannot tell them from forged ones');
  }
  // The outbox waits out a short Retry-After or backoff inside its pass on serve's own clock.
  // Stopping cuts such a wait short: the row stays pending, due when it said, for the next run.
  const waits = new Set<() => void>();
  let stopping = false;
  const deliveryClock: DeliveryClock = {
    now: () => clock.now(),
    sleep: (ms) =>
      new Promise<boolean>((resolve) => {
        if (stopping) return resolve(false);
        const cancel = (): void => {
          clock.clearTimeout(handle);
          waits.delete(cancel);
          resolve(false);
        };
        const handle = clock.setTimeout(() => {
          waits.delete(cancel);
          resolve(true);
        }, ms);
        waits.add(cancel);
      }),
  };
  const alert = async (store: Store): Promise<void> => {
    const pass = await evaluateAlerts(settings, store, channels, clock.now(), (line) => log(line), observer?.delivery, { clock: deliveryClock });
    if (pass.events.length || pass.delivery.sent || pass.delivery.failed) log(summarizeAlerts(pass));
    retryWake.arm(store, pass.delivery.nextAttemptAt);
  };
  /**
   * A retry due before the next timer run gets a delivery pass of its own at its time, so a
   * receiver's Retry-After of 30 s means 30 s, not the next minute's evaluation.
   */
  const retryWake = wakeForRetries(clock, async (store) => {
    const report = await deliver(store, channels, clock.now(), { log, clock: deliveryClock, ...(observer && { onOutcome: observer.delivery }) });
    if (report.sent || report.failed) log(`alerts: delivered ${report.sent}, retrying ${report.retrying}, failed ${report.failed}`);
    return report.nextAttemptAt;
  }, (err) => log(`alert delivery: failed: ${(err as Error).message}`));
  /**
   * Every timer run is its work, then the alert pass over what is recorded, even when the work
   * failed: a failure in one part (one relay, the tenant, the store for a moment) must never
   * silence the alerts of everything else.
   */
  const withAlerts =
    (work: (store: Store) => Promise<void>) =>
    async (): Promise<void> => {
      const store = await readyStore();
      let failed: unknown;
      try {
        await work(store);
      } catch (err) {
        failed = err;
      }
      try {
        await alert(store);
      } catch (err) {
        if (!failed) throw err;
        log(`alert pass: failed: ${(err as Error).message}`);
      }
      if (failed) throw failed;
    };
  const sequences = new SequenceCache();
  const historyCache = new HistoryCache();
  const refusals = refusalLimiter();
  const subject = new SubjectNamesCache();
  const jobs: Job[] = [
    {
      name: 'probeEndpoints',
      schedule: settings.probeSchedule,
      run: withAlerts(async (store) => {
        const outcome = await runProbeCycle(settings, store, location, { history: historyCache, log, ...options.probe, now: () => clock.now(), ...(observer && { observe: observer.result }) });
        log(`probeEndpoints: ${summarizeCycle(outcome)}`);
      }),
    },
    {
      name: 'evaluateHeartbeats',
      schedule: settings.evaluateSchedule,
      run: withAlerts(async (store) => {
        log(`evaluateHeartbeats: ${await runEvaluation(settings, store, clock.now(), { history: historyCache, log, ...(observer && { observe: observer.result, onRelay: observer.relay }) })}`);
      }),
    },
  ];
  // Locally there is no managed identity: the tenant checks run when a token is given.
  if (settings.tenant.graphToken) {
    const token = graphToken(settings.tenant.graphUrl, settings.tenant.graphToken);
    jobs.push({
      name: 'checkTenant',
      schedule: settings.tenant.schedule,
      run: withAlerts(async (store) => {
        const run = await runTenantCycle(settings, store, token, clock.now(), { log, history: historyCache, ...(observer && { observe: observer.result }) });
        log(`checkTenant: ${summarizeTenant(run)}`);
      }),
    });
  } else {
    log('checkTenant: off (set WBMON_GRAPH_TOKEN to run the Microsoft Graph tenant checks locally)');
  }
  const rt = settings.roundtrip;
  if (rt && settings.tenant.graphToken) {
    const appToken = graphToken(settings.tenant.graphUrl, settings.tenant.graphToken);
    const gap = shortestGapMinutes(rt.schedule, clock.now());
    if (gap < MIN_ROUNDTRIP_INTERVAL_MINUTES) {
      log(`roundTrip: WBMON_ROUNDTRIP_SCHEDULE "${rt.schedule.expression}" fires every ${gap} minute${gap === 1 ? '' : 's'}; the round trip runs at most every ${MIN_ROUNDTRIP_INTERVAL_MINUTES} minutes, so the runs in between are skipped`);
    }
    jobs.push({
      name: 'roundTrip',
      schedule: rt.schedule,
      run: withAlerts(async (store) => {
        const { userToken } = roundtripWiring(settings, rt, store, options.roundtripDispatcher ? { dispatcher: options.roundtripDispatcher } : {});
        const outcome = await runRoundtrip(settings, store, {
          appToken,
          userToken,
          now: () => clock.now(),
          sleep: (ms) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms)),
          log,
          history: historyCache,
          ...(options.roundtripWaitMs !== undefined && { waitMs: options.roundtripWaitMs }),
          ...(observer && { observe: observer.result }),
        });
        log(`roundTrip: ${summarizeRoundtrip(outcome)}`);
      }),
    });
  } else if (rt) {
    log('roundTrip: off (set WBMON_GRAPH_TOKEN: locally the guard rails read the test user with it)');
  }

  const viewOf = (answer: (store: Store) => Promise<ApiResponse>): Promise<ApiResponse> =>
    readyStore().then(answer, (err: Error) => unavailable(err.message));
  // If the port is taken, the embedded Azurite must not keep the process alive after the error.
  const api = await startApi(
    {
      '/api/health': { method: 'GET', handle: health },
      '/api/status': {
        method: 'GET',
        handle: () =>
          readyStore().then(
            (s) => status(s, settings.targets, settings.relays, clock.now(), settings.alerting.maintenance, settings.relayProblems, settings.roundtrip?.userId),
            (err: Error) => unavailable(err.message),
          ),
      },
      '/api/history': { method: 'GET', handle: (request) => viewOf((s) => history(s, settings, request.query, clock.now())) },
      '/api/badge/': { method: 'GET', prefix: true, handle: (request) => viewOf((s) => badge(s, settings, request.path, clock.now())) },
      '/api/metrics': { method: 'GET', handle: () => viewOf((s) => metrics(s, settings, clock.now())) },
      '/api/dashboard': { method: 'GET', handle: () => viewOf((s) => dashboard(s, settings, clock.now())) },
      // Whoever opens the printed address in a browser lands on the status page.
      '': { method: 'GET', handle: () => ({ status: 302, headers: { location: DASHBOARD_PATH }, contentType: 'text/plain; charset=utf-8', body: `see ${DASHBOARD_PATH}\n` }) },
      '/api/heartbeat': {
        method: 'POST',
        handle: (request) => receiveHeartbeat(request, settings.relays, readyStore, clock.now(), log, sequences, refusals, subject),
      },
    },
    options.port,
    { maxBodyBytes: MAX_BODY_BYTES, log },
  ).catch(async (err: unknown) => {
    await azurite?.close();
    await telemetry.shutdown();
    throw err;
  });

  ownUrl = api.url;
  if (channels.size > 0) {
    const base = linkTargets(settings.alerting, ownUrl).base;
    log(`alert links: ${base ? `${dashboardUrl(base)}${settings.alerting.publicUrl ? ' (WBMON_PUBLIC_URL)' : ''}` : 'none'}`);
  }

  const scheduler = startScheduler(jobs, (job, err) => log(`${job.name}: failed: ${(err as Error).message}`), clock);
  for (const job of jobs) log(`${job.name}: schedule "${job.schedule.expression}", next at ${job.schedule.next(clock.now()).toISOString()}`);
  // The first cycle runs at once, so status shows real results without waiting for the schedule.
  const firstCycle = scheduler.runNow('probeEndpoints');

  return {
    url: api.url,
    firstCycle,
    run: (job) => scheduler.runNow(job),
    async stop() {
      stopping = true;
      for (const cancel of [...waits]) cancel();
      await retryWake.stop();
      await api.close();
      await scheduler.stop();
      await store.close();
      await azurite?.close();
      await telemetry.shutdown();
    },
  };
}

/**
 * One timer, always for the earliest retry the outbox reported; each delivery pass it runs
 * reports the next one. Passes may overlap a timer run's: the outbox's claims keep every row
 * single.
 */
function wakeForRetries(
  clock: Clock,
  deliverDue: (store: Store) => Promise<string | undefined>,
  onError: (err: unknown) => void,
): { arm(store: Store, at: string | undefined): void; stop(): Promise<void> } {
  let timer: unknown;
  let armedFor: number | undefined;
  let inFlight: Promise<void> | undefined;
  let stopped = false;
  const arm = (store: Store, at: string | undefined): void => {
    if (stopped || at === undefined) return;
    const due = Date.parse(at);
    if (armedFor !== undefined && armedFor <= due) return; // an earlier wake-up is set already
    if (timer !== undefined) clock.clearTimeout(timer);
    armedFor = due;
    // A little after the time, so the row is due when the pass lists it.
    timer = clock.setTimeout(() => {
      timer = undefined;
      armedFor = undefined;
      inFlight = deliverDue(store).then((next) => arm(store, next), onError).finally(() => (inFlight = undefined));
    }, Math.max(0, due - clock.now().getTime()) + 50);
  };
  return {
    arm,
    async stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      await inFlight;
    },
  };
}
