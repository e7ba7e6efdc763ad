import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite } from '../../src/local/azurite.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { StoreConflictError, type Store } from '../../src/store/store.js';
import { TableStore } from '../../src/store/table-store.js';
import { applyResult, applyTransition, historyKey, MAX_INCIDENTS_PER_DAY, type HistoryRow } from '../../src/history/history.js';
import { HISTORY, pruneAllHistory, pruneHistory, readHistory, recordHistoryResult, recordHistoryTransition } from '../../src/history/history-repository.js';
import { historyView } from '../../src/history/view.js';
import { down, failed, ok, recovered, seeded } from './support.js';

const CHECK = 'relay:connect01:https://sb.example.servicebus.windows.net/';
const NOW = new Date('2026-03-10T12:00:00.000Z');
const minute = (m: number, base = '2026-03-10T10:00:00.000Z'): string => new Date(Date.parse(base) + m * 60_000).toISOString();

/**
 * A store whose every call first yields to other tasks a (seeded) random number of times, so
 * concurrent writers interleave between their read and their write; counts the conflicts.
 */
class InterleavingStore extends MemoryStore {
  conflicts = 0;
  private readonly random: () => number;
  constructor(seed: number) {
    super();
    this.random = seeded(seed);
  }
  private async shuffle(): Promise<void> {
    const turns = Math.floor(this.random() * 4);
    for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
  }
  override async get<T>(collection: string, key: string) {
    await this.shuffle();
    return super.get<T>(collection, key);
  }
  override async insert<T>(collection: string, key: string, value: T) {
    await this.shuffle();
    return this.counted(() => super.insert(collection, key, value));
  }
  override async replace<T>(collection: string, key: string, value: T, etag: string) {
    await this.shuffle();
    return this.counted(() => super.replace(collection, key, value, etag));
  }
  private async counted(write: () => Promise<string>): Promise<string> {
    try {
      return await write();
    } catch (err) {
      if (err instanceof StoreConflictError) this.conflicts++;
      throw err;
    }
  }
}

/** Holds every writer's first read until `writers` reads are waiting: all read the same row, then all write. */
class BarrierStore extends MemoryStore {
  conflicts = 0;
  private waiting: (() => void)[] = [];
  private released = false;
  constructor(private readonly writers: number) {
    super();
  }
  override async get<T>(collection: string, key: string) {
    const value = await super.get<T>(collection, key);
    if (!this.released) {
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        if (this.waiting.length === this.writers) {
          this.released = true;
          for (const r of this.waiting) r();
        }
      });
    }
    return value;
  }
  override async insert<T>(collection: string, key: string, value: T) {
    try {
      return await super.insert(collection, key, value);
    } catch (err) {
      this.conflicts++;
      throw err;
    }
  }
  override async replace<T>(collection: string, key: string, value: T, etag: string) {
    try {
      return await super.replace(collection, key, value, etag);
    } catch (err) {
      this.conflicts++;
      throw err;
    }
  }
}

async function dailyOf(store: Store, checkId = CHECK, day = '2026-03-10'): Promise<HistoryRow['daily']> {
  return (await readHistory(store, checkId)).find((r) => r.day === day)!.daily;
}

describe('history repository', () => {
  it('records results and reads them back as the view shows them', async () => {
    const store = new MemoryStore();
    expect(await recordHistoryResult(store, CHECK, ok(minute(0), 120), NOW)).toBe('recorded');
    expect(await recordHistoryResult(store, CHECK, failed(minute(5)), NOW)).toBe('recorded');
    expect(await recordHistoryResult(store, CHECK, ok(minute(0), 120), NOW)).toBe('repeat');
    const view = historyView(await readHistory(store, CHECK), NOW, 1);
    expect(view.hourly.find((h) => h.start === '2026-03-10T10:00:00.000Z')).toMatchObject({ runs: 2, failures: 1, uptime: 0.5 });
    expect((await store.get(HISTORY, historyKey(CHECK, '2026-03-10')))?.value).toMatchObject({ checkId: CHECK, day: '2026-03-10' });
  });

  it('counts every run once when two instances create the same new row at once', async () => {
    const store = new BarrierStore(2);
    await Promise.all([recordHistoryResult(store, CHECK, ok(minute(0)), NOW), recordHistoryResult(store, CHECK, ok(minute(1)), NOW)]);
    expect(store.conflicts).toBe(1); // both read "no row", one insert lost and was retried
    expect((await dailyOf(store)).runs).toBe(2);
  });

  it('counts every run once when two instances update the same row at once', async () => {
    const store = new BarrierStore(2);
    // The row exists already (written without a read, so the barrier still waits for the race).
    await store.insert(HISTORY, historyKey(CHECK, '2026-03-10'), applyResult(undefined, CHECK, ok(minute(0)), NOW));
    await Promise.all([recordHistoryResult(store, CHECK, ok(minute(1)), NOW), recordHistoryResult(store, CHECK, failed(minute(2)), NOW)]);
    expect(store.conflicts).toBe(1); // both read the same ETag; one replace lost and was retried
    expect(await dailyOf(store)).toMatchObject({ runs: 3, failures: 1 });
  });

  it('counts 2 x 60 results of two racing writers exactly, conflicts and all', async () => {
    const store = new InterleavingStore(16);
    const writer = async (offset: number) => {
      for (let i = 0; i < 60; i++) await recordHistoryResult(store, CHECK, (i % 10 === 0 ? failed : ok)(minute(i * 2 + offset)), NOW);
    };
    await Promise.all([writer(0), writer(1)]);
    expect(store.conflicts).toBeGreaterThan(0);
    const rows = await readHistory(store, CHECK);
    expect(rows.map((r) => r.day)).toEqual(['2026-03-10']);
    expect(rows[0]!.daily).toMatchObject({ runs: 120, failures: 12 });
    expect(Object.values(rows[0]!.hours!).reduce((n, h) => n + h.runs, 0)).toBe(120);
  });

  it('counts a result that two instances both record (the same measurement) once', async () => {
    const store = new BarrierStore(2);
    const outcomes = await Promise.all([recordHistoryResult(store, CHECK, ok(minute(0)), NOW), recordHistoryResult(store, CHECK, ok(minute(0)), NOW)]);
    expect(outcomes.sort()).toEqual(['recorded', 'repeat']);
    expect((await dailyOf(store)).runs).toBe(1);
  });

  it('records a transition that two instances both record as one incident, and ends it by a recovery days later', async () => {
    const store = new BarrierStore(2);
    const t = down(CHECK, '2026-03-08T23:59:59.999Z');
    await Promise.all([recordHistoryTransition(store, t, failed(t.at), NOW), recordHistoryTransition(store, t, failed(t.at), NOW)]);
    await recordHistoryResult(store, CHECK, ok(minute(0)), NOW); // a newer row without incidents
    expect(await recordHistoryTransition(store, recovered(CHECK, '2026-03-10T10:00:00.000Z'), undefined, NOW)).toBe('recorded');
    expect(await recordHistoryTransition(store, recovered(CHECK, '2026-03-10T10:00:00.000Z'), undefined, NOW)).toBe('repeat');
    const rows = await readHistory(store, CHECK);
    expect(rows.map((r) => [r.day, r.incidents.length, r.recoveries ?? []])).toEqual([
      ['2026-03-08', 1, []],
      ['2026-03-10', 0, ['2026-03-10T10:00:00.000Z']],
    ]);
    expect(historyView(rows, NOW, 7).incidents).toEqual([
      { from: 'up', to: 'down', at: '2026-03-08T23:59:59.999Z', until: '2026-03-10T10:00:00.000Z', code: 'tcp_timeout', phase: 'tcp', message: 'no answer to SYN' },
    ]);
    expect(await recordHistoryTransition(store, { checkId: CHECK, from: 'new', to: 'up', at: minute(0), reason: 'answered' }, undefined, NOW)).toBe('ignored');
  });

  it('says a transition older than the history is not recorded', async () => {
    expect(await recordHistoryTransition(new MemoryStore(), recovered(CHECK, '2025-01-01T00:00:00.000Z'), undefined, NOW)).toBe('expired');
    expect(await recordHistoryTransition(new MemoryStore(), down(CHECK, '2025-01-01T00:00:00.000Z'), undefined, NOW)).toBe('expired');
  });

  it("prunes the check's rows on its first result of a new UTC day: expired rows go, rows past the hourly window lose their hours", async () => {
    const store = new MemoryStore();
    for (const day of ['2026-03-01', '2026-03-05', '2026-03-07', '2026-03-08', '2026-03-09']) {
      await recordHistoryResult(store, CHECK, ok(`${day}T10:00:00.000Z`), new Date(`${day}T10:00:01Z`), { days: 5 });
    }
    expect((await readHistory(store, CHECK)).map((r) => r.day)).toEqual(['2026-03-05', '2026-03-07', '2026-03-08', '2026-03-09']);
    await recordHistoryResult(store, CHECK, ok('2026-03-10T00:00:00.000Z'), new Date('2026-03-10T00:00:01Z'), { days: 5 });
    const rows = await readHistory(store, CHECK);
    // 5 days ending 2026-03-10 begin 2026-03-06; the hourly window begins 2026-03-08T01:00.
    expect(rows.map((r) => [r.day, r.hours !== undefined])).toEqual([
      ['2026-03-07', false],
      ['2026-03-08', true],
      ['2026-03-09', true],
      ['2026-03-10', true],
    ]);
    expect(rows[0]!.daily.runs).toBe(1);
  });

  it('does not record results older than what is kept', async () => {
    const store = new MemoryStore();
    expect(await recordHistoryResult(store, CHECK, ok('2025-12-10T23:59:59.999Z'), NOW)).toBe('expired');
    expect(await recordHistoryResult(store, CHECK, ok('2025-12-11T00:00:00.000Z'), NOW)).toBe('recorded');
    expect(await readHistory(store, 'no such check')).toEqual([]);
  });

  it("keeps checks whose ids extend each other apart (`a` and `a|b` share a key prefix)", async () => {
    const store = new MemoryStore();
    await recordHistoryResult(store, 'a', ok(minute(0)), NOW);
    await recordHistoryResult(store, 'a|b', ok(minute(0)), NOW);
    await recordHistoryResult(store, 'a|b', ok(minute(1)), NOW);
    expect((await dailyOf(store, 'a')).runs).toBe(1);
    expect((await dailyOf(store, 'a|b')).runs).toBe(2);
    await pruneHistory(store, 'a', new Date('2027-01-01T00:00:00Z'), 90);
    expect(await readHistory(store, 'a')).toEqual([]);
    expect(await readHistory(store, 'a|b')).toHaveLength(1);
  });

  it('starts a damaged row afresh instead of failing every write to it, and prunes damaged old rows', async () => {
    const store = new MemoryStore();
    await store.insert(HISTORY, historyKey(CHECK, '2026-03-10'), { v: 1, junk: true });
    await store.insert(HISTORY, historyKey(CHECK, '2025-01-01'), 'not a row');
    expect(await recordHistoryResult(store, CHECK, ok(minute(0)), NOW)).toBe('recorded');
    expect((await dailyOf(store)).runs).toBe(1);
    expect(await pruneHistory(store, CHECK, NOW, 90)).toEqual({ deleted: 1, compacted: 0 });
    expect((await store.list(HISTORY)).map((e) => e.key)).toEqual([historyKey(CHECK, '2026-03-10')]);
  });

  it("prunes every check's rows, including checks that no longer record anything", async () => {
    const store = new MemoryStore();
    await recordHistoryResult(store, 'retired', ok('2026-01-01T10:00:00Z'), new Date('2026-01-01T11:00:00Z'));
    await recordHistoryResult(store, CHECK, ok('2026-03-01T10:00:00Z'), new Date('2026-03-01T11:00:00Z'));
    expect(await pruneAllHistory(store, NOW, 30)).toEqual({ deleted: 1, compacted: 1 });
    expect(await readHistory(store, 'retired')).toEqual([]);
    expect((await readHistory(store, CHECK))[0]!.hours).toBeUndefined();
  });
});

describe('history rows in Table Storage (in-process Azurite)', () => {
  let connectionString = '';
  let close = async (): Promise<void> => {};
  beforeAll(async () => {
    ({ connectionString, close } = await startAzurite({ port: 0 }));
  });
  afterAll(() => close());

  const tableStore = async (): Promise<Store> => {
    const store = TableStore.fromConnectionString(connectionString, { tableName: `history${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}` });
    await store.ready();
    return store;
  };

  it('counts 2 x 100 results of two racing writers exactly', async () => {
    const store = await tableStore();
    const writer = async (offset: number) => {
      for (let i = 0; i < 100; i++) await recordHistoryResult(store, CHECK, ok(minute(i * 2 + offset, '2026-03-10T00:00:00.000Z'), 100 + i), NOW);
    };
    await Promise.all([writer(0), writer(1)]);
    expect(await dailyOf(store)).toMatchObject({ runs: 200, failures: 0 });
  });

  it('stores and reads back the largest row a check can have', async () => {
    // Far beyond any real check: a result every 30 s for a whole day, durations spread over the
    // whole sketch range, the day's maximum of incidents, each with the longest non-ASCII text.
    const random = seeded(9);
    const day = '2026-03-09';
    const now = new Date('2026-03-09T23:59:59Z');
    let row: HistoryRow | undefined;
    for (let i = 0; i < 2880; i++) {
      const startedAt = new Date(Date.parse(`${day}T00:00:00Z`) + i * 30_000).toISOString();
      row = applyResult(row, CHECK, ok(startedAt, 0.1 * 6e6 ** random(), 0.1 * 6e6 ** random()), now);
    }
    const hostile = { failure: { code: 'c'.repeat(100), phase: 'p'.repeat(100), message: '\u00e9'.repeat(1000) } };
    for (let i = 0; i < MAX_INCIDENTS_PER_DAY; i++) {
      row = applyTransition(row, down(CHECK, new Date(Date.parse(`${day}T00:00:00Z`) + i * 3_000_000).toISOString()), hostile, now);
    }
    const json = JSON.stringify(row).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    // docs/history.md: under 200,000 ASCII characters, well within Table Storage's 1 MiB
    // entity and the store's 15 properties of 30,000 characters.
    expect(json.length).toBeLessThan(200_000);
    const store = await tableStore();
    await store.insert(HISTORY, historyKey(CHECK, day), row);
    expect(await readHistory(store, CHECK)).toEqual([row]);
  });
});
