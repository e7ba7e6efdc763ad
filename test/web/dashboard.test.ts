/**
 * The status page renderer (src/web/dashboard.ts) and the model behind it (src/api/dashboard.ts):
 * escaping, one bar element per day, open incidents first with their fix, states in words, no
 * reference to another origin, the page size at 50 checks with 90 days, and the 503 when the
 * store cannot be read. The page in a real browser: dashboard-browser.test.ts.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dashboard, incidentsOf } from '../../src/api/dashboard.js';
import { parseSettings } from '../../src/config/settings.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { DASHBOARD_CSP, renderDashboard } from '../../src/web/dashboard.js';
import { dashboardAnchor } from '../../src/web/links.js';
import { dailyBuckets, downCheck, fiftyChecks, model, probeCheck, relay } from './dashboard-model.js';

const UP = 'cloud:https://passwordreset.microsoftonline.com/';
const DOWN = 'cloud:https://ssprdedicatedsbprodscu.servicebus.windows.net/';

/** The attributes of every element with that tag: a small tokenizer for our own markup (quoted or bare values). */
function attributes(html: string, attr: string): string[] {
  return [...html.matchAll(new RegExp(`\\s${attr}=(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'g'))].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/** The `<li>` elements of the day bar inside one check's section. */
function dayItems(html: string, checkId: string): string[] {
  const start = html.indexOf(`id="${dashboardAnchor(checkId)}"`);
  expect(start).toBeGreaterThan(0);
  const end = html.indexOf('</article>', start);
  const section = html.slice(start, end);
  const bar = section.slice(section.indexOf('<ol class=days>'), section.indexOf('</ol>'));
  return [...bar.matchAll(/<li\b[^>]*>/g)].map((m) => m[0]);
}

describe('renderDashboard', () => {
  it('shows a check id and a target holding markup as text: no element, no attribute comes from them', () => {
    const hostile = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>';
    const html = renderDashboard(model([probeCheck(hostile, `https://h.example/${hostile}`, { kind: 'eventlog', location: 'relay-a' })], [relay('relay-a')]));
    expect(html).not.toMatch(/<script|<img|onerror=alert\(2\)>/i);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;&#34;&#39;&#62;&#60;img src=x onerror=alert(2)&#62;');
    // Its section's id is the anchor, escaped as an attribute.
    expect(html).toContain(`id="${dashboardAnchor(hostile).replace(/'/g, '&#39;')}"`);
  });

  it('draws one bar element per day, 90 for each check, each titled with its date, its runs and its failures', () => {
    const daily = dailyBuckets(90, undefined, (d) => (d === 0 ? 3 : d === 1 ? 200 : 0));
    daily[2] = { ...daily[2]!, runs: 0, failures: 0, uptime: null, p50Ms: null, p95Ms: null };
    const html = renderDashboard(model([probeCheck(UP, 'https://passwordreset.microsoftonline.com/', { daily })]));
    const items = dayItems(html, UP);
    expect(items).toHaveLength(90);
    expect(items[0]).toBe('<li class=p title="Jan 1: 288 runs, 3 failed">');
    expect(items[1]).toBe('<li class=d title="Jan 2: 288 runs, 200 failed">');
    expect(items[2]).toBe('<li class=n title="Jan 3: no runs">');
    expect(items[3]).toBe('<li title="Jan 4: 288 ok">');
    expect(items[89]).toBe('<li title="Mar 31: 288 ok">');
    // 89 days of 288 runs (the third had none), 203 failed: 99.208 %, rounded down.
    expect(html).toContain('99.20% up, 203 failed');
  });

  it('lists the open incidents first, before every group, each with its phase, code, message and remediation; ended ones at the end', () => {
    const down = downCheck(DOWN, 'https://ssprdedicatedsbprodscu.servicebus.windows.net/');
    const html = renderDashboard(model([probeCheck(UP, 'https://passwordreset.microsoftonline.com/'), down], [relay('relay-a')]));
    const incidents = html.indexOf('<section id="incidents">');
    const firstGroup = html.indexOf('<section class=group');
    expect(incidents).toBeGreaterThan(0);
    expect(incidents).toBeLessThan(firstGroup);
    const open = html.slice(incidents, firstGroup);
    expect(open).toContain('Open incidents (1)');
    expect(open).toContain(`<a href="#${dashboardAnchor(DOWN)}">${DOWN}</a>`);
    expect(open).toContain('phase <b>tls</b> · code <code>tls_untrusted</code>');
    expect(open).toContain('the chain does not lead to a trusted root');
    const fix = down.incidents[0]!.remediation!;
    expect(fix.steps.length).toBeGreaterThan(0);
    expect(open).toContain(`<strong>What to do:</strong> ${escapeHtml(fix.summary)}`);
    for (const step of fix.steps) expect(open).toContain(`<li>${escapeHtml(step)}</li>`);
    expect(open).not.toContain('tcp_timeout');
    const ended = html.indexOf('<section id="ended">');
    expect(ended).toBeGreaterThan(firstGroup);
    expect(html.slice(ended)).toContain('tcp_timeout');
  });

  it('says "None" under open incidents when nothing is down, and the summary counts every state', () => {
    const html = renderDashboard(model([probeCheck(UP, 'https://passwordreset.microsoftonline.com/')], [relay('relay-a')]));
    expect(html).toContain('Open incidents (0)</h2><p class=mute>None: no check is down.</p>');
    expect(html).toContain('>All 2 up</p>');
    expect(html).toContain('<title>all up · writeback-monitor</title>');
  });

  it('says every state in words (up, down, late, new, paused), not by colour alone', () => {
    const checks = [
      probeCheck('cloud:https://a.example/', 'https://a.example/'),
      downCheck('cloud:https://b.example/', 'https://b.example/'),
      probeCheck('cloud:https://c.example/', 'https://c.example/', { state: 'new', since: null, lastResult: null }),
      probeCheck('cloud:https://d.example/', 'https://d.example/', { state: 'paused' }),
    ];
    const html = renderDashboard(model(checks, [relay('relay-a', { state: 'late' })]));
    const pills = [...html.matchAll(/<span class="st s-(\w+)">(\w+)<\/span>/g)].map((m) => [m[1], m[2]]);
    for (const [cls, word] of pills) expect(word).toBe(cls);
    const words = pills.map((p) => p[1]);
    for (const state of ['up', 'down', 'late', 'new', 'paused']) expect(words).toContain(state);
    expect(html).toContain('>1 down, 1 late, 1 paused, 1 new, 1 up (of 5)</p>');
    expect(html).toContain('<title>1 down, 1 late, 1 paused, 1 new, 1 up (of 5) · writeback-monitor</title>');
  });

  it('shows an unknown state as "unknown", not as whatever the store held', () => {
    const html = renderDashboard(model([probeCheck('cloud:https://a.example/', 'https://a.example/', { state: '<b>fine</b>' })]));
    expect(html).toContain('<span class="st s-unknown">unknown</span>');
    expect(html).not.toContain('<b>fine</b>');
  });

  it('groups checks by where they run: the cloud, each relay with its heartbeat age, backlog and longest survived idle, the tenant', () => {
    const html = renderDashboard(fiftyChecks());
    const order = ['id="cloud"', 'id="relay-connect01"', 'id="relay-connect02"', 'id="relay-connect03"', 'id="tenant"'].map((a) => html.indexOf(a));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const relayGroup = html.slice(order[1]!, order[2]!);
    expect(relayGroup).toContain('<dt>last heartbeat</dt><dd>2 min ago, 2026-03-31 11:58 (expected every 300 s, 120 s grace)</dd>');
    expect(relayGroup).toContain('<dt>buffered</dt><dd>3 heartbeats pending</dd>');
    expect(relayGroup).toContain('<dt>keepalive</dt><dd>survived 180 s idle (needs 180 s): passed, 2026-03-31 11:40</dd>');
    expect(relayGroup).toContain(`id="${dashboardAnchor('relay:connect01:https://ssprdedicatedsbprod010.servicebus.windows.net/')}"`);
    expect(html.slice(order[0]!, order[1]!)).not.toContain('relay:connect01');
  });

  it('gives every check its section with the id dashboardAnchor(checkId), and every anchor link a target on the page', () => {
    const page = fiftyChecks();
    const html = renderDashboard(page);
    const ids = new Set(attributes(html, 'id'));
    for (const c of page.checks) expect(ids.has(dashboardAnchor(c.id)), c.id).toBe(true);
    for (const href of attributes(html, 'href').filter((h) => h.startsWith('#'))) expect(ids.has(href.slice(1)), href).toBe(true);
  });

  it('refers to no other origin: every href and src is one of its own anchors or a data: URL, and nothing is loaded', () => {
    const html = renderDashboard(fiftyChecks());
    const refs = [...attributes(html, 'href'), ...attributes(html, 'src'), ...attributes(html, 'action'), ...attributes(html, 'srcset')];
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(ref, ref).toMatch(/^(#|data:)/);
    expect(html).not.toMatch(/<(script|iframe|object|embed|img|link rel="?stylesheet)/i);
    expect(html).not.toMatch(/url\(|@import/i);
  });

  it('shows targets without their URL credentials or query', () => {
    const target = 'https://user:hunter2@relay.example/path?sig=SECRETSAS';
    const html = renderDashboard(model([probeCheck('dc:relay-a', target, { kind: 'dc', location: 'relay-a' })]));
    expect(html).toContain('relay.example/path');
    expect(html).not.toMatch(/hunter2|SECRETSAS|user:/);
  });

  it('stays under 200 KB for 50 checks with 90 days of history each, two open incidents among them', () => {
    const page = fiftyChecks();
    expect(page.checks).toHaveLength(50);
    const bytes = Buffer.byteLength(renderDashboard(page));
    expect(bytes).toBeLessThan(200 * 1024);
  });

  it('reads well on a phone and in dark mode: a viewport meta, a dark colour scheme, and the refresh', () => {
    const html = renderDashboard(model([]));
    expect(html).toContain('<meta name="viewport" content="width=device-width,initial-scale=1">');
    expect(html).toContain('@media (prefers-color-scheme:dark)');
    expect(html).toContain('<meta http-equiv="refresh" content="60">');
    expect(html).toContain('Nothing to show yet');
  });

  it('allows its own style sheet by hash in DASHBOARD_CSP, and nothing else: no script, no other origin', () => {
    const html = renderDashboard(fiftyChecks());
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
    expect(styles).toHaveLength(1);
    const hash = createHash('sha256').update(styles[0]!).digest('base64');
    expect(DASHBOARD_CSP).toBe(`default-src 'none'; style-src 'sha256-${hash}'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`);
    // No style attribute: the policy would refuse it.
    expect(attributes(html, 'style')).toEqual([]);
  });
});

describe('incidentsOf', () => {
  const base = { kind: 'probe', target: 'https://h.example/', location: 'local', lastResult: null };
  const open = { from: 'up', to: 'down', at: '2026-03-31T10:00:00.000Z', until: null, code: 'tcp_refused', phase: 'tcp', message: 'refused' };

  it('gives an open incident of a down check the remediation the alerts carry', () => {
    const [incident] = incidentsOf({ ...base, state: 'down', since: open.at }, [open]);
    expect(incident!.until).toBeNull();
    expect(incident!.remediation!.summary).toMatch(/\S/);
  });

  it('ends an incident the history still holds open when its check is up again, at the time it came up', () => {
    const [incident] = incidentsOf({ ...base, state: 'up', since: '2026-03-31T10:30:00.000Z' }, [open]);
    expect(incident).toEqual({ ...open, until: '2026-03-31T10:30:00.000Z' });
  });

  it('keeps only the newest of several open incidents open, ending the others when the next began', () => {
    const older = { ...open, at: '2026-03-30T10:00:00.000Z' };
    const [newest, ended] = incidentsOf({ ...base, state: 'down', since: open.at }, [open, older]);
    expect(newest!.until).toBeNull();
    expect(ended!.until).toBe(open.at);
  });

  it('gives a down check without an incident in its history one from its last failure, with its fix', () => {
    const failure = { code: 'dns_nxdomain', phase: 'dns', message: 'no such name' };
    const [incident] = incidentsOf({ ...base, state: 'down', since: open.at, lastResult: { ok: false, startedAt: open.at, failure } }, []);
    expect(incident).toMatchObject({ at: open.at, until: null, ...failure });
    expect(incident!.remediation!.summary).toMatch(/\S/);
  });
});

describe('dashboard()', () => {
  const settings = parseSettings({ WBMON_TARGETS: 'https://passwordreset.microsoftonline.com/' });

  it('answers 200 with the page as text/html, a strict Content-Security-Policy and no referrer', async () => {
    const answer = await dashboard(new MemoryStore(), settings, new Date('2026-03-31T12:00:00Z'));
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe('text/html; charset=utf-8');
    expect(answer.headers).toMatchObject({ 'content-security-policy': DASHBOARD_CSP, 'referrer-policy': 'no-referrer' });
    expect(String(answer.body)).toContain(`id="${dashboardAnchor(UP)}"`);
    expect(String(answer.body)).toContain('<span class="st s-new">new</span>');
  });

  it.each([
    ['every read fails', (): boolean => true],
    ['only the history cannot be read', (collection: string): boolean => collection === 'history'],
  ])('answers 503 naming AzureWebJobsStorage when %s', async (_name, failing) => {
    const store = unreachable(failing);
    const answer = await dashboard(store, settings, new Date('2026-03-31T12:00:00Z'));
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ error: expect.stringMatching(/^AzureWebJobsStorage: state store not reachable/) });
  });
});

/** A store whose reads of some collections fail as a network error would. */
function unreachable(failing: (collection: string) => boolean): Store {
  const store = new MemoryStore();
  const fail = (collection: string): void => {
    if (failing(collection)) throw new Error('connect ECONNREFUSED 127.0.0.1:10002');
  };
  return new Proxy(store, {
    get(target, name, receiver) {
      if (name === 'list') return async (collection: string, options?: unknown) => (fail(collection), target.list(collection, options as never));
      if (name === 'get') return async (collection: string, key: string) => (fail(collection), target.get(collection, key));
      return Reflect.get(target, name, receiver);
    },
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
