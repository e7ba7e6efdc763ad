/**
 * Text from outside (a relay's heartbeat, an event log, an HTTP header) made safe to show.
 *
 * Relays are only half trusted, and unauthenticated clients can send headers: a CR/LF in their
 * text forges whole log lines ("alert resolved: everything is fine"), ESC sequences rewrite or
 * hide what a terminal shows, and bidi and zero-width characters make text read differently
 * from what it is. The characters: every control (C0 with TAB, CR, LF and ESC; DEL; C1), every
 * format character (bidi embeddings, overrides and isolates, zero-width characters, U+061C,
 * U+FEFF, tag characters), the line and paragraph separators U+2028/U+2029, and lone surrogates.
 *
 * - escapeControls: for logs, where an operator must see that something odd was sent: each one
 *   becomes a visible escape (`\n`, `\x1b`, `\u202e`), so a line stays one line.
 * - stripControls: for what people read (alert titles, subjects, cards, /api/status): a run of
 *   line breaks and tabs becomes one space, terminal escape sequences and the other characters are removed.
 *
 * Backslashes are kept as they are, so both are idempotent: a sink may safely apply them to text
 * that was made safe already.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
/**
 * ESC or C1 CSI, parameters, intermediates, final byte; and a terminated OSC (ESC ] ... BEL/ST).
 * An unterminated OSC keeps its text: only its ESC goes, rather than everything after it.
 */
const TERMINAL_SEQUENCE = /(?:\u001b\[|\u009b)[0-?]*[ -/]*[@-~]|(?:\u001b\]|\u009d)[^\u0007\u001b\u009c]*(?:\u0007|\u001b\\|\u009c)/g;
const WHITESPACE_CONTROL = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;
const UNSAFE_NOT_WHITESPACE = /(?![\t\n\v\f\r\u0085\u2028\u2029])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.codePointAt(0)!;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

/** One line for a log: every unsafe character as a visible escape. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, escapeOne);
}

/** Text for people to read: line breaks and tabs as spaces, everything else unsafe removed. */
export function stripControls(text: string): string {
  // Removed before the breaks are joined, so "a\r\u200b\n" is one break, one space.
  return text.replace(TERMINAL_SEQUENCE, '').replace(UNSAFE_NOT_WHITESPACE, '').replace(WHITESPACE_CONTROL, ' ');
}

/** stripControls over every string of a JSON value (plain objects, arrays, keys included): API bodies, payloads. */
export function stripControlsDeep<T>(value: T): T {
  return strip(value) as T;
}

function strip(value: unknown): unknown {
  if (typeof value === 'string') return stripControls(value);
  if (Array.isArray(value)) return value.map(strip);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [stripControls(k), strip(v)]));
  }
  return value;
}

/** A log sink that can only receive safe lines: wrap every sink once, where it is made. */
export function safeLog(sink: (line: string) => void): (line: string) => void {
  return (line) => sink(escapeControls(line));
}
