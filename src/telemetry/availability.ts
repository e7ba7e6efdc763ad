/**
 * Check results as Application Insights availability results.
 *
 * Mapping used: the `microsoft.availability.*` log-record attributes of
 * @azure/monitor-opentelemetry-exporter 1.0.0-beta.47 (dist/esm/utils/logUtils.js,
 * getAvailabilityData): id, name, duration and success are required, runLocation and message
 * optional; the record then becomes an `AvailabilityData` envelope. Every other attribute not
 * starting with `microsoft` or `_MS.` becomes a custom dimension (createPropertiesFromLog).
 *
 * Only fields of the result and the check identity go in: never settings, never secrets.
 */
import type { Logger } from '@opentelemetry/api-logs';
import type { ProbeResult } from '../probes/result.js';
import type { CheckIdentity, CheckResult } from '../checks/state.js';

export interface AvailabilityInput {
  readonly identity: CheckIdentity;
  readonly result: ProbeResult | CheckResult;
  /** The availability result id (a random UUID), passed in to keep this function pure. */
  readonly id: string;
  /**
   * Whether the check was inside a WBMON_MAINTENANCE window when it ran (the caller asks
   * `inMaintenance(windows, identity.id, startedAt)`). Sent as the custom dimension
   * `maintenance` ("true"/"false") on every result, so queries and alert rules can leave out
   * what the app itself keeps quiet about.
   */
  readonly maintenance: boolean;
}

export type AttributeValue = string | number | boolean;

export interface AvailabilityRecord {
  /** When the check ran: the envelope time. */
  readonly timestamp: Date;
  readonly body: string;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/**
 * Timing fields as custom dimensions and span attributes (milliseconds), in this order: the
 * same names in both, so one query joins availability results and spans.
 */
export const TIMING_DIMENSIONS = [
  ['dns', 'dnsMs'],
  ['proxy', 'proxyMs'],
  ['tcp', 'tcpMs'],
  ['tls', 'tlsMs'],
  ['ttfb', 'ttfbMs'],
  ['total', 'totalMs'],
] as const;

/** Milliseconds as a .NET TimeSpan, the form Breeze expects: `[d.]hh:mm:ss.fff`. */
export function toTimeSpan(ms: number): string {
  const total = Number.isFinite(ms) && ms > 0 ? Math.round(ms) : 0;
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const days = Math.floor(total / 86_400_000);
  const hh = Math.floor(total / 3_600_000) % 24;
  const mm = Math.floor(total / 60_000) % 60;
  const ss = Math.floor(total / 1000) % 60;
  return `${days > 0 ? `${days}.` : ''}${pad(hh)}:${pad(mm)}:${pad(ss)}.${pad(total % 1000, 3)}`;
}

export function availabilityRecord({ identity, result, id, maintenance }: AvailabilityInput): AvailabilityRecord {
  const timings = 'timings' in result ? result.timings : undefined;
  const message = result.failure
    ? `${result.failure.code} in ${result.failure.phase}: ${result.failure.message}`
    : 'ok';
  const attributes: Record<string, AttributeValue> = {
    'microsoft.availability.id': id,
    'microsoft.availability.name': identity.id,
    'microsoft.availability.duration': toTimeSpan(timings?.total ?? 0),
    'microsoft.availability.success': result.ok,
    'microsoft.availability.runLocation': identity.location,
    'microsoft.availability.message': message,
    target: identity.target,
    checkKind: identity.kind,
    maintenance: maintenance === true,
  };
  // Every kind but the cloud probe is measured by a relay, whose id is the location.
  if (identity.kind !== 'probe') attributes['relay'] = identity.location;
  if (result.failure) {
    attributes['failureCode'] = result.failure.code;
    attributes['failurePhase'] = result.failure.phase;
  }
  if (result.http) attributes['httpStatus'] = result.http.status;
  for (const [field, key] of TIMING_DIMENSIONS) {
    const value = timings?.[field];
    if (value !== undefined) attributes[key] = value;
  }
  return { timestamp: new Date(result.startedAt), body: message, attributes };
}

/** Emit one availability record; the Azure Monitor log exporter turns it into AvailabilityData. */
export function emitAvailability(logger: Logger, record: AvailabilityRecord): void {
  logger.emit({ timestamp: record.timestamp, body: record.body, attributes: { ...record.attributes } });
}
