import { describe, expect, it } from 'vitest';
import { describeCycle, UNAUTHORIZED_HINT } from '../src/cli/relay-command.js';
import type { CycleReport } from '../src/relay/agent.js';
import { NO_REASON } from '../src/relay/sender.js';

function report(outcome: CycleReport['outcome']): CycleReport {
  return { sequence: 7, outcome, delivered: 0, pending: 1, dropped: 0, dcs: [], discoveredTargets: [], heartbeat: { results: [] } as unknown as CycleReport['heartbeat'] };
}

describe("the relay's account of a refused heartbeat", () => {
  it('names the function key (WBMON_MONITOR_KEY) before the relay id, secret and clock', () => {
    expect(UNAUTHORIZED_HINT.indexOf('WBMON_MONITOR_KEY')).toBeLessThan(UNAUTHORIZED_HINT.indexOf('WBMON_RELAY_ID'));
    const line = describeCycle('relay-a', report({ kind: 'unauthorized', status: 401, message: NO_REASON }));
    expect(line).toBe(
      `relay relay-a: heartbeat 7 not accepted (unauthorized, HTTP 401): ${NO_REASON} (${UNAUTHORIZED_HINT}); 0/0 targets up; delivered 0, buffered 1, dropped 0`,
    );
  });

  it('says a 401 without a reason is the Functions host refusing the function key', () => {
    expect(NO_REASON).toBe(
      'no reason given: under Azure Functions, the host refused the function key before the monitor saw the heartbeat; check WBMON_MONITOR_KEY (a key of the heartbeat function)',
    );
  });

  it('adds no hint to other outcomes', () => {
    const line = describeCycle('relay-a', report({ kind: 'retry', status: 503, message: 'HTTP 503' }));
    expect(line).not.toContain('WBMON_MONITOR_KEY');
  });
});
