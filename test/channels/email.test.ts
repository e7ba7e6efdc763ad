import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { AlertEvent } from '../../src/alerting/event.js';
import { alertLinks } from '../../src/alerting/links.js';
import { DeliveryError, type Channel } from '../../src/alerting/channels/channel.js';
import { buildPayload, SUBJECT_MAX } from '../../src/alerting/channels/email/payload.js';
import { describeSmtp, emailChannel, isLoopback, transportOptions } from '../../src/alerting/channels/email/index.js';
import { startSilentTcp } from '../support/servers.js';
import { HOSTILE_EVENT, UNSAFE } from '../support/hostile-text.js';
import { createSelfSigned, createTestCa } from '../support/certs.js';

const TARGET = 'https://ssprdedicatedsbprodscu.servicebus.windows.net/';
const FROM = 'Writeback monitor <wbmon@example.com>';
const TO = ['oncall@example.com', 'ops@example.com'];

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
    steps: ['Open TCP 443 to *.servicebus.windows.net in the firewall', 'Exempt the Connect server from TLS inspection in the proxy'],
  },
};

const cloudProbe: AlertEvent = {
  ...triggered,
  id: 'cloud:https://passwordreset.microsoftonline.com/|triggered|2026-03-01T10:00:00.000Z',
  checkId: 'cloud:https://passwordreset.microsoftonline.com/',
  checkKind: 'probe',
  target: 'https://passwordreset.microsoftonline.com/',
  location: 'westeurope',
  failure: { code: 'tls_handshake', phase: 'tls', message: 'socket closed during the TLS handshake' },
};

// ---------------------------------------------------------------------------------------------
// A real SMTP server on loopback, and a minimal reader of what it received.

interface Received {
  readonly mailFrom: string;
  readonly rcptTo: string[];
  readonly raw: string;
  readonly user: string | undefined;
}

interface RunningSmtp {
  readonly port: number;
  readonly received: Received[];
  close(): Promise<void>;
}

const running: RunningSmtp[] = [];
const channels: Channel[] = [];

afterEach(async () => {
  await Promise.all(channels.splice(0).map((c) => c.close?.()));
  await Promise.all(running.splice(0).map((s) => s.close()));
});

function smtpError(message: string, responseCode: number): Error {
  return Object.assign(new Error(message), { responseCode });
}

async function startSmtp(overrides: Partial<SMTPServerOptions> = {}): Promise<RunningSmtp> {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('nobody@')) return callback(smtpError('5.1.1 <nobody@example.com>: user unknown', 550));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          user: typeof session.user === 'string' ? session.user : undefined,
        });
        callback();
      });
    },
    ...overrides,
  });
  // A client that gives up (an untrusted certificate, a timeout) is an 'error' of the server.
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  const smtp: RunningSmtp = { port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  running.push(smtp);
  return smtp;
}

function channel(url: string, to: readonly string[] = TO, timeoutMs = 5_000): Channel {
  const c = emailChannel({ url, from: FROM, to, timeoutMs });
  channels.push(c);
  return c;
}

async function deliveryError(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Header block and body; header names lower-cased, folded lines unfolded. */
function splitMessage(raw: string): { headers: Map<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, end).replace(/\r\n(?=[ \t])/g, '');
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body: raw.slice(end + 4) };
}

function decodePart(encoding: string | undefined, body: string): string {
  if (encoding?.toLowerCase() === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding?.toLowerCase() === 'quoted-printable') {
    // A literal % is printable in quoted-printable: escaped first, so a URL's %3A stays %3A.
    const bytes = body.replace(/=\r\n/g, '').replace(/%/g, '%25').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => `%${hex}`);
    return decodeURIComponent(bytes);
  }
  return body;
}

/** The text/plain and text/html parts of a multipart/alternative message, decoded, with LF line ends. */
function parts(raw: string): { headers: Map<string, string>; text: string; html: string } {
  const { headers, body } = splitMessage(raw);
  const boundary = /boundary="?([^";]+)"?/.exec(headers.get('content-type') ?? '')?.[1];
  expect(boundary).toBeDefined();
  const found: Record<string, string> = {};
  for (const chunk of body.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const part = splitMessage(chunk.replace(/^\r\n/, ''));
    const type = (part.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const content = decodePart(part.headers.get('content-transfer-encoding'), part.body.replace(/\r\n$/, ''));
    found[type] = content.replace(/\r\n/g, '\n');
  }
  return { headers, text: found['text/plain'] ?? '', html: found['text/html'] ?? '' };
}

// ---------------------------------------------------------------------------------------------

describe('the email payload', () => {
  it('gives the first failure of the streak a line after Since, in text and HTML', () => {
    const mail = buildPayload({ ...triggered, firstFailureAt: '2026-03-01T09:50:00.000Z' }, TO, FROM);
    expect(mail.text).toContain('\nSince:         2026-03-01 10:00:00 UTC\nFirst failure: 2026-03-01 09:50:00 UTC\nDown for:      2 h 5 min (as of 2026-03-01 12:05:30 UTC)\n');
    const cell = 'padding:3px 16px 3px 0;vertical-align:top;text-align:left';
    expect(mail.html).toContain(
      `<tr><th style="${cell};font-weight:600">Since</th><td style="${cell}">2026-03-01 10:00:00 UTC</td></tr>\n<tr><th style="${cell};font-weight:600">First failure</th><td style="${cell}">2026-03-01 09:50:00 UTC</td></tr>\n`,
    );
    expect(buildPayload(triggered, TO, FROM).text).not.toContain('First failure');
  });

  it('heads a missing Graph permission MISCONFIGURED, in the subject and the text', () => {
    const permission: AlertEvent = {
      ...triggered,
      checkId: 'tenant:writeback-failures',
      checkKind: 'tenant',
      target: 'https://graph.microsoft.com/v1.0/auditLogs/directoryAudits',
      location: 'tenant',
      failure: { code: 'graph_permission', phase: 'graph', message: 'grant the application permission AuditLog.Read.All and Directory.Read.All' },
    };
    const mail = buildPayload(permission, TO, FROM);
    expect(mail.subject.startsWith('[MISCONFIGURED] ')).toBe(true);
    expect(mail.subject.endsWith(' - graph_permission in graph')).toBe(true);
    expect(mail.text.split('\n')[0]!.startsWith('MISCONFIGURED: ')).toBe(true);
    expect(buildPayload({ ...permission, failure: { code: 'writeback_failures', phase: 'graph', message: 'x' } }, TO, FROM).subject.startsWith('[DOWN] ')).toBe(true);
  });

  it('builds the exact mail for a triggered relay check, with the failure and the numbered fix', () => {
    const th = 'padding:3px 16px 3px 0;vertical-align:top;text-align:left;font-weight:600';
    const td = 'padding:3px 16px 3px 0;vertical-align:top;text-align:left';
    expect(buildPayload(triggered, TO, FROM)).toEqual({
      from: 'Writeback monitor <wbmon@example.com>',
      to: ['oncall@example.com', 'ops@example.com'],
      subject: '[DOWN] relay connect01 cannot reach ssprdedicatedsbprodscu.servicebus.windows.net - tcp_timeout in tcp',
      text: [
        'DOWN: relay connect01 cannot reach ssprdedicatedsbprodscu.servicebus.windows.net',
        '',
        'State:         down',
        'Check:         relay:connect01:https://ssprdedicatedsbprodscu.servicebus.windows.net/',
        'Target:        https://ssprdedicatedsbprodscu.servicebus.windows.net/',
        'Location:      relay connect01 (on-premises)',
        'Failing phase: tcp',
        'Error:         tcp_timeout: no answer to SYN within 10000 ms',
        'Since:         2026-03-01 10:00:00 UTC',
        'Down for:      2 h 5 min (as of 2026-03-01 12:05:30 UTC)',
        '',
        'What to fix',
        '-----------',
        'Allow outbound TCP 443 from connect01 to *.servicebus.windows.net',
        '',
        '1. Open TCP 443 to *.servicebus.windows.net in the firewall',
        '2. Exempt the Connect server from TLS inspection in the proxy',
        '',
        '-- ',
        'writeback-monitor alert relay:connect01:https://ssprdedicatedsbprodscu.servicebus.windows.net/|triggered|2026-03-01T10:00:00.000Z',
        '',
      ].join('\n'),
      html: [
        '<!DOCTYPE html>',
        '<html><body style="font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:15px;line-height:1.4;color:#1f1f1f">',
        '<h2 style="margin:0 0 12px;font-size:19px;color:#b00020">DOWN: relay connect01 cannot reach ssprdedicatedsbprodscu.servicebus.windows.net</h2>',
        '<table style="border-collapse:collapse;margin:0 0 16px">',
        `<tr><th style="${th}">State</th><td style="${td}">down</td></tr>`,
        `<tr><th style="${th}">Check</th><td style="${td}">relay:connect01:https://ssprdedicatedsbprodscu.servicebus.windows.net/</td></tr>`,
        `<tr><th style="${th}">Target</th><td style="${td}">https://ssprdedicatedsbprodscu.servicebus.windows.net/</td></tr>`,
        `<tr><th style="${th}">Location</th><td style="${td}">relay connect01 (on-premises)</td></tr>`,
        `<tr><th style="${th}">Failing phase</th><td style="${td}">tcp</td></tr>`,
        `<tr><th style="${th}">Error</th><td style="${td}">tcp_timeout: no answer to SYN within 10000 ms</td></tr>`,
        `<tr><th style="${th}">Since</th><td style="${td}">2026-03-01 10:00:00 UTC</td></tr>`,
        `<tr><th style="${th}">Down for</th><td style="${td}">2 h 5 min (as of 2026-03-01 12:05:30 UTC)</td></tr>`,
        '</table>',
        '<h3 style="margin:0 0 8px;font-size:16px">What to fix</h3>',
        '<p style="margin:0 0 8px"><strong>Allow outbound TCP 443 from connect01 to *.servicebus.windows.net</strong></p>',
        '<ol style="margin:0 0 16px;padding-left:24px">',
        '<li style="margin:0 0 4px">Open TCP 443 to *.servicebus.windows.net in the firewall</li>',
        '<li style="margin:0 0 4px">Exempt the Connect server from TLS inspection in the proxy</li>',
        '</ol>',
        '<p style="margin:16px 0 0;font-size:12px;color:#6b6b6b">writeback-monitor alert relay:connect01:https://ssprdedicatedsbprodscu.servicebus.windows.net/|triggered|2026-03-01T10:00:00.000Z</p>',
        '</body></html>',
        '',
      ].join('\n'),
    });
  });

  it("links the check's section of the status page and the workbook after the facts, as URLs in the text and links in the HTML", () => {
    const workbook = 'https://portal.azure.com/#@contoso.onmicrosoft.com/resource/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/workbooks/5f0a/workbook';
    const dashboard = 'https://wbmon.contoso.com/monitor/api/dashboard#check-relay%3Aconnect01%3Ahttps%3A%2F%2Fssprdedicatedsbprodscu.servicebus.windows.net%2F';
    const mail = buildPayload(triggered, TO, FROM, alertLinks(triggered, { base: 'https://wbmon.contoso.com/monitor', workbook }));
    const plain = buildPayload(triggered, TO, FROM);
    expect(mail.text).toBe(
      plain.text.replace('\n\nWhat to fix\n', `\n\nStatus page: ${dashboard}\nWorkbook:    ${workbook}\n\nWhat to fix\n`),
    );
    expect(mail.html).toBe(
      plain.html.replace(
        '</table>\n',
        `</table>\n<p style="margin:0 0 16px"><a href="${dashboard}" style="color:#0f6cbd;font-weight:600">Open the status page</a> &nbsp;|&nbsp; ` +
          `<a href="${workbook}" style="color:#0f6cbd;font-weight:600">Open the workbook in the Azure portal</a></p>\n`,
      ),
    );
    expect(mail.subject).toBe(plain.subject);
  });

  it('shows only the links there is an address for, and the page itself for a test alert', () => {
    const local = buildPayload(triggered, TO, FROM, alertLinks(triggered, { base: 'http://127.0.0.1:7071' }));
    expect(local.text).toContain('\nStatus page: http://127.0.0.1:7071/api/dashboard#check-relay%3Aconnect01%3Ahttps%3A%2F%2Fssprdedicatedsbprodscu.servicebus.windows.net%2F\n\nWhat to fix');
    expect(local.text).not.toContain('Workbook');
    expect(local.html).not.toContain('workbook');
    const none = buildPayload(triggered, TO, FROM, alertLinks(triggered, {}));
    expect(none).toEqual(buildPayload(triggered, TO, FROM));
    expect(none.html).not.toContain('<a ');
    const test = { ...triggered, kind: 'test' as const };
    expect(buildPayload(test, TO, FROM, alertLinks(test, { base: 'https://wbmon.contoso.com' })).text).toContain('\nStatus page: https://wbmon.contoso.com/api/dashboard\n');
  });

  it('names a cloud probe by its URL and Azure region', () => {
    expect(buildPayload(cloudProbe, TO, FROM).subject).toBe(
      '[DOWN] cloud probe of https://passwordreset.microsoftonline.com/ (Azure westeurope) - tls_handshake in tls',
    );
  });

  it('says resolved, still down (with how long) and flapping in the subject', () => {
    const resolved: AlertEvent = { ...triggered, kind: 'resolved', state: 'up', since: '2026-03-01T12:10:00.000Z', at: '2026-03-01T12:11:00.000Z' };
    const { failure: _failure, ...withoutFailure } = resolved;
    const upMail = buildPayload(withoutFailure, TO, FROM);
    expect(upMail.subject).toBe('[RESOLVED] relay connect01 cannot reach ssprdedicatedsbprodscu.servicebus.windows.net');
    expect(upMail.text).toContain('\nUp for:   1 min (as of 2026-03-01 12:11:00 UTC)\n');
    expect(upMail.text).toContain('What to fix if it happens again');
    expect(upMail.text).not.toContain('Failing phase');

    expect(buildPayload({ ...triggered, kind: 'reminder' }, TO, FROM).subject).toBe(
      '[REMINDER] still down: relay connect01 cannot reach ssprdedicatedsbprodscu.servicebus.windows.net (for 2 h 5 min) - tcp_timeout in tcp',
    );
    expect(buildPayload({ ...triggered, kind: 'flapping' }, TO, FROM).subject).toBe(
      '[FLAPPING] relay connect01 cannot reach ssprdedicatedsbprodscu.servicebus.windows.net',
    );
  });

  it('escapes every event value in the HTML body, a <script> in the error message included', () => {
    const hostile: AlertEvent = {
      ...triggered,
      target: 'https://evil.example/"><img src=x onerror=alert(1)>',
      failure: { code: 'http_status', phase: 'http', message: '<script>alert("pwned")</script> & more' },
      remediation: { summary: 'Fix <b>this</b>', steps: ["Don't <iframe>"] },
    };
    const { html, text } = buildPayload(hostile, TO, FROM);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<iframe>');
    expect(html).not.toContain('<b>this');
    expect(html).toContain('http_status: &lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; more');
    expect(html).toContain('https://evil.example/&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('<strong>Fix &lt;b&gt;this&lt;/b&gt;</strong>');
    expect(html).toContain('Don&#39;t &lt;iframe&gt;');
    expect(text).toContain('Error:         http_status: <script>alert("pwned")</script> & more');
  });

  it('keeps the subject on one line even when the target and failure carry CR/LF', () => {
    const injected: AlertEvent = {
      ...triggered,
      checkKind: 'probe',
      target: 'https://x.example/\r\nBcc: victim@example.com\r\n',
      location: 'westeurope\n',
      failure: { code: 'dns\r\nX-Evil: 1', phase: 'dns', message: 'line one\r\nline two' },
    };
    const mail = buildPayload(injected, TO, FROM);
    expect(mail.subject).not.toMatch(/[\r\n]/);
    expect(mail.subject).toBe('[DOWN] cloud probe of https://x.example/ Bcc: victim@example.com (Azure westeurope) - dns X-Evil: 1 in dns');
    expect(mail.text).toContain('Error:         dns X-Evil: 1: line one line two');
  });

  it('keeps ESC sequences, C1, bidi and zero-width characters out of the subject, the text and the HTML', () => {
    const mail = buildPayload(HOSTILE_EVENT, TO, FROM);
    expect(mail.subject).toBe('[DOWN] relay connect01 cannot reach sb.example - tcp_timeout 2026-12-01T00:00:00Z alert resolved: everything is fine in tcp');
    expect(mail.subject).not.toMatch(UNSAFE);
    // The bodies have their own line breaks; no value may bring any other character.
    for (const body of [mail.text, mail.html]) expect(body.replace(/\n/g, '')).not.toMatch(UNSAFE);
  });

  it('shortens a long subject to at most 150 characters and keeps the failure code', () => {
    const long: AlertEvent = { ...cloudProbe, target: `https://passwordreset.microsoftonline.com/${'a'.repeat(300)}` };
    const subject = buildPayload(long, TO, FROM).subject;
    expect(subject.length).toBeLessThanOrEqual(SUBJECT_MAX);
    expect(subject.startsWith('[DOWN] cloud probe of https://passwordreset.microsoftonline.com/aaa')).toBe(true);
    expect(subject.endsWith('... - tls_handshake in tls')).toBe(true);
  });
});

describe('the SMTP transport options', () => {
  it('use implicit TLS for smtps on 465, with certificates verified', () => {
    const options = transportOptions('smtps://alerts%40contoso.com:p%40ss%3Aword@smtp.example.com:465');
    expect(options).toMatchObject({
      host: 'smtp.example.com',
      port: 465,
      secure: true,
      auth: { user: 'alerts@contoso.com', pass: 'p@ss:word' },
      tls: { rejectUnauthorized: true, minVersion: 'TLSv1.2', servername: 'smtp.example.com' },
    });
    expect(options.ignoreTLS).toBeUndefined();
  });

  it('require STARTTLS for smtp on 587 to a host that is not loopback (Exchange Online, Azure Communication Services)', () => {
    for (const host of ['smtp.office365.com', 'smtp.azurecomm.net']) {
      const options = transportOptions(`smtp://alerts%40contoso.com:secret@${host}:587`);
      expect(options).toMatchObject({ host, port: 587, secure: false, requireTLS: true, auth: { user: 'alerts@contoso.com', pass: 'secret' } });
      expect(options.ignoreTLS).toBeUndefined();
    }
  });

  it('require STARTTLS of an on-prem relay without authentication, and default smtp to port 587', () => {
    const options = transportOptions('smtp://relay.corp.example');
    expect(options).toMatchObject({ host: 'relay.corp.example', port: 587, secure: false, requireTLS: true });
    expect(options.auth).toBeUndefined();
    expect(transportOptions('smtp://10.0.0.25:25')).toMatchObject({ requireTLS: true });
  });

  it('allow plain SMTP only to a loopback host', () => {
    for (const url of ['smtp://127.0.0.1:2525', 'smtp://localhost:25', 'smtp://[::1]:25', 'smtp://127.10.0.1:25']) {
      const options = transportOptions(url);
      expect(options).toMatchObject({ secure: false, ignoreTLS: true });
      expect(options.requireTLS).toBeUndefined();
    }
    expect(transportOptions('smtp://[::1]:25').host).toBe('::1');
  });

  it('take the timeout and extra CA certificates from the channel config', () => {
    const options = transportOptions('smtps://relay.corp.example', { timeoutMs: 1234, tls: { ca: ['-----BEGIN CERTIFICATE-----'] } });
    expect(options).toMatchObject({ port: 465, connectionTimeout: 1234, greetingTimeout: 1234, socketTimeout: 1234 });
    expect(options.tls?.ca).toEqual(['-----BEGIN CERTIFICATE-----']);
  });

  it('refuse other schemes and bad URLs without repeating the URL', () => {
    const secretUrl = 'https://alerts:hunter2@smtp.example.com';
    expect(() => transportOptions(secretUrl)).toThrow(/smtps:\/\/ or smtp:\/\//);
    expect(() => transportOptions(secretUrl)).not.toThrow(/hunter2/);
    expect(() => transportOptions('not a url hunter2')).toThrow('SMTP URL is not a valid URL');
  });

  it('describe a server as host:port only', () => {
    expect(describeSmtp('smtp://alerts:p%40ss%3Aword@smtp.office365.com:587')).toBe('smtp.office365.com:587');
    expect(describeSmtp('smtps://u:p@[::1]')).toBe('[::1]:465');
    expect(describeSmtp('nonsense')).toBe('(invalid SMTP URL)');
  });

  it('count localhost, 127.0.0.0/8 and ::1 as loopback, and nothing else', () => {
    expect(['localhost', 'LOCALHOST.', '127.0.0.1', '127.255.0.9', '::1', '[::1]', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['10.0.0.1', 'smtp.example.com', '::2', 'localhost.example.com', '128.0.0.1'].some(isLoopback)).toBe(false);
  });

  it('do not count names under .localhost as loopback, since they are resolved through DNS', () => {
    expect(['mail.localhost', 'a.b.localhost', 'X.LOCALHOST.'].map(isLoopback)).toEqual([false, false, false]);
  });
});

describe('the email channel against a real SMTP server on loopback', () => {
  it('delivers the alert with the exact subject, sender and recipients, the fix and the error in both parts', async () => {
    const smtp = await startSmtp();
    await channel(`smtp://127.0.0.1:${smtp.port}`).send(triggered);

    expect(smtp.received).toHaveLength(1);
    const mail = smtp.received[0]!;
    expect(mail.mailFrom).toBe('wbmon@example.com');
    expect(mail.rcptTo).toEqual(TO);
    const expected = buildPayload(triggered, TO, FROM);
    const { headers, text, html } = parts(mail.raw);
    expect(headers.get('subject')).toBe(expected.subject);
    expect(headers.get('from')).toBe('Writeback monitor <wbmon@example.com>');
    expect(headers.get('to')).toBe('oncall@example.com, ops@example.com');
    expect(headers.get('auto-submitted')).toBe('auto-generated');
    expect(text).toBe(expected.text);
    expect(html).toBe(expected.html);
    expect(text).toContain('1. Open TCP 443 to *.servicebus.windows.net in the firewall\n2. Exempt the Connect server from TLS inspection in the proxy');
    expect(html).toContain('<li style="margin:0 0 4px">Exempt the Connect server from TLS inspection in the proxy</li>');
    for (const body of [text, html]) expect(body).toContain('tcp_timeout: no answer to SYN within 10000 ms');
    // the raw message itself, before any decoding, carries the subject and the key words
    expect(mail.raw).toContain('Subject: [DOWN] relay connect01 cannot reach');
    expect(mail.raw).toContain('tcp_timeout');
  });

  it('sends the status page link in both parts, and never the SMTP URL or its password in it', async () => {
    const smtp = await startSmtp({ onAuth: (_auth, _session, callback) => callback(null, { user: 'alerts' }) });
    const url = `smtp://alerts:Sm7p-Secret@127.0.0.1:${smtp.port}`;
    const c = emailChannel({ url, from: FROM, to: TO, timeoutMs: 5_000, links: () => ({ base: 'https://wbmon.contoso.com' }) });
    channels.push(c);
    await c.send(triggered);
    const { text, html } = parts(smtp.received[0]!.raw);
    const link = 'https://wbmon.contoso.com/api/dashboard#check-relay%3Aconnect01%3Ahttps%3A%2F%2Fssprdedicatedsbprodscu.servicebus.windows.net%2F';
    expect(text).toContain(`\nStatus page: ${link}\n`);
    expect(html).toContain(`<a href="${link}" style="color:#0f6cbd;font-weight:600">Open the status page</a>`);
    for (const body of [text, html]) expect(body).not.toMatch(/Sm7p-Secret|smtp:\/\//);
  });

  it('logs in with a percent-encoded password, and no error message ever contains it', async () => {
    const smtp = await startSmtp({
      onAuth(auth, _session, callback) {
        if (auth.username === 'alerts' && auth.password === 'p@ss:word') return callback(null, { user: 'alerts' });
        callback(smtpError('5.7.8 Authentication credentials invalid', 535));
      },
    });
    await channel(`smtp://alerts:p%40ss%3Aword@127.0.0.1:${smtp.port}`).send(triggered);
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0]!.user).toBe('alerts');

    const wrongUrl = `smtp://alerts:wr0ng%2Fp%40ss@127.0.0.1:${smtp.port}`;
    const wrong = await deliveryError(channel(wrongUrl).send(triggered));
    expect(wrong.permanent).toBe(true);
    expect(wrong.message).toContain(`127.0.0.1:${smtp.port}`);
    expect(wrong.message).toContain('535');

    const closedUrl = `smtp://alerts:p%40ss%3Aword@127.0.0.1:${await closedPort()}`;
    const closed = await deliveryError(channel(closedUrl).send(triggered));
    for (const [err, url, secrets] of [
      [wrong, wrongUrl, ['wr0ng/p@ss', 'wr0ng%2Fp%40ss', Buffer.from('wr0ng/p@ss').toString('base64')]],
      [closed, closedUrl, ['p@ss:word', 'p%40ss%3Aword', Buffer.from('p@ss:word').toString('base64')]],
    ] as const) {
      const texts = [err.message, String(err), err.cause instanceof Error ? err.cause.message : String(err.cause)];
      for (const t of texts) {
        expect(t).not.toContain(url);
        for (const secret of secrets) expect(t).not.toContain(secret);
      }
    }
  });

  it('fails permanently when the server rejects the only recipient with 550', async () => {
    const smtp = await startSmtp();
    const err = await deliveryError(channel(`smtp://127.0.0.1:${smtp.port}`, ['nobody@example.com']).send(triggered));
    expect(err.permanent).toBe(true);
    expect(err.message).toContain('550');
    expect(err.message).toContain(`email via 127.0.0.1:${smtp.port}`);
    expect(smtp.received).toHaveLength(0);
  });

  it('fails permanently when one of several recipients is rejected, after delivering to the others', async () => {
    const smtp = await startSmtp();
    const err = await deliveryError(channel(`smtp://127.0.0.1:${smtp.port}`, ['oncall@example.com', 'nobody@example.com']).send(triggered));
    expect(err.permanent).toBe(true);
    expect(err.message).toContain('recipients rejected: nobody@example.com');
    expect(smtp.received.map((m) => m.rcptTo)).toEqual([['oncall@example.com']]);
  });

  it('fails transiently when the server answers 451 to the message data', async () => {
    const smtp = await startSmtp({
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback(smtpError('4.3.0 Temporary local problem, try again later', 451)));
      },
    });
    const err = await deliveryError(channel(`smtp://127.0.0.1:${smtp.port}`).send(triggered));
    expect(err.permanent).toBe(false);
    expect(err.message).toContain('451');
  });

  it('fails transiently when nothing listens on the port', async () => {
    const port = await closedPort();
    const err = await deliveryError(channel(`smtp://127.0.0.1:${port}`).send(triggered));
    expect(err.permanent).toBe(false);
    expect(err.message).toMatch(new RegExp(`^email via 127\\.0\\.0\\.1:${port}: `));
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('fails transiently when the server never greets within the timeout', async () => {
    const silent = await startSilentTcp();
    try {
      const started = Date.now();
      const err = await deliveryError(channel(`smtp://127.0.0.1:${silent.port}`, TO, 300).send(triggered));
      expect(err.permanent).toBe(false);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await silent.close();
    }
  });

  it('delivers over implicit TLS (smtps) to a server whose certificate chains to a CA given in the config', async () => {
    const ca = await createTestCa();
    const leaf = await ca.issue({ ips: ['127.0.0.1'] });
    const smtp = await startSmtp({ secure: true, key: leaf.key, cert: leaf.cert, disabledCommands: [] });
    const c = emailChannel({ url: `smtps://127.0.0.1:${smtp.port}`, from: FROM, to: TO, timeoutMs: 5_000, tls: { ca: [ca.cert] } });
    channels.push(c);
    await c.send(triggered);
    expect(smtp.received).toHaveLength(1);
    expect(parts(smtp.received[0]!.raw).headers.get('subject')).toBe(buildPayload(triggered, TO, FROM).subject);
  });

  it('sends nothing to a TLS server whose certificate is not trusted, and says so as retryable', async () => {
    const self = await createSelfSigned({ ips: ['127.0.0.1'] });
    const smtp = await startSmtp({ secure: true, key: self.key, cert: self.cert, disabledCommands: [] });
    const err = await deliveryError(channel(`smtps://127.0.0.1:${smtp.port}`).send(triggered));
    expect(err.permanent).toBe(false);
    expect(err.message).toContain(`email via 127.0.0.1:${smtp.port}`);
    expect(smtp.received).toHaveLength(0);
  });

  it('is named email', () => {
    expect(channel('smtp://127.0.0.1:25').name).toBe('email');
  });
});
