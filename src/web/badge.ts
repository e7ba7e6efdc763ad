/**
 * The SVG badge of `/api/badge/<check id>.svg`: the conventional two-part shape (a grey label,
 * a coloured state with the 30-day uptime), the layout of shields.io's "flat" style, written
 * here so the Function App needs no dependency for it.
 *
 * It is pure and self-contained: no script, no external reference, and no element ids, so any
 * number of badges can be inlined in one page without their ids colliding. Every piece of text
 * is made safe (redact.ts: no URL credentials or query, no controls or bidi characters, cut to
 * a fixed length) and then XML-escaped, so a hostile check id stays text.
 */
import { displayText } from './redact.js';

export interface BadgeInput {
  /** What the badge is of: usually the check id (URL secrets in it are removed). */
  readonly label: string;
  /** The state `/api/status` shows: new, up, late, down or paused; anything else shows as unknown. */
  readonly state: string;
  /** Share of successful runs over the last 30 days, 0..1; null or absent when there were none. */
  readonly uptime30d?: number | null;
}

/** Longer labels end in `…`: a badge is read at a glance, and its width must stay bounded. */
export const MAX_LABEL_CHARS = 48;

const COLOURS: Readonly<Record<string, string>> = {
  up: '#4c1',
  late: '#dfb317',
  down: '#e05d44',
  paused: '#007ec6',
  new: '#9f9f9f',
  unknown: '#9f9f9f',
};

export function renderBadge(input: BadgeInput): string {
  const label = displayText(input.label, MAX_LABEL_CHARS) || 'check';
  const state = Object.hasOwn(COLOURS, input.state) ? input.state : 'unknown';
  const uptime = formatUptime(input.uptime30d);
  // A new check has no history worth a number yet.
  const value = uptime !== undefined && state !== 'new' ? `${state} \u00b7 ${uptime}` : state;
  const labelText = textWidth(label);
  const valueText = textWidth(value);
  const left = round1(labelText + 10);
  const right = round1(valueText + 10);
  const width = round1(left + right);
  const title = `${label}: ${value}${uptime !== undefined && state !== 'new' ? ' (30 days)' : ''}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="20" viewBox="0 0 ${width} 20" role="img" aria-label="${xml(title)}">`,
    `<title>${xml(title)}</title>`,
    `<path fill="#555" d="M3 0H${left}V20H3A3 3 0 0 1 0 17V3A3 3 0 0 1 3 0Z"/>`,
    `<path fill="${COLOURS[state]}" d="M${left} 0H${round1(width - 3)}A3 3 0 0 1 ${width} 3V17A3 3 0 0 1 ${round1(width - 3)} 20H${left}Z"/>`,
    `<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`,
    text(label, round1(left / 2), labelText),
    text(value, round1(left + right / 2), valueText),
    `</g>`,
    `</svg>`,
  ].join('');
}

/** One text with its shadow; textLength makes any font fill exactly the width laid out for it. */
function text(content: string, x: number, width: number): string {
  const length = `textLength="${round1(width)}" lengthAdjust="spacingAndGlyphs"`;
  return (
    `<text aria-hidden="true" x="${x}" y="15" fill="#010101" fill-opacity=".3" ${length}>${xml(content)}</text>` +
    `<text x="${x}" y="14" ${length}>${xml(content)}</text>`
  );
}

/**
 * Two decimals, rounded down: 99.999 % is not 100 %, and a badge must never look better than
 * the record. Undefined when there is nothing to show.
 */
export function formatUptime(uptime: number | null | undefined): string | undefined {
  if (uptime === null || uptime === undefined || !Number.isFinite(uptime)) return undefined;
  const clamped = Math.min(1, Math.max(0, uptime));
  if (clamped === 1) return '100%';
  // The small epsilon keeps 0.9995 (stored rounded) from flooring to 99.94 through binary error.
  return `${(Math.floor(clamped * 10_000 + 1e-6) / 100).toFixed(2)}%`;
}

/** XML text and attribute escaping (the text is control-free already: see displayText). */
function xml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/**
 * Verdana at 11 px, the badge font, in pixels per character (ASCII 32..126, measured widths
 * rounded to a tenth); other characters as a typical wide letter. Only the layout depends on
 * it: textLength makes the renderer fit the text to it whatever font it really has.
 */
const VERDANA_11 = [
  3.9, 4.3, 5.1, 9.0, 7.0, 11.8, 8.0, 3.0, 5.0, 5.0, 7.0, 9.0, 4.0, 5.0, 4.0, 5.0, // space ! " # $ % & ' ( ) * + , - . /
  7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 7.0, 5.0, 5.0, 9.0, 9.0, 9.0, 6.0, // 0-9 : ; < = > ?
  11.0, 7.5, 7.5, 7.7, 8.5, 7.0, 6.3, 8.5, 8.3, 4.6, 5.0, 7.6, 6.1, 9.3, 8.2, 8.7, // @ A-O
  6.6, 8.7, 7.7, 7.5, 6.8, 8.0, 7.5, 10.9, 7.5, 6.8, 7.5, 5.0, 5.0, 5.0, 9.0, 7.0, // P-Z [ \ ] ^ _
  7.0, 6.7, 6.9, 5.7, 6.9, 6.6, 3.9, 6.9, 7.0, 3.0, 3.8, 6.5, 3.0, 10.7, 7.0, 6.7, // ` a-o
  6.9, 6.9, 4.7, 5.7, 4.3, 7.0, 6.5, 9.0, 6.5, 6.5, 5.8, 7.0, 5.0, 7.0, 9.0, // p-z { | } ~
];

export function textWidth(text: string): number {
  let width = 0;
  for (const c of text) {
    const code = c.codePointAt(0)!;
    if (code >= 32 && code <= 126) width += VERDANA_11[code - 32]!;
    else if (code >= 0x2e80) width += 11; // CJK and wider scripts, emoji
    else width += 7;
  }
  return width;
}
