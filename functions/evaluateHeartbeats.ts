import '../src/telemetry/preload.js';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { timerRun } from '../src/host/timer-run.js';
import { runEvaluation } from '../src/monitor/evaluation-run.js';

export async function evaluateHeartbeats(_timer: Timer, context: InvocationContext): Promise<void> {
  await timerRun('evaluateHeartbeats', context, async ({ settings, store, observer, historyCache }, log) =>
    runEvaluation(settings, store, new Date(), { history: historyCache, log, ...(observer && { observe: observer.result, onRelay: observer.relay }) }),
  );
}

app.timer('evaluateHeartbeats', {
  schedule: '%WBMON_EVALUATE_SCHEDULE%',
  handler: evaluateHeartbeats,
});
