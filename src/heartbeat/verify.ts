/**
 * Everything about a heartbeat request that can be decided without the store, in the order
 * the design fixes: size, content type, known relay, timestamp window, signature, JSON,
 * schema (including the sequence limit). Pure: the clock and the relay table are passed in.
 * The replay check needs the store and happens in ingest.ts.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RelayMap } from '../config/relays.js';
import { heartbeatSchema, type Heartbeat } from './schema.js';

export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_CLOCK_SKEW_SECONDS = 300;

/**
 * How far a sequence number may run ahead of the server clock, in milliseconds. A relay's next
 * number is max(last + 1, its clock in ms) (src/relay/sequence.ts), and its clock may be up to
 * MAX_CLOCK_SKEW_SECONDS ahead of ours, or its timestamps would be refused anyway; the extra
 * 60 s absorbs the time between numbering a heartbeat and signing it. Without a limit, one
 * heartbeat numbered 2^53 - 1 is stored and every later one is refused as a replay: the relay
 * is locked out for good. With it, a number accepted now can hold back a relay whose numbers
 * restart from its clock (a reinstall) for at most these 360 s.
 */
export const MAX_SEQUENCE_LEAD_MS = (MAX_CLOCK_SKEW_SECONDS + 60) * 1000;

/** The highest sequence number accepted at `now`. */
export function sequenceLimit(now: Date): number {
  return now.getTime() + MAX_SEQUENCE_LEAD_MS;
}

/**
 * Signs for relay ids that do not exist, so that refusing one costs the same HMAC and
 * comparison as refusing a bad signature: otherwise the faster 401 tells which ids exist.
 * Random per process and 64 characters, like a relay secret from `openssl rand -hex 32`
 * (HMAC hashes keys longer than 64 bytes first, which would cost a little more).
 */
const UNKNOWN_RELAY_SECRET = randomBytes(32).toString('hex');

/** The signing function; a parameter of verifyHeartbeat so tests can see it is called. */
export type Signer = (secret: string, timestamp: string, body: Uint8Array) => string;
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

export function verifyHeartbeat(request: HeartbeatRequest, relays: RelayMap, now: Date, signer: Signer = sign): Verified {
  if (request.body.byteLength > MAX_BODY_BYTES) return reject(413, `body larger than ${MAX_BODY_BYTES} bytes`);

  const contentType = request.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/json') return reject(415, 'content type must be application/json');

  // One answer for every authentication failure, so a caller cannot probe which relay ids exist.
  // The precise reason goes to the monitor's log only (see Rejection.reason).
  const unauthorized = (reason: string): Verified => ({
    ok: false,
    rejection: { status: 401, error: 'unauthorized: unknown relay, bad signature, or timestamp outside 300 s of the server clock', reason },
  });
  // The same work whatever is wrong: parse the timestamp, compute the HMAC (with a stand-in
  // secret for an unknown id) and compare, and only then decide. Returning early for an
  // unknown id made its 401 measurably faster (70-120 µs), which told which ids exist.
  const relayId = request.header('x-wbmon-relay') ?? '';
  const relay = relays.get(relayId);
  const timestamp = request.header('x-wbmon-timestamp') ?? '';
  const wellFormed = /^\d{1,12}$/.test(timestamp);
  const skew = now.getTime() / 1000 - Number(timestamp);
  const given = Buffer.from(request.header('x-wbmon-signature') ?? '');
  const expected = Buffer.from(signer(relay?.secret ?? UNKNOWN_RELAY_SECRET, timestamp, request.body));
  const matches = given.length === expected.length && timingSafeEqual(given, expected);

  if (!relay) return unauthorized('unknown relay');
  if (!wellFormed) return unauthorized('timestamp header missing or not unix seconds');
  if (Math.abs(skew) > MAX_CLOCK_SKEW_SECONDS) return unauthorized(`timestamp ${Math.round(skew)} s away from the server clock`);
  if (!matches) return unauthorized('signature does not match');

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
  const limit = sequenceLimit(now);
  if (parsed.data.sequence > limit) {
    return reject(400, 'heartbeat sequence is too far ahead of the server clock', [
      { path: 'sequence', message: `must be at most ${limit} (the server clock in unix milliseconds + ${MAX_SEQUENCE_LEAD_MS / 1000} s)` },
    ]);
  }
  return { ok: true, relayId, heartbeat: parsed.data };
}
