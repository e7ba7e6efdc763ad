import '../src/telemetry/preload.js';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { evaluateAlerts } from '../src/alerting/evaluate-alerts.js';
import { runtime } from '../src/host/runtime.js';
import { graphToken } from '../src/graph/token.js';
import { runTenantCycle } from '../src/monitor/tenant-cycle.js';
import { summarizeAlerts, summarizeTenant } from '../src/monitor/summary.js';
import { inSpan, SpanKind } from '../src/telemetry/tracing.js';

export async function checkTenant(_timer: Timer, context: InvocationContext): Promise<void> {
  const { settings, store, channels, telemetry, observer } = await runtime();
  const token = graphToken(settings.tenant.graphUrl, settings.tenant.graphToken);
  try {
    await inSpan('checkTenant', { kind: SpanKind.SERVER }, async () => {
      const log = (line: string): void => context.log(line);
      context.log(summarizeTenant(await runTenantCycle(settings, store, token, new Date(), { log, ...(observer && { observe: observer.result }) })));
      context.log(summarizeAlerts(await evaluateAlerts(settings, store, channels, new Date(), log, observer?.delivery)));
    });
  } finally {
    await telemetry.flush(); // the instance may be frozen as soon as this returns
  }
}

app.timer('checkTenant', {
  schedule: '%WBMON_TENANT_SCHEDULE%',
  handler: checkTenant,
});
