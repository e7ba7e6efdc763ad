/**
 * Everything about a heartbeat request that can be decided without the store, in the order
 * the design fixes: size, content type, known relay, timestamp window, signature, JSON,
 * schema. Pure: the clock and the relay table are passed in. The replay check needs the
 * store and happens in ingest.ts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RelayMap } from '../config/relays.js';
import { heartbeatSchema, type Heartbeat } from './schema.js';

export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_CLOCK_SKEW_SECONDS = 300;

export interface HeartbeatRequest {
  /** Header lookup, case-insensitive. */
  header(name: string): string | undefined;
  /** The raw body bytes; the signature covers exactly these. */
  readonly body: Uint8Array;
}

export interface Rejection {
  readonly status: 400 | 401 | 409 | 413 | 415;
  readonly error: string;
  readonly details?: { path: string; message: string }[];
  /** For the monitor's own log, never the response: why authentication failed. */
  readonly reason?: string;
}

export type Verified = { ok: true; relayId: string; heartbeat: Heartbeat } | { ok: false; rejection: Rejection };

const reject = (status: Rejection['status'], error: string, details?: Rejection['details']): Verified => ({
  ok: false,
  rejection: { status, error, ...(details && { details }) },
});

/** The signature a relay sends: `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. */
export function sign(secret: string, timestamp: string, body: Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

export function verifyHeartbeat(request: HeartbeatRequest, relays: RelayMap, now: Date): Verified {
  if (request.body.byteLength > MAX_BODY_BYTES) return reject(413, `body larger than ${MAX_BODY_BYTES} bytes`);

  const contentType = request.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/json') return reject(415, 'content type must be application/json');

  // One answer for every authentication failure, so a caller cannot probe which relay ids exist.
  // The precise reason goes to the monitor's log only (see Rejection.reason).
  const unauthorized = (reason: string): Verified => ({
    ok: false,
    rejection: { status: 401, error: 'unauthorized: unknown relay, bad signature, or timestamp outside 300 s of the server clock', reason },
  });
  const relayId = request.header('x-wbmon-relay') ?? '';
  const relay = relays.get(relayId);
  if (!relay) return unauthorized('unknown relay');

  const timestamp = request.header('x-wbmon-timestamp') ?? '';
  if (!/^\d{1,12}$/.test(timestamp)) return unauthorized('timestamp header missing or not unix seconds');
  const skew = now.getTime() / 1000 - Number(timestamp);
  if (Math.abs(skew) > MAX_CLOCK_SKEW_SECONDS) return unauthorized(`timestamp ${Math.round(skew)} s away from the server clock`);

  const given = Buffer.from(request.header('x-wbmon-signature') ?? '');
  const expected = Buffer.from(sign(relay.secret, timestamp, request.body));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return unauthorized('signature does not match');

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(request.body));
  } catch {
    return reject(400, 'body is not valid JSON (UTF-8)');
  }

  const parsed = heartbeatSchema.safeParse(json);
  if (!parsed.success) {
    return reject(
      400,
      'heartbeat does not match schema version 1',
      parsed.error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message })),
    );
  }
  if (parsed.data.relayId !== relayId) {
    return reject(400, 'heartbeat does not match schema version 1', [{ path: 'relayId', message: 'must equal the X-Wbmon-Relay header' }]);
  }
  return { ok: true, relayId, heartbeat: parsed.data };
}
