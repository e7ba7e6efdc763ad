/** The round trip's test user names, as heartbeat answers carry them: one store read a minute at most. */
import { describe, expect, it } from 'vitest';
import { ROUNDTRIP, SUBJECT_KEY, SubjectNamesCache, usableNames } from '../src/roundtrip/subject-names.js';
import { MemoryStore } from '../src/store/memory-store.js';

const T0 = Date.parse('2026-03-01T10:00:00Z');
const at = (s: number): Date => new Date(T0 + s * 1000);

/** A MemoryStore that counts reads of the subject row and can be made to fail. */
class CountingStore extends MemoryStore {
  reads = 0;
  failing = false;
  override async get<T>(collection: string, key: string) {
    if (collection === ROUNDTRIP) this.reads++;
    if (this.failing) throw new Error('store down');
    return super.get<T>(collection, key);
  }
}

describe('SubjectNamesCache', () => {
  it('reads the row once a minute at most, remembering an absent row as no names', async () => {
    const store = new CountingStore();
    const cache = new SubjectNamesCache();
    expect(await cache.get(store, at(0))).toEqual([]);
    await store.insert(ROUNDTRIP, SUBJECT_KEY, { userId: 'u1', names: ['rt-test@contoso.com', 'rttest'], updatedAt: at(1).toISOString() });
    expect(await cache.get(store, at(59.999))).toEqual([]);
    expect(store.reads).toBe(1);
    expect(await cache.get(store, at(60))).toEqual(['rt-test@contoso.com', 'rttest']);
    expect(await cache.get(store, at(119))).toEqual(['rt-test@contoso.com', 'rttest']);
    expect(store.reads).toBe(2);
  });

  it('shares one read among concurrent heartbeats', async () => {
    const store = new CountingStore();
    const cache = new SubjectNamesCache();
    await Promise.all(Array.from({ length: 20 }, () => cache.get(store, at(0))));
    expect(store.reads).toBe(1);
  });

  it('answers the last names known while the store fails, and reads again on the next heartbeat', async () => {
    const store = new CountingStore();
    const cache = new SubjectNamesCache();
    await store.insert(ROUNDTRIP, SUBJECT_KEY, { userId: 'u1', names: ['rttest'], updatedAt: at(0).toISOString() });
    expect(await cache.get(store, at(0))).toEqual(['rttest']);
    store.failing = true;
    expect(await cache.get(store, at(60))).toEqual(['rttest']);
    expect(await cache.get(store, at(61))).toEqual(['rttest']);
    expect(store.reads).toBe(3);
    store.failing = false;
    expect(await cache.get(store, at(62))).toEqual(['rttest']);
    expect(store.reads).toBe(4);
  });
});

describe('usableNames', () => {
  it('keeps non-empty strings of at most 256 characters, trimmed, once each whatever their case, at most 10', () => {
    expect(usableNames([' rttest ', 'RTTEST', '', 42, null, 'x'.repeat(257), 'y'.repeat(256), 'rt-test@contoso.com'])).toEqual(['rttest', 'y'.repeat(256), 'rt-test@contoso.com']);
    expect(usableNames(Array.from({ length: 12 }, (_, i) => `user${i}`))).toHaveLength(10);
    expect(usableNames('rttest')).toEqual([]);
    expect(usableNames(undefined)).toEqual([]);
  });
});
