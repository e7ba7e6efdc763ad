import '../src/telemetry/preload.js';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { runtime } from '../src/host/runtime.js';
import { inSpan, SpanKind } from '../src/telemetry/tracing.js';
import { evaluateHeartbeats as evaluate } from '../src/monitor/evaluate-heartbeats.js';
import { summarizeAlerts, summarizeEvaluation } from '../src/monitor/summary.js';
import { evaluateAlerts } from '../src/alerting/evaluate-alerts.js';

export async function evaluateHeartbeats(_timer: Timer, context: InvocationContext): Promise<void> {
  const { settings, store, channels, telemetry, observer } = await runtime();
  try {
    // The timer run's span: a request in Application Insights; heartbeat results and alerts nest in it.
    await inSpan('evaluateHeartbeats', { kind: SpanKind.SERVER }, async () => {
      context.log(summarizeEvaluation(await evaluate(settings, store, new Date(), observer ? { observe: observer.result, onRelay: observer.relay } : {})));
      context.log(summarizeAlerts(await evaluateAlerts(settings, store, channels, new Date(), (line) => context.log(line), observer?.delivery)));
    });
  } finally {
    await telemetry.flush(); // the instance may be frozen as soon as this returns
  }
}

app.timer('evaluateHeartbeats', {
  schedule: '%WBMON_EVALUATE_SCHEDULE%',
  handler: evaluateHeartbeats,
});
