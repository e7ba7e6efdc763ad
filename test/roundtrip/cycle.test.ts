/**
 * The round trip's run as a function of its store, its clock and its two tokens: the pending
 * round trip and what a longer confirmation window does to the next run.
 */
import { describe, expect, it } from 'vitest';
import { parseSettings } from '../../src/config/settings.js';
import { ingestHeartbeat } from '../../src/heartbeat/ingest.js';
import { runRoundtrip, settleRoundtrip } from '../../src/monitor/roundtrip-cycle.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { heartbeat, SECRET_A } from '../support/heartbeats.js';
import { APP_TOKEN, roundtripEnv, startRoundtripGraph } from './roundtrip-graph.js';

const T0 = Date.parse('2026-12-02T07:00:00Z');

describe('a round trip waiting for its confirmation', () => {
  it('holds the next run back while its window (longer than 15 minutes with slow relays) is open, then settles it as unconfirmed and runs', async () => {
    const graph = await startRoundtripGraph({ reset: [{ status: 202, retryAfter: '0' }], pollRetryAfter: '0' });
    try {
      // A relay beating every 15 minutes: the window is 2 × (900 + 120) s, 34 minutes.
      const relays = JSON.stringify({ 'relay-a': { secret: SECRET_A, periodSeconds: 900, graceSeconds: 120 } });
      const settings = parseSettings(roundtripEnv(graph, { url: 'https://127.0.0.1:9', user: { tid: '72f988bf-86f1-41af-91ab-2d7cd011db47' } }, Buffer.alloc(32, 2).toString('base64'), { WBMON_RELAYS: relays }));
      const store = new MemoryStore();
      let now = T0;
      let sequence = 0;
      const beat = async () => {
        const at = new Date(now).toISOString();
        const hb = heartbeat(++sequence, { sentAt: at, results: [], eventLog: { supported: true, checkedAt: at, lastHeartbeatAt: at, heartbeatFresh: true, failures: [], notices: [], relayNamespaces: [], adminResets: [] } });
        await ingestHeartbeat(store, 'relay-a', hb, new Date(now));
      };
      const io = { appToken: APP_TOKEN, userToken: async () => ({ accessToken: 'delegated-1' }), now: () => new Date(now), sleep: async () => undefined };

      await beat();
      const first = await runRoundtrip(settings, store, io);
      expect(first).toMatchObject({ kind: 'pending', windowMinutes: 34, requestedAt: '2026-12-02T07:00:00.000Z' });

      now = T0 + 20 * 60_000;
      await beat();
      expect(await runRoundtrip(settings, store, io)).toEqual({
        kind: 'skipped',
        message: 'the last round trip (operation a3f2e1d0-0000-4000-8000-00000000c0de) still waits for a relay to confirm it, until 2026-12-02T07:34:00.000Z',
      });
      expect(graph.passwords).toHaveLength(1);

      now = T0 + 35 * 60_000;
      await beat();
      const next = await runRoundtrip(settings, store, io);
      expect(next.kind).toBe('pending');
      expect(graph.passwords).toHaveLength(2);
      // The first trip was recorded on the way, once, as accepted but unconfirmed.
      const check = await store.get<any>('checks', 'roundtrip:5f2c1d9e-7b3a-4c8e-9d1f-2a6b8c4e0f13');
      expect(check?.value.lastResult.warnings[0].code).toBe('roundtrip_unconfirmed');
      expect(check?.value.lastResult.startedAt).toBe('2026-12-02T07:00:00.000Z');
      expect(await settleRoundtrip(settings, store, io)).toMatchObject({ kind: 'pending', requestedAt: '2026-12-02T07:35:00.000Z' });
    } finally {
      await graph.close();
    }
  });
});
