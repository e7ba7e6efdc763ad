import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config/errors.js';
import { loadSettings, parseSettings, WRITEBACK_ENDPOINTS } from '../src/config/settings.js';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('settings', () => {
  it('defaults to the writeback endpoints and the design defaults', () => {
    const s = parseSettings({});
    expect(s.targets).toEqual(WRITEBACK_ENDPOINTS);
    expect(s.probeSchedule.expression).toBe('0 */5 * * * *');
    expect(s.failureThreshold).toBe(2);
    expect(s.successThreshold).toBe(2);
    expect(s.probeTimeoutMs).toBe(10_000);
    expect(s.proxyUrl).toBeUndefined();
    expect(s.storageConnection).toBeUndefined();
  });

  it('reads comma-separated targets, trims them, normalises and drops duplicates', () => {
    const s = parseSettings({ WBMON_TARGETS: ' https://a.example , https://b.example:8443/x,https://a.example/ ' });
    expect(s.targets).toEqual(['https://a.example/', 'https://b.example:8443/x']);
  });

  it('treats blank values as unset', () => {
    expect(parseSettings({ WBMON_TARGETS: '  ', WBMON_FAILURE_THRESHOLD: '' }).failureThreshold).toBe(2);
  });

  it('reports every problem at once, one line each, naming the setting', () => {
    const problems = problemsOf(() =>
      parseSettings({
        WBMON_TARGETS: 'https://ok.example/,ftp://files.example/,https://bad port/,https://x.example:70000/,,https://u:p@secret.example/,https://u:p@x.example:99999/',
        WBMON_PROBE_SCHEDULE: '*/5 * * * *',
        WBMON_FAILURE_THRESHOLD: 'two',
        WBMON_SUCCESS_THRESHOLD: '0',
        WBMON_PROXY_URL: 'socks5://proxy:1080',
      }),
    );
    expect(problems).toEqual([
      'WBMON_TARGETS: "ftp://files.example/" uses scheme ftp; only https and http can be probed',
      'WBMON_TARGETS: "https://bad port/" is not a valid URL',
      'WBMON_TARGETS: "https://x.example:70000/" has port "70000"; a port is a number from 1 to 65535',
      'WBMON_TARGETS: an empty entry (two commas?)',
      'WBMON_TARGETS: "https://***@secret.example/" carries credentials; targets must not',
      'WBMON_TARGETS: "https://***@x.example:99999/" has port "99999"; a port is a number from 1 to 65535',
      'WBMON_PROBE_SCHEDULE: "*/5 * * * *" is not a valid NCRONTAB schedule: expected 6 fields (second minute hour day month day-of-week), got 5',
      'WBMON_FAILURE_THRESHOLD: "two" must be a whole number from 1 to 100',
      'WBMON_SUCCESS_THRESHOLD: "0" must be a whole number from 1 to 100',
      'WBMON_PROXY_URL: must be an http:// proxy URL (HTTPS is tunnelled through it with CONNECT), got scheme socks5',
    ]);
    expect(problems.join('\n')).not.toContain('u:p');
  });

  it('names a command-line flag instead of the setting when the value came from one', () => {
    expect(problemsOf(() => parseSettings({ WBMON_TARGETS: 'gopher://x/' }, { WBMON_TARGETS: '--target' }))).toEqual([
      '--target: "gopher://x/" uses scheme gopher; only https and http can be probed',
    ]);
  });

  it('reads local.settings.json Values, with the environment winning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wbmon-settings-'));
    writeFileSync(
      join(dir, 'local.settings.json'),
      JSON.stringify({ IsEncrypted: false, Values: { WBMON_TARGETS: 'https://file.example/', WBMON_FAILURE_THRESHOLD: '3' } }),
    );
    const s = loadSettings({ WBMON_FAILURE_THRESHOLD: '4' }, dir);
    expect(s.targets).toEqual(['https://file.example/']);
    expect(s.failureThreshold).toBe(4);
  });

  it('reports a broken local.settings.json as one problem naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wbmon-settings-'));
    writeFileSync(join(dir, 'local.settings.json'), '{ "Values": ');
    const problems = problemsOf(() => loadSettings({}, dir));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^local\.settings\.json: not valid JSON/);
  });

  it('reads WBMON_RELAYS with the default period and grace', () => {
    const s = parseSettings({ WBMON_RELAYS: JSON.stringify({ connect01: { secret: 'x'.repeat(32), periodSeconds: 60 } }) });
    expect([...s.relays]).toEqual([['connect01', { secret: 'x'.repeat(32), periodSeconds: 60, graceSeconds: 120 }]]);
  });

  it('reports every WBMON_RELAYS problem by relay and field, never echoing a secret', () => {
    const problems = problemsOf(() =>
      parseSettings({
        WBMON_RELAYS: JSON.stringify({
          'bad id!': { secret: 'y'.repeat(40) },
          short: { secret: 'tooshort-secret-value', periodSeconds: 5, graceSeconds: -1, colour: 'red' },
          nothing: 'secret-as-a-string-value-that-is-long',
        }),
      }),
    );
    expect(problems).toEqual([
      'WBMON_RELAYS: relay "bad id!": ids are 1-64 letters, digits, \'.\', \'_\' or \'-\', starting with a letter or digit',
      'WBMON_RELAYS: relay "short": "secret" must be a string of at least 32 characters (e.g. openssl rand -hex 32)',
      'WBMON_RELAYS: relay "short": "periodSeconds" must be a whole number of seconds from 30 to 86400',
      'WBMON_RELAYS: relay "short": "graceSeconds" must be a whole number of seconds from 0 to 86400',
      'WBMON_RELAYS: relay "short": unknown field "colour"',
      'WBMON_RELAYS: relay "nothing": must be an object with "secret"',
    ]);
    expect(problems.join('\n')).not.toMatch(/tooshort-secret-value|secret-as-a-string|yyyy/);
  });

  it('reports WBMON_RELAYS that is not JSON by position only, since the text holds secrets', () => {
    expect(problemsOf(() => parseSettings({ WBMON_RELAYS: '{"r1": {"secret": "s3cr3t-value" ' }))).toEqual([
      'WBMON_RELAYS: not valid JSON (at character 34)',
    ]);
  });
});

describe('alert settings', () => {
  it('reads channels, reminders and maintenance', () => {
    const s = parseSettings({
      WBMON_TEAMS_WEBHOOK_URL: 'https://prod.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=SECRET',
      WBMON_WEBHOOK_URL: 'http://127.0.0.1:9000/hook',
      WBMON_SMTP_URL: 'smtp://alerts%40corp.example:pw@smtp.office365.com:587',
      WBMON_EMAIL_FROM: 'Writeback monitor <alerts@corp.example>',
      WBMON_EMAIL_TO: 'oncall@corp.example; idm@corp.example',
      WBMON_REMIND_MINUTES: '0',
      WBMON_MAINTENANCE: JSON.stringify([{ cron: '0 0 2 * * SUN', duration: 'PT2H' }]),
    });
    expect(s.alerting).toMatchObject({ remindMinutes: 0, emailTo: ['oncall@corp.example', 'idm@corp.example'], webhookUrl: 'http://127.0.0.1:9000/hook' });
    expect(s.alerting.maintenance).toHaveLength(1);
  });

  it('refuses plain-http webhooks to other hosts and half-configured email, never echoing the secret URLs', () => {
    const problems = problemsOf(() =>
      parseSettings({
        WBMON_TEAMS_WEBHOOK_URL: 'http://prod.example/invoke?sig=SECRET1',
        WBMON_WEBHOOK_URL: 'not a url SECRET2',
        WBMON_SMTP_URL: 'ftp://user:SECRET3@mail.example',
        WBMON_EMAIL_TO: 'oncall',
        WBMON_REMIND_MINUTES: '-5',
      }),
    );
    expect(problems).toEqual([
      'WBMON_REMIND_MINUTES: "-5" must be a whole number from 0 to 10080',
      'WBMON_TEAMS_WEBHOOK_URL: must be an https URL (plain http only to a loopback host)',
      'WBMON_WEBHOOK_URL: is not a valid URL (value not shown: it is a secret)',
      'WBMON_SMTP_URL: must be an smtps:// (implicit TLS) or smtp:// (STARTTLS) URL',
      'WBMON_EMAIL_TO: not email addresses: "oncall"',
      'WBMON_EMAIL_FROM: required for email alerts when WBMON_SMTP_URL and WBMON_EMAIL_TO are set',
    ]);
    expect(problems.join('\n')).not.toMatch(/SECRET/);
  });

  it('reads WBMON_HISTORY_DAYS: 90 unless set, a whole number of days from 1 to 400, else one line naming it', () => {
    expect(parseSettings({}).historyDays).toBe(90);
    expect(parseSettings({ WBMON_HISTORY_DAYS: '30' }).historyDays).toBe(30);
    expect(parseSettings({ WBMON_HISTORY_DAYS: '400' }).historyDays).toBe(400);
    for (const bad of ['0', '-1', '1.5', 'ninety', '401', '1e3']) {
      expect(problemsOf(() => parseSettings({ WBMON_HISTORY_DAYS: bad }))).toEqual([`WBMON_HISTORY_DAYS: "${bad}" must be a whole number from 1 to 400`]);
    }
  });

  it('refuses a WBMON_WEBHOOK_SECRET shorter than 32 characters in one line naming it, without the value', () => {
    expect(problemsOf(() => parseSettings({ WBMON_WEBHOOK_URL: 'https://hooks.example.com/wbmon', WBMON_WEBHOOK_SECRET: 'x' }))).toEqual([
      'WBMON_WEBHOOK_SECRET: must be at least 32 characters (e.g. openssl rand -hex 32)',
    ]);
    expect(problemsOf(() => parseSettings({ WBMON_WEBHOOK_SECRET: 'S'.repeat(31) }))).toEqual([
      'WBMON_WEBHOOK_SECRET: must be at least 32 characters (e.g. openssl rand -hex 32)',
    ]);
    expect(parseSettings({ WBMON_WEBHOOK_SECRET: 'S'.repeat(32) }).alerting.webhookSecret).toBe('S'.repeat(32));
  });

  it('refuses plain http to a name under .localhost, which is resolved through DNS', () => {
    expect(problemsOf(() => parseSettings({ WBMON_WEBHOOK_URL: 'http://hooks.localhost:9000/hook' }))).toEqual([
      'WBMON_WEBHOOK_URL: must be an https URL (plain http only to a loopback host)',
    ]);
  });
});

describe('email through Microsoft Graph (WBMON_EMAIL_VIA=graph)', () => {
  const graph = { WBMON_EMAIL_VIA: 'graph', WBMON_EMAIL_FROM: 'Writeback monitor <wbmon-alerts@contoso.com>', WBMON_EMAIL_TO: 'oncall@contoso.com, idm@contoso.com' };

  it('needs no SMTP URL: the sender mailbox, the recipients and the Graph URL are all it reads', () => {
    const s = parseSettings({ ...graph, WBMON_GRAPH_URL: 'https://graph.microsoft.us' });
    expect(s.alerting).toMatchObject({
      emailVia: 'graph',
      smtpUrl: undefined,
      emailFrom: 'Writeback monitor <wbmon-alerts@contoso.com>',
      emailTo: ['oncall@contoso.com', 'idm@contoso.com'],
      graphUrl: 'https://graph.microsoft.us',
      graphToken: undefined,
    });
  });

  it('defaults to smtp, and takes Graph in any case', () => {
    expect(parseSettings({}).alerting.emailVia).toBe('smtp');
    expect(parseSettings({ ...graph, WBMON_EMAIL_VIA: ' Graph ' }).alerting.emailVia).toBe('graph');
  });

  it('reports one line per problem, each naming the setting', () => {
    expect(problemsOf(() => parseSettings({ WBMON_EMAIL_VIA: 'exchange' }))).toEqual([
      'WBMON_EMAIL_VIA: "exchange" must be graph (Microsoft Graph with the managed identity) or smtp (WBMON_SMTP_URL)',
    ]);
    expect(problemsOf(() => parseSettings({ WBMON_EMAIL_VIA: 'graph' }))).toEqual([
      'WBMON_EMAIL_FROM: required when WBMON_EMAIL_VIA is graph: the mailbox the alerts are sent as (its user principal name)',
      'WBMON_EMAIL_TO: required when WBMON_EMAIL_VIA is graph: who gets the alert emails',
    ]);
    expect(
      problemsOf(() => parseSettings({ ...graph, WBMON_SMTP_URL: 'smtp://alerts%40contoso.com:SECRET4@smtp.office365.com:587', WBMON_EMAIL_FROM: 'not-an-address', WBMON_GRAPH_URL: 'http://graph.example' })),
    ).toEqual([
      'WBMON_GRAPH_URL: must be an https URL such as https://graph.microsoft.com (national clouds: https://graph.microsoft.us, https://microsoftgraph.chinacloudapi.cn)',
      'WBMON_EMAIL_FROM: must be an email address',
      'WBMON_SMTP_URL: not used when WBMON_EMAIL_VIA is graph; remove it (in Azure: delete the Key Vault secret wbmon-smtp-url), or set WBMON_EMAIL_VIA=smtp',
    ]);
  });

  it('keeps the existing SMTP messages when WBMON_EMAIL_VIA is smtp', () => {
    expect(problemsOf(() => parseSettings({ WBMON_EMAIL_VIA: 'smtp', WBMON_EMAIL_FROM: 'wbmon@contoso.com' }))).toEqual([
      'WBMON_SMTP_URL: required for email alerts when WBMON_EMAIL_FROM is set',
      'WBMON_EMAIL_TO: required for email alerts when WBMON_EMAIL_FROM is set',
    ]);
  });

  it('stays on while the SMTP URL is an unresolved Key Vault reference, since it does not use it', () => {
    const s = parseSettings({ ...graph, WBMON_SMTP_URL: '@Microsoft.KeyVault(VaultName=kv-wbmon-abc;SecretName=wbmon-smtp-url)' });
    expect(s.alerting).toMatchObject({ emailVia: 'graph', smtpUrl: undefined, emailFrom: graph.WBMON_EMAIL_FROM, emailTo: ['oncall@contoso.com', 'idm@contoso.com'] });
    expect(s.unresolvedSecrets).toEqual(['WBMON_SMTP_URL']);
  });
});

describe('Key Vault references the platform did not resolve', () => {
  const ref = (name: string) => `@Microsoft.KeyVault(VaultName=kv-wbmon-abc;SecretName=${name})`;

  it('are treated as unset and named, so a secret not created yet does not stop the monitor', () => {
    const s = parseSettings({
      WBMON_RELAYS: ref('wbmon-relays'),
      WBMON_TEAMS_WEBHOOK_URL: ref('wbmon-teams-webhook-url'),
      WBMON_WEBHOOK_URL: 'https://hooks.example.com/wbmon',
    });
    expect(s.relays.size).toBe(0);
    expect(s.alerting.teamsWebhookUrl).toBeUndefined();
    expect(s.alerting.webhookUrl).toBe('https://hooks.example.com/wbmon');
    expect(s.unresolvedSecrets).toEqual(['WBMON_RELAYS', 'WBMON_TEAMS_WEBHOOK_URL']);
  });

  it('turn email off while the SMTP URL is one, rather than reporting half-configured email', () => {
    const s = parseSettings({
      WBMON_SMTP_URL: ref('wbmon-smtp-url'),
      WBMON_EMAIL_FROM: 'monitor@contoso.com',
      WBMON_EMAIL_TO: 'oncall@contoso.com',
    });
    expect(s.alerting.smtpUrl).toBeUndefined();
    expect(s.alerting.emailFrom).toBeUndefined();
    expect(s.alerting.emailTo).toEqual([]);
    expect(s.unresolvedSecrets).toEqual(['WBMON_SMTP_URL']);
  });

  it('are not confused with a resolved value that merely mentions Key Vault', () => {
    expect(() => parseSettings({ WBMON_TEAMS_WEBHOOK_URL: 'not a url @Microsoft.KeyVault(' })).toThrow(ConfigError);
    expect(parseSettings({}).unresolvedSecrets).toEqual([]);
  });
});

describe('where alerts link to (WBMON_PUBLIC_URL, WEBSITE_HOSTNAME, WBMON_WORKBOOK_URL)', () => {
  it('takes WBMON_PUBLIC_URL as the base URL without a trailing slash, with a path prefix kept, http only to loopback', () => {
    expect(parseSettings({ WBMON_PUBLIC_URL: 'https://wbmon.contoso.com' }).alerting.publicUrl).toBe('https://wbmon.contoso.com');
    expect(parseSettings({ WBMON_PUBLIC_URL: ' https://WBMON.contoso.com/monitor/ ' }).alerting.publicUrl).toBe('https://wbmon.contoso.com/monitor');
    expect(parseSettings({ WBMON_PUBLIC_URL: 'https://wbmon.contoso.com:8443/' }).alerting.publicUrl).toBe('https://wbmon.contoso.com:8443');
    expect(parseSettings({ WBMON_PUBLIC_URL: 'http://127.0.0.1:7071' }).alerting.publicUrl).toBe('http://127.0.0.1:7071');
    expect(parseSettings({ WBMON_PUBLIC_URL: 'http://localhost:8080/' }).alerting.publicUrl).toBe('http://localhost:8080');
    expect(parseSettings({ WBMON_PUBLIC_URL: 'http://[::1]:7071' }).alerting.publicUrl).toBe('http://[::1]:7071');
    expect(parseSettings({}).alerting.publicUrl).toBeUndefined();
    expect(parseSettings({ WBMON_PUBLIC_URL: '  ' }).alerting.publicUrl).toBeUndefined();
  });

  it('refuses a bad WBMON_PUBLIC_URL in one line naming it, gathered with the other problems, never echoing a password or a query', () => {
    const bad = (value: string): readonly string[] => problemsOf(() => parseSettings({ WBMON_PUBLIC_URL: value, WBMON_FAILURE_THRESHOLD: '0' }));
    const cases: Array<[string, string]> = [
      ['http://wbmon.contoso.com', 'WBMON_PUBLIC_URL: "http://wbmon.contoso.com" must be https (plain http only to a loopback host)'],
      ['http://wbmon.localhost:7071', 'WBMON_PUBLIC_URL: "http://wbmon.localhost:7071" must be https (plain http only to a loopback host)'],
      ['ftp://wbmon.contoso.com/', 'WBMON_PUBLIC_URL: "ftp://wbmon.contoso.com/" must be an https URL (http only to a loopback host)'],
      ['wbmon.contoso.com', 'WBMON_PUBLIC_URL: "wbmon.contoso.com" is not a valid absolute URL (such as https://wbmon.contoso.com)'],
      ['/api/dashboard', 'WBMON_PUBLIC_URL: "/api/dashboard" is not a valid absolute URL (such as https://wbmon.contoso.com)'],
      ['https://oncall:Hunter2-pw@wbmon.contoso.com/', 'WBMON_PUBLIC_URL: the value (not shown: it carries credentials) must not carry a user or password: alerts show this address to everyone they reach'],
      ['https://oncall@wbmon.contoso.com/', 'WBMON_PUBLIC_URL: the value (not shown: it carries credentials) must not carry a user or password: alerts show this address to everyone they reach'],
      [
        'https://wbmon.contoso.com/?code=FUNCTION-KEY-abc',
        'WBMON_PUBLIC_URL: the value (not shown: its query may hold a key) must not have a query (never put the function key here: alerts show this address to everyone they reach)',
      ],
      ['https://wbmon.contoso.com/?', 'WBMON_PUBLIC_URL: the value (not shown: its query may hold a key) must not have a query (never put the function key here: alerts show this address to everyone they reach)'],
      ['https://wbmon.contoso.com/#status', `WBMON_PUBLIC_URL: "https://wbmon.contoso.com/#status" must not have a fragment: the alert adds the check's place on the page`],
      ['https://wbmon.contoso.com/api', 'WBMON_PUBLIC_URL: "https://wbmon.contoso.com/api" ends in /api: give the base URL without it (alerts add /api/dashboard)'],
      ['http://127.0.0.1:7071/api/', 'WBMON_PUBLIC_URL: "http://127.0.0.1:7071/api/" ends in /api: give the base URL without it (alerts add /api/dashboard)'],
    ];
    for (const [value, line] of cases) {
      const problems = bad(value);
      expect(problems, value).toEqual(['WBMON_FAILURE_THRESHOLD: "0" must be a whole number from 1 to 100', line]);
      expect(problems.join('\n')).not.toMatch(/Hunter2|FUNCTION-KEY|oncall@/);
    }
  });

  it('derives the base from WEBSITE_HOSTNAME, the host name App Service and Functions set, and ignores anything that is not a host', () => {
    const platform = (host: string | undefined) => parseSettings({ WEBSITE_HOSTNAME: host }).alerting.platformUrl;
    expect(platform('func-wbmon-abc123.azurewebsites.net')).toBe('https://func-wbmon-abc123.azurewebsites.net');
    expect(platform('func-wbmon-abc123-e5fzh7b8c9d0.westeurope-01.azurewebsites.net')).toBe('https://func-wbmon-abc123-e5fzh7b8c9d0.westeurope-01.azurewebsites.net');
    expect(platform('FUNC.azurewebsites.us')).toBe('https://func.azurewebsites.us');
    expect(platform('localhost:7071')).toBe('http://localhost:7071');
    expect(platform(undefined)).toBeUndefined();
    for (const hostile of ['evil.example/phish', 'user:pw@func.azurewebsites.net', 'func.azurewebsites.net?x=1', 'func.azurewebsites.net#x', 'a b', 'func.azurewebsites.net:99999', '1.2.3']) {
      expect(platform(hostile), hostile).toBeUndefined();
    }
    // Never a settings problem: the platform's variable is read, not required.
    expect(() => parseSettings({ WEBSITE_HOSTNAME: 'a b' })).not.toThrow();
  });

  it('takes WBMON_WORKBOOK_URL as the portal deep link it is, fragment and all, and refuses one with credentials or plain http', () => {
    const portal = 'https://portal.azure.com/#@00000000-1111-2222-3333-444444444444/resource/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/workbooks/5f0a/workbook';
    expect(parseSettings({ WBMON_WORKBOOK_URL: portal }).alerting.workbookUrl).toBe(portal);
    expect(parseSettings({}).alerting.workbookUrl).toBeUndefined();
    expect(problemsOf(() => parseSettings({ WBMON_WORKBOOK_URL: 'http://portal.azure.com/#@t/resource/x/workbook' }))).toEqual([
      'WBMON_WORKBOOK_URL: "http://portal.azure.com/#@t/resource/x/workbook" must be https (plain http only to a loopback host)',
    ]);
    expect(problemsOf(() => parseSettings({ WBMON_WORKBOOK_URL: 'https://me:pw@portal.azure.com/' }))).toEqual([
      'WBMON_WORKBOOK_URL: the value (not shown: it carries credentials) must not carry a user or password: alerts show this address to everyone they reach',
    ]);
  });
});
