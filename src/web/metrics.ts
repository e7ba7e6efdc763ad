/**
 * `/api/metrics`: the Prometheus text exposition format 0.0.4 of what `/api/status` returns,
 * so a Prometheus (or anything that scrapes it) can chart and alert on the monitor without
 * Application Insights. A pure renderer: the same entries and clock give the same text.
 *
 * Every family has HELP and TYPE lines (also when it has no samples, so it is discoverable),
 * units are in the names (`_seconds`, `_timestamp_seconds`), and every check-like series has
 * the labels `check`, `kind`, `location`, `target`. Label values are the ids, targets and
 * locations with URL secrets removed (user, password, query, fragment: see redact.ts), without
 * control or bidi characters, cut to MAX_LABEL_CHARS, then escaped as the format asks
 * (backslash, double quote, line feed). Nothing else is taken from the input: no proxy, no
 * message text, nothing from settings.
 */
import type { RelayStatus, StatusEntry } from '../api/handlers.js';
import { displayText } from './redact.js';

/** A relay as `/api/status` lists it: a configured one, or one disabled by a wrong setting. */
export type RelayEntry = Pick<RelayStatus, 'id' | 'relayId' | 'state'> & Partial<Omit<RelayStatus, 'id' | 'relayId' | 'state'>>;

/** Channel name -> deliveries that succeeded, ever (counted in the store: src/alerting/sent-counter.ts). */
export type AlertsSent = Readonly<Record<string, number>>;

/** Long ids are cut (a relay target may be 2,000 characters); a cut that collides gets a suffix. */
export const MAX_LABEL_CHARS = 256;

const STATES = ['new', 'up', 'late', 'down', 'paused'] as const;
const PHASES = ['dns', 'proxy', 'tcp', 'tls', 'ttfb'] as const;

type Labels = readonly (readonly [string, string])[];

interface Family {
  readonly name: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
  readonly samples: { labels: Labels; value: number }[];
}

export function renderMetrics(checks: readonly StatusEntry[], relays: readonly RelayEntry[], alertsSent: AlertsSent, now: Date): string {
  const family = (name: string, type: Family['type'], help: string): Family => ({ name, type, help, samples: [] });
  const up = family('wbmon_check_up', 'gauge', 'Whether the check is up (1) or not (0, late or down); absent while it is new (no verdict yet) or paused (in maintenance).');
  const state = family('wbmon_check_state', 'gauge', 'The check state as /api/status shows it: 1 for the current state, 0 for the others.');
  const stale = family('wbmon_check_stale', 'gauge', "1 while the check is one a late or down relay reported: its state is as last reported, not current.");
  const since = family('wbmon_check_state_since_timestamp_seconds', 'gauge', 'When the current state began (Unix time).');
  const lastResult = family('wbmon_check_last_result_timestamp_seconds', 'gauge', 'When the last result was measured, by the prober clock (Unix time).');
  const duration = family('wbmon_probe_duration_seconds', 'gauge', 'Duration of the last probe, start to the end of the answer or the failure.');
  const phase = family('wbmon_probe_phase_seconds', 'gauge', 'Duration of each phase of the last probe (dns, proxy, tcp, tls, ttfb); a phase it did not go through is absent.');
  const httpStatus = family('wbmon_probe_http_status_code', 'gauge', 'HTTP status of the last probe answer.');
  const certExpiry = family('wbmon_tls_cert_expiry_timestamp_seconds', 'gauge', 'When the certificate the last probe saw expires (Unix time).');
  const heartbeatAge = family('wbmon_relay_heartbeat_age_seconds', 'gauge', "Seconds since the relay's last accepted heartbeat, by the monitor clock.");
  const buffered = family('wbmon_relay_buffer_pending_heartbeats', 'gauge', "Heartbeats waiting in the relay's disk buffer, as it last reported.");
  const survived = family('wbmon_keepalive_survived_seconds', 'gauge', 'Longest idle period a connection survived in the last keepalive test (0: none survived).');
  const required = family('wbmon_keepalive_required_seconds', 'gauge', 'Idle period the keepalive test requires a connection to survive.');
  const alerts = family('wbmon_alerts_sent_total', 'counter', 'Alert deliveries that succeeded, per channel (counted in the state store, so every instance reports the same).');

  const labelsOf = uniqueLabels();
  const stateSamples = (labels: Labels, current: string): void => {
    for (const s of STATES) state.samples.push({ labels: [...labels, ['state', s]], value: s === current ? 1 : 0 });
    if (current === 'up') up.samples.push({ labels, value: 1 });
    else if (current === 'late' || current === 'down') up.samples.push({ labels, value: 0 });
  };

  for (const c of [...checks].sort(byId)) {
    const labels = labelsOf(c.id, c.kind, c.location ?? '', c.target);
    stateSamples(labels, c.state);
    stale.samples.push({ labels, value: c.stale ? 1 : 0 });
    push(since, labels, seconds(c.since));
    const result = c.lastResult;
    if (!result) continue;
    push(lastResult, labels, seconds(result.startedAt));
    if ('timings' in result && result.timings) {
      push(duration, labels, millis(result.timings.total));
      for (const p of PHASES) push(phase, [...labels, ['phase', p]], millis(result.timings[p]));
    }
    push(httpStatus, labels, result.http?.status);
    if ('tls' in result && result.tls) push(certExpiry, labels, seconds(result.tls.validTo));
  }

  for (const r of [...relays].sort(byId)) {
    const labels = labelsOf(r.relayId, 'relay', r.relayId, r.host ?? r.target ?? '');
    stateSamples(labels, r.state);
    push(since, labels, seconds(r.since));
    const last = seconds(r.lastHeartbeatAt);
    if (last !== undefined) push(heartbeatAge, labels, Math.max(0, now.getTime() / 1000 - last));
    push(buffered, labels, r.buffer?.pending);
    const keepalive = r.lastKeepalive;
    if (keepalive) {
      // Labelled as the keepalive check it feeds (evaluate-heartbeats.ts keepaliveCheck), so the two join.
      const k = labelsOf(`keepalive:${r.relayId}`, 'keepalive', r.relayId, keepalive.target);
      push(survived, k, keepalive.results.reduce((max, x) => (x.survived && x.idleSeconds > max ? x.idleSeconds : max), 0));
      push(required, k, keepalive.requiredSeconds);
    }
  }

  for (const channel of Object.keys(alertsSent).sort()) {
    const count = alertsSent[channel];
    if (typeof count === 'number' && count >= 0) push(alerts, [['channel', displayText(channel, 64)]], count);
  }

  const families = [up, state, stale, since, lastResult, duration, phase, httpStatus, certExpiry, heartbeatAge, buffered, survived, required, alerts];
  return families.map(renderFamily).join('');
}

/**
 * Labels for one entry, made once per check id and kind: the keepalive series a relay feeds get
 * the labels of the keepalive check itself, so the two join. Two checks whose `check` label
 * comes out the same (ids that differed only in a removed query, or beyond the cut) would look
 * like one check to every query by `check`: the later one gets ` (2)`, ` (3)`... Entries are
 * sorted first, so the suffix is stable from scrape to scrape.
 */
function uniqueLabels(): (check: string, kind: string, location: string, target: string) => Labels {
  const taken = new Set<string>();
  const memo = new Map<string, Labels>();
  return (check, kind, location, target) => {
    const raw = JSON.stringify([check, kind]);
    const known = memo.get(raw);
    if (known) return known;
    const shown = displayText(check, MAX_LABEL_CHARS);
    let unique = shown;
    for (let n = 2; taken.has(unique); n++) unique = `${shown} (${n})`;
    taken.add(unique);
    const labels: Labels = [
      ['check', unique],
      ['kind', displayText(kind, 64)],
      ['location', displayText(location, MAX_LABEL_CHARS)],
      ['target', displayText(target, MAX_LABEL_CHARS, 'target')],
    ];
    memo.set(raw, labels);
    return labels;
  };
}

function push(family: Family, labels: Labels, value: number | undefined): void {
  if (value !== undefined && Number.isFinite(value)) family.samples.push({ labels, value });
}

function renderFamily(f: Family): string {
  let out = `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
  for (const s of f.samples) {
    const labels = s.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
    out += `${f.name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}\n`;
  }
  return out;
}

/** The format's label value escapes: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed only. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 1e6) / 1e6);
}

function seconds(iso: string | null | undefined): number | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

function millis(ms: number | undefined): number | undefined {
  return typeof ms === 'number' && ms >= 0 ? ms / 1000 : undefined;
}

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
