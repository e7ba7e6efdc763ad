import { describe, expect, it } from 'vitest';
import { describeCycle, describeParts, UNAUTHORIZED_HINT } from '../src/cli/relay-command.js';
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

describe("the pre-flight's line for Entra Connect Sync", () => {
  const parts = (connectSync: NonNullable<CycleReport['heartbeat']['connectSync']>) =>
    describeParts({ ...report({ kind: 'accepted', status: 202 }), heartbeat: { results: [], connectSync } as unknown as CycleReport['heartbeat'] });

  it('says the build, the service and the end of support when all is well, and PROBLEM with the code when not', () => {
    const base = { checkedAt: '2026-12-02T10:00:00.000Z', installed: true, version: '2.6.84.0', service: 'running' as const, stagingMode: false };
    const support = { endOfSupport: '2027-09-16', basis: '12 months after the release of 2.6.91.0', match: 'listed' as const, tableChecked: '2026-12-02' };
    expect(parts({ ...base, support })).toContain('Entra Connect Sync: ok: 2.6.84.0, ADSync running, supported until 2027-09-16');
    expect(parts({ ...base, service: 'stopped', support }).find((l) => l.startsWith('Entra Connect Sync'))).toBe(
      'Entra Connect Sync: PROBLEM adsync_not_running: the ADSync service (Microsoft Azure AD Sync) is stopped: password writeback runs inside it',
    );
  });

  it('prints nothing for a server without Connect', () => {
    expect(parts({ checkedAt: '2026-12-02T10:00:00.000Z', installed: false, version: null, service: 'missing' }).some((l) => l.includes('Connect Sync'))).toBe(false);
  });
});
