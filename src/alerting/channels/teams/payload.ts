/**
 * The Teams message: one Adaptive Card (1.5) posted to a Workflows webhook, written for an
 * on-call engineer woken at night: a coloured title that says what broke and where, the facts,
 * then what to fix. Pure: the same event always gives the same message.
 *
 * Every value that comes from the event is made plain text: TextBlock (and, in Teams, FactSet)
 * text is Markdown, so a failure message could otherwise turn into bold, links or lists. Values
 * are put on one line without control, bidi or zero-width characters, shortened, and their
 * Markdown characters escaped with a backslash.
 * The whole message stays under MAX_MESSAGE_BYTES (Teams refuses cards of about 28 KB).
 */
import { stripControls } from '../../../text/safe-text.js';
import { durationBetween, isMisconfiguration } from '../../words.js';
import type { CheckKind, CheckState } from '../../../checks/state.js';
import type { AlertEvent, AlertKind } from '../../event.js';
import type { AlertLinks } from '../../links.js';

export const ADAPTIVE_CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';
/** The serialized message (UTF-8) stays below this, with room left under Teams' ~28 KB. */
export const MAX_MESSAGE_BYTES = 27 * 1024;

export type CardColor = 'attention' | 'good' | 'default';

export interface TextBlock {
  readonly type: 'TextBlock';
  readonly text: string;
  readonly wrap: true;
  readonly size?: 'medium' | 'large';
  readonly weight?: 'bolder';
  readonly color?: CardColor;
  readonly style?: 'heading';
  readonly spacing?: 'small' | 'medium';
  readonly separator?: boolean;
}

export interface Fact {
  readonly title: string;
  readonly value: string;
}

export interface FactSet {
  readonly type: 'FactSet';
  readonly facts: readonly Fact[];
}

export type CardElement = TextBlock | FactSet;

/** A button that opens a page: the only action the card has. */
export interface OpenUrlAction {
  readonly type: 'Action.OpenUrl';
  readonly title: string;
  readonly url: string;
}

export interface AdaptiveCard {
  readonly type: 'AdaptiveCard';
  readonly $schema: typeof ADAPTIVE_CARD_SCHEMA;
  readonly version: '1.5';
  readonly body: readonly CardElement[];
  /** Present only when there is a page to open (a status page base URL or a workbook is known). */
  readonly actions?: readonly OpenUrlAction[];
}

export interface TeamsAttachment {
  readonly contentType: typeof ADAPTIVE_CARD_CONTENT_TYPE;
  readonly content: AdaptiveCard;
}

/** What a Teams Workflows webhook ("post card to a channel") takes. */
export interface TeamsMessage {
  readonly type: 'message';
  readonly attachments: readonly [TeamsAttachment];
}

/** How long each value from the event may be, in characters, before escaping. */
interface Limits {
  readonly short: number;
  readonly message: number;
  readonly summary: number;
  readonly step: number;
  readonly steps: number;
}

const FULL: Limits = { short: 300, message: 4000, summary: 600, step: 600, steps: 15 };

/**
 * `links` (src/alerting/links.ts) become buttons: "Open status page" to the check's place on
 * the page, "Open workbook" to the Azure Monitor workbook; none when there are none.
 */
export function buildPayload(event: AlertEvent, links: AlertLinks = {}): TeamsMessage {
  // Shrink what the event may contribute until the whole message fits; the floor (a few
  // dozen characters per value, three steps) fits whatever the event holds.
  for (let scale = 1; ; scale /= 2) {
    const message = build(event, scaled(scale), links);
    if (scale < 1 / 64 || Buffer.byteLength(JSON.stringify(message), 'utf8') < MAX_MESSAGE_BYTES) return message;
  }
}

function scaled(scale: number): Limits {
  const at = (n: number, min: number): number => Math.max(min, Math.floor(n * scale));
  return {
    short: at(FULL.short, 40),
    message: at(FULL.message, 40),
    summary: at(FULL.summary, 40),
    step: at(FULL.step, 40),
    steps: at(FULL.steps, 3),
  };
}

function build(event: AlertEvent, limits: Limits, links: AlertLinks): TeamsMessage {
  const value = (text: string, max = limits.short): string => plain(text, max);
  const inline = (text: string, max = limits.short): string => escapeInline(shorten(oneLine(text), max));
  const duration = durationBetween(event.since, event.at);

  const facts: Fact[] = [
    { title: 'Check', value: value(event.checkId) },
    { title: 'Target', value: value(event.target) },
    { title: 'Location', value: escapeLineStart(locationLabel(event.checkKind, inline(event.location))) },
    { title: 'State', value: STATE_WORDS[event.state] },
  ];
  if (event.failure) {
    facts.push({ title: 'Failing phase', value: value(event.failure.phase) });
    facts.push({
      title: 'Error',
      value: escapeLineStart(`${inline(event.failure.code)}: ${inline(event.failure.message, limits.message)}`),
    });
  }
  facts.push({ title: 'Since', value: timeLabel(event.since, limits.short) });
  if (event.firstFailureAt !== undefined) facts.push({ title: 'First failure', value: timeLabel(event.firstFailureAt, limits.short) });
  if (duration !== undefined) facts.push({ title: `${STATE_LABELS[event.state]} for`, value: duration });

  const steps = event.remediation.steps.slice(0, limits.steps);
  const omitted = event.remediation.steps.length - steps.length;
  const body: CardElement[] = [
    {
      type: 'TextBlock',
      text: escapeLineStart(title(event, inline(event.location), inline(event.target), duration)),
      wrap: true,
      size: 'large',
      weight: 'bolder',
      color: COLORS[event.kind],
      style: 'heading',
    },
    { type: 'FactSet', facts },
    { type: 'TextBlock', text: 'What to fix', wrap: true, size: 'medium', weight: 'bolder', separator: true, spacing: 'medium' },
    { type: 'TextBlock', text: value(event.remediation.summary, limits.summary), wrap: true, weight: 'bolder' },
    // A step's own text starts the list item's content, where `- ` or `# ` would nest a list or a heading.
    ...steps.map(
      (step, i): TextBlock => ({ type: 'TextBlock', text: `${i + 1}. ${escapeLineStart(inline(step, limits.step))}`, wrap: true, spacing: 'small' }),
    ),
  ];
  if (omitted > 0) {
    body.push({ type: 'TextBlock', text: `(${omitted} more ${omitted === 1 ? 'step' : 'steps'} not shown)`, wrap: true, spacing: 'small' });
  }

  const actions: OpenUrlAction[] = [
    ...(links.dashboard !== undefined ? [{ type: 'Action.OpenUrl' as const, title: 'Open status page', url: links.dashboard }] : []),
    ...(links.workbook !== undefined ? [{ type: 'Action.OpenUrl' as const, title: 'Open workbook', url: links.workbook }] : []),
  ];

  return {
    type: 'message',
    attachments: [
      {
        contentType: ADAPTIVE_CARD_CONTENT_TYPE,
        content: { type: 'AdaptiveCard', $schema: ADAPTIVE_CARD_SCHEMA, version: '1.5', body, ...(actions.length > 0 && { actions }) },
      },
    ],
  };
}

const COLORS: Record<AlertKind, CardColor> = {
  triggered: 'attention',
  reminder: 'attention',
  flapping: 'attention',
  resolved: 'good',
  retired: 'default',
  test: 'default',
};

const STATE_WORDS: Record<CheckState, string> = { down: 'down', up: 'up', new: 'new (no result yet)' };
const STATE_LABELS: Record<CheckState, string> = { down: 'Down', up: 'Up', new: 'New' };

/** Where the check looks from, in words; `location` is already escaped. */
function locationLabel(kind: CheckKind, location: string): string {
  if (location === 'tenant' || location === 'local') return location;
  return kind === 'probe' ? `Azure ${location}` : `relay ${location}`;
}

/** The title line; `location` and `target` are already escaped. */
function title(event: AlertEvent, location: string, target: string, duration: string | undefined): string {
  const where = locationLabel(event.checkKind, location);
  const misconfiguration = isMisconfiguration(event);
  const phrase = misconfiguration ? misconfigured(target) : PHRASES[event.checkKind](where, target);
  switch (event.kind) {
    case 'triggered':
      return `${misconfiguration ? 'MISCONFIGURED' : 'DOWN'}: ${phrase.down}`;
    case 'resolved':
      return `RESOLVED: ${phrase.up}`;
    case 'reminder':
      return duration === undefined || event.state !== 'down'
        ? `REMINDER: still down: ${phrase.down}`
        : `REMINDER: still down after ${duration}: ${phrase.down}`;
    case 'flapping':
      return `FLAPPING: ${phrase.down}, on and off`;
    case 'retired':
      return `RETIRED: no longer monitored: ${phrase.up.replace(/ again$/, '')}`;
    case 'test':
      return 'TEST: writeback-monitor test alert: nothing is wrong';
  }
}

type Phrase = (where: string, target: string) => { readonly down: string; readonly up: string };

const misconfigured = (target: string) => ({
  down: `the monitor may not read ${target} (a Microsoft Graph permission is missing)`,
  up: `the monitor reads ${target} again`,
});

const reach: Phrase = (where, target) => ({ down: `${where} cannot reach ${target}`, up: `${where} reaches ${target} again` });

const PHRASES: Record<CheckKind, Phrase> = {
  probe: reach,
  'relay-probe': reach,
  dc: (where, target) => reach(where, `domain controller ${target}`),
  keepalive: (where, target) => ({
    down: `${where}: idle connections to ${target} are cut`,
    up: `${where}: idle connections to ${target} stay open again`,
  }),
  heartbeat: (where) => ({ down: `${where} stopped sending heartbeats`, up: `${where} sends heartbeats again` }),
  tenant: (_where, target) => ({ down: `tenant check failing: ${target}`, up: `tenant check passing again: ${target}` }),
  eventlog: (where) => ({
    down: `${where}: Entra Connect logs password writeback failures`,
    up: `${where}: Entra Connect logs password writeback as healthy again`,
  }),
  connect: (where) => ({ down: `${where}: Entra Connect Sync is unsupported or not running`, up: `${where}: Entra Connect Sync is supported and running again` }),
  'provisioning-agent': (where) => ({ down: `${where}: the Entra Cloud Sync provisioning agent cannot write back`, up: `${where}: the Entra Cloud Sync provisioning agent is healthy again` }),
  reach: (where, target) => reach(where, target),
  roundtrip: (_where, target) => ({ down: `the password round trip of ${target} fails: writeback is not proven`, up: `the password round trip of ${target} works again: written back` }),
};

/** "2025-03-04 02:13 UTC", or the escaped text when it is not a time. */
function timeLabel(iso: string, max: number): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return plain(iso, max);
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A standalone value: one line, at most `max` characters, no Markdown. */
function plain(text: string, max: number): string {
  return escapeLineStart(escapeInline(shorten(oneLine(text), max)));
}

/** No controls, bidi or zero-width characters: a title must read as what it is. */
function oneLine(text: string): string {
  return stripControls(text).replace(/\s+/g, ' ').trim();
}

/** At most `max` characters, ending in "…" when cut; never splits a surrogate pair. */
function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * Escapes the characters Markdown reads anywhere in a line: the backslash itself, emphasis
 * (`*`, `_`), links and images (`[`, `]`), code (backtick) and strikethrough (`~`).
 */
export function escapeInline(text: string): string {
  return text.replace(/[\\*_[\]`~]/g, (c) => `\\${c}`);
}

/** Escapes what Markdown reads at the start of a line: headings, quotes, bullets, numbered items. */
export function escapeLineStart(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/^(\s*)([#>+-])/, '$1\\$2').replace(/^(\s*)(\d+)([.)])/, '$1$2\\$3'))
    .join('\n');
}
