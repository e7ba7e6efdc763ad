import { app, type InvocationContext, type Timer } from '@azure/functions';
import { runtime } from '../src/host/runtime.js';
import { evaluateHeartbeats as evaluate } from '../src/monitor/evaluate-heartbeats.js';
import { summarizeEvaluation } from '../src/monitor/summary.js';

export async function evaluateHeartbeats(_timer: Timer, context: InvocationContext): Promise<void> {
  const { settings, store } = await runtime();
  context.log(summarizeEvaluation(await evaluate(settings, store, new Date())));
}

app.timer('evaluateHeartbeats', {
  schedule: '%WBMON_EVALUATE_SCHEDULE%',
  handler: evaluateHeartbeats,
});
