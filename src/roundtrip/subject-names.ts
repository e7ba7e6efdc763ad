/**
 * The round trip's test user, as the relays need to know it: the names Connect's event log may
 * call that user by (UPN, onPremisesSamAccountName, onPremisesUserPrincipalName...). Relays mask
 * every user name before a heartbeat leaves the Connect server, so the monitor cannot find the
 * test user's 31009/31010/31011 in what they send: it tells them the names in its answer to
 * their heartbeats, and they match on their side (src/relay/admin-resets.ts).
 *
 * The round trip writes the row after reading the user from Graph; heartbeat ingestion reads it
 * through SubjectNamesCache, so a steady stream of heartbeats costs no extra store read.
 */
import type { Store } from '../store/store.js';
import { ROUNDTRIP, SUBJECT_KEY } from './check.js';

export { ROUNDTRIP, SUBJECT_KEY };

/** Store row `roundtrip/subject`. */
export interface RoundtripSubject {
  /** The test user's object id (WBMON_ROUNDTRIP_USER). */
  readonly userId: string;
  readonly names: readonly string[];
  readonly updatedAt: string;
  /** For the check's target when Graph cannot be read. */
  readonly userPrincipalName?: string;
}

/** What the heartbeat answer may carry: the schema's bound on a reported user name, and a few names. */
export const MAX_NAME_LENGTH = 256;
export const MAX_NAMES = 10;

/** The names worth sending: non-empty strings within MAX_NAME_LENGTH, once each (case-insensitively), at most MAX_NAMES. */
export function usableNames(names: unknown): string[] {
  if (!Array.isArray(names)) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const name of names) {
    if (typeof name !== 'string') continue;
    const trimmed = name.trim();
    if (trimmed === '' || trimmed.length > MAX_NAME_LENGTH || seen.has(trimmed.toLowerCase())) continue;
    seen.add(trimmed.toLowerCase());
    out.push(trimmed);
  }
  return out.slice(0, MAX_NAMES);
}

/** How long one read of the row serves heartbeats: a changed name reaches relays within a minute and a heartbeat period. */
export const SUBJECT_CACHE_MS = 60_000;

/**
 * The subject's names per process (serve) or worker (Functions), like the SequenceCache: read
 * at most once per SUBJECT_CACHE_MS, an absent row remembered as such. Concurrent heartbeats
 * share one read. A failed read is not remembered: the last names known are answered meanwhile
 * (none before the first good read), and the next heartbeat reads again.
 */
export class SubjectNamesCache {
  private names: readonly string[] = [];
  private readAt = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<readonly string[]> | undefined;

  constructor(private readonly ttlMs = SUBJECT_CACHE_MS) {}

  /** The names to tell relays; empty when the monitor knows none (no row). */
  async get(store: Store, now: Date): Promise<readonly string[]> {
    if (now.getTime() - this.readAt < this.ttlMs) return this.names;
    this.inFlight ??= store
      .get<RoundtripSubject>(ROUNDTRIP, SUBJECT_KEY)
      .then(
        (row) => {
          this.names = usableNames(row?.value.names);
          this.readAt = now.getTime();
          return this.names;
        },
        () => this.names,
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}
