/** Building valid, signed heartbeat requests for tests. */
import type { Heartbeat } from '../../src/heartbeat/schema.js';
import { sign } from '../../src/heartbeat/verify.js';

export const SECRET_A = 'a'.repeat(24) + '-relay-a-secret-0123456789';
export const SECRET_B = 'b'.repeat(24) + '-relay-b-secret-0123456789';
export const RELAYS_JSON = JSON.stringify({
  'relay-a': { secret: SECRET_A, periodSeconds: 300, graceSeconds: 120 },
  'relay-b': { secret: SECRET_B },
});

export function heartbeat(sequence: number, overrides: Partial<Heartbeat> = {}): Heartbeat {
  return {
    version: 1,
    relayId: 'relay-a',
    sequence,
    sentAt: '2026-03-01T10:00:00.000Z',
    host: 'connect01.corp.example',
    agentVersion: '0.1.0',
    results: [
      {
        target: 'https://passwordreset.microsoftonline.com/',
        ok: true,
        startedAt: '2026-03-01T09:59:59.000Z',
        warnings: [],
        timings: { dns: 3, tcp: 10, tls: 20, ttfb: 40, total: 80 },
        proxy: null,
        http: { status: 200 },
      },
    ],
    ...overrides,
  };
}

export interface SignedRequest {
  headers: Record<string, string>;
  body: Buffer;
}

export function signed(
  body: string | Buffer,
  options: { relayId?: string; secret?: string; timestamp?: number; contentType?: string } = {},
): SignedRequest {
  const raw = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  return {
    body: raw,
    headers: {
      'content-type': options.contentType ?? 'application/json',
      'x-wbmon-relay': options.relayId ?? 'relay-a',
      'x-wbmon-timestamp': timestamp,
      'x-wbmon-signature': sign(options.secret ?? SECRET_A, timestamp, raw),
    },
  };
}
