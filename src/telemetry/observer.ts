/**
 * The bridge from the check pipeline to Application Insights: every result that enters the
 * pipeline becomes one availability result. Undefined when telemetry is off, so the pipeline
 * pays nothing.
 */
import { randomUUID } from 'node:crypto';
import { logs } from '@opentelemetry/api-logs';
import type { ResultObserver } from '../monitor/probe-cycle.js';
import { availabilityRecord, emitAvailability } from './availability.js';
import type { TelemetryHandle } from './setup.js';

export function availabilityObserver(telemetry: TelemetryHandle): ResultObserver | undefined {
  if (!telemetry.enabled) return undefined;
  const logger = logs.getLogger('writeback-monitor');
  return (identity, result) => emitAvailability(logger, availabilityRecord({ identity, result, id: randomUUID() }));
}
