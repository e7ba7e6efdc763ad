/**
 * The reset itself, as Microsoft Graph documents it (authenticationMethod: resetPassword,
 * longRunningOperation; checked 2026-12-02):
 *
 *   POST /v1.0/users/{id}/authentication/methods/28c10230-6103-485e-b985-444c60001490/resetPassword
 *   {"newPassword": "..."}  ->  202 Accepted, Location: /users/{id}/authentication/operations/{opId}
 *   GET  Location            ->  {status: notStarted | running | succeeded | failed, statusDetail}
 *
 * The operation is long-running because the password travels to on-prem AD through the
 * writeback service: `succeeded` is the cloud's word that Connect wrote it. Delegated only, so
 * the token is the signed-in administrator's (src/roundtrip/auth.ts).
 *
 * The password never leaves the Buffer it was made in but for the request body, and both are
 * wiped as soon as the POST has an answer.
 */
import { retryAfterMs } from '../alerting/channels/http-post.js';
import { GraphError, graphErrorCode, graphSend, type GraphAnswer } from '../graph/client.js';
import { stripControls } from '../text/safe-text.js';
import { generatePassword, resetBody, wipe } from './password.js';

/** The id of the password authentication method, the same in every tenant. */
export const PASSWORD_METHOD_ID = '28c10230-6103-485e-b985-444c60001490';

export type OperationStatus = 'notStarted' | 'running' | 'succeeded' | 'failed';

export type ResetVerdict =
  | { readonly kind: 'succeeded'; readonly requestedAt: string; readonly finishedAt: string; readonly operationId: string }
  | {
      readonly kind: 'failed';
      readonly requestedAt: string;
      readonly code: ResetFailureCode;
      readonly phase: 'reset' | 'operation';
      readonly message: string;
      /** failed operations only: the statusDetail, quoted as Graph gave it (control characters removed). */
      readonly statusDetail?: string;
    }
  /** Graph could not be asked (throttled past the wait, unreachable): says nothing of writeback. */
  | { readonly kind: 'unknown'; readonly requestedAt: string; readonly message: string };

export type ResetFailureCode =
  | 'roundtrip_failed'
  | 'roundtrip_timeout'
  | 'roundtrip_forbidden'
  | 'roundtrip_password_refused'
  | 'roundtrip_rejected'
  | 'roundtrip_ad_policy';

export interface ResetIo {
  readonly graphUrl: string;
  readonly accessToken: string;
  readonly userId: string;
  readonly now: () => Date;
  readonly sleep: (ms: number) => Promise<void>;
  /** The longest the whole reset may take, polling included. Default 120 000 ms. */
  readonly waitMs?: number;
  readonly timeoutMs?: number;
  /** For tests: the password maker (it must return a fresh Buffer). */
  readonly password?: () => Buffer;
}

const DEFAULT_WAIT_MS = 120_000;
/** Without a Retry-After, polls back off from 1 s to this. */
const MAX_POLL_INTERVAL_MS = 5_000;
/** A Retry-After longer than this is cut to it (the wait as a whole still bounds everything). */
const MAX_RETRY_AFTER_MS = 30_000;
const MAX_THROTTLED_POSTS = 3;

/**
 * Texts of a failed operation that say on-prem AD refused the password by its policy: the round
 * trip reached a domain controller and came back. Microsoft does not document the statusDetail
 * texts (unconfirmed): these follow the writeback event texts (33008 "the password doesn't
 * comply with the on-premises password policy", ADSync 6329 with 0x80230619); any other text is
 * a failure that quotes it.
 */
const AD_POLICY = /0x80230619|password polic|does(?: not|n't) (?:meet|comply)|complexity|minimum password age|password history/i;

export async function resetPassword(io: ResetIo): Promise<ResetVerdict> {
  const start = io.now();
  const requestedAt = start.toISOString();
  const deadline = start.getTime() + (io.waitMs ?? DEFAULT_WAIT_MS);
  const base = new URL(io.graphUrl);
  const url = new URL(`/v1.0/users/${encodeURIComponent(io.userId)}/authentication/methods/${PASSWORD_METHOD_ID}/resetPassword`, base);
  let answer: GraphAnswer;
  for (let attempt = 1; ; attempt++) {
    const posted = await post(url, io);
    if (posted instanceof Error) return { kind: 'unknown', requestedAt, message: posted.message };
    answer = posted;
    if (answer.status !== 429 && answer.status !== 503) break;
    const wait = waitFor(answer, io.now(), attempt);
    if (attempt >= MAX_THROTTLED_POSTS || io.now().getTime() + wait > deadline) {
      return { kind: 'unknown', requestedAt, message: `Microsoft Graph answered HTTP ${answer.status} to the reset ${attempt} times: throttled or unavailable, so nothing was learnt of writeback` };
    }
    await io.sleep(wait);
  }
  if (answer.status !== 202) return refused(answer, requestedAt);
  const location = operationUrl(answer, base);
  if (typeof location === 'string') return { kind: 'failed', requestedAt, code: 'roundtrip_rejected', phase: 'reset', message: location };
  const operationId = decodeURIComponent(location.pathname.split('/').pop() ?? '');
  return poll(location, operationId, answer, deadline, requestedAt, io);
}

/** The POST, with the password wiped as soon as it has an answer (or none). */
async function post(url: URL, io: ResetIo): Promise<GraphAnswer | Error> {
  const password = (io.password ?? generatePassword)();
  const body = resetBody(password);
  try {
    const answer = await graphSend('POST', url, { token: io.accessToken, body, ...(io.timeoutMs && { timeoutMs: io.timeoutMs }) });
    // An answer that quotes the password (no documented one does) must not carry it into a message.
    return Buffer.from(answer.text).includes(password) ? { ...answer, text: '{"error":{"message":"(the answer quoted the password; not shown)"}}' } : answer;
  } catch (err) {
    if (err instanceof GraphError) return err;
    throw err;
  } finally {
    wipe(password, body);
  }
}

async function poll(location: URL, operationId: string, first: GraphAnswer, deadline: number, requestedAt: string, io: ResetIo): Promise<ResetVerdict> {
  let previous = first;
  let status: OperationStatus | 'unknown' = 'notStarted';
  for (let attempt = 1; ; attempt++) {
    const wait = waitFor(previous, io.now(), attempt);
    if (io.now().getTime() + wait > deadline) {
      const waited = Math.round((io.now().getTime() - Date.parse(requestedAt)) / 1000);
      return {
        kind: 'failed',
        requestedAt,
        code: 'roundtrip_timeout',
        phase: 'operation',
        message: `the reset was accepted, but its operation was still ${status} after ${waited} s (operation ${operationId})`,
      };
    }
    await io.sleep(wait);
    let answer: GraphAnswer;
    try {
      answer = await graphSend('GET', location, { token: io.accessToken, ...(io.timeoutMs && { timeoutMs: io.timeoutMs }) });
    } catch (err) {
      // One lost poll is not a verdict: the deadline decides.
      if (err instanceof GraphError) continue;
      throw err;
    }
    previous = answer;
    if (answer.status !== 200) continue;
    const operation = parse(answer.text) as { status?: unknown; statusDetail?: unknown } | undefined;
    status = isStatus(operation?.status) ? operation.status : 'unknown';
    if (status === 'succeeded') return { kind: 'succeeded', requestedAt, finishedAt: io.now().toISOString(), operationId };
    if (status === 'failed') return failedOperation(operation?.statusDetail, operationId, requestedAt);
  }
}

function failedOperation(detail: unknown, operationId: string, requestedAt: string): ResetVerdict {
  const statusDetail = typeof detail === 'string' && detail.trim() ? stripControls(detail).trim().slice(0, 500) : undefined;
  const quoted = statusDetail ? `: "${statusDetail}"` : ' (Graph gave no statusDetail)';
  if (statusDetail && AD_POLICY.test(statusDetail)) {
    return {
      kind: 'failed',
      requestedAt,
      code: 'roundtrip_ad_policy',
      phase: 'operation',
      message: `on-prem Active Directory refused the generated password by its password policy${quoted}: the reset reached a domain controller and came back, so writeback works, but the test user's password policy needs fixing (operation ${operationId})`,
      statusDetail,
    };
  }
  return { kind: 'failed', requestedAt, code: 'roundtrip_failed', phase: 'operation', message: `the password reset failed${quoted} (operation ${operationId})`, ...(statusDetail && { statusDetail }) };
}

function refused(answer: GraphAnswer, requestedAt: string): ResetVerdict {
  const code = graphErrorCode(answer.text);
  const said = graphErrorMessage(answer.text);
  const quoted = `HTTP ${answer.status}${code ? ` ${code}` : ''}${said ? `: "${said}"` : ''}`;
  if (answer.status === 401 || answer.status === 403) {
    return {
      kind: 'failed',
      requestedAt,
      code: 'roundtrip_forbidden',
      phase: 'reset',
      message: `Microsoft Graph refused the reset (${quoted}): the signed-in account needs Authentication Administrator (or Privileged Authentication Administrator) over the test user, and the app the delegated permission UserAuthenticationMethod.ReadWrite.All with consent`,
    };
  }
  if (answer.status === 400) {
    return { kind: 'failed', requestedAt, code: 'roundtrip_password_refused', phase: 'reset', message: `Microsoft Graph refused the reset in the cloud (${quoted}): nothing reached on-prem AD` };
  }
  return { kind: 'failed', requestedAt, code: 'roundtrip_rejected', phase: 'reset', message: `Microsoft Graph did not accept the reset (${quoted})` };
}

/** The operation's address from Location; only on Graph's own origin, where the token may go. */
function operationUrl(answer: GraphAnswer, base: URL): URL | string {
  const header = answer.headers.location;
  const text = Array.isArray(header) ? header[0] : header;
  if (!text) return 'Microsoft Graph answered 202 without a Location: the operation cannot be followed';
  let url: URL;
  try {
    // Graph's reference shows a Location relative to the version: /users/{id}/authentication/operations/{opId}.
    url = new URL(text.startsWith('/users/') ? `/v1.0${text}` : text, base);
  } catch {
    return 'Microsoft Graph answered 202 with a Location that is not an address';
  }
  if (url.origin !== base.origin) return `Microsoft Graph's Location points to another origin (${url.origin}); the token is not sent there`;
  if (!/\/authentication\/operations\/[^/]+$/.test(url.pathname)) return 'Microsoft Graph answered 202 with a Location that is not an authentication operation';
  return url;
}

/** Retry-After as given (capped), else 1 s doubling to MAX_POLL_INTERVAL_MS. */
function waitFor(answer: GraphAnswer, now: Date, attempt: number): number {
  const given = retryAfterMs(answer.headers['retry-after'], now.getTime(), answer.headers.date);
  if (given !== undefined) return Math.min(given, MAX_RETRY_AFTER_MS);
  return Math.min(MAX_POLL_INTERVAL_MS, 1000 * 2 ** (attempt - 1));
}

function isStatus(value: unknown): value is OperationStatus {
  return value === 'notStarted' || value === 'running' || value === 'succeeded' || value === 'failed';
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function graphErrorMessage(text: string): string | undefined {
  const message = (parse(text) as { error?: { message?: unknown } } | undefined)?.error?.message;
  return typeof message === 'string' && message.trim() ? stripControls(message).trim().slice(0, 300) : undefined;
}
