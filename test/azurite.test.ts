/** The embedded Azurite's account key, against a real in-process Azurite. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ACCOUNT, startAzurite, WELL_KNOWN_KEY, type RunningAzurite } from '../src/local/azurite.js';
import { listTablesStatus } from './support/tables.js';

const running: RunningAzurite[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(running.splice(0).map((a) => a.close()));
});

const listWith = (port: number, key: string) => listTablesStatus(port, ACCOUNT, key);
const keyOf = (azurite: RunningAzurite) => /AccountKey=([^;]+);/.exec(azurite.connectionString)![1]!;

describe('the embedded Azurite', () => {
  it("refuses Azurite's well-known key with 403 and accepts only the random key of its connection string", async () => {
    const azurite = await startAzurite();
    running.push(azurite);
    const key = keyOf(azurite);
    expect(key).not.toBe(WELL_KNOWN_KEY);
    expect(Buffer.from(key, 'base64')).toHaveLength(64);
    expect(await listWith(azurite.port, WELL_KNOWN_KEY)).toBe(403);
    expect(await listWith(azurite.port, key)).toBe(200);
  });

  it('takes a different key each run', async () => {
    const [a, b] = await Promise.all([startAzurite(), startAzurite()]);
    running.push(a!, b!);
    expect(keyOf(a!)).not.toBe(keyOf(b!));
    expect(await listWith(a!.port, keyOf(b!))).toBe(403);
  });

  it("keeps its key through Azurite's minute-by-minute account refresh, whatever AZURITE_ACCOUNTS says", async () => {
    const before = process.env.AZURITE_ACCOUNTS;
    process.env.AZURITE_ACCOUNTS = `${ACCOUNT}:${WELL_KNOWN_KEY}`;
    try {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      const azurite = await startAzurite();
      running.push(azurite);
      vi.advanceTimersByTime(61_000);
      vi.useRealTimers();
      expect(await listWith(azurite.port, WELL_KNOWN_KEY)).toBe(403);
      expect(await listWith(azurite.port, keyOf(azurite))).toBe(200);
    } finally {
      if (before === undefined) delete process.env.AZURITE_ACCOUNTS;
      else process.env.AZURITE_ACCOUNTS = before;
    }
  });

  it('accepts the well-known key when asked to (UseDevelopmentStorage=true)', async () => {
    const azurite = await startAzurite({ wellKnownKey: true });
    running.push(azurite);
    expect(keyOf(azurite)).toBe(WELL_KNOWN_KEY);
    expect(await listWith(azurite.port, WELL_KNOWN_KEY)).toBe(200);
  });
});
