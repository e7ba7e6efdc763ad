/** verifyHeartbeat alone: pure, with a fixed clock and the relay table from the test support. */
import { describe, expect, it } from 'vitest';
import { parseRelays } from '../src/config/relays.js';
import { sign, verifyHeartbeat, type HeartbeatRequest, type Signer } from '../src/heartbeat/verify.js';
import { heartbeat, RELAYS_JSON, SECRET_A, SECRET_B, signed, type SignedRequest } from './support/heartbeats.js';

const NOW = new Date('2026-03-01T10:00:00Z');
const NOW_S = NOW.getTime() / 1000;
const { relays } = parseRelays(RELAYS_JSON);

function asRequest({ headers, body }: SignedRequest): HeartbeatRequest {
  return { header: (name) => headers[name.toLowerCase()], body };
}

/** A signer that records each call and signs as the real one does. */
function recordingSigner(): { signer: Signer; calls: { secret: string; timestamp: string; body: string }[] } {
  const calls: { secret: string; timestamp: string; body: string }[] = [];
  const signer: Signer = (secret, timestamp, body) => {
    calls.push({ secret, timestamp, body: Buffer.from(body).toString() });
    return sign(secret, timestamp, body);
  };
  return { signer, calls };
}

describe('the sequence limit', () => {
  const limit = NOW.getTime() + 360_000;

  it('accepts a sequence of exactly the server clock in milliseconds + 360 s and refuses one more with 400 and details path "sequence"', () => {
    const atLimit = verifyHeartbeat(asRequest(signed(JSON.stringify(heartbeat(limit)), { timestamp: NOW_S })), relays, NOW);
    expect(atLimit).toMatchObject({ ok: true, relayId: 'relay-a', heartbeat: { sequence: limit } });
    const verified = verifyHeartbeat(asRequest(signed(JSON.stringify(heartbeat(limit + 1)), { timestamp: NOW_S })), relays, NOW);
    expect(verified).toEqual({
      ok: false,
      rejection: {
        status: 400,
        error: 'heartbeat sequence is too far ahead of the server clock',
        details: [{ path: 'sequence', message: `must be at most ${limit} (the server clock in unix milliseconds + 360 s)` }],
      },
    });
  });

  it('refuses the largest safe integer, which would otherwise lock the relay out for good, with 400', () => {
    const verified = verifyHeartbeat(asRequest(signed(JSON.stringify(heartbeat(Number.MAX_SAFE_INTEGER)), { timestamp: NOW_S })), relays, NOW);
    expect(verified.ok ? undefined : verified.rejection.status).toBe(400);
    expect(verified.ok ? undefined : verified.rejection.details).toEqual([
      { path: 'sequence', message: `must be at most ${limit} (the server clock in unix milliseconds + 360 s)` },
    ]);
  });
});

describe('authentication of unknown relay ids', () => {
  const body = JSON.stringify(heartbeat(1000));

  it('computes the HMAC over the body for an unknown id, as for a known one, with a stand-in secret that is no relay secret', () => {
    const { signer, calls } = recordingSigner();
    const unknown = verifyHeartbeat(asRequest(signed(body, { relayId: 'relay-x', timestamp: NOW_S })), relays, NOW, signer);
    expect(unknown.ok ? undefined : unknown.rejection.reason).toBe('unknown relay');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ timestamp: String(NOW_S), body });
    expect(calls[0]!.secret).toMatch(/^[0-9a-f]{64}$/);
    expect([SECRET_A, SECRET_B]).not.toContain(calls[0]!.secret);
  });

  it('uses the same stand-in secret for every unknown id in one process', () => {
    const { signer, calls } = recordingSigner();
    verifyHeartbeat(asRequest(signed(body, { relayId: 'relay-x', timestamp: NOW_S })), relays, NOW, signer);
    verifyHeartbeat(asRequest(signed(body, { relayId: 'relay-y', timestamp: NOW_S })), relays, NOW, signer);
    expect(calls).toHaveLength(2);
    expect(calls[1]!.secret).toBe(calls[0]!.secret);
  });

  it('computes the HMAC once also when the timestamp is missing or outside the window, for known and unknown ids alike', () => {
    const { signer, calls } = recordingSigner();
    const cases: [string, SignedRequest][] = [
      ['relay-a', signed(body, { timestamp: NOW_S - 301 })],
      ['relay-x', signed(body, { relayId: 'relay-x', timestamp: NOW_S - 301 })],
      ['relay-a', { ...signed(body), headers: { ...signed(body).headers, 'x-wbmon-timestamp': 'soon' } }],
      ['relay-x', { ...signed(body), headers: { ...signed(body, { relayId: 'relay-x' }).headers, 'x-wbmon-timestamp': 'soon' } }],
    ];
    const reasons = cases.map(([, request]) => {
      const verified = verifyHeartbeat(asRequest(request), relays, NOW, signer);
      return verified.ok ? undefined : verified.rejection.reason;
    });
    expect(reasons).toEqual([
      'timestamp 301 s away from the server clock',
      'unknown relay',
      'timestamp header missing or not unix seconds',
      'unknown relay',
    ]);
    expect(calls.map((c) => [c.secret === SECRET_A ? 'relay-a secret' : 'stand-in', c.timestamp])).toEqual([
      ['relay-a secret', String(NOW_S - 301)],
      ['stand-in', String(NOW_S - 301)],
      ['relay-a secret', 'soon'],
      ['stand-in', 'soon'],
    ]);
  });
});
