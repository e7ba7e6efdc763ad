import '../src/telemetry/preload.js';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { timerRun } from '../src/host/timer-run.js';
import { runProbeCycle } from '../src/monitor/probe-cycle.js';
import { summarizeCycle } from '../src/monitor/summary.js';

export async function probeEndpoints(_timer: Timer, context: InvocationContext): Promise<void> {
  await timerRun('probeEndpoints', context, async ({ settings, store, location, observer, historyCache }, log) =>
    summarizeCycle(await runProbeCycle(settings, store, location, { history: historyCache, log, ...(observer && { observe: observer.result }) })),
  );
}

app.timer('probeEndpoints', {
  schedule: '%WBMON_PROBE_SCHEDULE%',
  handler: probeEndpoints,
});
