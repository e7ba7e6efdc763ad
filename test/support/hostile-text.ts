/** Text a relay (or an older relay's stored data) could carry to forge or disguise what people read. */
import type { AlertEvent } from '../../src/alerting/event.js';

/** A forged log line after CR/LF, terminal escapes (erase line, column 1, hidden), a bidi override and C1 NEL. */
export const FORGED = '\r\n2026-12-01T00:00:00Z alert resolved: everything is fine\u001b[2K\u001b[1G\u001b[8m\u202e\u0085';
export const FORGED_ESCAPED = '\\r\\n2026-12-01T00:00:00Z alert resolved: everything is fine\\x1b[2K\\x1b[1G\\x1b[8m\\u202e\\x85';

/** Every code point a log line, title or shown text must not carry as it is. */
export const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/u;
/** The same in JSON text, where C0 and DEL may also appear as escapes. */
export const UNSAFE_IN_JSON = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]|\\[bfnrt]|\\u00[01][0-9a-f]|\\u007f/iu;

/** A triggered relay-probe alert whose every relay-supplied text carries FORGED and more. */
export const HOSTILE_EVENT: AlertEvent = {
  id: `relay:connect01:https://sb.example/${FORGED}|triggered|2026-03-01T10:00:00.000Z`,
  kind: 'triggered',
  checkId: `relay:connect01:https://sb.example/${FORGED}`,
  checkKind: 'relay-probe',
  target: `https://sb.example/${FORGED}\u2066\u200b`,
  location: `connect01\u2067\u061c`,
  state: 'down',
  since: '2026-03-01T10:00:00.000Z',
  at: '2026-03-01T10:02:00.000Z',
  failure: { code: `tcp_timeout${FORGED}`, phase: 'tcp\u200f', message: `no answer${FORGED}\ufeff\u2028\u2029\u007f\u0000` },
  remediation: { summary: `Open 443${FORGED}`, steps: [`Test it${FORGED}`] },
};
