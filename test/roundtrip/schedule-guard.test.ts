/**
 * A WBMON_ROUNDTRIP_SCHEDULE of every minute: serve says at start that most runs will be
 * skipped, and the runs within 15 minutes of the last one do not run (no Graph request, no
 * sign-in), whatever the schedule says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../../src/config/settings.js';
import { serve, type RunningMonitor } from '../../src/local/serve.js';
import type { Clock } from '../../src/local/scheduler.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { roundtripEnv, startRoundtripGraph, type RoundtripGraph } from './roundtrip-graph.js';

let offset = 0;
const clock: Clock = { now: () => new Date(Date.parse('2026-12-02T07:00:30Z') + offset), setTimeout: () => ({ unref: () => undefined }), clearTimeout: () => undefined };
let graph: RoundtripGraph;
let monitor: RunningMonitor;
const logs: string[] = [];

beforeAll(async () => {
  graph = await startRoundtripGraph({});
  // No authority at all: a run that gets as far as signing in fails with roundtrip_reauth (nothing stored).
  const env = roundtripEnv(graph, { url: 'https://127.0.0.1:9', user: { tid: '72f988bf-86f1-41af-91ab-2d7cd011db47' } }, Buffer.alloc(32, 1).toString('base64'), { WBMON_ROUNDTRIP_SCHEDULE: '0 * * * * *' });
  monitor = await serve({ settings: parseSettings(env), port: 0, store: new MemoryStore(), log: (l) => logs.push(l), clock });
  await monitor.firstCycle;
});

afterAll(async () => {
  await monitor?.stop();
  await graph?.close();
});

describe('a round-trip schedule of every minute', () => {
  it('is announced at start as mostly skipped', () => {
    expect(logs).toContain('roundTrip: WBMON_ROUNDTRIP_SCHEDULE "0 * * * * *" fires every 1 minute; the round trip runs at most every 15 minutes, so the runs in between are skipped');
  });

  it('runs once, then skips every minute until 15 minutes have passed', async () => {
    await monitor.run('roundTrip');
    const asked = graph.requests.length;
    expect(asked).toBeGreaterThan(0); // the guard rails read the user
    for (let minute = 1; minute <= 14; minute++) {
      offset = minute * 60_000;
      await monitor.run('roundTrip');
    }
    expect(graph.requests).toHaveLength(asked);
    expect(logs.filter((l) => l.startsWith('roundTrip: round trip: not run: the last round trip began at 2026-12-02T07:00:30.000Z'))).toHaveLength(14);
    offset = 15 * 60_000;
    await monitor.run('roundTrip');
    expect(graph.requests.length).toBeGreaterThan(asked);
  });
});
