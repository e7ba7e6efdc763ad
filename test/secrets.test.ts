/**
 * No secret in any log line, alert or status output: the whole monitor runs with every
 * secret-bearing setting set to a recognisable value, a failure makes it alert on every
 * channel, a relay posts with a wrong secret, and everything that came out is searched.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../src/config/settings.js';
import { serve, type RunningMonitor } from '../src/local/serve.js';
import { createTestCa } from './support/certs.js';
import { heartbeat, signed } from './support/heartbeats.js';
import { respond, startHttps, type Running } from './support/servers.js';

const SECRETS = {
  teams: 'TEAMS-SIG-7f3a9c',
  webhook: 'WEBHOOK-CODE-51e0d2',
  hmac: 'HMAC-SECRET-c0ffee42-0123456789abcdef',
  smtp: 'SMTP-PASSWORD-9b8a7c',
  relay: 'RELAY-SECRET-0123456789abcdef0123456789',
};

const outputs: string[] = [];
const closers: (() => Promise<void>)[] = [];
let monitor: RunningMonitor;
let target: Running;

async function capture(name: string): Promise<string> {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      outputs.push(`${name} received: ${JSON.stringify(req.headers)} ${body}`);
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const ca = await createTestCa();
  target = await startHttps(await ca.issue({ names: ['localhost'] }), respond(503));
  closers.push(() => target.close());
  const teams = await capture('teams');
  const hook = await capture('webhook');
  const smtp = new SMTPServer({
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    onAuth: (auth, _session, cb) => (auth.password === SECRETS.smtp ? cb(null, { user: auth.username }) : cb(new Error('bad credentials'))),
    onData: (stream, _session, cb) => {
      let raw = '';
      stream.on('data', (d: Buffer) => (raw += d));
      stream.on('end', () => {
        outputs.push(`email received: ${raw}`);
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => smtp.close(() => r())));
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  const settings = parseSettings({
    WBMON_TARGETS: target.url,
    WBMON_FAILURE_THRESHOLD: '1',
    WBMON_TEAMS_WEBHOOK_URL: `${teams}/workflows/invoke?sig=${SECRETS.teams}`,
    WBMON_WEBHOOK_URL: `${hook}/hook?code=${SECRETS.webhook}`,
    WBMON_WEBHOOK_SECRET: SECRETS.hmac,
    WBMON_SMTP_URL: `smtp://alerts:${SECRETS.smtp}@127.0.0.1:${smtpPort}`,
    WBMON_EMAIL_FROM: 'monitor@corp.example',
    WBMON_EMAIL_TO: 'oncall@corp.example',
    WBMON_RELAYS: JSON.stringify({ connect01: { secret: SECRETS.relay } }),
  });
  monitor = await serve({ settings, port: 0, log: (l) => outputs.push(`log: ${l}`), probe: { extraCa: [ca.cert] } });
  await monitor.firstCycle;
});
afterAll(async () => {
  await monitor.stop();
  await Promise.all(closers.map((c) => c()));
});

describe('secrets', () => {
  it('never appear in logs, alerts on any channel, API answers or status', async () => {
    // A relay with the wrong secret: refused, and the refusal is logged.
    const wrong = signed(JSON.stringify(heartbeat(1, { relayId: 'connect01' })), { relayId: 'connect01', secret: `${SECRETS.relay}-nope` });
    const refused = await fetch(`${monitor.url}/api/heartbeat`, { method: 'POST', headers: wrong.headers, body: wrong.body });
    outputs.push(`heartbeat answer: ${refused.status} ${await refused.text()}`);
    outputs.push(`status: ${await (await fetch(`${monitor.url}/api/status`)).text()}`);

    // The alert went out on all three channels, so there was something to leak.
    expect(outputs.filter((o) => o.startsWith('teams received')).length).toBe(1);
    expect(outputs.filter((o) => o.startsWith('webhook received')).length).toBe(1);
    expect(outputs.filter((o) => o.startsWith('email received')).length).toBe(1);
    expect(outputs.some((o) => o.startsWith('log: heartbeat refused (401)'))).toBe(true);

    const everything = outputs.join('\n');
    for (const [name, secret] of Object.entries(SECRETS)) expect(everything, `${name} secret leaked`).not.toContain(secret);
  });
});
