/**
 * Text from check ids and targets made fit for public renderers (badges, Prometheus labels):
 * never a URL's user, password, query or fragment. Settings refuse credentials in configured
 * targets, but check ids embed targets that relays report (`relay:<id>:<target>`), and a SAS
 * token or signed link in a query string is a secret too.
 */
import { stripControls } from '../text/safe-text.js';

/**
 * Where a URL's authority begins, as URL parsers read it: `scheme://`, with backslashes taken
 * for slashes, and for the special schemes also with fewer or no slashes (`https:u:p@host` is
 * `https://u:p@host/` to WHATWG URL).
 */
const AUTHORITY_START = String.raw`(?:\b(?:https?|wss?|ftp):[/\\]*|[a-z][a-z0-9+.-]*:[/\\]{2})`;
const SCHEME = new RegExp(AUTHORITY_START, 'i');
/** Then everything up to the last `@` before the authority ends: the userinfo. */
const USERINFO = new RegExp(String.raw`(${AUTHORITY_START})[^/?#\\]*@`, 'gi');

/**
 * Every URL in the text loses its userinfo, and everything from the first `?` or `#` after the
 * first `scheme://` to the end goes: ids end with their target, and cutting to the end (rather
 * than to the next space) leaves nothing of a query that held a line break. Text without a URL
 * is kept as it is (check ids like `heartbeat:connect01`).
 */
export function withoutUrlSecrets(text: string): string {
  const first = text.search(SCHEME);
  if (first < 0) return text;
  let out = text;
  const query = out.slice(first).search(/[?#]/);
  if (query >= 0) out = out.slice(0, first + query);
  // Repeated until stable: a userinfo can hide another `scheme://` (`https://a@https://b:c@h/`).
  for (let previous = ''; previous !== out; ) {
    previous = out;
    out = out.replace(USERINFO, '$1');
  }
  return out;
}

/**
 * A target or host: as withoutUrlSecrets, and one written without a scheme
 * (`user:pass@host:3128/x?q`, `dc01.contoso.local:389`) loses its userinfo and query too.
 */
export function targetWithoutSecrets(text: string): string {
  if (SCHEME.test(text)) return withoutUrlSecrets(text);
  const bare = text.replace(/[?#][\s\S]*$/, '');
  const slash = bare.search(/[/\\]/);
  const authority = slash < 0 ? bare : bare.slice(0, slash);
  const at = authority.lastIndexOf('@');
  return at < 0 ? bare : bare.slice(at + 1);
}

/**
 * What a renderer may show of an id, target or location: no URL secrets (`target`: nor those of
 * a target without a scheme), no control, bidi or zero-width characters, no XML non-characters,
 * at most `maxChars` code points (longer text ends in `…`).
 */
export function displayText(text: string, maxChars: number, kind: 'id' | 'target' = 'id'): string {
  // Controls go first: a zero-width character inside `https://` would hide the URL from
  // redaction, then vanish and leave it whole.
  const plain = stripControls(text).replace(/[\ufffe\uffff]/g, '');
  const clean = kind === 'target' ? targetWithoutSecrets(plain) : withoutUrlSecrets(plain);
  const points = Array.from(clean);
  return points.length <= maxChars ? clean : `${points.slice(0, Math.max(0, maxChars - 1)).join('')}…`;
}
