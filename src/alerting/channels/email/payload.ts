/**
 * The email an on-call engineer reads, often on a phone at night: a subject that says what is
 * broken in words, and a body (plain text and HTML) with the facts and the fix from the
 * writeback checklist, in the order they are needed. Pure: the same event gives the same mail.
 *
 * The subject is one line of at most SUBJECT_MAX characters with no control, bidi or zero-width
 * characters, so no value of the event can inject a header or disguise itself. Every value of the event is HTML-escaped in the HTML
 * body.
 *
 * `links` (src/alerting/links.ts) are shown after the facts, in both parts: the status page at
 * the check's section and the workbook, as plain URLs in the text and as links in the HTML.
 */
import { stripControls } from '../../../text/safe-text.js';
import { durationBetween, isMisconfiguration } from '../../words.js';
import type { AlertEvent, AlertKind } from '../../event.js';
import type { AlertLinks } from '../../links.js';

export interface EmailMessage {
  readonly from: string;
  readonly to: readonly string[];
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export const SUBJECT_MAX = 150;

export function buildPayload(event: AlertEvent, to: readonly string[], from: string, links: AlertLinks = {}): EmailMessage {
  const rows = facts(event);
  const linkRows = linkLines(links);
  const linkWidth = Math.max(0, ...linkRows.map(([label]) => label.length)) + 2;
  const fix = fixHeading(event.kind);
  const headline = `${headlineWord(event)}: ${oneLine(describeCheck(event))}`;
  const note = NOTE[event.kind];
  const summary = oneLine(event.remediation.summary);
  const steps = event.remediation.steps.map(oneLine);
  const footer = `writeback-monitor alert ${oneLine(event.id)}`;

  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  const text = [
    headline,
    ...(note ? ['', note] : []),
    '',
    ...rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`),
    ...(linkRows.length ? ['', ...linkRows.map(([label, , url]) => `${`${label}:`.padEnd(linkWidth)}${url}`)] : []),
    '',
    fix,
    '-'.repeat(fix.length),
    summary,
    ...(steps.length ? ['', ...steps.map((s, i) => `${i + 1}. ${s}`)] : []),
    '',
    '-- ',
    footer,
    '',
  ].join('\n');

  const cell = 'padding:3px 16px 3px 0;vertical-align:top;text-align:left';
  const html = [
    '<!DOCTYPE html>',
    '<html><body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:15px;line-height:1.4;color:#1f1f1f">',
    `<h2 style="margin:0 0 12px;font-size:19px;color:${COLOUR[event.kind]}">${escapeHtml(headline)}</h2>`,
    ...(note ? [`<p style="margin:0 0 12px">${escapeHtml(note)}</p>`] : []),
    '<table style="border-collapse:collapse;margin:0 0 16px">',
    ...rows.map(([label, value]) => `<tr><th style="${cell};font-weight:600">${escapeHtml(label)}</th><td style="${cell}">${escapeHtml(value)}</td></tr>`),
    '</table>',
    ...(linkRows.length
      ? [
          `<p style="margin:0 0 16px">${linkRows
            .map(([, words, url]) => `<a href="${escapeHtml(url)}" style="color:#0f6cbd;font-weight:600">${escapeHtml(words)}</a>`)
            .join(' &nbsp;|&nbsp; ')}</p>`,
        ]
      : []),
    `<h3 style="margin:0 0 8px;font-size:16px">${escapeHtml(fix)}</h3>`,
    `<p style="margin:0 0 8px"><strong>${escapeHtml(summary)}</strong></p>`,
    ...(steps.length ? ['<ol style="margin:0 0 16px;padding-left:24px">', ...steps.map((s) => `<li style="margin:0 0 4px">${escapeHtml(s)}</li>`), '</ol>'] : []),
    `<p style="margin:16px 0 0;font-size:12px;color:#6b6b6b">${escapeHtml(footer)}</p>`,
    '</body></html>',
    '',
  ].join('\n');

  return { from, to: [...to], subject: subject(event), text, html };
}

/** Label (text part), link words (HTML part) and URL of each link there is. */
function linkLines(links: AlertLinks): Array<[string, string, string]> {
  return [
    ...(links.dashboard !== undefined ? [['Status page', 'Open the status page', oneLine(links.dashboard)] as [string, string, string]] : []),
    ...(links.workbook !== undefined ? [['Workbook', 'Open the workbook in the Azure portal', oneLine(links.workbook)] as [string, string, string]] : []),
  ];
}

const HEADLINE: Record<AlertKind, string> = {
  triggered: 'DOWN',
  reminder: 'STILL DOWN',
  resolved: 'RESOLVED',
  flapping: 'FLAPPING',
  retired: 'RETIRED',
  test: 'TEST',
};

/** DOWN, unless the check fails only because the monitor lacks access. */
function headlineWord(event: AlertEvent): string {
  return event.kind === 'triggered' && isMisconfiguration(event) ? 'MISCONFIGURED' : HEADLINE[event.kind];
}

const NOTE: Record<AlertKind, string | undefined> = {
  triggered: undefined,
  reminder: undefined,
  resolved: 'It works again. Nothing to do now.',
  flapping: 'The check keeps changing between up and down. Alerts for it pause until it settles; then its state is told again.',
  retired: 'This check is no longer monitored, and this is the last message about it.',
  test: 'This is a test, sent by writeback-monitor alert test. Nothing is wrong, and nothing needs doing.',
};

const COLOUR: Record<AlertKind, string> = {
  triggered: '#b00020',
  reminder: '#b00020',
  resolved: '#1b7f3b',
  flapping: '#a65c00',
  retired: '#6b6b6b',
  test: '#6b6b6b',
};

function fixHeading(kind: AlertKind): string {
  return kind === 'resolved' ? 'What to fix if it happens again' : 'What to fix';
}

/** The subject: `[DOWN] relay connect01 cannot reach host - tcp_timeout in tcp`, one line. */
export function subject(event: AlertEvent): string {
  const what = oneLine(describeCheck(event));
  const failure = event.failure ? ` - ${oneLine(event.failure.code)} in ${oneLine(event.failure.phase)}` : '';
  switch (event.kind) {
    case 'triggered':
      return fit(`[${headlineWord(event)}] `, what, failure);
    case 'reminder': {
      const span = durationBetween(event.since, event.at);
      return fit('[REMINDER] still down: ', what, span === undefined ? failure : ` (for ${span})${failure}`);
    }
    case 'resolved':
      return fit('[RESOLVED] ', what, '');
    case 'flapping':
      return fit('[FLAPPING] ', what, '');
    case 'retired':
      return fit('[RETIRED] no longer monitored: ', what, '');
    case 'test':
      return '[TEST] writeback-monitor test alert: nothing is wrong';
  }
}

/** Shortens the middle part (the check's description) so the whole stays within SUBJECT_MAX. */
function fit(prefix: string, what: string, suffix: string): string {
  const whole = `${prefix}${what}${suffix}`;
  if (whole.length <= SUBJECT_MAX) return whole;
  const room = SUBJECT_MAX - prefix.length - suffix.length - 3;
  if (room >= 20) return `${prefix}${what.slice(0, room).trimEnd()}...${suffix}`;
  return `${whole.slice(0, SUBJECT_MAX - 3).trimEnd()}...`;
}

/** The check in words, e.g. `relay connect01 cannot reach x.servicebus.windows.net`. */
export function describeCheck(event: Pick<AlertEvent, 'checkKind' | 'target' | 'location'>): string {
  const target = oneLine(event.target);
  const location = oneLine(event.location);
  switch (event.checkKind) {
    case 'probe':
      return `cloud probe of ${target} (${location === 'local' ? 'local' : `Azure ${location}`})`;
    case 'relay-probe':
      return `relay ${location} cannot reach ${hostOf(target)}`;
    case 'heartbeat':
      return `no heartbeat from relay ${target}`;
    case 'keepalive':
      return `relay ${location}: idle connections to ${hostOf(target)} are cut`;
    case 'eventlog':
      return `relay ${location}: writeback errors in the Entra Connect event log`;
    case 'dc':
      return `relay ${location} cannot reach domain controller ${target}`;
    case 'connect':
      return `relay ${location}: Entra Connect Sync is unsupported or not running`;
    case 'provisioning-agent':
      return `relay ${location}: the Entra Cloud Sync provisioning agent cannot write back`;
    case 'reach':
      return `relay ${location} cannot reach ${target}`;
    case 'tenant':
      return `tenant check ${target}`;
    case 'roundtrip':
      return `password round trip of ${target}`;
    default:
      return `${String(event.checkKind)} check of ${target} (${location})`;
  }
}

function locationInWords(event: AlertEvent): string {
  const location = oneLine(event.location);
  switch (event.checkKind) {
    case 'probe':
      return location === 'local' ? 'local (the monitor itself)' : `Azure ${location} (cloud probe)`;
    case 'relay-probe':
    case 'heartbeat':
    case 'keepalive':
    case 'eventlog':
    case 'dc':
    case 'connect':
    case 'provisioning-agent':
    case 'reach':
      return `relay ${location} (on-premises)`;
    default:
      return location;
  }
}

/** Label and value rows of the body, every value already on one line. */
function facts(event: AlertEvent): Array<[string, string]> {
  const span = durationBetween(event.since, event.at);
  const forLabel = event.state === 'down' ? 'Down for' : event.state === 'up' ? 'Up for' : 'For';
  const rows: Array<[string, string]> = [
    ['State', event.state],
    ['Check', event.checkId],
    ['Target', event.target],
    ['Location', locationInWords(event)],
  ];
  if (event.failure) {
    rows.push(['Failing phase', event.failure.phase]);
    rows.push(['Error', `${event.failure.code}: ${event.failure.message}`]);
  }
  rows.push(['Since', when(event.since)]);
  if (event.firstFailureAt !== undefined) rows.push(['First failure', when(event.firstFailureAt)]);
  rows.push([forLabel, span === undefined ? 'unknown' : `${span} (as of ${when(event.at)})`]);
  return rows.map(([label, value]) => [label, oneLine(value)]);
}

/** `2026-03-01 10:00:00 UTC`, or the value as given when it is not a date. */
function when(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function hostOf(target: string): string {
  try {
    const host = new URL(target).hostname;
    return host || target;
  } catch {
    return target;
  }
}

/**
 * One line with no control characters (so no header injection through the subject) and no
 * bidi or zero-width characters (so a subject reads as what it is).
 */
export function oneLine(value: string): string {
  return stripControls(value).replace(/ {2,}/g, ' ').trim();
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
