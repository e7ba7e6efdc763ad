/**
 * Writes to one partition kept under a rate: on a fake clock, how long each write waits; and
 * TableStore spacing its own writes (Azurite).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../src/local/azurite.js';
import { PartitionPacer } from '../src/store/pacer.js';
import { TableStore } from '../src/store/table-store.js';

describe('PartitionPacer', () => {
  it('lets writes under the rate go at once and makes a burst wait its turn, partition by partition', () => {
    let now = 1000;
    const pacer = new PartitionPacer(1000, () => now); // one entity a millisecond
    expect(pacer.reserve('checks', 1)).toBe(0);
    now += 5;
    expect(pacer.reserve('checks', 1)).toBe(0); // 5 ms later: well under the rate
    expect(pacer.reserve('checks', 4)).toBe(1); // the previous entity's millisecond is not over
    expect(pacer.reserve('checks', 1)).toBe(5); // behind the batch of four
    expect(pacer.reserve('relays', 1)).toBe(0); // another partition is not held up
    now += 100;
    expect(pacer.reserve('checks', 100)).toBe(0); // quiet again: a whole batch goes at once
    expect(pacer.reserve('checks', 1)).toBe(100);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new PartitionPacer(0)).toThrow(RangeError);
  });
});

describe('TableStore on Azurite', () => {
  let azurite: RunningAzurite;
  beforeAll(async () => {
    azurite = await startAzurite({});
  });
  afterAll(() => azurite.close());

  it('spaces writes to one partition to its rate: a write after a batch of 100 at 1,000/s goes 100 ms after it', async () => {
    const store = TableStore.fromConnectionString(azurite.connectionString, { tableName: `paced${Date.now().toString(36)}`, partitionWritesPerSecond: 1000 });
    await store.ready();
    const t0 = performance.now();
    await store.batch('c', Array.from({ length: 100 }, (_, i) => ({ op: 'insert' as const, key: `k${i}`, value: { i } })));
    await store.insert('c', 'after', {}); // sent once the batch's 100 ms are over
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
    const t1 = performance.now();
    await store.insert('other', 'k', {}); // its own partition: no wait for the batch
    expect(performance.now() - t1).toBeLessThan(80);
  });
});
