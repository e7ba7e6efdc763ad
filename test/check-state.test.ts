import { describe, expect, it } from 'vitest';
import { applyResult, newCheck, type CheckRecord, type Thresholds } from '../src/checks/state.js';
import type { ProbeResult } from '../src/probes/result.js';

const identity = { id: 'cloud:https://t.example/', kind: 'probe' as const, target: 'https://t.example/', location: 'local' };
const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

function up(minute: number): ProbeResult {
  return { target: identity.target, ok: true, startedAt: at(minute), warnings: [], timings: { total: 5 }, proxy: null, http: { status: 200 } };
}
function down(minute: number): ProbeResult {
  return {
    target: identity.target,
    ok: false,
    startedAt: at(minute),
    warnings: [],
    timings: { total: 5 },
    proxy: null,
    failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer' },
  };
}

/** Feeds results in order and returns every state and transition along the way. */
function run(results: ProbeResult[], thresholds: Thresholds = { failure: 2, success: 2 }) {
  let check: CheckRecord = newCheck(identity, new Date(T0));
  const states: string[] = [];
  const transitions = [];
  for (const r of results) {
    const outcome = applyResult(check, r, thresholds);
    check = outcome.check;
    states.push(check.state);
    if (outcome.transition) transitions.push(outcome.transition);
  }
  return { check, states, transitions };
}

describe('check state machine', () => {
  it('starts new and goes up on the first success', () => {
    const { states, transitions } = run([up(0)]);
    expect(states).toEqual(['up']);
    expect(transitions).toEqual([{ checkId: identity.id, from: 'new', to: 'up', at: at(0), reason: 'answered HTTP 200' }]);
  });

  it('stays up on one failure below the threshold and goes down exactly at it', () => {
    const { states, transitions, check } = run([up(0), down(5), down(10)]);
    expect(states).toEqual(['up', 'up', 'down']);
    expect(transitions[1]).toEqual({ checkId: identity.id, from: 'up', to: 'down', at: at(10), reason: 'tcp_timeout in tcp: no answer' });
    expect(check.since).toBe(at(10));
    expect(check.consecutiveFailures).toBe(2);
  });

  it('needs an unbroken run of failures: a success in between resets the count', () => {
    expect(run([up(0), down(5), up(10), down(15)]).states).toEqual(['up', 'up', 'up', 'up']);
  });

  it('goes from new straight to down after the failure threshold', () => {
    const { states, transitions } = run([down(0), down(5)]);
    expect(states).toEqual(['new', 'down']);
    expect(transitions.map((t) => `${t.from}->${t.to}`)).toEqual(['new->down']);
  });

  it('comes back up only after the success threshold', () => {
    const { states, transitions, check } = run([down(0), down(5), up(10), down(15), up(20), up(25)]);
    expect(states).toEqual(['new', 'down', 'down', 'down', 'down', 'up']);
    expect(transitions.map((t) => `${t.from}->${t.to}@${t.at}`)).toEqual([`new->down@${at(5)}`, `down->up@${at(25)}`]);
    expect(check.since).toBe(at(25));
  });

  it('with thresholds of 1 follows every result', () => {
    expect(run([up(0), down(1), up(2)], { failure: 1, success: 1 }).states).toEqual(['up', 'down', 'up']);
  });

  it('keeps since unchanged while the state holds, and records the last result', () => {
    const { check } = run([up(0), up(5), up(10)]);
    expect(check.since).toBe(at(0));
    expect(check.lastResult?.startedAt).toBe(at(10));
    expect(check.consecutiveSuccesses).toBe(3);
  });

  it('ignores the same measurement applied twice, so reprocessing cannot skew the counts', () => {
    const first = run([up(0), down(5)]);
    const again = applyResult(first.check, down(5), { failure: 2, success: 2 });
    expect(again.check).toBe(first.check);
    expect(again.transition).toBeUndefined();
    // An older, different measurement still counts (results from two instances may cross).
    expect(applyResult(first.check, down(4), { failure: 2, success: 2 }).check.consecutiveFailures).toBe(2);
  });

  it('gives the failure streak its first failure: kept while the check fails and is down, gone once it is up again', () => {
    const thresholds = { failure: 3, success: 2 };
    let check: CheckRecord = newCheck(identity, new Date(T0));
    const seen: Array<[string, string | undefined]> = [];
    for (const r of [up(0), down(5), down(10), down(15), down(20), up(25), down(30), up(35), up(40)]) {
      check = applyResult(check, r, thresholds).check;
      seen.push([check.state, check.firstFailureAt]);
    }
    expect(seen).toEqual([
      ['up', undefined],
      ['up', at(5)], // the first failure of the run
      ['up', at(5)],
      ['down', at(5)], // the threshold is crossed at 15 (since), the streak began at 5
      ['down', at(5)],
      ['down', at(5)], // one good result is not a recovery: still the same outage
      ['down', at(5)],
      ['down', at(5)],
      ['up', undefined], // recovered: cleared
    ]);
    expect(check).not.toHaveProperty('firstFailureAt');
  });

  it('starts a new streak after a blip ends, and takes an older failure that arrives late', () => {
    const blip = run([up(0), down(5), up(10), down(15)], { failure: 3, success: 2 });
    expect(blip.check.firstFailureAt).toBe(at(15));
    const late = applyResult(blip.check, down(12), { failure: 3, success: 2 }).check;
    expect(late.firstFailureAt).toBe(at(12));
    expect(applyResult(late, down(20), { failure: 3, success: 2 }).check.firstFailureAt).toBe(at(12));
  });
});
