/**
 * One timer invocation under the Functions host, the same for every timer: the run's span (a
 * request in Application Insights, everything it does nested in it), the work, the alerting
 * pass over what the work recorded, and a flush before returning, because the instance may be
 * frozen as soon as the invocation ends.
 */
import type { InvocationContext } from '@azure/functions';
import { evaluateAlerts } from '../alerting/evaluate-alerts.js';
import { summarizeAlerts } from '../monitor/summary.js';
import { inSpan, SpanKind } from '../telemetry/tracing.js';
import { safeLog } from '../text/safe-text.js';
import { runtime, type Runtime } from './runtime.js';

/** The work returns its one-line summary for the log. */
export type TimerWork = (rt: Runtime, log: (line: string) => void) => Promise<string>;

/** Settings notices are worth one line per worker, not one per run. */
let settingsNoticed = false;

export async function timerRun(name: string, context: InvocationContext, work: TimerWork): Promise<void> {
  const rt = await runtime();
  // Relay-supplied text (event logs, failure messages) reaches these lines: one safe line each.
  const log = safeLog((line: string): void => context.log(line));
  if (!settingsNoticed) {
    settingsNoticed = true;
    if (rt.keyVault.resolved.length > 0) context.log(`settings: ${rt.keyVault.resolved.join(', ')} read from Key Vault by the app (WBMON_KEY_VAULT_URL): the platform could not resolve their references`);
    for (const problem of rt.keyVault.problems) context.warn(`settings: ${problem}`);
    const names = rt.settings.unresolvedSecrets;
    if (names.length > 0) {
      context.warn(`settings: ${names.join(', ')} hold Key Vault references the platform did not resolve (secret not created yet, or the identity cannot read it); treated as unset`);
    }
  }
  try {
    await inSpan(name, { kind: SpanKind.SERVER }, async () => {
      // The alert pass runs even when the work failed: one part's failure (a relay, the
      // tenant, the store for a moment) must never silence the alerts of everything else.
      let failed: unknown;
      try {
        log(await work(rt, log));
      } catch (err) {
        failed = err;
      }
      try {
        log(summarizeAlerts(await evaluateAlerts(rt.settings, rt.store, rt.channels, new Date(), log, rt.observer?.delivery)));
      } catch (err) {
        if (!failed) throw err;
        context.error(`alert pass: failed: ${(err as Error).message}`);
      }
      if (failed) throw failed;
    });
  } finally {
    await rt.telemetry.flush();
  }
}
