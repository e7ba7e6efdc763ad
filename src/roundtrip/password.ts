/**
 * The round trip's password: random, 24 characters, at least four of each of Entra ID's four
 * character classes (Entra asks 8 to 256 characters and three of the four; AD's "Passwords must
 * meet complexity requirements" asks three of the four, at least the domain's minimum length,
 * usually 7 to 14, and no part of the account name, which 24 random characters from these sets
 * will not contain except by a chance too small to matter). The symbols are ones that no shell,
 * JSON, XML or LDAP layer on the way treats specially.
 *
 * It lives in a Buffer, never in a string: a string cannot be wiped and may be interned or
 * copied by the engine, a Buffer is overwritten with zeros as soon as the request is sent
 * (see `wipe`). It is never logged, stored, or sent anywhere but the one Graph request.
 */
import { randomInt } from 'node:crypto';

export const PASSWORD_LENGTH = 24;
const CLASSES = ['ABCDEFGHJKLMNPQRSTUVWXYZ', 'abcdefghijkmnopqrstuvwxyz', '23456789', '!#%+-.:=?@_~'] as const;
const EACH = 4;

/** ASCII bytes of a fresh password; the caller wipes it. `random` is injectable for tests. */
export function generatePassword(random: (max: number) => number = randomInt): Buffer {
  const out = Buffer.alloc(PASSWORD_LENGTH);
  const all = CLASSES.join('');
  let i = 0;
  for (const chars of CLASSES) for (let n = 0; n < EACH; n++) out[i++] = chars.charCodeAt(random(chars.length));
  while (i < PASSWORD_LENGTH) out[i++] = all.charCodeAt(random(all.length));
  // Fisher-Yates, so the classes are not in a fixed order.
  for (let j = out.length - 1; j > 0; j--) {
    const k = random(j + 1);
    const t = out[j]!;
    out[j] = out[k]!;
    out[k] = t;
  }
  return out;
}

/** The JSON body `{"newPassword":"..."}` as bytes: no character of the sets needs escaping. */
export function resetBody(password: Buffer): Buffer {
  return Buffer.concat([Buffer.from('{"newPassword":"'), password, Buffer.from('"}')]);
}

export function wipe(...buffers: Buffer[]): void {
  for (const b of buffers) b.fill(0);
}
