import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'undici';
import type { AlertEvent } from '../../src/alerting/event.js';
import { alertLinks } from '../../src/alerting/links.js';
import { DeliveryError } from '../../src/alerting/channels/channel.js';
import { buildPayload as buildEmail, subject } from '../../src/alerting/channels/email/payload.js';
import { buildPayload, graphMailChannel, sendMailPath } from '../../src/alerting/channels/graphmail/index.js';
import { configuredChannels } from '../../src/alerting/channels/registry.js';
import { parseSettings } from '../../src/config/settings.js';
import { createTestCa, type KeyAndCert, type TestCa } from '../support/certs.js';
import { json, startGraphServer, type GraphServer, type Handler } from '../graph/graph-server.js';
import { HOSTILE_EVENT, UNSAFE } from '../support/hostile-text.js';

const TOKEN = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.GRAPH-TOKEN-5f3e9a.signature';
const SENDER = 'wbmon-alerts@contoso.com';
const FROM = `Writeback monitor <${SENDER}>`;
const TO = ['oncall@contoso.com', 'identity-team@contoso.com'];
const SEND_PATH = `/v1.0/users/${SENDER}/sendMail`;
const TARGET = 'https://ssprdedicatedsbprodscu.servicebus.windows.net/';

const triggered: AlertEvent = {
  id: `relay:connect01:${TARGET}|triggered|2026-03-01T10:00:00.000Z`,
  kind: 'triggered',
  checkId: `relay:connect01:${TARGET}`,
  checkKind: 'relay-probe',
  target: TARGET,
  location: 'connect01',
  state: 'down',
  since: '2026-03-01T10:00:00.000Z',
  at: '2026-03-01T12:05:30.000Z',
  failure: { code: 'tcp_timeout', phase: 'tcp', message: 'no answer to SYN within 10000 ms' },
  remediation: {
    summary: 'Allow outbound TCP 443 from connect01 to *.servicebus.windows.net',
    steps: ['Open TCP 443 to *.servicebus.windows.net in the firewall'],
  },
};

const resolved: AlertEvent = { ...triggered, id: `relay:connect01:${TARGET}|resolved|2026-03-01T13:00:00.000Z`, kind: 'resolved', state: 'up', failure: undefined };

let ca: TestCa;
let leaf: KeyAndCert;
let trusting: Agent;
const servers: GraphServer[] = [];

beforeAll(async () => {
  ca = await createTestCa();
  leaf = await ca.issue({ ips: ['127.0.0.1'] });
  trusting = new Agent({ connect: { ca: ca.cert } });
});

afterAll(async () => {
  await trusting.close();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A loopback HTTPS Graph that answers the sender's sendMail with `handler`. */
async function graph(handler: Handler, path = SEND_PATH): Promise<GraphServer> {
  const server = await startGraphServer({ [path]: handler }, { tls: leaf });
  servers.push(server);
  return server;
}

const accepted: Handler = (_req, res) => {
  res.writeHead(202);
  res.end();
};

function channelFor(server: GraphServer, token: string | (() => Promise<string>) = TOKEN) {
  return graphMailChannel({ graphUrl: server.baseUrl, from: FROM, to: TO, token, timeoutMs: 5_000, dispatcher: trusting });
}

async function deliveryError(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

/** Everything an error could show: its message, its string form, its causes and own fields. */
function everythingIn(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(String(e), JSON.stringify(e, Object.getOwnPropertyNames(e as object)));
  }
  return parts.join('\n');
}

describe('the Graph sendMail payload', () => {
  it('is the email channel\'s subject and HTML body, to every recipient, not saved to Sent Items', () => {
    const email = buildEmail(triggered, TO, SENDER);
    expect(buildPayload(triggered, TO, FROM)).toEqual({
      path: SEND_PATH,
      body: {
        message: {
          subject: subject(triggered),
          body: { contentType: 'HTML', content: email.html },
          toRecipients: [{ emailAddress: { address: 'oncall@contoso.com' } }, { emailAddress: { address: 'identity-team@contoso.com' } }],
          importance: 'high',
          internetMessageHeaders: [{ name: 'X-Wbmon-Event', value: triggered.id }],
        },
        saveToSentItems: false,
      },
    });
    expect(buildPayload(triggered, TO, FROM).body.message.subject).toBe(`[DOWN] relay connect01 cannot reach ssprdedicatedsbprodscu.servicebus.windows.net - tcp_timeout in tcp`);
  });

  it("carries the email channel's links to the check's section of the status page and to the workbook in its HTML body", () => {
    const workbook = 'https://portal.azure.com/#@contoso.onmicrosoft.com/resource/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/workbooks/5f0a/workbook';
    const links = alertLinks(triggered, { base: 'https://wbmon.contoso.com', workbook });
    const content = buildPayload(triggered, TO, FROM, links).body.message.body.content;
    expect(content).toBe(buildEmail(triggered, TO, SENDER, links).html);
    expect(content).toContain(
      '<a href="https://wbmon.contoso.com/api/dashboard#check-relay%3Aconnect01%3Ahttps%3A%2F%2Fssprdedicatedsbprodscu.servicebus.windows.net%2F" style="color:#0f6cbd;font-weight:600">Open the status page</a>',
    );
    expect(content).toContain(`<a href="${workbook}" style="color:#0f6cbd;font-weight:600">Open the workbook in the Azure portal</a>`);
    expect(buildPayload(triggered, TO, FROM).body.message.body.content).not.toContain('<a ');
  });

  it('marks only a new outage as high importance', () => {
    expect(buildPayload(resolved, TO, FROM).body.message.importance).toBe('normal');
    expect(buildPayload(resolved, TO, FROM).body.message.subject).toMatch(/^\[RESOLVED\] /);
  });

  it('keeps hostile relay text out of the header and the markup', () => {
    const { body } = buildPayload(HOSTILE_EVENT, TO, FROM);
    expect(body.message.subject).not.toMatch(UNSAFE);
    // The HTML is the email channel's, which escapes every value of the event.
    expect(body.message.body.content).toBe(buildEmail(HOSTILE_EVENT, TO, SENDER).html);
    const header = body.message.internetMessageHeaders[0]!.value;
    expect(header).toMatch(/^[\x20-\x7e]{0,500}$/);
  });

  it('puts the sender in the path percent-encoded, its @ as it is', () => {
    expect(sendMailPath('Monitor <alerts@contoso.com>')).toBe('/v1.0/users/alerts@contoso.com/sendMail');
    expect(sendMailPath('a/b?c#d@contoso.com')).toBe('/v1.0/users/a%2Fb%3Fc%23d@contoso.com/sendMail');
  });
});

describe('the graphmail channel, against a loopback HTTPS Graph', () => {
  it('POSTs the message to the sender\'s sendMail with the bearer token, and a 202 is delivered', async () => {
    const server = await graph(accepted);
    await channelFor(server).send(triggered);

    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/v1.0/users/wbmon-alerts@contoso.com/sendMail');
    expect(req!.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req!.headers['content-type']).toBe('application/json');
    const body = JSON.parse(req!.body) as Record<string, unknown>;
    expect(body).toEqual(buildPayload(triggered, TO, FROM).body);
    expect(body).toMatchObject({
      message: {
        subject: subject(triggered),
        body: { contentType: 'HTML', content: expect.stringContaining('<h2') },
        toRecipients: TO.map((address) => ({ emailAddress: { address } })),
      },
      saveToSentItems: false,
    });
  });

  it('sends the status page link the link targets give, and never the token in it', async () => {
    const server = await graph(accepted);
    await graphMailChannel({ graphUrl: server.baseUrl, from: FROM, to: TO, token: TOKEN, timeoutMs: 5_000, dispatcher: trusting, links: () => ({ base: 'https://wbmon.contoso.com' }) }).send(triggered);
    const body = JSON.parse(server.requests[0]!.body) as { message: { body: { content: string } } };
    const links = alertLinks(triggered, { base: 'https://wbmon.contoso.com' });
    expect(body).toEqual(buildPayload(triggered, TO, FROM, links).body);
    expect(body.message.body.content).toContain(`href="${links.dashboard}"`);
    expect(links.dashboard).toBe('https://wbmon.contoso.com/api/dashboard#check-relay%3Aconnect01%3Ahttps%3A%2F%2Fssprdedicatedsbprodscu.servicebus.windows.net%2F');
    expect(server.requests[0]!.body).not.toContain(TOKEN);
  });

  it('asks the token provider for a token on every send (the managed identity refreshes it)', async () => {
    const server = await graph(accepted);
    let calls = 0;
    const channel = channelFor(server, async () => `${TOKEN}-${++calls}`);
    await channel.send(triggered);
    await channel.send(resolved);
    expect(server.requests.map((r) => r.authorization)).toEqual([`Bearer ${TOKEN}-1`, `Bearer ${TOKEN}-2`]);
  });

  it('reports a 403 as permanent, naming Mail.Send and the access policy, never the token', async () => {
    const server = await graph((req, res) =>
      json(res, 403, { error: { code: 'ErrorAccessDenied', message: `Access is denied. Check credentials and try again. (${req.headers.authorization})` } }),
    );
    const err = await deliveryError(channelFor(server).send(triggered));
    expect(err.permanent).toBe(true);
    expect(err.retryAfterMs).toBeUndefined();
    expect(err.message).toContain('graphmail as wbmon-alerts@contoso.com: HTTP 403 (ErrorAccessDenied: Access is denied.');
    expect(err.message).toContain('Mail.Send is not granted');
    expect(err.message).toContain('infra/grant-graph-permissions.sh --mail-send');
    expect(err.message).toContain('"Application Mail.Send"');
    expect(err.message).toContain('application access policy');
    expect(everythingIn(err)).not.toContain(TOKEN);
    expect(everythingIn(err)).not.toContain('GRAPH-TOKEN');
  });

  it('says an application access policy excludes the mailbox when Graph says so', async () => {
    const server = await graph((_req, res) =>
      json(res, 403, { error: { code: 'ErrorAccessDenied', message: 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.' } }),
    );
    const err = await deliveryError(channelFor(server).send(triggered));
    expect(err.permanent).toBe(true);
    expect(err.message).toMatch(/an Exchange Online application access policy excludes the mailbox wbmon-alerts@contoso\.com/);
  });

  it('reports a 404 as permanent: no such mailbox', async () => {
    const server = await graph((_req, res) => json(res, 404, { error: { code: 'ErrorInvalidUser', message: "The requested user 'wbmon-alerts@contoso.com' is invalid." } }));
    const err = await deliveryError(channelFor(server).send(triggered));
    expect(err.permanent).toBe(true);
    expect(err.message).toContain('HTTP 404 (ErrorInvalidUser:');
    expect(err.message).toContain('no such mailbox: wbmon-alerts@contoso.com');
    expect(err.message).toContain('WBMON_EMAIL_FROM');
  });

  it('reports a 401 as permanent, naming the token and WBMON_GRAPH_URL, without the token', async () => {
    const server = await graph((_req, res) => json(res, 401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token validation failure. Invalid audience.' } }));
    const err = await deliveryError(channelFor(server).send(triggered));
    expect(err.permanent).toBe(true);
    expect(err.message).toContain('the token was refused');
    expect(err.message).toContain('WBMON_GRAPH_URL');
    expect(everythingIn(err)).not.toContain(TOKEN);
  });

  it('carries the Retry-After of a 429 so the outbox waits that long, as a transient failure', async () => {
    const server = await graph((_req, res) => json(res, 429, { error: { code: 'ApplicationThrottled', message: 'Application is over its MailboxConcurrency limit.' } }, { 'retry-after': '7' }));
    const err = await deliveryError(channelFor(server).send(triggered));
    expect(err.permanent).toBe(false);
    expect(err.retryAfterMs).toBe(7_000);
    expect(err.message).toBe('graphmail as wbmon-alerts@contoso.com: HTTP 429 throttled, Graph asks to retry after 7 s (ApplicationThrottled: Application is over its MailboxConcurrency limit.)');
  });

  it('carries the Retry-After of a 503 too, and retries a 500 and a 408 without one', async () => {
    const busy = await graph((_req, res) => json(res, 503, { error: { code: 'ServiceUnavailable', message: 'busy' } }, { 'retry-after': '120' }));
    const e503 = await deliveryError(channelFor(busy).send(triggered));
    expect(e503).toMatchObject({ permanent: false, retryAfterMs: 120_000 });
    for (const status of [500, 408]) {
      const server = await graph((_req, res) => json(res, status, { error: { code: 'x', message: 'y' } }));
      const err = await deliveryError(channelFor(server).send(triggered));
      expect(err).toMatchObject({ permanent: false, retryAfterMs: undefined });
    }
  });

  it('treats a 400 and an unexpected 200 as permanent', async () => {
    const bad = await graph((_req, res) => json(res, 400, { error: { code: 'ErrorInvalidRecipients', message: 'At least one recipient is not valid.' } }));
    const e400 = await deliveryError(channelFor(bad).send(triggered));
    expect(e400.permanent).toBe(true);
    expect(e400.message).toContain('WBMON_EMAIL_TO');
    const odd = await graph((_req, res) => json(res, 200, { ok: true }));
    const e200 = await deliveryError(channelFor(odd).send(triggered));
    expect(e200.permanent).toBe(true);
    expect(e200.message).toContain('sendMail answers 202 Accepted');
  });

  it('never shows the token, even when the answer echoes it back in every field', async () => {
    for (const status of [400, 403, 404, 429, 500]) {
      const server = await graph((req, res) => json(res, status, { error: { code: 'Echo', message: `you sent ${req.headers.authorization} and ${TOKEN}` } }));
      const err = await deliveryError(channelFor(server).send(triggered));
      expect(everythingIn(err), String(status)).not.toContain(TOKEN);
      expect(err.message).toContain('***');
    }
  });

  it('is transient when no token can be had, naming only the credential error class', async () => {
    const server = await graph(accepted);
    const failing = async (): Promise<string> => {
      throw Object.assign(new Error(`ManagedIdentityCredential: endpoint http://169.254.169.254 said ${TOKEN}`), { name: 'CredentialUnavailableError' });
    };
    const err = await deliveryError(channelFor(server, failing).send(triggered));
    expect(err.permanent).toBe(false);
    expect(err.message).toContain('could not obtain a Microsoft Graph token (CredentialUnavailableError)');
    expect(everythingIn(err)).not.toContain(TOKEN);
    expect(server.requests).toHaveLength(0);
  });

  it('is transient when Graph does not answer within the timeout', async () => {
    const server = await graph(() => undefined);
    const channel = graphMailChannel({ graphUrl: server.baseUrl, from: FROM, to: TO, token: TOKEN, timeoutMs: 300, dispatcher: trusting });
    const err = await deliveryError(channel.send(triggered));
    expect(err.permanent).toBe(false);
    expect(err.message).toContain('within 300 ms (timeout)');
  });

  it('does not trust a certificate from an unknown CA (no dispatcher: the system roots)', async () => {
    const server = await graph(accepted);
    const err = await deliveryError(graphMailChannel({ graphUrl: server.baseUrl, from: FROM, to: TO, token: TOKEN, timeoutMs: 5_000 }).send(triggered));
    expect(err.permanent).toBe(false);
    expect(server.requests).toHaveLength(0);
    expect(everythingIn(err)).not.toContain(TOKEN);
  });
});

describe('the channel registry', () => {
  it('builds the graphmail channel, not the SMTP one, from WBMON_EMAIL_VIA=graph, and it sends to WBMON_GRAPH_URL with WBMON_GRAPH_TOKEN', async () => {
    // Plain http is allowed to a loopback Graph; the global dispatcher is what the registry uses.
    const server = await startGraphServer({ [SEND_PATH]: accepted });
    servers.push(server);
    const settings = parseSettings({
      WBMON_EMAIL_VIA: 'graph',
      WBMON_EMAIL_FROM: FROM,
      WBMON_EMAIL_TO: TO.join(', '),
      WBMON_GRAPH_URL: server.baseUrl,
      WBMON_GRAPH_TOKEN: TOKEN,
    });
    const channels = configuredChannels(settings.alerting);
    expect([...channels.keys()]).toEqual(['graphmail']);
    await channels.get('graphmail')!.send(triggered);
    expect(server.requests.map((r) => [r.method, r.url, r.authorization])).toEqual([['POST', SEND_PATH, `Bearer ${TOKEN}`]]);
    expect(JSON.parse(server.requests[0]!.body)).toEqual(buildPayload(triggered, TO, FROM).body);
  });

  it('uses the token provider it is given (the runtime shares the managed identity\'s)', async () => {
    const server = await startGraphServer({ [SEND_PATH]: accepted });
    servers.push(server);
    const settings = parseSettings({ WBMON_EMAIL_VIA: 'graph', WBMON_EMAIL_FROM: SENDER, WBMON_EMAIL_TO: 'oncall@contoso.com', WBMON_GRAPH_URL: server.baseUrl });
    const channels = configuredChannels(settings.alerting, { graphToken: async () => 'shared-token' });
    await channels.get('graphmail')!.send(triggered);
    expect(server.requests[0]!.authorization).toBe('Bearer shared-token');
  });

  it('keeps building the SMTP channel when WBMON_EMAIL_VIA is unset or smtp', () => {
    const smtp = { WBMON_SMTP_URL: 'smtps://relay.corp.example:465', WBMON_EMAIL_FROM: SENDER, WBMON_EMAIL_TO: 'oncall@contoso.com' };
    expect([...configuredChannels(parseSettings(smtp).alerting).keys()]).toEqual(['email']);
    expect([...configuredChannels(parseSettings({ ...smtp, WBMON_EMAIL_VIA: 'smtp' }).alerting).keys()]).toEqual(['email']);
    expect([...configuredChannels(parseSettings({}).alerting).keys()]).toEqual([]);
  });
});
