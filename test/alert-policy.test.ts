import { describe, expect, it } from 'vitest';
import { decide, type Notified, type PolicyOptions } from '../src/alerting/policy.js';
import { inMaintenance, parseDuration, parseMaintenance } from '../src/alerting/maintenance.js';
import type { CheckRecord, Transition } from '../src/checks/state.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (minutes: number): Date => new Date(T0 + minutes * 60_000);
const iso = (minutes: number): string => at(minutes).toISOString();
const remedy = () => ({ summary: 'Open outbound 443', steps: ['step one'] });
const options: PolicyOptions = { remindMinutes: 60, flapChanges: 4, flapWindowMinutes: 60, maintenance: [] };

function check(state: CheckRecord['state'], sinceMinute: number): CheckRecord {
  return {
    id: 'relay:connect01:https://x.servicebus.windows.net/',
    kind: 'relay-probe',
    target: 'https://x.servicebus.windows.net/',
    location: 'connect01',
    state,
    since: iso(sinceMinute),
    consecutiveFailures: state === 'down' ? 2 : 0,
    consecutiveSuccesses: state === 'up' ? 2 : 0,
    lastResult: {
      ok: state !== 'down',
      startedAt: iso(sinceMinute),
      ...(state === 'down' && { failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer' } }),
    },
  };
}

/** Runs the policy minute by minute over a scripted state history, carrying what was told. */
function simulate(script: (minute: number) => [CheckRecord, Transition[]], minutes: number, opts = options) {
  let notified: Notified | undefined;
  const told: string[] = [];
  for (let m = 0; m <= minutes; m++) {
    const [c, transitions] = script(m);
    const decision = decide(c, transitions, notified, at(m), opts, remedy);
    notified = decision.notified;
    for (const e of decision.events) told.push(`${m} ${e.kind}`);
  }
  return { told, notified };
}

describe('alert policy', () => {
  it('gives a down check\'s events the first failure of its streak apart from since, and a recovered check none', () => {
    const told: Notified = { checkId: 'x', told: 'up', toldAt: iso(0), reminders: 0, flapping: false };
    const down = { ...check('down', 5), firstFailureAt: iso(2) };
    const [triggered] = decide(down, [], told, at(6), options, remedy).events;
    expect(triggered).toMatchObject({ kind: 'triggered', since: iso(5), firstFailureAt: iso(2) });
    const [reminder] = decide(down, [], { ...told, told: 'down', toldAt: iso(6) }, at(67), options, remedy).events;
    expect(reminder).toMatchObject({ kind: 'reminder', since: iso(5), firstFailureAt: iso(2) });
    const [resolved] = decide(check('up', 70), [], { ...told, told: 'down', toldAt: iso(6) }, at(71), options, remedy).events;
    expect(resolved?.kind).toBe('resolved');
    expect(resolved).not.toHaveProperty('firstFailureAt');
  });

  it('says nothing when a check goes from new to up', () => {
    const decision = decide(check('up', 0), [], undefined, at(0), options, remedy);
    expect(decision.events).toEqual([]);
    expect(decision.notified).toMatchObject({ told: 'up' });
  });

  it('triggers once when a check is down, with the failure and the fix, and resolves once when it is back', () => {
    const first = decide(check('down', 5), [], { checkId: 'x', told: 'up', toldAt: iso(0), reminders: 0, flapping: false }, at(6), options, remedy);
    expect(first.events).toEqual([
      {
        id: `relay:connect01:https://x.servicebus.windows.net/|triggered|${iso(5)}`,
        kind: 'triggered',
        checkId: 'relay:connect01:https://x.servicebus.windows.net/',
        checkKind: 'relay-probe',
        target: 'https://x.servicebus.windows.net/',
        location: 'connect01',
        state: 'down',
        since: iso(5),
        at: iso(6),
        failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer' },
        remediation: { summary: 'Open outbound 443', steps: ['step one'] },
      },
    ]);
    expect(decide(check('down', 5), [], first.notified, at(7), options, remedy).events).toEqual([]);
    const back = decide(check('up', 20), [], first.notified, at(21), options, remedy);
    expect(back.events.map((e) => [e.kind, e.state, e.failure])).toEqual([['resolved', 'up', undefined]]);
  });

  it('reminds every WBMON_REMIND_MINUTES while down, exactly at the boundary, and never with 0', () => {
    const down = (): [CheckRecord, Transition[]] => [check('down', 0), []];
    expect(simulate(down, 185).told).toEqual(['0 triggered', '60 reminder', '120 reminder', '180 reminder']);
    expect(simulate(down, 185, { ...options, remindMinutes: 0 }).told).toEqual(['0 triggered']);
  });

  it('announces flapping once instead of every flip, then tells the settled state', () => {
    // Flips every 5 minutes for the first 30 minutes, then stays down.
    const transitions: Transition[] = [];
    const script = (m: number): [CheckRecord, Transition[]] => {
      if (m > 0 && m <= 30 && m % 5 === 0) {
        const to = (m / 5) % 2 === 1 ? 'down' : 'up';
        transitions.push({ checkId: check('up', 0).id, from: to === 'down' ? 'up' : 'down', to, at: iso(m), reason: 'flip' });
      }
      const last = transitions.at(-1);
      return [check(m > 30 ? 'down' : ((last?.to ?? 'up') as 'up' | 'down'), last ? Number(((Date.parse(last.at) - T0) / 60_000).toFixed(0)) : 0), [...transitions]];
    };
    const { told } = simulate(script, 100);
    // Changes at 5, 10, 15, 20 are told; the fifth within the hour (25) makes it flapping: one
    // notice, then silence through the flip at 30. At minute 71 only four changes (15-30) are
    // left in the last hour, so it has settled, and its state (down) differs from what was told.
    expect(told).toEqual(['5 triggered', '10 resolved', '15 triggered', '20 resolved', '25 flapping', '71 triggered']);
  });

  it('tells nothing inside a maintenance window and announces a check still down when it ends', () => {
    const maintenance = parseMaintenance(JSON.stringify([{ start: iso(10), end: iso(40) }])).windows;
    const script = (m: number): [CheckRecord, Transition[]] => [m < 15 ? check('up', 0) : check('down', 15), []];
    expect(simulate(script, 50, { ...options, maintenance }).told).toEqual(['40 triggered']);
    const paused = decide(check('down', 15), [], undefined, at(39), { ...options, maintenance }, remedy);
    expect(paused).toMatchObject({ events: [], paused: true });
  });
});

describe('maintenance windows', () => {
  const parse = (value: unknown) => parseMaintenance(JSON.stringify(value));

  it('covers [start, end) of an absolute window', () => {
    const { windows } = parse([{ start: iso(0), end: iso(30) }]);
    expect([-1, 0, 29, 30].map((m) => inMaintenance(windows, 'any', at(m)))).toEqual([false, true, true, false]);
  });

  it('recurs on an NCRONTAB schedule for a duration, scoped to matching checks', () => {
    // Every day at 02:00 UTC for two hours, relay checks only.
    const { windows, problems } = parse([{ cron: '0 0 2 * * *', duration: 'PT2H', checks: ['relay:*'] }]);
    expect(problems).toEqual([]);
    const day = (h: number, m = 0) => new Date(Date.UTC(2026, 2, 3, h, m));
    expect(inMaintenance(windows, 'relay:c1:https://x/', day(1, 59))).toBe(false);
    expect(inMaintenance(windows, 'relay:c1:https://x/', day(2, 0))).toBe(true);
    expect(inMaintenance(windows, 'relay:c1:https://x/', day(3, 59))).toBe(true);
    expect(inMaintenance(windows, 'relay:c1:https://x/', day(4, 0))).toBe(false);
    expect(inMaintenance(windows, 'cloud:https://x/', day(3, 0))).toBe(false);
  });

  it('reports every bad window, numbered', () => {
    expect(parse([{ start: 'yesterday', end: iso(1) }, { cron: '0 0 25 * * *', duration: '2 hours' }, { start: iso(5), end: iso(1) }, { start: iso(0), end: iso(1), checks: [] }]).problems).toEqual([
      'window 1: needs "start" and "end" (ISO date-times), or "cron" and "duration"',
      'window 2: "duration" must be an ISO 8601 duration such as PT2H',
      'window 2: "cron" hour: 25 is out of range 0-23',
      'window 3: "end" must be after "start"',
      'window 4: "checks" must be a non-empty list of check id patterns',
    ]);
  });

  it('reads ISO 8601 durations', () => {
    expect(['PT2H', 'P1DT30M', 'PT45S', 'PT', 'P', '2H'].map(parseDuration)).toEqual([7_200_000, 88_200_000, 45_000, undefined, undefined, undefined]);
  });
});

describe('alert policy, steady state', () => {
  it('hands back the very same record when nothing changed, so nothing is written', () => {
    const told: Notified = { checkId: 'x', told: 'down', toldAt: iso(0), reminders: 0, flapping: false };
    expect(decide(check('down', 0), [], told, at(30), options, remedy).notified).toBe(told);
    const fine: Notified = { checkId: 'x', told: 'up', toldAt: iso(0), reminders: 0, flapping: false };
    expect(decide(check('up', 0), [], fine, at(30), options, remedy).notified).toBe(fine);
  });
});
