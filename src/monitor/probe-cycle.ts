/**
 * One cloud probe cycle: every target probed at once (a cycle lasts as long as its slowest
 * target), then each result through the check state machine into the store.
 */
import { historyRecorder, type HistorySetting } from '../history/recorder.js';
import type { Settings } from '../config/settings.js';
import type { CheckIdentity, CheckRecord, CheckResult, Transition } from '../checks/state.js';
import type { Lookup } from '../probes/dns.js';
import { probeTarget } from '../probes/probe.js';
import { proxyFor, proxyFromEnvironment } from '../probes/proxy.js';
import type { ProbeResult } from '../probes/result.js';
import { activeNamespaces, RELAYS, type RelayRecord } from '../heartbeat/ingest.js';
import type { Store } from '../store/store.js';
import { recordResult } from './checks-repository.js';
import { inSpan, markProbeSpan, SpanKind } from '../telemetry/tracing.js';

/** Sees every result as it enters the check pipeline (telemetry's availability results). */
export type ResultObserver = (identity: CheckIdentity, result: CheckResult) => void;

export interface ProbeEnvironment {
  readonly lookup?: Lookup;
  readonly extraCa?: readonly string[];
  /** The machine's trusted roots, trusted on top of Node's (the relay on Windows). */
  readonly systemCa?: readonly string[];
  /** The proxy per target; default: WBMON_PROXY_URL / HTTPS_PROXY / NO_PROXY. */
  readonly proxyFor?: (url: URL) => URL | null;
  readonly now?: () => Date;
  readonly observe?: ResultObserver;
  /** The process's history row cache, or false to leave history out (only to measure its cost). */
  readonly history?: HistorySetting;
  /** Told of a history write that failed (the result itself is recorded). */
  readonly log?: (line: string) => void;
}

/** What probing needs of the settings; the monitor's and the relay's both have it. */
export type ProbeSettings = Pick<Settings, 'probeTimeoutMs' | 'proxyUrl' | 'env'>;

/** Probes targets concurrently; never rejects (each probe turns its own failures into results). */
export function probeAll(targets: readonly string[], settings: ProbeSettings, io: ProbeEnvironment = {}): Promise<ProbeResult[]> {
  const proxies = proxyFromEnvironment(settings.env, settings.proxyUrl);
  return Promise.all(
    targets.map((target) => {
      const url = new URL(target);
      // One CLIENT span per probe (a dependency in Application Insights), marked by its result.
      return inSpan(`probe ${url.host}`, { kind: SpanKind.CLIENT, attributes: { target } }, async (span) => {
        const result = await probeTarget(target, {
          timeoutMs: settings.probeTimeoutMs,
          proxy: io.proxyFor ? io.proxyFor(url) : proxyFor(url, proxies),
          ...(io.lookup && { lookup: io.lookup }),
          ...(io.extraCa && { extraCa: io.extraCa }),
          ...(io.systemCa && { systemCa: io.systemCa }),
          ...(io.now && { now: io.now }),
        });
        markProbeSpan(span, result);
        return result;
      });
    }),
  );
}

/**
 * The configured targets plus each tenant relay namespace that a relay found in Connect's
 * event log, so the cloud tests the exact relay this tenant's writeback uses; a namespace no
 * heartbeat reported for NAMESPACE_EXPIRY_MS (24 h) before `now` is no longer probed.
 */
export async function cloudTargets(settings: Settings, store: Store, now: Date = new Date()): Promise<string[]> {
  return cloudTargetsOf(settings, (await store.list<RelayRecord>(RELAYS)).map((e) => e.value), now);
}

/** The same from relay records already read (the alert pass lists them anyway). */
export function cloudTargetsOf(settings: Settings, relays: readonly RelayRecord[], now: Date): string[] {
  const discovered = relays.flatMap((r) => activeNamespaces(r, now)).map((host) => new URL(`https://${host}/`).href);
  return [...new Set([...settings.targets, ...discovered])];
}

export function cloudCheckId(target: string): string {
  return `cloud:${target}`;
}

export interface CycleOutcome {
  readonly results: ProbeResult[];
  readonly checks: CheckRecord[];
  readonly transitions: Transition[];
}

export async function runProbeCycle(
  settings: Settings,
  store: Store,
  location: string,
  io: ProbeEnvironment = {},
): Promise<CycleOutcome> {
  const now = io.now ?? (() => new Date());
  const results = await probeAll(await cloudTargets(settings, store, now()), settings, io);
  const thresholds = { failure: settings.failureThreshold, success: settings.successThreshold };
  const history = historyRecorder(store, settings, io.history, io.log);
  const recorded = await Promise.all(
    results.map((result) => {
      const identity: CheckIdentity = { id: cloudCheckId(result.target), kind: 'probe', target: result.target, location };
      io.observe?.(identity, result);
      return recordResult(store, identity, result, thresholds, now(), { history });
    }),
  ).finally(() => history && history.flush(now()));
  return {
    results,
    checks: recorded.map((r) => r.check),
    transitions: recorded.flatMap((r) => (r.transition ? [r.transition] : [])),
  };
}
