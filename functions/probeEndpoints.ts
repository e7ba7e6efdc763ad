import { app, type InvocationContext, type Timer } from '@azure/functions';
import { runProbeCycle } from '../src/monitor/probe-cycle.js';
import { runtime } from '../src/host/runtime.js';
import { summarizeCycle } from '../src/monitor/summary.js';

export async function probeEndpoints(_timer: Timer, context: InvocationContext): Promise<void> {
  const { settings, store, location } = await runtime();
  const outcome = await runProbeCycle(settings, store, location);
  context.log(summarizeCycle(outcome));
}

app.timer('probeEndpoints', {
  schedule: '%WBMON_PROBE_SCHEDULE%',
  handler: probeEndpoints,
});
