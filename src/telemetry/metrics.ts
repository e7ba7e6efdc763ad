/**
 * Metrics through the OpenTelemetry API: with Azure Monitor set up (setup.ts) they become
 * Application Insights `MetricData` envelopes (customMetrics), one per data point, with the
 * attributes as custom dimensions.
 *
 *   wbmon.tls.days_remaining              gauge, d       {target, location}
 *   wbmon.relay.heartbeat_age             gauge, s       {relay}
 *   wbmon.relay.keepalive_longest_survived gauge, s      {relay}
 *   wbmon.alerts.sent / wbmon.alerts.failed counter      {channel}
 *
 * There is no phase-duration histogram: every availability result carries its phases' times
 * (dnsMs ... totalMs), which is what the workbook's percentiles read, and the exporter sends a
 * histogram as sum, count, min and max only, one envelope per phase, target and location per
 * run: it was 80 % of all bytes exported and answered nothing the availability results do not.
 *
 * The instruments live in a `Meters` value built once by `createMeters`; nothing here is a
 * module global. Attributes carry only ids, targets (credentials, query and fragment
 * stripped), locations, phases and channel names: never settings, never secrets.
 */
import { metrics, type Counter, type Gauge, type Meter } from '@opentelemetry/api';
import type { CheckIdentity, CheckResult } from '../checks/state.js';
import type { KeepaliveReport } from '../heartbeat/schema.js';
import type { ProbeResult } from '../probes/result.js';

export const METER_NAME = 'writeback-monitor';

export const METRIC_NAMES = {
  tlsDaysRemaining: 'wbmon.tls.days_remaining',
  heartbeatAge: 'wbmon.relay.heartbeat_age',
  keepaliveLongestSurvived: 'wbmon.relay.keepalive_longest_survived',
  alertsSent: 'wbmon.alerts.sent',
  alertsFailed: 'wbmon.alerts.failed',
} as const;

export interface Meters {
  readonly tlsDaysRemaining: Gauge;
  readonly heartbeatAge: Gauge;
  readonly keepaliveLongestSurvived: Gauge;
  readonly alertsSent: Counter;
  readonly alertsFailed: Counter;
}

/** Build the instruments once; by default on the global meter provider's `writeback-monitor` meter. */
export function createMeters(meter: Meter = metrics.getMeter(METER_NAME)): Meters {
  return {
    tlsDaysRemaining: meter.createGauge(METRIC_NAMES.tlsDaysRemaining, {
      unit: 'd',
      description: 'Days until the certificate presented by the target expires',
    }),
    heartbeatAge: meter.createGauge(METRIC_NAMES.heartbeatAge, {
      unit: 's',
      description: 'Seconds since the relay last sent a heartbeat',
    }),
    keepaliveLongestSurvived: meter.createGauge(METRIC_NAMES.keepaliveLongestSurvived, {
      unit: 's',
      description: 'Longest idle period a relay connection survived in its last keepalive test (0: none survived)',
    }),
    alertsSent: meter.createCounter(METRIC_NAMES.alertsSent, {
      unit: '{alert}',
      description: 'Alert deliveries that succeeded, per channel',
    }),
    alertsFailed: meter.createCounter(METRIC_NAMES.alertsFailed, {
      unit: '{alert}',
      description: 'Alert deliveries given up on, per channel',
    }),
  };
}

/**
 * A target fit for an attribute: userinfo, query and fragment removed. Left exactly as given
 * when there is nothing to remove, so it matches the availability results' `target`.
 */
export function safeTarget(target: string): string {
  let url: URL | undefined;
  try {
    url = new URL(target);
  } catch {
    url = undefined;
  }
  if (url && url.host) {
    if (!url.username && !url.password && !url.search && !url.hash && !target.includes('?') && !target.includes('#')) return target;
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.href;
  }
  // Not a URL with a host (e.g. `dc01.contoso.local:389`): cut query, fragment and any userinfo.
  const bare = target.replace(/[?#].*$/s, '');
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(bare)?.[0] ?? '';
  const rest = bare.slice(scheme.length);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const at = authority.lastIndexOf('@');
  return at < 0 ? bare : scheme + rest.slice(at + 1);
}

/**
 * The certificate's days remaining when the probe saw one. A result without timings (a
 * heartbeat or tenant check) records nothing.
 */
export function recordProbeMetrics(meters: Meters, identity: CheckIdentity, result: ProbeResult | CheckResult): void {
  if (!('timings' in result)) return;
  const target = safeTarget(identity.target);
  const location = identity.location;
  const days = result.tls?.daysToExpiry;
  if (days !== undefined && Number.isFinite(days)) meters.tlsDaysRemaining.record(days, { target, location });
}

/** Seconds since the relay's last heartbeat, as measured by whoever evaluates heartbeats. */
export function recordHeartbeatAge(meters: Meters, relayId: string, ageSeconds: number): void {
  if (!Number.isFinite(ageSeconds)) return;
  meters.heartbeatAge.record(Math.max(0, ageSeconds), { relay: relayId });
}

/** The longest idle length that survived in the report, 0 when none did. */
export function longestSurvived(report: Pick<KeepaliveReport, 'results'>): number {
  return report.results.reduce((max, r) => (r.survived && r.idleSeconds > max ? r.idleSeconds : max), 0);
}

export function recordKeepalive(meters: Meters, relayId: string, report: Pick<KeepaliveReport, 'results'>): void {
  meters.keepaliveLongestSurvived.record(longestSurvived(report), { relay: relayId });
}

/** One delivery to one channel: sent, or given up on (a retry still pending is neither). */
export function recordAlertDelivery(meters: Meters, channel: string, outcome: 'sent' | 'failed'): void {
  (outcome === 'sent' ? meters.alertsSent : meters.alertsFailed).add(1, { channel });
}
