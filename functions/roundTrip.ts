import '../src/telemetry/preload.js';
import { app, type InvocationContext, type Timer } from '@azure/functions';
import { timerRun } from '../src/host/timer-run.js';
import { runRoundtrip } from '../src/monitor/roundtrip-cycle.js';
import { summarizeRoundtrip } from '../src/monitor/summary.js';
import { roundtripWiring } from '../src/roundtrip/wiring.js';

/** The opt-in password round trip (docs/roundtrip.md); off, and quick, unless WBMON_ROUNDTRIP_USER is set. */
export async function roundTrip(_timer: Timer, context: InvocationContext): Promise<void> {
  await timerRun('roundTrip', context, async ({ settings, store, graphToken, observer, historyCache }, log) => {
    const rt = settings.roundtrip;
    if (!rt) return summarizeRoundtrip({ kind: 'off' });
    const { userToken } = roundtripWiring(settings, rt, store);
    return summarizeRoundtrip(
      await runRoundtrip(settings, store, { appToken: graphToken, userToken, now: () => new Date(), log, history: historyCache, ...(observer && { observe: observer.result }) }),
    );
  });
}

app.timer('roundTrip', {
  schedule: '%WBMON_ROUNDTRIP_SCHEDULE%',
  handler: roundTrip,
});
