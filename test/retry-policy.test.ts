/** The retry rules docs/alerts.md states, as the pure function that decides them. */
import { describe, expect, it } from 'vitest';
import { retryAfterMs } from '../src/alerting/channels/http-post.js';
import { backoffMs, decideRetry, GIVE_UP_AFTER_MS } from '../src/alerting/retry-policy.js';

const CREATED = '2026-03-01T10:00:00.000Z';
const at = (ms: number): Date => new Date(Date.parse(CREATED) + ms);

describe('retry policy', () => {
  it('backs off 5 s doubling to a 10 minute cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 30].map((n) => backoffMs(n) / 1000)).toEqual([5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
  });

  it("honours the receiver's Retry-After as given, 0 included, up to 10 minutes", () => {
    expect(decideRetry({ attempts: 1, createdAt: CREATED, permanent: false, retryAfterMs: 1000 }, at(0))).toEqual({ retry: true, waitMs: 1000, why: 'Retry-After 1 s' });
    expect(decideRetry({ attempts: 5, createdAt: CREATED, permanent: false, retryAfterMs: 0 }, at(0))).toEqual({ retry: true, waitMs: 0, why: 'Retry-After 0 s' });
    // A Retry-After shorter than the backoff wins: the receiver knows.
    expect(decideRetry({ attempts: 8, createdAt: CREATED, permanent: false, retryAfterMs: 2000 }, at(0))).toMatchObject({ waitMs: 2000 });
    expect(decideRetry({ attempts: 1, createdAt: CREATED, permanent: false, retryAfterMs: 600_000 }, at(0))).toMatchObject({ waitMs: 600_000 });
    expect(decideRetry({ attempts: 1, createdAt: CREATED, permanent: false, retryAfterMs: 600_001 }, at(0))).toEqual({
      retry: true,
      waitMs: 600_000,
      why: 'the receiver asked for 600 s; waiting the 10 min cap',
    });
  });

  it('gives up when the next attempt would be more than 6 hours after the alert was recorded', () => {
    expect(GIVE_UP_AFTER_MS).toBe(6 * 3_600_000);
    expect(decideRetry({ attempts: 40, createdAt: CREATED, permanent: false }, at(GIVE_UP_AFTER_MS - 600_000))).toMatchObject({ retry: true, waitMs: 600_000 });
    expect(decideRetry({ attempts: 40, createdAt: CREATED, permanent: false }, at(GIVE_UP_AFTER_MS - 599_999))).toEqual({
      retry: false,
      why: 'still failing 21000 s after it was recorded (gives up after 6 h)',
    });
    expect(decideRetry({ attempts: 2, createdAt: CREATED, permanent: false, retryAfterMs: 120_000 }, at(GIVE_UP_AFTER_MS - 60_000))).toMatchObject({ retry: false });
  });

  it('never retries a permanent refusal', () => {
    expect(decideRetry({ attempts: 1, createdAt: CREATED, permanent: true, retryAfterMs: 1000 }, at(0))).toEqual({ retry: false, why: 'the receiver refused it for good' });
  });
});

describe('Retry-After', () => {
  const NOW = Date.parse('2026-03-01T10:00:00Z');
  it('reads seconds, and ignores what is not a number or a date', () => {
    expect(retryAfterMs('1', NOW)).toBe(1000);
    expect(retryAfterMs(' 120 ', NOW)).toBe(120_000);
    expect(retryAfterMs(['7', '9'], NOW)).toBe(7000);
    expect(retryAfterMs(undefined, NOW)).toBeUndefined();
    expect(retryAfterMs('', NOW)).toBeUndefined();
    expect(retryAfterMs('soon', NOW)).toBeUndefined();
    expect(retryAfterMs('-5', NOW)).toBeUndefined();
  });

  it("reads an HTTP date against the receiver's Date header when there is one, else against our clock", () => {
    const date = 'Sun, 01 Mar 2026 08:30:00 GMT';
    expect(retryAfterMs('Sun, 01 Mar 2026 08:30:04 GMT', NOW, date)).toBe(4000);
    expect(retryAfterMs('Sun, 01 Mar 2026 10:00:30 GMT', NOW)).toBe(30_000);
    expect(retryAfterMs('Sun, 01 Mar 2026 10:00:30 GMT', NOW, 'not a date')).toBe(30_000);
    // A date already past means now.
    expect(retryAfterMs('Sun, 01 Mar 2026 09:00:00 GMT', NOW)).toBe(0);
  });
});
