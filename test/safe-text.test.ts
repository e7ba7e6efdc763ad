/** What logs and readers get of text from outside: src/text/safe-text.ts. */
import { describe, expect, it } from 'vitest';
import { escapeControls, safeLog, stripControls, stripControlsDeep } from '../src/text/safe-text.js';
import { FORGED, FORGED_ESCAPED } from './support/hostile-text.js';

describe('escapeControls, for logs', () => {
  it('turns CR/LF, ESC, C1 and a bidi override into visible escapes, so a forged line stays on the line it came in', () => {
    expect(escapeControls(`relay said:${FORGED}`)).toBe(`relay said:${FORGED_ESCAPED}`);
  });

  it('escapes TAB, NUL, DEL, U+061C, zero-width and isolate characters, U+FEFF, U+2028/U+2029, a tag character and a lone surrogate', () => {
    expect(escapeControls('a\tb\u0000\u007f\u061c\u200b\u200f\u2066\u2069\ufeff\u2028\u2029\u{e0041}\ud800z')).toBe(
      'a\\tb\\x00\\x7f\\u061c\\u200b\\u200f\\u2066\\u2069\\ufeff\\u2028\\u2029\\u{e0041}\\ud800z',
    );
  });

  it('leaves ordinary text, accents, CJK and emoji as they are, and is idempotent', () => {
    expect(escapeControls('Müller 東京 🙂 C:\\path')).toBe('Müller 東京 🙂 C:\\path');
    expect(escapeControls(escapeControls(FORGED))).toBe(FORGED_ESCAPED);
  });
});

describe('stripControls, for what people read', () => {
  it('joins line breaks into one space and removes terminal sequences, C1, bidi and zero-width characters', () => {
    expect(stripControls(`no answer${FORGED}`)).toBe('no answer 2026-12-01T00:00:00Z alert resolved: everything is fine ');
    expect(stripControls('a\r\u200b\nb\u001b]0;title\u0007c')).toBe('a bc');
  });

  it('keeps the text of an OSC sequence that never ends, removing only its ESC', () => {
    expect(stripControls('a\u001b]0;b c')).toBe('a]0;b c');
  });

  it('strips every string of a JSON value, keys included, and leaves numbers, booleans and null', () => {
    expect(stripControlsDeep({ 'k\u202e': ['x\u001b[2Ky', 1, true, null, { m: 'a\r\nb' }] })).toEqual({ k: ['xy', 1, true, null, { m: 'a b' }] });
  });
});

describe('safeLog', () => {
  it('gives the sink one escaped line per call', () => {
    const lines: string[] = [];
    const log = safeLog((line) => lines.push(line));
    log(`alert triggered: x${FORGED}`);
    log('plain');
    expect(lines).toEqual([`alert triggered: x${FORGED_ESCAPED}`, 'plain']);
  });
});
