/**
 * serve and a throttling receiver (issue 14): a Retry-After longer than the outbox waits inside
 * a pass gets a delivery pass of its own at its time, not at the next timer run. serve runs on a
 * manual clock here, so 40 s of Retry-After take no real time; everything else (Azurite, the
 * probe, the webhook) is real.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../src/config/settings.js';
import type { Clock } from '../src/local/scheduler.js';
import { serve } from '../src/local/serve.js';

/** Timers that fire only when the test moves the time on. */
class ManualClock implements Clock {
  private t: number;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private ids = 0;
  constructor(start: Date) {
    this.t = start.getTime();
  }
  now(): Date {
    return new Date(this.t);
  }
  setTimeout(fn: () => void, ms: number): NodeJS.Timeout {
    const id = ++this.ids;
    this.timers.set(id, { at: this.t + ms, fn });
    return id as unknown as NodeJS.Timeout;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  /** Moves to `ms` later, firing each timer due on the way at its own time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = [...this.timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 25));
  if (!condition()) throw new Error(`timed out waiting for ${what}`);
}

describe('serve retries when the receiver says', () => {
  it('delivers 40 s after a 429 with Retry-After: 40, in a delivery pass of its own before the next timer run', async () => {
    // 10:00:05: the heartbeat evaluation is next due at 10:01:00, 55 s away; the probe at 10:05.
    const clock = new ManualClock(new Date('2026-03-01T10:00:05Z'));
    const arrivals: { at: string; kind: string }[] = [];
    const answers = [(res: ServerResponse) => res.writeHead(429, { 'retry-after': '40' }).end(), (res: ServerResponse) => res.writeHead(202).end()];
    const hook = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d));
      req.on('end', () => {
        arrivals.push({ at: clock.now().toISOString(), kind: (JSON.parse(body) as { kind: string }).kind });
        answers[Math.min(arrivals.length - 1, answers.length - 1)]!(res);
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => hook.close(() => r())));
    const settings = parseSettings({
      WBMON_TARGETS: 'https://127.0.0.1:1/',
      WBMON_FAILURE_THRESHOLD: '1',
      WBMON_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
      WBMON_WEBHOOK_SECRET: 'w'.repeat(32),
    });
    const lines: string[] = [];
    const monitor = await serve({ settings, port: 0, log: (l) => lines.push(l), clock });
    closers.push(() => monitor.stop());
    await monitor.firstCycle; // the refused target is down at once: triggered, answered 429

    expect(arrivals).toEqual([{ at: '2026-03-01T10:00:05.000Z', kind: 'triggered' }]);
    expect(lines.find((l) => l.includes('attempt 1 failed'))).toContain('Retry-After 40 s, next at 2026-03-01T10:00:45.000Z');

    clock.advance(39_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(arrivals).toHaveLength(1); // not before the receiver said

    clock.advance(1_050); // the wake-up is set 50 ms after the time, so the row is due when listed
    await until(() => arrivals.length === 2 && lines.some((l) => l.startsWith('alerts: delivered 1')), 'the retried delivery');
    expect(arrivals[1]).toEqual({ at: '2026-03-01T10:00:45.050Z', kind: 'triggered' });
    expect(lines).toContain('alerts: delivered 1, retrying 0, failed 0');
    // No timer job ran in between: the delivery pass woke up on its own.
    expect(lines.filter((l) => l.startsWith('evaluateHeartbeats:') && !l.includes('schedule'))).toEqual([]);
  });
});
