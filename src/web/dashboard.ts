/**
 * The status page of `/api/dashboard`: one server-rendered HTML page, a pure function of the
 * model (src/api/dashboard.ts reads it from the store). No front-end build and nothing from
 * another origin: the CSS is inline (allowed by its hash in DASHBOARD_CSP), the charts are
 * inline SVG, there is no script at all (the page refreshes with `<meta http-equiv=refresh>`),
 * and the only links are the page's own anchors, so it works the same under `serve` and under
 * Functions (where the URL carries `?code=`, which a reload keeps and an anchor does not touch).
 *
 * What it shows, top to bottom: the open incidents (failing phase, code, message and the fix
 * the alerts carry), then every check grouped by where it runs (the cloud, each relay with its
 * heartbeat age, buffered backlog and keepalive result, the tenant), each with its state in
 * words, since when, a bar of daily uptime with one element per day, and for probes a 24-hour
 * latency line and the phases of the last result; then recently ended incidents and the time
 * the page was generated. Colour is never the only carrier: every state is also a word, every
 * day's bar has a title with its date, runs and failures.
 *
 * Every piece of text from the model goes through displayText (no URL credentials or query, no
 * controls or bidi characters, cut to a length) and is then HTML-escaped, so a check id holding
 * `<script>` shows as text. Each check's section has the id dashboardAnchor(checkId), the
 * address alerts link to.
 *
 * Size: the day bars dominate (50 checks x 90 days), so a day is a bare `<li>` with its title,
 * a class only when it was not a clean day; 50 checks with 90 days of history stay under
 * 200 KB (test/web/dashboard.test.ts, bench/dashboard-render.ts).
 */
import { humanDuration } from '../alerting/words.js';
import { createHash } from 'node:crypto';
import type { Remediation } from '../alerting/event.js';
import type { StatusEntry } from '../api/handlers.js';
import type { BucketView, IncidentView } from '../history/view.js';
import { formatUptime } from './badge.js';
import { dashboardAnchor } from './links.js';
import type { RelayEntry } from './metrics.js';
import { displayText } from './redact.js';

export interface DashboardModel {
  /** The clock the page was made at (ISO). */
  readonly generatedAt: string;
  /** The page reloads itself after this many seconds. */
  readonly refreshSeconds: number;
  /** Days in each check's uptime bar (the length of every `daily`). */
  readonly days: number;
  readonly checks: readonly DashboardCheck[];
  readonly relays: readonly DashboardRelay[];
  /** Settings the monitor could not use (a WBMON_RELAYS that does not parse), shown at the top. */
  readonly settingsProblems?: readonly string[];
}

export interface DashboardCheck {
  readonly id: string;
  readonly kind: string;
  readonly target: string;
  readonly location: string | null;
  /** new, up, late, down or paused, as /api/status says. */
  readonly state: string;
  readonly since: string | null;
  /** Reported by a relay that is late or down now: the state is as last reported. */
  readonly stale?: boolean;
  readonly lastResult: StatusEntry['lastResult'];
  /** Oldest first, `days` long, today last. */
  readonly daily: readonly BucketView[];
  /** Oldest first, the current hour last; the last 24 are drawn. */
  readonly hourly: readonly BucketView[];
  /** Newest first. An open one (`until` null) is listed at the top with its remediation. */
  readonly incidents: readonly DashboardIncident[];
}

export interface DashboardIncident extends IncidentView {
  /** The fix the alerts carry for this failure; given for open incidents. */
  readonly remediation?: Remediation;
}

/** A relay as /api/status lists it; a disabled one (a wrong WBMON_RELAYS entry) with its problems. */
export type DashboardRelay = RelayEntry & { readonly problems?: readonly string[] };

export const DASHBOARD_CONTENT_TYPE = 'text/html; charset=utf-8';
/** How often the page reloads itself by default. */
export const DASHBOARD_REFRESH_SECONDS = 60;
/** Days in the uptime bar (at most WBMON_HISTORY_DAYS). */
export const DASHBOARD_DAYS = 90;
/** Hours in the latency line. */
export const SPARK_HOURS = 24;
/** Ended incidents listed at the bottom, newest first, from the last RECENT_DAYS. */
export const RECENT_INCIDENTS = 10;
export const RECENT_DAYS = 7;

const ID_CHARS = 160;
const TARGET_CHARS = 160;
const MESSAGE_CHARS = 400;
const SHORT_CHARS = 64;

/** Worst first: the order the summary counts them in. */
const STATES = ['down', 'late', 'paused', 'new', 'up'] as const;
const PHASES = ['dns', 'proxy', 'tcp', 'tls', 'ttfb'] as const;
const RELAY_KINDS = ['heartbeat', 'relay-probe', 'keepalive', 'eventlog', 'dc'];
const KIND_LABELS: Readonly<Record<string, string>> = {
  probe: 'probe',
  'relay-probe': 'probe from the relay',
  heartbeat: 'heartbeat',
  keepalive: 'idle keepalive',
  eventlog: 'Connect event log',
  dc: 'domain controller',
  tenant: 'tenant check',
};
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The page's only style sheet. Light by default, dark with the system's dark mode; one column
 * on a phone, the bars and charts shrink to the width (nothing is wider than the viewport).
 */
const CSS = `
:root{color-scheme:light dark;--bg:#f6f8fa;--fg:#1f2328;--mute:#59636e;--card:#fff;--line:#d1d9e0;--up:#1a7f37;--down:#cf222e;--late:#9a6700;--paused:#0969da;--new:#6e7781;--part:#d4a72c;--none:#d1d9e0}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mute:#9198a1;--card:#161b22;--line:#30363d;--up:#3fb950;--down:#f85149;--late:#d29922;--paused:#4493f8;--new:#9198a1;--part:#bb8009;--none:#30363d}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:960px;margin:0 auto;padding:12px;overflow-wrap:anywhere}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}h3{font-size:1em;margin:0}
p{margin:.25em 0}code{font:.9em ui-monospace,Menlo,Consolas,monospace}
.mute,.meta,.axis,.lg{color:var(--mute);font-size:.85em}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;margin:8px 0}
.sum{font-weight:600;border-left:6px solid var(--up)}.sum.bad{border-color:var(--down)}
.st{display:inline-block;min-width:4.2em;text-align:center;border-radius:1em;padding:0 .5em;margin-right:.4em;font-size:.8em;font-weight:700;color:#fff;background:var(--new)}
.s-up{background:var(--up)}.s-down{background:var(--down)}.s-late{background:var(--late)}.s-paused{background:var(--paused)}
.inc{border-left:6px solid var(--down)}.inc.ended{border-left-color:var(--line)}
.fix{font-size:.92em}.fix ol{margin:.3em 0;padding-left:1.4em}.fix li{margin:.2em 0}
.days{display:grid;grid-auto-flow:column;grid-auto-columns:minmax(0,1fr);gap:1px;list-style:none;margin:6px 0 0;padding:0;height:26px}
.days li{background:var(--up);border-radius:1px}.days .p{background:var(--part)}.days .d{background:var(--down)}.days .n{background:var(--none)}
.days li:hover{opacity:.6}
.axis{display:flex;justify-content:space-between;gap:8px}.axis:not(.x)::before{content:"${DASHBOARD_DAYS} days ago"}.axis:not(.x)::after{content:"today"}
.lat{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:4px 16px;margin-top:6px}
@media (max-width:600px){.lat{grid-template-columns:minmax(0,1fr)}}
svg{display:block;width:100%}
.spark{height:36px;fill:none;stroke:var(--paused);stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
.spark path{vector-effect:non-scaling-stroke}
.ph{height:10px;border-radius:2px;background:var(--none)}
.lg{list-style:none;margin:2px 0 0;padding:0;display:flex;flex-wrap:wrap;gap:2px 10px}
.ph+.lg::before{content:"last result:"}.lg li::before{content:"";display:inline-block;width:.7em;height:.7em;margin-right:.25em;border-radius:2px;background:var(--c)}
.k-dns{--c:#8250df}.k-proxy{--c:#bf3989}.k-tcp{--c:#0969da}.k-tls{--c:#1a7f37}.k-ttfb{--c:#d4a72c}
rect{fill:var(--c);height:10px}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 12px;margin:.4em 0}dt{color:var(--mute)}dd{margin:0}
footer{margin:24px 0 8px}a{color:var(--paused)}
`.trim();

/** The Content-Security-Policy the page is sent with: its own style sheet by hash, a data: favicon, nothing else. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(CSS).digest('base64')}'`,
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function renderDashboard(model: DashboardModel): string {
  const now = Date.parse(model.generatedAt);
  const checks = [...model.checks];
  const relays = [...model.relays];
  const open = checks.flatMap((c) => c.incidents.filter((i) => i.until === null).map((incident) => ({ check: c, incident })));
  open.sort((a, b) => Date.parse(b.incident.at) - Date.parse(a.incident.at));
  const counts = countStates([...checks.map((c) => c.state), ...relays.map((r) => r.state)]);
  const bad = (counts.get('down') ?? 0) + (counts.get('late') ?? 0) > 0 || open.length > 0;
  const headline = summary(counts, checks.length + relays.length);

  const out: string[] = [];
  out.push(
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    `<meta http-equiv="refresh" content="${Math.max(5, Math.round(model.refreshSeconds))}">`,
    '<meta name="referrer" content="no-referrer">',
    `<link rel="icon" href="${favicon(bad)}">`,
    `<title>${esc(`${bad ? headline : 'all up'} · writeback-monitor`)}</title>`,
    `<style>${CSS}</style></head><body><main>`,
    '<header><h1>writeback-monitor</h1>',
    `<p class=mute>Entra ID password writeback · generated ${time(model.generatedAt)} UTC · refreshes every ${Math.round(model.refreshSeconds)} s</p></header>`,
    `<p class="card sum${bad ? ' bad' : ''}" id="summary">${esc(headline)}</p>`,
  );
  for (const problem of model.settingsProblems ?? []) out.push(`<p class="card inc">${esc(displayText(problem, MESSAGE_CHARS))}</p>`);

  out.push(`<section id="incidents"><h2>Open incidents (${open.length})</h2>`);
  if (open.length === 0) out.push('<p class=mute>None: no check is down.</p>');
  for (const { check, incident } of open) out.push(openIncident(check, incident, now));
  out.push('</section>');

  for (const group of groupsOf(checks, relays)) {
    out.push(`<section class=group id="${esc(group.anchor)}"><h2>${esc(group.title)}</h2>`);
    if (group.note) out.push(`<p class=mute>${esc(group.note)}</p>`);
    if (group.relay) out.push(relayCard(group.relay, now));
    for (const check of group.checks) out.push(checkSection(check, model.days, now));
    if (group.checks.length === 0) out.push('<p class=mute>No checks reported yet.</p>');
    out.push('</section>');
  }

  const ended = checks
    .flatMap((c) => c.incidents.filter((i) => i.until !== null && now - Date.parse(i.until) <= RECENT_DAYS * 86_400_000).map((incident) => ({ check: c, incident })))
    .sort((a, b) => Date.parse(b.incident.at) - Date.parse(a.incident.at))
    .slice(0, RECENT_INCIDENTS);
  if (ended.length > 0) {
    out.push(`<section id="ended"><h2>Ended incidents, last ${RECENT_DAYS} days</h2>`);
    for (const { check, incident } of ended) out.push(endedIncident(check, incident));
    out.push('</section>');
  }
  out.push(
    `<footer class=mute><p>Generated ${time(model.generatedAt)} UTC. All times and days are UTC. `,
    'The same data as JSON: /api/status and /api/history?check=&lt;id&gt;; Prometheus: /api/metrics.</p></footer>',
    '</main></body></html>\n',
  );
  return out.join('');
}

// ---- sections --------------------------------------------------------------------------------

function openIncident(check: DashboardCheck, incident: DashboardIncident, now: number): string {
  const fix = incident.remediation;
  const repeats = incident.repeats ? ` · ${incident.repeats} more outages merged` : '';
  return [
    '<article class="card inc">',
    `<h3><a href="#${esc(dashboardAnchor(check.id))}">${esc(displayText(check.id, ID_CHARS))}</a></h3>`,
    `<p>${pill(check.state)}since ${time(incident.at)} (${esc(humanDuration(now - Date.parse(incident.at)))})${repeats}</p>`,
    `<p>phase <b>${esc(displayText(incident.phase ?? 'none', SHORT_CHARS))}</b> · code <code>${esc(displayText(incident.code ?? 'none', SHORT_CHARS))}</code></p>`,
    `<p>${esc(displayText(incident.message, MESSAGE_CHARS))}</p>`,
    fix
      ? `<div class=fix><p><strong>What to do:</strong> ${esc(fix.summary)}</p>${fix.steps.length > 0 ? `<ol>${fix.steps.map((s) => `<li>${esc(s)}</li>`).join('')}</ol>` : ''}</div>`
      : '',
    '</article>',
  ].join('');
}

function endedIncident(check: DashboardCheck, incident: DashboardIncident): string {
  const code = incident.code ? ` · <code>${esc(displayText(incident.code, SHORT_CHARS))}</code>` : '';
  return (
    `<p class="card inc ended"><a href="#${esc(dashboardAnchor(check.id))}">${esc(displayText(check.id, ID_CHARS))}</a><br>` +
    `<span class=meta>down ${time(incident.at)} to ${time(incident.until!)} (${esc(humanDuration(Date.parse(incident.until!) - Date.parse(incident.at)))})${code} · ${esc(displayText(incident.message, MESSAGE_CHARS))}</span></p>`
  );
}

function checkSection(check: DashboardCheck, days: number, now: number): string {
  const kind = KIND_LABELS[check.kind] ?? check.kind;
  const since = check.since ? ` since ${time(check.since)} (${esc(humanDuration(now - Date.parse(check.since)))})` : '';
  const stale = check.stale ? ' · as last reported (the relay is not reporting)' : '';
  const target = check.target && !check.id.endsWith(check.target) ? ` · ${esc(displayText(check.target, TARGET_CHARS, 'target'))}` : '';
  const parts = [
    `<article class=card id="${esc(dashboardAnchor(check.id))}">`,
    `<h3>${pill(check.state)}${esc(displayText(check.id, ID_CHARS))}</h3>`,
    `<p class=meta>${esc(displayText(kind, SHORT_CHARS))}${target}${since}${stale}<br>${lastLine(check.lastResult)}</p>`,
    dayBar(check.daily, days),
  ];
  const latency = latencyOf(check);
  if (latency) parts.push(latency);
  parts.push('</article>');
  return parts.join('');
}

function lastLine(result: StatusEntry['lastResult']): string {
  if (!result) return 'no result yet';
  const at = `last ${time(result.startedAt)}: `;
  if (result.failure) {
    const f = result.failure;
    return `${at}<code>${esc(displayText(f.code, SHORT_CHARS))}</code> in ${esc(displayText(f.phase, SHORT_CHARS))}: ${esc(displayText(f.message, MESSAGE_CHARS))}`;
  }
  const total = 'timings' in result && typeof result.timings?.total === 'number' ? `, ${ms(result.timings.total)}` : '';
  const answer = result.http ? `HTTP ${result.http.status}` : result.ok ? 'ok' : 'failed';
  // A good result's words (the round trip: where it was written back), or its first warning.
  const warning = result.warnings?.[0];
  const said = warning ? `; warning <code>${esc(displayText(warning.code, SHORT_CHARS))}</code>: ${esc(displayText(warning.message, MESSAGE_CHARS))}` : 'detail' in result && typeof result.detail === 'string' ? `: ${esc(displayText(result.detail, MESSAGE_CHARS))}` : '';
  return `${at}${esc(answer)}${total}${said}`;
}

/** One `<li>` per day, oldest first; its title says the day, its runs and failures. */
function dayBar(daily: readonly BucketView[], days: number): string {
  let runs = 0;
  let failures = 0;
  const items: string[] = [];
  for (const d of daily) {
    runs += d.runs;
    failures += d.failures;
    const label = dayLabel(d.start);
    // The common day (no failure) is the shortest: date and runs, no class.
    if (d.runs === 0) items.push(`<li class=n title="${label}: no runs">`);
    else if (d.failures === 0) items.push(`<li title="${label}: ${d.runs} ok">`);
    else items.push(`<li class=${d.failures * 2 > d.runs ? 'd' : 'p'} title="${label}: ${d.runs} run${d.runs === 1 ? '' : 's'}, ${d.failures} failed">`);
  }
  const uptime = runs === 0 ? 'no runs' : `${formatUptime((runs - failures) / runs)} up${failures > 0 ? `, ${failures} failed` : ''}`;
  return (
    `<ol class=days>${items.join('')}</ol>` +
    // The ends of a 90-day bar are labelled by the style sheet (::before, ::after): 50 bars, 2.5 KB less.
    (days === DASHBOARD_DAYS ? `<p class=axis><span>${esc(uptime)}</span></p>` : `<p class="axis x"><span>${days} days ago</span><span>${esc(uptime)}</span><span>today</span></p>`)
  );
}

function latencyOf(check: DashboardCheck): string | undefined {
  const hours = check.hourly.slice(-SPARK_HOURS);
  const probe = check.kind === 'probe' || check.kind === 'relay-probe';
  const values = hours.map((h) => h.p50Ms);
  if (!probe && values.every((v) => v === null)) return undefined;
  const phases = phaseBar(check.lastResult);
  return `<div class=lat><div>${sparkline(values)}</div>${phases ? `<div>${phases}</div>` : ''}</div>`;
}

/** The hourly medians of total duration as one line; an hour without a value breaks it. */
function sparkline(values: readonly (number | null)[]): string {
  const known = values.filter((v): v is number => v !== null);
  if (known.length === 0) return `<p class=lg>last ${SPARK_HOURS} h: no successful runs to time</p>`;
  const step = 4;
  const W = step * Math.max(1, values.length - 1);
  const H = 36;
  const min = Math.min(...known);
  const max = Math.max(...known);
  const span = max - min || 1;
  // One subpath per run of hours with a value: after M, further pairs are lines; a lone
  // point is drawn as a dot (h0 with round caps).
  const runs: string[][] = [];
  let run: string[] | undefined;
  values.forEach((v, i) => {
    if (v === null) {
      run = undefined;
      return;
    }
    if (!run) runs.push((run = []));
    run.push(`${i * step} ${Math.round(H - 3 - ((v - min) / span) * (H - 6))}`);
  });
  const d = runs.map((r) => (r.length === 1 ? `M${r[0]}h0` : `M${r.join(' ')}`)).join('');
  const last = known.at(-1)!;
  return (
    `<svg class=spark viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" aria-hidden=true><path d="${d}"/></svg>` +
    `<p class=lg>p50 per hour, ${SPARK_HOURS} h: ${ms(min)}–${ms(max)}, now ${ms(last)}</p>`
  );
}

/** The last result's phases as one stacked bar, each phase labelled with its time. */
function phaseBar(result: StatusEntry['lastResult']): string | undefined {
  if (!result || !('timings' in result) || !result.timings) return undefined;
  const t = result.timings;
  const parts: [string, number][] = [];
  for (const p of PHASES) {
    const v = t[p];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) parts.push([p, v]);
  }
  const total = typeof t.total === 'number' && Number.isFinite(t.total) ? t.total : parts.reduce((s, [, v]) => s + v, 0);
  // What the phases do not cover (reading the body) is the bar's own background, up to total.
  const scale = Math.max(total, parts.reduce((s, [, v]) => s + v, 0)) || 1;
  let x = 0;
  const rects = parts.map(([p, v]) => {
    const w = round1((v / scale) * 100);
    const rect = `<rect class=k-${p} x="${round1(x)}%" width="${w}%"/>`;
    x += w;
    return rect;
  });
  return (
    `<svg class=ph aria-hidden=true>${rects.join('')}</svg>` +
    `<ul class=lg>${parts.map(([p, v]) => `<li class=k-${p}>${p} ${ms(v)}`).join('')}<li>total ${ms(total)}</ul>`
  );
}

function relayCard(relay: DashboardRelay, now: number): string {
  const rows: string[] = [];
  const add = (term: string, value: string): void => {
    rows.push(`<dt>${term}</dt><dd>${value}</dd>`);
  };
  if (relay.problems?.length) add('settings', relay.problems.map((p) => esc(displayText(p, MESSAGE_CHARS))).join('<br>'));
  if (relay.host) add('host', `${esc(displayText(relay.host, TARGET_CHARS, 'target'))}${relay.agentVersion ? ` (agent ${esc(displayText(relay.agentVersion, SHORT_CHARS))})` : ''}`);
  const expected = relay.periodSeconds !== undefined ? ` (expected every ${relay.periodSeconds} s, ${relay.graceSeconds ?? 0} s grace)` : '';
  add(
    'last heartbeat',
    relay.lastHeartbeatAt ? `${esc(humanDuration(now - Date.parse(relay.lastHeartbeatAt)))} ago, ${time(relay.lastHeartbeatAt)}${expected}` : `never${expected}`,
  );
  if (relay.buffer !== undefined)
    add('buffered', relay.buffer ? `${relay.buffer.pending} heartbeat${relay.buffer.pending === 1 ? '' : 's'} pending${relay.buffer.dropped ? `, ${relay.buffer.dropped} dropped` : ''}` : 'not reported');
  if (relay.lastKeepalive !== undefined) {
    const k = relay.lastKeepalive;
    if (!k) add('keepalive', 'no test reported yet');
    else {
      const longest = k.results.reduce((max, r) => (r.survived && r.idleSeconds > max ? r.idleSeconds : max), 0);
      const outcome = longest > 0 ? `survived ${longest} s idle` : 'no idle length survived';
      add('keepalive', `${outcome} (needs ${k.requiredSeconds} s): ${k.passed ? 'passed' : 'failed'}, ${time(k.finishedAt)}`);
    }
  }
  const since = relay.since ? ` since ${time(relay.since)} (${esc(humanDuration(now - Date.parse(relay.since)))})` : '';
  return `<div class=card><h3>${pill(relay.state)}relay ${esc(displayText(relay.relayId, SHORT_CHARS))}</h3><p class=meta>${since ? since.trim() : 'no heartbeat yet'}</p><dl>${rows.join('')}</dl></div>`;
}

// ---- grouping --------------------------------------------------------------------------------

interface Group {
  readonly anchor: string;
  readonly title: string;
  readonly note?: string;
  readonly relay?: DashboardRelay;
  readonly checks: DashboardCheck[];
}

/** The cloud, then each relay (by id), then the tenant, then anything else. */
function groupsOf(checks: readonly DashboardCheck[], relays: readonly DashboardRelay[]): Group[] {
  const cloud: DashboardCheck[] = [];
  const tenant: DashboardCheck[] = [];
  const other: DashboardCheck[] = [];
  const byRelay = new Map<string, DashboardCheck[]>();
  for (const r of relays) byRelay.set(r.relayId, []);
  for (const c of checks) {
    if (c.kind === 'probe') cloud.push(c);
    else if (c.kind === 'tenant' || c.kind === 'roundtrip') tenant.push(c);
    else if (RELAY_KINDS.includes(c.kind) && c.location) {
      const list = byRelay.get(c.location) ?? [];
      list.push(c);
      byRelay.set(c.location, list);
    } else other.push(c);
  }
  const groups: Group[] = [];
  const locations = [...new Set(cloud.map((c) => c.location).filter((l): l is string => !!l))];
  if (cloud.length > 0)
    groups.push({
      anchor: 'cloud',
      title: 'The cloud',
      note: `Probes from the monitor${locations.length > 0 ? ` (${locations.map((l) => displayText(l, SHORT_CHARS)).join(', ')})` : ''} to the writeback endpoints.`,
      checks: cloud,
    });
  const relayById = new Map(relays.map((r) => [r.relayId, r]));
  for (const relayId of [...byRelay.keys()].sort()) {
    const relay = relayById.get(relayId);
    const list = byRelay.get(relayId)!.sort((a, b) => RELAY_KINDS.indexOf(a.kind) - RELAY_KINDS.indexOf(b.kind) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    groups.push({
      anchor: `relay-${encodeURIComponent(relayId)}`,
      title: `Relay ${displayText(relayId, SHORT_CHARS)}`,
      ...(relay ? { relay } : { note: 'This relay is not in WBMON_RELAYS: its checks are shown as they were last reported.' }),
      checks: list,
    });
  }
  // The round trip is the direct proof that writeback works: first of the tenant's.
  tenant.sort((a, b) => Number(b.kind === 'roundtrip') - Number(a.kind === 'roundtrip'));
  if (tenant.length > 0) {
    const note = tenant.some((c) => c.kind === 'roundtrip') ? 'The password round trip of the test user, and the Microsoft Graph checks of the tenant.' : 'Microsoft Graph checks of the tenant.';
    groups.push({ anchor: 'tenant', title: 'The tenant', note, checks: tenant });
  }
  if (other.length > 0) groups.push({ anchor: 'other', title: 'Other checks', checks: other });
  return groups;
}

// ---- text ------------------------------------------------------------------------------------

function countStates(states: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
  return counts;
}

function summary(counts: ReadonlyMap<string, number>, total: number): string {
  if (total === 0) return 'Nothing to show yet: no check has run and no relay is configured.';
  const up = counts.get('up') ?? 0;
  if (up === total) return `All ${total} up`;
  const parts = [...STATES, ...[...counts.keys()].filter((s) => !(STATES as readonly string[]).includes(s))]
    .filter((s) => counts.get(s))
    .map((s) => `${counts.get(s)} ${(STATES as readonly string[]).includes(s) ? s : 'unknown'}`);
  return `${parts.join(', ')} (of ${total})`;
}

/** The state in words, coloured: the word is what carries it. */
function pill(state: string): string {
  const known = (STATES as readonly string[]).includes(state) ? state : 'unknown';
  return `<span class="st s-${known}">${known}</span>`;
}

function time(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return 'an unknown time';
  const s = new Date(t).toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 16)}`;
}

/** `Mar 1`: the UTC day of a bucket start. */
function dayLabel(iso: string): string {
  const d = new Date(Date.parse(iso));
  return Number.isFinite(d.getTime()) ? `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}` : 'unknown day';
}


function ms(value: number): string {
  return value >= 100 ? `${Math.round(value)} ms` : `${Math.round(value * 10) / 10} ms`;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

function favicon(bad: boolean): string {
  const colour = bad ? '%23cf222e' : '%231a7f37';
  return `data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='7' fill='${colour}'/%3E%3C/svg%3E`;
}

/** HTML text and attribute escaping. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
