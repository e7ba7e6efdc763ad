/**
 * The relay executable's stand-in for ./tracing.js (packaging/build-relay.ts swaps it in when
 * bundling): the relay never registers an OpenTelemetry SDK, so `@opentelemetry/api` would
 * only hand out non-recording spans there; this does the same without bundling the API.
 * Same exports, same behaviour for the caller: `fn` runs, its result or error passes through.
 */
import type { Span, SpanKind as OtelSpanKind } from '@opentelemetry/api';
import type * as Tracing from './tracing.js';

// A numeric enum, reverse mapping included, as TypeScript compiles @opentelemetry/api's.
export const SpanKind = { INTERNAL: 0, SERVER: 1, CLIENT: 2, PRODUCER: 3, CONSUMER: 4, 0: 'INTERNAL', 1: 'SERVER', 2: 'CLIENT', 3: 'PRODUCER', 4: 'CONSUMER' } as unknown as typeof OtelSpanKind;

const context = { traceId: '00000000000000000000000000000000', spanId: '0000000000000000', traceFlags: 0 };

function nonRecordingSpan(): Span {
  const span: Span = {
    spanContext: () => context,
    setAttribute: () => span,
    setAttributes: () => span,
    addEvent: () => span,
    addLink: () => span,
    addLinks: () => span,
    setStatus: () => span,
    updateName: () => span,
    end: () => undefined,
    isRecording: () => false,
    recordException: () => undefined,
  };
  return span;
}

export const inSpan: typeof Tracing.inSpan = async (_name, _options, fn) => fn(nonRecordingSpan());

export const markProbeSpan: typeof Tracing.markProbeSpan = () => undefined;
