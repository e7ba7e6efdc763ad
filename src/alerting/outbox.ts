/**
 * The durable outbox. Every alert event is written, once per channel, before any delivery is
 * tried; the key is the event's idempotency key and the channel, so deciding the same thing
 * twice records it once. Delivery claims a row with an ETag-conditional write, so two
 * evaluators never send the same row; a claim that is never finished (the process died between
 * claim and send) expires and the row is sent by a later run. Transient failures come back with
 * exponential backoff, or after the receiver's Retry-After; permanent ones stop and are logged.
 */
import type { AlertEvent } from './event.js';
import { DeliveryError, type Channel } from './channels/channel.js';
import { StoreConflictError, type Entry, type Store } from '../store/store.js';

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

export interface OutboxOptions {
  readonly maxAttempts?: number;
  readonly claimMs?: number;
  readonly backoffMs?: number;
  /** Finished rows are removed this long after they finished. */
  readonly keepMs?: number;
  readonly log?: (line: string) => void;
  /** Told of each row that reached its end on a channel (telemetry counts them). */
  readonly onOutcome?: (channel: string, outcome: 'sent' | 'failed') => void;
}

export interface DeliveryReport {
  readonly sent: number;
  readonly retrying: number;
  readonly failed: number;
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

/** Sends every row that is due, each claimed first. */
export async function deliver(store: Store, channels: ReadonlyMap<string, Channel>, now: Date, options: OutboxOptions = {}): Promise<DeliveryReport> {
  const maxAttempts = options.maxAttempts ?? 8;
  const claimMs = options.claimMs ?? 120_000;
  const backoffMs = options.backoffMs ?? 30_000;
  const keepMs = options.keepMs ?? 7 * 24 * 3_600_000;
  const log = options.log ?? (() => undefined);
  const outcome = options.onOutcome ?? (() => undefined);
  const t = now.getTime();
  const report = { sent: 0, retrying: 0, failed: 0 };

  const due = (row: DeliveryRow): boolean =>
    (row.status === 'pending' && Date.parse(row.nextAttemptAt) <= t) || (row.status === 'sending' && Date.parse(row.claimedUntil ?? '') <= t);

  const rows = await store.list<DeliveryRow>(ALERTS);
  await Promise.all(
    rows.map(async (entry: Entry<DeliveryRow>) => {
      const row = entry.value;
      if ((row.status === 'sent' || row.status === 'failed') && t - Date.parse(row.finishedAt ?? row.createdAt) > keepMs) {
        await store.delete(ALERTS, entry.key);
        return;
      }
      if (!due(row)) return;
      const claimed: DeliveryRow = { ...row, status: 'sending', attempts: row.attempts + 1, claimedUntil: new Date(t + claimMs).toISOString() };
      let etag: string;
      try {
        etag = await store.replace(ALERTS, entry.key, claimed, entry.etag);
      } catch (err) {
        if (err instanceof StoreConflictError) return; // another evaluator has it
        throw err;
      }
      // Recording the outcome may lose a race only if this run overran its claim and another
      // took the row over; that run's record then stands. A store outage here leaves the row
      // `sending`, and it is retried when the claim lapses.
      const finish = (next: DeliveryRow): Promise<unknown> => store.replace(ALERTS, entry.key, next, etag).catch(() => undefined);
      const channel = channels.get(row.channel);
      if (!channel) {
        report.failed++;
        outcome(row.channel, 'failed');
        log(`alert ${row.event.kind} ${row.event.checkId}: channel ${row.channel} is no longer configured; not sent`);
        return finish({ ...claimed, status: 'failed', lastError: 'channel not configured', finishedAt: now.toISOString() });
      }
      try {
        await channel.send(row.event);
        report.sent++;
        outcome(row.channel, 'sent');
        return finish({ ...claimed, status: 'sent', finishedAt: now.toISOString() });
      } catch (err) {
        const e = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message, false, { cause: err });
        if (e.permanent || claimed.attempts >= maxAttempts) {
          report.failed++;
          outcome(row.channel, 'failed');
          log(`alert ${row.event.kind} ${row.event.checkId} via ${row.channel}: failed for good after ${claimed.attempts} attempt(s): ${e.message}`);
          return finish({ ...claimed, status: 'failed', lastError: e.message, finishedAt: now.toISOString() });
        }
        report.retrying++;
        const wait = Math.max(e.retryAfterMs ?? 0, backoffMs * 2 ** (claimed.attempts - 1));
        log(`alert ${row.event.kind} ${row.event.checkId} via ${row.channel}: attempt ${claimed.attempts} failed (${e.message}); next in ${Math.round(wait / 1000)} s`);
        return finish({ ...claimed, status: 'pending', lastError: e.message, nextAttemptAt: new Date(t + wait).toISOString() });
      }
    }),
  );
  return report;
}
