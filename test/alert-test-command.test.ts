/**
 * `writeback-monitor alert test`, run as a real process against loopback receivers: a Teams
 * Workflows stand-in answering 202, a generic webhook answering as told, and a real SMTP server.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAlertEvent } from '../src/alerting/test-alert.js';
import { buildPayload as teamsPayload } from '../src/alerting/channels/teams/payload.js';
import { buildPayload as emailPayload } from '../src/alerting/channels/email/payload.js';

const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli.js');
const workDir = mkdtempSync(join(tmpdir(), 'wbmon-alert-test-'));

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: workDir, env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Hook {
  url: string;
  bodies: any[];
  status: number;
  server: Server;
}

async function hook(status: number): Promise<Hook> {
  const h: Hook = { url: '', bodies: [], status, server: createServer() };
  h.server.on('request', (req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      h.bodies.push(JSON.parse(body));
      res.writeHead(h.status).end();
    });
  });
  await new Promise<void>((r) => h.server.listen(0, '127.0.0.1', r));
  h.url = `http://127.0.0.1:${(h.server.address() as AddressInfo).port}/workflows/secret-sig-123`;
  return h;
}

let teams: Hook;
let webhook: Hook;
let smtp: SMTPServer;
let smtpPort: number;
const mails: string[] = [];

beforeAll(async () => {
  teams = await hook(202);
  webhook = await hook(202);
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onData(stream, _s, cb) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c));
      stream.on('end', () => (mails.push(raw), cb()));
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  smtpPort = (smtp.server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const h of [teams, webhook]) await new Promise<void>((r) => h.server.close(() => r()));
  await new Promise<void>((r) => smtp.close(() => r()));
});

const env = (): Record<string, string> => ({
  WBMON_TEAMS_WEBHOOK_URL: teams.url,
  WBMON_WEBHOOK_URL: webhook.url,
  WBMON_SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
  WBMON_EMAIL_FROM: 'monitor@contoso.com',
  WBMON_EMAIL_TO: 'oncall@contoso.com',
});

describe('writeback-monitor alert test', () => {
  it('sends one marked test alert through every channel, prints each answer and the Teams caveat, and exits 0', async () => {
    const { code, stdout, stderr } = await cli(['alert', 'test'], env());
    expect(stderr).toBe('');
    const lines = stdout.trim().split('\n');
    expect(lines.slice(0, 3).sort()).toEqual([
      expect.stringMatching(/^email: accepted: accepted by 127\.0\.0\.1:\d+: 250 OK: message queued$/),
      'teams: accepted: HTTP 202',
      'webhook: accepted: HTTP 202',
    ]);
    expect(lines[3]).toMatch(/^note \(teams\): Teams Workflows answers 202 before its flow runs, also when the flow then fails to post/);
    expect(code).toBe(0);
    expect(teams.bodies).toHaveLength(1);
    expect(JSON.stringify(teams.bodies[0])).toContain('TEST: writeback-monitor test alert: nothing is wrong');
    expect(webhook.bodies[0]).toMatchObject({ kind: 'test', checkId: 'test:alert', state: 'up' });
    expect(mails.at(-1)).toContain('Subject: [TEST] writeback-monitor test alert: nothing is wrong');
    expect(stdout).not.toContain('secret-sig-123');
  });

  it('exits 1 and prints the refusal when one channel refuses, the others still tried', async () => {
    webhook.status = 400;
    try {
      const { code, stdout } = await cli(['alert', 'test'], env());
      expect(stdout).toContain('webhook: refused: webhook: HTTP 400');
      expect(stdout).toContain('teams: accepted: HTTP 202');
      expect(stdout).not.toContain('secret-sig-123');
      expect(code).toBe(1);
    } finally {
      webhook.status = 202;
    }
  });

  it('exits 2 with one line when no channel is configured, or the subcommand is unknown', async () => {
    const none = await cli(['alert', 'test'], {});
    expect(none).toMatchObject({ code: 2, stdout: '' });
    expect(none.stderr).toBe('alert test: no alert channel is configured: set WBMON_TEAMS_WEBHOOK_URL, WBMON_WEBHOOK_URL, or WBMON_SMTP_URL with WBMON_EMAIL_FROM and WBMON_EMAIL_TO\n');
    const bad = await cli(['alert', 'send'], env());
    expect(bad).toMatchObject({ code: 2, stderr: 'alert: unknown subcommand "send"; only "alert test"\n' });
    const settings = await cli(['alert', 'test'], { ...env(), WBMON_FAILURE_THRESHOLD: '0' });
    expect(settings.code).toBe(2);
    expect(settings.stderr).toMatch(/^WBMON_FAILURE_THRESHOLD: /);
  });
});

describe('writeback-monitor alert test with an address for the status page', () => {
  it('links every channel to the status page itself, without an anchor: WBMON_PUBLIC_URL over WEBSITE_HOSTNAME', async () => {
    const sent = { teams: teams.bodies.length, webhook: webhook.bodies.length, mails: mails.length };
    const { code } = await cli(['alert', 'test'], { ...env(), WBMON_PUBLIC_URL: 'https://wbmon.contoso.com/monitor/', WEBSITE_HOSTNAME: 'func-wbmon.azurewebsites.net' });
    expect(code).toBe(0);
    const page = 'https://wbmon.contoso.com/monitor/api/dashboard';
    expect(teams.bodies[sent.teams].attachments[0].content.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Open status page', url: page }]);
    expect(webhook.bodies[sent.webhook].links).toEqual({ dashboard: page });
    expect(mails[sent.mails]).toContain(page);
    for (const body of [JSON.stringify(teams.bodies[sent.teams]), JSON.stringify(webhook.bodies[sent.webhook])]) expect(body).not.toContain('secret-sig-123');

    const platform = await cli(['alert', 'test'], { ...env(), WEBSITE_HOSTNAME: 'func-wbmon.azurewebsites.net' });
    expect(platform.code).toBe(0);
    expect(webhook.bodies.at(-1).links).toEqual({ dashboard: 'https://func-wbmon.azurewebsites.net/api/dashboard' });
    const none = await cli(['alert', 'test'], env());
    expect(none.code).toBe(0);
    expect(webhook.bodies.at(-1)).not.toHaveProperty('links');
    expect(teams.bodies.at(-1).attachments[0].content).not.toHaveProperty('actions');
  });

  it('exits 2 with one line naming WBMON_PUBLIC_URL among the other problems, without its password', async () => {
    const bad = await cli(['alert', 'test'], { ...env(), WBMON_PUBLIC_URL: 'https://oncall:Pw-9x@wbmon.contoso.com', WBMON_FAILURE_THRESHOLD: '0' });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim().split('\n')).toEqual([
      'WBMON_FAILURE_THRESHOLD: "0" must be a whole number from 1 to 100',
      'WBMON_PUBLIC_URL: the value (not shown: it carries credentials) must not carry a user or password: alerts show this address to everyone they reach',
    ]);
  });
});

describe('the test alert', () => {
  it('says it is a test in the Teams title and the email subject', () => {
    const event = testAlertEvent(new Date('2026-03-01T10:00:00Z'));
    expect(event).toMatchObject({ kind: 'test', id: 'test:alert|test|2026-03-01T10:00:00.000Z' });
    expect(JSON.stringify(teamsPayload(event))).toContain('"TEST: writeback-monitor test alert: nothing is wrong"');
    expect(emailPayload(event, ['a@contoso.com'], 'm@contoso.com').subject).toBe('[TEST] writeback-monitor test alert: nothing is wrong');
  });
});
