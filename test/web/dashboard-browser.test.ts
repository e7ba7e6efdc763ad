/**
 * The status page in a real browser: Debian's chromium driven by playwright-core (nothing
 * downloaded; WBMON_CHROMIUM, else `chromium` on PATH), against a real `serve` with real
 * loopback HTTPS targets (one up, one answering 503) and one relay posting a signed heartbeat.
 * The store is an Azurite of the test's own (AzureWebJobsStorage), so 89 earlier days of
 * history can be written into it before serve starts, as 90 days of running would have left
 * them; today is what serve itself measured.
 *
 * Screenshots go to test-output/ (gitignored): dashboard.png (the whole page), dashboard-top.png
 * (what the README shows), dashboard-phone.png, dashboard-dark.png. Without chromium every test
 * here is skipped, saying so in its name.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedHistory } from '../../bench/dashboard-render.js';
import { remediationFor } from '../../src/alerting/remediation.js';
import { parseSettings } from '../../src/config/settings.js';
import { startAzurite, type RunningAzurite } from '../../src/local/azurite.js';
import { serve, type RunningMonitor } from '../../src/local/serve.js';
import { TableStore } from '../../src/store/table-store.js';
import { renderDashboard } from '../../src/web/dashboard.js';
import { dashboardAnchor } from '../../src/web/links.js';
import { createTestCa } from '../support/certs.js';
import { heartbeat, RELAYS_JSON, signed } from '../support/heartbeats.js';
import { respond, startHttps, type Running } from '../support/servers.js';
import { model, probeCheck, relay } from './dashboard-model.js';

/*
 * The functions given to page.evaluate run in the page: its globals, typed loosely here rather
 * than adding the DOM library to every test (its fetch and crypto types clash with Node's).
 */
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare const window: any;
declare const getComputedStyle: any;
declare const CSS: any;
declare const Node: any;

const OUTPUT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-output');
const RELAY_TARGET = 'https://passwordreset.microsoftonline.com/';

/** WBMON_CHROMIUM, else `chromium` on PATH; undefined when neither is an executable. */
function findChromium(): string | undefined {
  const candidates = [process.env.WBMON_CHROMIUM, spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).stdout.trim()];
  for (const path of candidates) {
    if (!path) continue;
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const executablePath = findChromium();
const SKIPPED = ' (SKIPPED: no chromium; apt-get install chromium, or set WBMON_CHROMIUM)';
const browserIt = (name: string, fn: () => Promise<void>, timeout?: number): void => it.skipIf(!executablePath)(executablePath ? name : `${name}${SKIPPED}`, fn, timeout);

let azurite: RunningAzurite;
let monitor: RunningMonitor;
let browser: Browser;
let up: Running;
let down: Running;
const lines: string[] = [];

const upId = (): string => `cloud:${up.url}`;
const downId = (): string => `cloud:${down.url}`;
const relayProbeId = `relay:relay-a:${RELAY_TARGET}`;

beforeAll(async () => {
  if (!executablePath) return;
  const ca = await createTestCa();
  const cert = await ca.issue({ names: ['localhost'] });
  up = await startHttps(cert);
  down = await startHttps(cert, respond(503));
  azurite = await startAzurite({});
  // 89 earlier days, written before serve records today's first result.
  const seeding = TableStore.fromConnectionString(azurite.connectionString);
  await seeding.ready();
  const now = new Date();
  for (const [i, id] of [upId(), downId(), relayProbeId, 'heartbeat:relay-a'].entries()) await seedHistory(seeding, id, now, { days: 90, seed: i + 7 });
  await seeding.close();

  const settings = parseSettings({
    WBMON_TARGETS: `${up.url},${down.url}`,
    WBMON_FAILURE_THRESHOLD: '1',
    WBMON_RELAYS: RELAYS_JSON,
    AzureWebJobsStorage: azurite.connectionString,
  });
  monitor = await serve({ settings, port: 0, log: (l) => lines.push(l), probe: { extraCa: [ca.cert] } });
  await monitor.firstCycle;
  const at = new Date().toISOString();
  const beat = heartbeat(1, {
    sentAt: at,
    results: [{ ...heartbeat(1).results[0]!, startedAt: at }],
    buffer: { pending: 2, dropped: 0 },
    keepalive: {
      target: RELAY_TARGET,
      requiredSeconds: 180,
      passed: true,
      finishedAt: at,
      results: [
        { target: RELAY_TARGET, idleSeconds: 180, startedAt: at, survived: true, serverKeepAliveSeconds: null, proxy: null },
        { target: RELAY_TARGET, idleSeconds: 360, startedAt: at, survived: false, died: { how: 'rst', afterSeconds: 240, during: 'idle' }, serverKeepAliveSeconds: null, proxy: null },
      ],
    },
  });
  const request = signed(JSON.stringify(beat));
  const answer = await fetch(`${monitor.url}/api/heartbeat`, { method: 'POST', headers: request.headers, body: request.body });
  expect(answer.status).toBe(202);
  await monitor.run('evaluateHeartbeats');
  mkdirSync(OUTPUT, { recursive: true });
  // Chromium's sandbox needs user namespaces, which containers (and root) often lack; the page
  // under test is our own.
  browser = await chromium.launch({ executablePath, chromiumSandbox: false });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await monitor?.stop();
  await azurite?.close();
  await Promise.all([up, down].map((s) => s?.close()));
});

interface Opened {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly requests: string[];
  readonly problems: string[];
}

/** A fresh context on the page, recording every request, console error, page error and CSP violation. */
async function open(path: string, options: Parameters<Browser['newContext']>[0] = {}): Promise<Opened> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e: any) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  const response = await page.goto(`${monitor.url}${path}`);
  expect(response?.status()).toBe(200);
  return { page, context, requests, problems };
}

async function status(): Promise<{ checks: { id: string; state: string }[]; relays: { relayId: string; state: string }[] }> {
  return (await fetch(`${monitor.url}/api/status`)).json() as never;
}

describe('the status page in chromium', () => {
  browserIt('loads from / (redirected) with no console error and no request to another origin', async () => {
    const { page, context, requests, problems } = await open('/');
    try {
      expect(new URL(page.url()).pathname).toBe('/api/dashboard');
      const origin = new URL(monitor.url).origin;
      expect(requests.length).toBeGreaterThanOrEqual(2);
      for (const url of requests) expect(url.startsWith('data:') || new URL(url).origin === origin, url).toBe(true);
      expect(problems).toEqual([]);
      expect(await page.evaluate(() => document.scripts.length)).toBe(0);
    } finally {
      await context.close();
    }
  });

  browserIt('is sent with a Content-Security-Policy that allows no script and nothing from elsewhere', async () => {
    const res = await fetch(`${monitor.url}/api/dashboard`);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; img-src data:;/);
    expect(csp).not.toMatch(/script-src|https?:/);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  });

  browserIt('shows every check and relay of /api/status with its state in words', async () => {
    const { page, context } = await open('/api/dashboard');
    try {
      const { checks, relays } = await status();
      expect(checks.map((c) => c.id)).toEqual(expect.arrayContaining([upId(), downId(), relayProbeId, 'heartbeat:relay-a', 'keepalive:relay-a']));
      for (const check of checks) {
        const shown = await page.evaluate((anchor) => {
          const section = document.getElementById(anchor);
          return section && { state: section.querySelector('.st')?.textContent, heading: section.querySelector('h3')?.textContent };
        }, dashboardAnchor(check.id));
        expect(shown, check.id).toEqual({ state: check.state, heading: `${check.state}${check.id}` });
      }
      expect(checks.find((c) => c.id === upId())?.state).toBe('up');
      expect(checks.find((c) => c.id === downId())?.state).toBe('down');
      for (const r of relays) {
        const state = await page.evaluate((id) => document.getElementById(id)?.querySelector('.card .st')?.textContent, `relay-${encodeURIComponent(r.relayId)}`);
        expect(state, r.relayId).toBe(r.state);
      }
      const relayCard = await page.evaluate(() => document.getElementById('relay-relay-a')?.querySelector('dl')?.textContent);
      expect(relayCard).toMatch(/last heartbeat\d+ s ago/);
      expect(relayCard).toContain('buffered2 heartbeats pending');
      expect(relayCard).toContain('keepalivesurvived 180 s idle (needs 180 s): passed');
    } finally {
      await context.close();
    }
  });

  browserIt("shows the down check's open incident first, with its phase, code and the remediation the alerts carry", async () => {
    const { page, context } = await open('/api/dashboard');
    try {
      const incident = await page.evaluate((anchor) => {
        const section = document.getElementById('incidents')!;
        const link = section.querySelector(`a[href="#${CSS.escape(anchor)}"]`);
        const firstGroup = document.querySelector('section.group')!;
        return {
          text: link?.closest('article')?.textContent ?? null,
          first: !!(section.compareDocumentPosition(firstGroup) & Node.DOCUMENT_POSITION_FOLLOWING),
          count: section.querySelectorAll('article').length,
        };
      }, dashboardAnchor(downId()));
      expect(incident.first).toBe(true);
      expect(incident.count).toBe(1);
      expect(incident.text).toContain('phase http · code http_status');
      expect(incident.text).toContain('HTTP 503; expected an HTTP status below 500');
      const fix = remediationFor({ checkKind: 'probe', location: 'local', target: down.url, code: 'http_status', phase: 'http', message: 'HTTP 503; expected an HTTP status below 500' });
      expect(incident.text).toContain(`What to do: ${fix.summary}`);
      for (const step of fix.steps) expect(incident.text).toContain(step);
      // The link leads to the check's own section.
      await page.click(`#incidents a[href="#${dashboardAnchor(downId())}"]`);
      expect(new URL(page.url()).hash).toBe(`#${dashboardAnchor(downId())}`);
    } finally {
      await context.close();
    }
  });

  browserIt('draws exactly 90 day elements in every bar, each titled with its date, runs and failures; today counts what serve measured', async () => {
    const { page, context } = await open('/api/dashboard');
    try {
      const bars = await page.evaluate(() =>
        [...document.querySelectorAll('article[id^="check-"]')].map((a) => ({ id: a.id, titles: [...a.querySelectorAll('ol.days > li')].map((li) => li.getAttribute('title')) })),
      );
      const { checks } = await status();
      expect(bars).toHaveLength(checks.length);
      for (const bar of bars) expect(bar.titles, bar.id).toHaveLength(90);
      const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
      const today = new Date();
      const label = `${month[today.getUTCMonth()]} ${today.getUTCDate()}`;
      const upBar = bars.find((b) => b.id === dashboardAnchor(upId()))!;
      expect(upBar.titles.at(-1)).toMatch(new RegExp(`^${label}: \\d+ ok$`));
      expect(upBar.titles.slice(0, 89).every((t) => /^\w{3} \d{1,2}: (288 ok|288 runs, \d+ failed)$/.test(t!))).toBe(true);
      const downBar = bars.find((b) => b.id === dashboardAnchor(downId()))!;
      expect(downBar.titles.at(-1)).toMatch(new RegExp(`^${label}: (\\d+) runs?, \\1 failed$`));
      // The 24-hour line has the seeded hours of yesterday.
      expect(await page.evaluate((a) => document.getElementById(a)?.querySelector('svg.spark path')?.getAttribute('d'), dashboardAnchor(upId()))).toMatch(/^M\d/);
      await page.setViewportSize({ width: 1000, height: 1250 });
      await page.screenshot({ path: join(OUTPUT, 'dashboard.png'), fullPage: true });
      // The top of it, as the README shows it (docs/images/dashboard.png is a copy of this).
      await page.screenshot({ path: join(OUTPUT, 'dashboard-top.png') });
    } finally {
      await context.close();
    }
  });

  browserIt('fits a phone (390 x 844): no horizontal scrolling, every bar still 90 days', async () => {
    const { page, context, problems } = await open('/api/dashboard', { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      const fit = await page.evaluate(() => ({ scrollWidth: document.scrollingElement!.scrollWidth, innerWidth: window.innerWidth, bars: [...document.querySelectorAll('ol.days')].map((o) => o.children.length) }));
      expect(fit.innerWidth).toBe(390);
      expect(fit.scrollWidth).toBeLessThanOrEqual(fit.innerWidth);
      expect(new Set(fit.bars)).toEqual(new Set([90]));
      expect(problems).toEqual([]);
      await page.screenshot({ path: join(OUTPUT, 'dashboard-phone.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  browserIt('renders in dark mode when the system asks for it: a dark background, light text', async () => {
    const { page, context } = await open('/api/dashboard', { colorScheme: 'light' });
    try {
      const colours = (): Promise<{ bg: string; fg: string }> => page.evaluate(() => ({ bg: getComputedStyle(document.body).backgroundColor, fg: getComputedStyle(document.body).color }));
      const light = await colours();
      await page.emulateMedia({ colorScheme: 'dark' });
      const dark = await colours();
      expect(dark.bg).not.toBe(light.bg);
      const luminance = (rgb: string): number => {
        const [r, g, b] = rgb.match(/\d+/g)!.map(Number);
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
      };
      expect(luminance(dark.bg)).toBeLessThan(60);
      expect(luminance(dark.fg)).toBeGreaterThan(180);
      expect(luminance(light.bg)).toBeGreaterThan(200);
      await page.screenshot({ path: join(OUTPUT, 'dashboard-dark.png') });
    } finally {
      await context.close();
    }
  });

  browserIt('shows a check id holding markup as text and runs none of it', async () => {
    const hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.setContent(renderDashboard(model([probeCheck(hostile, 'https://h.example/', { kind: 'eventlog', location: 'relay-a' })], [relay('relay-a')])));
      const seen = await page.evaluate((anchor) => ({
        pwned: (window as unknown as { __pwned?: number }).__pwned ?? null,
        scripts: document.scripts.length,
        images: document.images.length,
        heading: document.getElementById(anchor)?.querySelector('h3')?.textContent ?? null,
      }), dashboardAnchor(hostile));
      expect(seen).toEqual({ pwned: null, scripts: 0, images: 0, heading: `up${hostile}` });
    } finally {
      await context.close();
    }
  });
});
