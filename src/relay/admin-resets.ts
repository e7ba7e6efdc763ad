/**
 * The round trip's evidence in Connect's log: the PasswordResetService events of an
 * administrator's reset (31009 ResetUserPasswordByAdminStart, 31010
 * ResetUserPasswordByAdminSuccess, 31011 ResetUserPasswordByAdminFail) that name one of the
 * users the monitor asked about.
 *
 * The match happens here, on the Connect server, because names never leave it unmasked: the
 * monitor sends the test user's names (its heartbeat answer's roundtrip.users) and gets back
 * only the name it gave, never one the log holds. Any other user's events are not reported
 * here (they stay in `notices`, masked, as before). Pure.
 */
import { maskNames, maskUser } from '../checks/mask.js';
import { ADMIN_RESET_EVENTS, type AdminReset, type AdminResetEventId } from '../heartbeat/schema.js';

export interface AdminResetSource {
  readonly provider: string;
  readonly eventId: number;
  readonly time: string;
  /** The event's text as logged, users unmasked. */
  readonly message: string;
}

export const MAX_ADMIN_RESETS = 10;
export const EXCERPT_CHARS = 300;

const PASSWORD_RESET_SERVICE = /^PasswordResetService$/i;
const isAdminResetEvent = (id: number): id is AdminResetEventId => (ADMIN_RESET_EVENTS as readonly number[]).includes(id);

// What may stand next to a name inside a longer one: `bob` is not in `bobby`, `bob.old`,
// `jbob@x`, `bob@contoso.com` (a UPN is another name: list it when it is the user's). A
// backslash is a boundary, so `bob` is found in `CONTOSO\bob`; a dot ending a sentence is too.
const BEFORE = String.raw`(?<![\p{L}\p{N}_.@$-])`;
const AFTER = String.raw`(?![\p{L}\p{N}_@$-]|\.[\p{L}\p{N}_-])`;
const escape = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');

/** A whole-name, case-insensitive matcher of `name`. */
export function nameMatcher(name: string, flags = 'iu'): RegExp {
  return new RegExp(`${BEFORE}${escape(name)}${AFTER}`, flags);
}

/** The event's text with the given names, then every other name, masked; cut to EXCERPT_CHARS. */
function excerptOf(message: string, users: readonly string[]): string {
  let text = message;
  for (const user of users) text = text.replace(nameMatcher(user, 'giu'), maskUser(user));
  const cut = maskNames(text).slice(0, EXCERPT_CHARS);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/**
 * The admin resets of `users` among `events`, newest first, at most MAX_ADMIN_RESETS; each
 * with the first of `users` (in the monitor's order) its text names, and for a 31011 the
 * masked excerpt that tells a password policy refusal from another.
 */
export function findAdminResets(events: readonly AdminResetSource[], users: readonly string[]): AdminReset[] {
  const matchers = users.map((user) => ({ user, re: nameMatcher(user) }));
  const found: AdminReset[] = [];
  for (const e of events) {
    if (!PASSWORD_RESET_SERVICE.test(e.provider) || !isAdminResetEvent(e.eventId)) continue;
    const hit = matchers.find(({ re }) => re.test(e.message));
    if (!hit) continue;
    found.push({ eventId: e.eventId, time: e.time, user: hit.user, ...(e.eventId === 31011 && { excerpt: excerptOf(e.message, users) }) });
  }
  return found.sort((a, b) => Date.parse(b.time) - Date.parse(a.time)).slice(0, MAX_ADMIN_RESETS);
}
