/**
 * The round trip as an administrator runs it: `roundtrip login` against a loopback Entra ID
 * authority (real HTTPS, device code flow), then `serve --data` running the roundTrip job against a
 * loopback Graph through every documented outcome. After each run /api/status shows the check up or
 * down with the quoted reason. At the end every password Graph received, every token the authority
 * issued and the token key are searched for in everything that came out: log lines, the state
 * file on disk, the HTTP API and the alerts a webhook received.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { roundtripCommand } from '../../src/cli/roundtrip-command.js';
import { parseSettings } from '../../src/config/settings.js';
import { serve, type RunningMonitor } from '../../src/local/serve.js';
import type { Clock } from '../../src/local/scheduler.js';
import { createLoopbackTls, startLoopbackAuthority, type LoopbackAuthority, type LoopbackTls } from '../support/loopback-authority.js';
import { APP_TOKEN, NEVER, roundtripEnv, startRoundtripGraph, syncedUser, USER_ID, USER_UPN, type RoundtripGraph, type RoundtripGraphScenario } from './roundtrip-graph.js';

const TOKEN_KEY = 'o1KTeBfye1fhDAM6jJcBruKdwC0LpJaL4rcjdFR50Y0=';
const CHECK = `roundtrip:${USER_ID}`;

let tls: LoopbackTls;
let authority: LoopbackAuthority;
let graph: RoundtripGraph;
let hook: Server;
let dir: string;
let monitor: RunningMonitor;
const logs: string[] = [];
const alerts: string[] = [];
const cli: string[] = [];
// Real time plus an offset the test moves: the reset's waits are real, and a run is "16 minutes later".
let offset = 0;
const clock: Clock = {
  now: () => new Date(Date.now() + offset),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
let env: Record<string, string>;

async function get(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${monitor.url}${path}`);
  return { status: res.status, text: await res.text() };
}

async function check(): Promise<any> {
  const body = JSON.parse((await get('/api/status')).text) as { checks: any[] };
  return body.checks.find((c) => c.id === CHECK);
}

/** The next run, 16 minutes after the last (the round trip never runs twice within 15). */
async function runWith(scenario: RoundtripGraphScenario): Promise<any> {
  offset += 16 * 60_000;
  for (const key of Object.keys(graph.scenario) as (keyof RoundtripGraphScenario)[]) delete graph.scenario[key];
  Object.assign(graph.scenario, { reset: [{ status: 202, retryAfter: '0' }], pollRetryAfter: '0' }, scenario);
  graph.restart();
  await monitor.run('roundTrip');
  return check();
}

beforeAll(async () => {
  tls = await createLoopbackTls();
  authority = await startLoopbackAuthority({ tls, interval: 0 });
  graph = await startRoundtripGraph({});
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      alerts.push(body);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  dir = await mkdtemp(join(tmpdir(), 'wbmon-roundtrip-'));
  env = roundtripEnv(graph, authority, TOKEN_KEY, { WBMON_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` });
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const code = await roundtripCommand(['login', '--data', dir], { out: (l) => cli.push(l), now: () => clock.now(), sleep: async () => undefined, dispatcher: tls.agent });
  expect(code, cli.join('\n')).toBe(0);
  monitor = await serve({ settings: parseSettings(env), port: 0, dataDir: dir, log: (l) => logs.push(l), clock, roundtripDispatcher: tls.agent, roundtripWaitMs: 2_500 });
  await monitor.firstCycle;
}, 60_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await monitor?.stop();
  await new Promise<void>((r) => hook?.close(() => r()));
  await graph?.close();
  await authority?.close();
  await tls?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the round trip under serve', () => {
  it('signs in once with the device code flow, printing the code and where to enter it', () => {
    expect(cli[0]).toContain(authority.issuedUserCodes[0]!);
    expect(cli[1]).toBe(
      `signed in as ${authority.user.username}; the refresh token is stored in the state store, encrypted with WBMON_ROUNDTRIP_TOKEN_KEY. The round trip runs on WBMON_ROUNDTRIP_SCHEDULE "${NEVER}"; try one now with: writeback-monitor roundtrip test`,
    );
  });

  it('shows the check up after a reset the operation reports succeeded, with the warning that no relay could confirm it', async () => {
    const c = await runWith({});
    expect(c).toMatchObject({ kind: 'roundtrip', target: USER_UPN, location: 'tenant', state: 'up' });
    expect(c.lastResult.ok).toBe(true);
    expect(c.lastResult.warnings).toEqual([
      { code: 'roundtrip_unconfirmable', message: expect.stringMatching(/^the reset of wbmon-roundtrip@contoso\.com succeeded in the cloud at .* \(operation a3f2e1d0-0000-4000-8000-00000000c0de\); no relay reads Connect's event log/) },
    ]);
    expect(graph.passwords).toHaveLength(1);
    // The delegated token came from a refresh with the stored refresh token, not the app's token.
    const post = graph.requests.find((r) => r.method === 'POST')!;
    expect(post.authorization).toBe(`Bearer ${authority.issuedAccessTokens.at(-1)}`);
    expect(authority.requests.filter((r) => r.grantType === 'refresh_token').map((r) => r.refreshToken)).toEqual([authority.issuedRefreshTokens[0]]);
  });

  it('goes down quoting the statusDetail of a failed operation', async () => {
    const c = await runWith({ operation: ['running', { failed: 'The on-premises service could not be reached.' }] });
    expect(c.state).toBe('down');
    expect(c.lastResult.failure).toEqual({
      code: 'roundtrip_failed',
      phase: 'operation',
      message: 'the password reset failed: "The on-premises service could not be reached." (operation a3f2e1d0-0000-4000-8000-00000000c0de)',
    });
  });

  it('comes back up after one good round trip, through a 429 with Retry-After', async () => {
    const before = graph.passwords.length;
    const c = await runWith({ reset: [{ status: 429, retryAfter: '1' }, { status: 202, retryAfter: '0' }] });
    expect(c.state).toBe('up');
    expect(graph.passwords.length - before).toBe(2);
  });

  it('goes down with roundtrip_forbidden on a 403, naming the role', async () => {
    const c = await runWith({ reset: [{ status: 403, code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' }] });
    expect(c.state).toBe('down');
    expect(c.lastResult.failure.code).toBe('roundtrip_forbidden');
    expect(c.lastResult.failure.message).toContain('Authentication Administrator');
  });

  it('goes down with roundtrip_password_refused quoting a cloud refusal', async () => {
    const c = await runWith({ reset: [{ status: 400, code: 'invalidPassword', message: 'The password does not meet the banned password requirements.' }] });
    expect(c.lastResult.failure).toMatchObject({ code: 'roundtrip_password_refused', message: expect.stringContaining('"The password does not meet the banned password requirements."') });
  });

  it('goes down with roundtrip_timeout when the operation never ends', async () => {
    const c = await runWith({ operation: ['running'], pollRetryAfter: undefined });
    expect(c.lastResult.failure).toMatchObject({ code: 'roundtrip_timeout', phase: 'operation' });
  });

  it('refuses a user with a directory role, and a cloud-only user, sending no reset', async () => {
    const before = graph.passwords.length;
    expect((await runWith({ roles: ['Helpdesk Administrator'] })).lastResult.failure.code).toBe('roundtrip_refused_admin');
    expect((await runWith({ user: syncedUser({ onPremisesSyncEnabled: false }) })).lastResult.failure.code).toBe('roundtrip_refused_cloud_user');
    expect(graph.passwords).toHaveLength(before);
  });

  it('does not run again within 15 minutes, whatever the schedule says', async () => {
    offset += 16 * 60_000;
    await monitor.run('roundTrip');
    const resets = graph.passwords.length;
    offset += 60_000;
    await monitor.run('roundTrip');
    expect(graph.passwords).toHaveLength(resets);
    const skipped = logs.filter((l) => l.startsWith('roundTrip: round trip: not run:'));
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatch(/^roundTrip: round trip: not run: the last round trip began at .*; the next may begin at .* \(never more often than every 15 minutes, whatever the schedule says\)$/);
  });

  it('goes down with roundtrip_reauth once the refresh token is revoked, saying to sign in again', async () => {
    authority.revokeAll();
    const c = await runWith({});
    expect(c.state).toBe('down');
    expect(c.lastResult.failure).toMatchObject({ code: 'roundtrip_reauth', phase: 'signin', message: expect.stringContaining('run writeback-monitor roundtrip login again') });
  });

  it('let no password, token or key out: not in the log, the state on disk, the API or the alerts', async () => {
    const api = await Promise.all(['/api/status', '/api/dashboard', '/api/metrics', `/api/history?check=${encodeURIComponent(CHECK)}`].map(async (p) => (await get(p)).text));
    await monitor.run('evaluateHeartbeats'); // an alert pass delivers what the runs recorded
    const files = await Promise.all((await readdir(dir)).map((f) => readFile(join(dir, f))));
    const everything = [...logs, ...cli, ...api, ...alerts, ...files.map((b) => b.toString('latin1'))].join('\n');
    expect(alerts.length).toBeGreaterThan(0);
    const secrets = [...graph.passwords, ...authority.issuedRefreshTokens, ...authority.issuedAccessTokens, TOKEN_KEY, APP_TOKEN];
    expect(graph.passwords.length).toBeGreaterThanOrEqual(5);
    for (const secret of secrets) expect(everything.includes(secret), `a secret of ${secret.length} characters came out`).toBe(false);
  });
});
