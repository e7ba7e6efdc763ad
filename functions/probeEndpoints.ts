import '../src/telemetry/preload.js';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { runProbeCycle } from '../src/monitor/probe-cycle.js';
import { runtime } from '../src/host/runtime.js';
import { inSpan, SpanKind } from '../src/telemetry/tracing.js';
import { summarizeAlerts, summarizeCycle } from '../src/monitor/summary.js';
import { evaluateAlerts } from '../src/alerting/evaluate-alerts.js';

export async function probeEndpoints(_timer: Timer, context: InvocationContext): Promise<void> {
  const { settings, store, location, channels, telemetry, observer } = await runtime();
  try {
    // The timer run's span: a request in Application Insights; probes and results nest in it.
    await inSpan('probeEndpoints', { kind: SpanKind.SERVER }, async () => {
      const outcome = await runProbeCycle(settings, store, location, observer ? { observe: observer.result } : {});
      context.log(summarizeCycle(outcome));
      context.log(summarizeAlerts(await evaluateAlerts(settings, store, channels, new Date(), (line) => context.log(line), observer?.delivery)));
    });
  } finally {
    await telemetry.flush(); // the instance may be frozen as soon as this returns
  }
}

app.timer('probeEndpoints', {
  schedule: '%WBMON_PROBE_SCHEDULE%',
  handler: probeEndpoints,
});
