/** At most N lines a minute, then one summary: src/text/line-limiter.ts, with a fake clock. */
import { describe, expect, it } from 'vitest';
import { refusalLimiter } from '../src/api/heartbeat.js';
import { LineLimiter, limitLine } from '../src/text/line-limiter.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (ms: number): Date => new Date(T0 + ms);
const options = { perMinute: 3, summary: (held: number, since: Date) => `${held} more since ${since.toISOString()}` };

describe('the line limiter', () => {
  it('passes the first 3 lines of a minute, holds the rest, and tells how many with the first line of the next minute', () => {
    const limiter = new LineLimiter(options);
    const told = [0, 1, 2, 3, 4, 59_999].map((ms) => limiter.admit(`line ${ms}`, at(ms)));
    expect(told).toEqual([['line 0'], ['line 1'], ['line 2'], [], [], []]);
    expect(limiter.admit('line 60000', at(60_000))).toEqual(['3 more since 2026-03-01T10:00:00.000Z', 'line 60000']);
    expect(limiter.admit('line 60001', at(60_001))).toEqual(['line 60001']);
  });

  it('starts a new window without a summary when nothing was held back', () => {
    const first = limitLine(undefined, 'a', at(0), options);
    const later = limitLine(first.state, 'b', at(120_000), options);
    expect(later).toEqual({ state: { windowStart: T0 + 120_000, logged: 1, held: 0 }, lines: ['b'] });
  });

  it('starts a new window when the clock goes back, rather than holding lines until it catches up', () => {
    const full = { windowStart: T0, logged: 3, held: 2 };
    expect(limitLine(full, 'c', at(-1_000), options).lines).toEqual(['2 more since 2026-03-01T10:00:00.000Z', 'c']);
  });

  it('lets the heartbeat endpoint log 10 refusals a minute, then one summary line', () => {
    const limiter = refusalLimiter();
    const lines = Array.from({ length: 25 }, (_, i) => limiter.admit(`refused ${i}`, at(i * 1000))).flat();
    expect(lines).toEqual(Array.from({ length: 10 }, (_, i) => `refused ${i}`));
    expect(limiter.admit('refused late', at(61_000))).toEqual([
      'heartbeat refused (401): 15 more refused since 2026-03-01T10:00:00.000Z, not logged one by one (at most 10 a minute)',
      'refused late',
    ]);
  });
});
