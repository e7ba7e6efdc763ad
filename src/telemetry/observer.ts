/**
 * The bridge from the pipeline to Application Insights: every result that enters the check
 * pipeline becomes one availability result and its phase metrics; relays report heartbeat age
 * and keepalive reach; deliveries count per channel. Undefined when telemetry is off, so the
 * pipeline pays nothing.
 */
import { randomUUID } from 'node:crypto';
import { logs } from '@opentelemetry/api-logs';
import { inMaintenance, type MaintenanceWindow } from '../alerting/maintenance.js';
import type { KeepaliveReport } from '../heartbeat/schema.js';
import type { ResultObserver } from '../monitor/probe-cycle.js';
import { availabilityRecord, emitAvailability } from './availability.js';
import { createMeters, recordAlertDelivery, recordHeartbeatAge, recordKeepalive, recordProbeMetrics } from './metrics.js';
import type { TelemetryHandle } from './setup.js';

export interface PipelineObserver {
  readonly result: ResultObserver;
  relay(relayId: string, heartbeatAgeSeconds: number | undefined, keepalive: KeepaliveReport | undefined): void;
  delivery(channel: string, outcome: 'sent' | 'failed'): void;
}

/**
 * `maintenance` is WBMON_MAINTENANCE: each availability result says whether its check was in a
 * window when it ran, so Azure Monitor queries can honour the windows the app honours.
 */
export function pipelineObserver(telemetry: TelemetryHandle, maintenance: readonly MaintenanceWindow[]): PipelineObserver | undefined {
  if (!telemetry.enabled) return undefined;
  const logger = logs.getLogger('writeback-monitor');
  const meters = createMeters();
  return {
    result: (identity, result) => {
      const paused = inMaintenance(maintenance, identity.id, new Date(result.startedAt));
      emitAvailability(logger, availabilityRecord({ identity, result, id: randomUUID(), maintenance: paused }));
      recordProbeMetrics(meters, identity, result);
    },
    relay: (relayId, age, keepalive) => {
      if (age !== undefined) recordHeartbeatAge(meters, relayId, age);
      if (keepalive) recordKeepalive(meters, relayId, keepalive);
    },
    delivery: (channel, outcome) => recordAlertDelivery(meters, channel, outcome),
  };
}
