/**
 * The durable outbox. Every alert event is written, once per channel, before any delivery is
 * tried; the key is the event's idempotency key and the channel, so deciding the same thing
 * twice records it once. Delivery claims a row with an ETag-conditional write, so two
 * evaluators never send the same row; a claim that is never finished (the process died between
 * claim and send) expires and the row is sent by a later run. Transient failures come back after
 * the receiver's Retry-After or a backoff (retry-policy.ts), within the same pass when the wait
 * is short; permanent ones stop and are logged.
 */
import { countSent } from './sent-counter.js';
import type { AlertEvent } from './event.js';
import { DeliveryError, type Channel } from './channels/channel.js';
import { StoreConflictError, type Entry, type Store } from '../store/store.js';
import { decideRetry, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry-policy.js';

export const ALERTS = 'alerts';

export interface DeliveryRow {
  readonly event: AlertEvent;
  readonly channel: string;
  readonly status: 'pending' | 'sending' | 'sent' | 'failed';
  readonly attempts: number;
  /** Not before this time (ISO): backoff and Retry-After. */
  readonly nextAttemptAt: string;
  /** While `sending`: the claim lapses at this time (ISO), and another run may take it over. */
  readonly claimedUntil?: string;
  readonly lastError?: string;
  readonly createdAt: string;
  readonly finishedAt?: string;
}

/**
 * The outbox's clock: `now` for every time it records and compares, `sleep` for a retry inside
 * the pass. Tests pass a fake one; serve passes its own.
 */
export interface DeliveryClock {
  now(): Date;
  /** Resolves true after `ms`, or false when the wait was cut short (the process is stopping). */
  sleep(ms: number): Promise<boolean>;
}

/** Real time, starting from the pass's `now` (which callers may have fixed) and moving on with the monotonic clock. */
export function realDeliveryClock(start: Date): DeliveryClock {
  const t0 = performance.now();
  return {
    now: () => new Date(start.getTime() + (performance.now() - t0)),
    sleep: (ms) => new Promise((resolve) => setTimeout(() => resolve(true), ms)),
  };
}

export interface OutboxOptions {
  readonly claimMs?: number;
  readonly retry?: RetryPolicy;
  readonly clock?: DeliveryClock;
  /** Finished rows are removed this long after they finished. */
  readonly keepMs?: number;
  readonly log?: (line: string) => void;
  /** Told of each row that reached its end on a channel (telemetry counts them). */
  readonly onOutcome?: (channel: string, outcome: 'sent' | 'failed') => void;
}

export interface DeliveryReport {
  readonly sent: number;
  /** Rows left for a later pass after a failed attempt. */
  readonly retrying: number;
  readonly failed: number;
  /** The earliest time a row left for later is due (ISO); serve wakes up for it. */
  readonly nextAttemptAt?: string;
}

export function deliveryKey(eventId: string, channel: string): string {
  return `${eventId}|${channel}`;
}

/** Records each event for each channel; an event already recorded is left as it is. */
export async function enqueue(store: Store, events: readonly AlertEvent[], channels: readonly string[], now: Date): Promise<number> {
  let added = 0;
  for (const event of events) {
    for (const channel of channels) {
      const row: DeliveryRow = { event, channel, status: 'pending', attempts: 0, nextAttemptAt: now.toISOString(), createdAt: now.toISOString() };
      try {
        await store.insert(ALERTS, deliveryKey(event.id, channel), row);
        added++;
      } catch (err) {
        if (!(err instanceof StoreConflictError)) throw err;
      }
    }
  }
  return added;
}

/**
 * Sends every row that is due, each claimed first. A failure whose wait is short
 * (IN_PASS_MAX_WAIT_MS) is recorded as pending and retried in this same pass, through the same
 * claim as any other run's: a racing instance that claims it first sends it instead, and a crash
 * while waiting leaves a pending row for the next run.
 */
export async function deliver(store: Store, channels: ReadonlyMap<string, Channel>, now: Date, options: OutboxOptions = {}): Promise<DeliveryReport> {
  const claimMs = options.claimMs ?? 120_000;
  const policy = options.retry ?? DEFAULT_RETRY_POLICY;
  const clock = options.clock ?? realDeliveryClock(now);
  const keepMs = options.keepMs ?? 7 * 24 * 3_600_000;
  const log = options.log ?? (() => undefined);
  const outcome = options.onOutcome ?? (() => undefined);
  const report = { sent: 0, retrying: 0, failed: 0 };
  let nextAttemptAt: number | undefined;

  const due = (row: DeliveryRow, t: number): boolean =>
    (row.status === 'pending' && Date.parse(row.nextAttemptAt) <= t) || (row.status === 'sending' && Date.parse(row.claimedUntil ?? '') <= t);

  /** One row, through as many attempts as this pass may make; it stops where another run has the row. */
  const attempt = async (key: string, row: DeliveryRow, rowEtag: string, retriesInPass: number): Promise<void> => {
    const at = clock.now();
    const claimed: DeliveryRow = { ...row, status: 'sending', attempts: row.attempts + 1, claimedUntil: new Date(at.getTime() + claimMs).toISOString() };
    let etag: string;
    try {
      etag = await store.replace(ALERTS, key, claimed, rowEtag);
    } catch (err) {
      if (err instanceof StoreConflictError) return; // another evaluator has it
      throw err;
    }
    // Recording the outcome may lose a race only if this run overran its claim and another
    // took the row over; that run's record then stands. A store outage here leaves the row
    // `sending`, and it is retried when the claim lapses.
    const finish = (next: DeliveryRow): Promise<string | undefined> => store.replace(ALERTS, key, next, etag).catch(() => undefined);
    const where = `alert ${row.event.kind} ${row.event.checkId} via ${row.channel}`;
    const channel = channels.get(row.channel);
    if (!channel) {
      report.failed++;
      outcome(row.channel, 'failed');
      log(`alert ${row.event.kind} ${row.event.checkId}: channel ${row.channel} is no longer configured; not sent`);
      await finish({ ...claimed, status: 'failed', lastError: 'channel not configured', finishedAt: clock.now().toISOString() });
      return;
    }
    try {
      await channel.send(row.event);
    } catch (err) {
      const e = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message, false, { cause: err });
      const failedAt = clock.now();
      const decision = decideRetry(
        { attempts: claimed.attempts, createdAt: row.createdAt, permanent: e.permanent, ...(e.retryAfterMs !== undefined && { retryAfterMs: e.retryAfterMs }) },
        failedAt,
        policy,
      );
      if (!decision.retry) {
        report.failed++;
        outcome(row.channel, 'failed');
        log(`${where}: failed for good after ${claimed.attempts} attempt(s), ${decision.why}: ${e.message}`);
        await finish({ ...claimed, status: 'failed', lastError: e.message, finishedAt: failedAt.toISOString() });
        return;
      }
      const nextAt = failedAt.getTime() + decision.waitMs;
      const { claimedUntil: _claim, ...unclaimed } = claimed;
      const pending: DeliveryRow = { ...unclaimed, status: 'pending', lastError: e.message, nextAttemptAt: new Date(nextAt).toISOString() };
      const inPass = decision.waitMs <= policy.inPassMaxWaitMs && retriesInPass < policy.inPassMaxRetries;
      log(`${where}: attempt ${claimed.attempts} failed (${e.message}); ${decision.why}, next ${inPass ? 'in this pass' : 'at'} ${new Date(nextAt).toISOString()}`);
      const pendingEtag = await finish(pending);
      // A wait cut short leaves the row pending, due when it said, for whichever run comes next.
      if (inPass && pendingEtag && (await clock.sleep(decision.waitMs))) return attempt(key, pending, pendingEtag, retriesInPass + 1);
      report.retrying++;
      nextAttemptAt = Math.min(nextAttemptAt ?? Infinity, nextAt);
      return;
    }
    report.sent++;
    outcome(row.channel, 'sent');
    await finish({ ...claimed, status: 'sent', finishedAt: clock.now().toISOString() });
    await countSent(store, row.channel).catch((err: Error) => log(`${where}: sent, but not counted in wbmon_alerts_sent_total: ${err.message}`));
  };

  const listedAt = clock.now().getTime();
  const rows = await store.list<DeliveryRow>(ALERTS);
  await Promise.all(
    rows.map(async (entry: Entry<DeliveryRow>) => {
      const row = entry.value;
      if ((row.status === 'sent' || row.status === 'failed') && listedAt - Date.parse(row.finishedAt ?? row.createdAt) > keepMs) {
        await store.delete(ALERTS, entry.key);
        return;
      }
      if (due(row, listedAt)) return attempt(entry.key, row, entry.etag, 0);
      // Not due yet: its time still counts for when serve should look again.
      const waiting = row.status === 'pending' ? Date.parse(row.nextAttemptAt) : row.status === 'sending' ? Date.parse(row.claimedUntil ?? '') : NaN;
      if (!Number.isNaN(waiting)) nextAttemptAt = Math.min(nextAttemptAt ?? Infinity, waiting);
    }),
  );
  return nextAttemptAt === undefined ? report : { ...report, nextAttemptAt: new Date(nextAttemptAt).toISOString() };
}
