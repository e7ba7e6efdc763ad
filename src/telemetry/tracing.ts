/**
 * Traces: a span per timer run and per probe, through `@opentelemetry/api` only.
 *
 * Without a registered SDK (telemetry off, local `serve`, most tests) the API hands out
 * non-recording spans, so this costs nothing. With Azure Monitor, a SERVER/INTERNAL root span
 * becomes a request and a CLIENT span a dependency; whatever is emitted inside the active span
 * (availability results, logs) carries its trace id as `ai.operation.id`.
 *
 * Attribute names match the availability results' custom dimensions, so one KQL join covers both.
 */
import { TIMING_DIMENSIONS } from './availability.js';
import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { ProbeResult } from '../probes/result.js';

export { SpanKind };

const TRACER = 'writeback-monitor';

export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
}

/**
 * Runs `fn` in a new active span named `name`. A thrown error (or rejection) is recorded on
 * the span with status ERROR and rethrown; the span always ends.
 */
export function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T> | T): Promise<T> {
  return trace.getTracer(TRACER).startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes && { attributes: options.attributes }) },
    async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        const err = error instanceof Error ? error : new Error(String(error));
        span.recordException(err);
        span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * Describes a probe's outcome on its span. A probe never throws (failures are results), so a
 * failed probe is marked here: status ERROR with message `<code> in <phase>`.
 */
export function markProbeSpan(span: Span, result: ProbeResult): void {
  const attributes: Attributes = { target: result.target, ok: result.ok };
  if (result.failure) {
    attributes['failureCode'] = result.failure.code;
    attributes['failurePhase'] = result.failure.phase;
  }
  if (result.http) attributes['httpStatus'] = result.http.status;
  for (const [field, key] of TIMING_DIMENSIONS) {
    const value = result.timings[field];
    if (value !== undefined) attributes[key] = value;
  }
  span.setAttributes(attributes);
  if (result.failure) span.setStatus({ code: SpanStatusCode.ERROR, message: `${result.failure.code} in ${result.failure.phase}` });
}
