import { describe, expect, it } from 'vitest';
import { startScheduler, type Clock } from '../src/local/scheduler.js';
import { parseSchedule } from '../src/schedule/ncrontab.js';

/** A clock whose time moves only when the test says; due callbacks run in time order. */
class FakeClock implements Clock {
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  constructor(private time: number) {}
  now(): Date {
    return new Date(this.time);
  }
  setTimeout(fn: () => void, ms: number) {
    const id = this.nextId++;
    this.timers.push({ at: this.time + ms, fn, id });
    return { id } as unknown as NodeJS.Timeout;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== (handle as { id: number }).id);
  }
  async advanceTo(iso: string): Promise<void> {
    const end = Date.parse(iso);
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const due = this.timers[0];
      if (!due || due.at > end) break;
      this.timers.shift();
      this.time = due.at;
      due.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.time = end;
  }
}

describe('scheduler', () => {
  it('runs a job at each NCRONTAB occurrence', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T12:03:10Z'));
    const runs: string[] = [];
    const scheduler = startScheduler(
      [{ name: 'probe', schedule: parseSchedule('0 */5 * * * *'), run: async () => void runs.push(clock.now().toISOString()) }],
      () => undefined,
      clock,
    );
    await clock.advanceTo('2026-01-01T12:16:00Z');
    expect(runs).toEqual(['2026-01-01T12:05:00.000Z', '2026-01-01T12:10:00.000Z', '2026-01-01T12:15:00.000Z']);
    await scheduler.stop();
    await clock.advanceTo('2026-01-01T12:30:00Z');
    expect(runs).toHaveLength(3);
  });

  it('does not start a run while the previous one is still going, and stop() waits for it', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
    let finish: () => void = () => undefined;
    let started = 0;
    let finished = 0;
    const scheduler = startScheduler(
      [
        {
          name: 'slow',
          schedule: parseSchedule('* * * * * *'),
          run: () => {
            started++;
            return new Promise<void>((r) => (finish = () => (finished++, r())));
          },
        },
      ],
      () => undefined,
      clock,
    );
    await clock.advanceTo('2026-01-01T00:00:05Z');
    expect(started).toBe(1);
    const stopped = scheduler.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    finish();
    await stopped;
    expect(finished).toBe(1);
  });

  it('reports a failing run and keeps the schedule going', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
    const errors: string[] = [];
    let calls = 0;
    const scheduler = startScheduler(
      [{ name: 'flaky', schedule: parseSchedule('*/10 * * * * *'), run: async () => { calls++; throw new Error(`boom ${calls}`); } }],
      (job, err) => errors.push(`${job.name}: ${(err as Error).message}`),
      clock,
    );
    await clock.advanceTo('2026-01-01T00:00:25Z');
    expect(errors).toEqual(['flaky: boom 1', 'flaky: boom 2']);
    await scheduler.stop();
  });

  it('re-arms waits longer than setTimeout allows (about 24.8 days)', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
    const runs: string[] = [];
    const scheduler = startScheduler(
      [{ name: 'yearly', schedule: parseSchedule('0 0 0 1 7 *'), run: async () => void runs.push(clock.now().toISOString()) }],
      () => undefined,
      clock,
    );
    await clock.advanceTo('2026-06-30T23:59:59Z');
    expect(runs).toEqual([]);
    await clock.advanceTo('2026-07-01T00:00:01Z');
    expect(runs).toEqual(['2026-07-01T00:00:00.000Z']);
    await scheduler.stop();
  });
});
