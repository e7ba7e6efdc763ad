import '../src/telemetry/preload.js';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { timerRun } from '../src/host/timer-run.js';
import { summarizeTenant } from '../src/monitor/summary.js';
import { runTenantCycle } from '../src/monitor/tenant-cycle.js';

export async function checkTenant(_timer: Timer, context: InvocationContext): Promise<void> {
  await timerRun('checkTenant', context, async ({ settings, store, graphToken, observer, historyCache }, log) =>
    summarizeTenant(await runTenantCycle(settings, store, graphToken, new Date(), { log, history: historyCache, ...(observer && { observe: observer.result }) })),
  );
}

app.timer('checkTenant', {
  schedule: '%WBMON_TENANT_SCHEDULE%',
  handler: checkTenant,
});
