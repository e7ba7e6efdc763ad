import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseSettings } from '../../src/config/settings.js';
import { shortestGapMinutes } from '../../src/config/roundtrip-settings.js';
import { parseSchedule } from '../../src/schedule/ncrontab.js';

const USER = '5f2c1d9e-7b3a-4c8e-9d1f-2a6b8c4e0f13';
const CLIENT = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const KEY = Buffer.alloc(32, 7).toString('base64');

function problems(env: Record<string, string>): string[] {
  try {
    parseSettings(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('the round-trip settings', () => {
  it('leave the round trip off when WBMON_ROUNDTRIP_USER is unset or blank', () => {
    expect(parseSettings({}).roundtrip).toBeUndefined();
    expect(parseSettings({ WBMON_ROUNDTRIP_USER: '  ', WBMON_ROUNDTRIP_CLIENT_ID: CLIENT }).roundtrip).toBeUndefined();
  });

  it('take a full set, with the documented defaults for the schedule and the authority', () => {
    const rt = parseSettings({ WBMON_ROUNDTRIP_USER: USER.toUpperCase(), WBMON_ROUNDTRIP_CLIENT_ID: CLIENT, WBMON_TENANT_ID: TENANT, WBMON_ROUNDTRIP_TOKEN_KEY: KEY }).roundtrip!;
    expect(rt.userId).toBe(USER);
    expect(rt.schedule.expression).toBe('0 30 * * * *');
    expect(rt.loginUrl).toBe('https://login.microsoftonline.com');
    expect(rt.tokenKey).toEqual(Buffer.alloc(32, 7));
    expect(rt.keyVaultUrl).toBeUndefined();
  });

  it('take a national cloud authority and a Key Vault instead of a token key', () => {
    const rt = parseSettings({
      WBMON_ROUNDTRIP_USER: USER,
      WBMON_ROUNDTRIP_CLIENT_ID: CLIENT,
      WBMON_TENANT_ID: 'contoso.onmicrosoft.us',
      WBMON_LOGIN_URL: 'https://login.microsoftonline.us/',
      WBMON_KEY_VAULT_URL: 'https://wbmon-kv.vault.usgovcloudapi.net/',
    }).roundtrip!;
    expect(rt.loginUrl).toBe('https://login.microsoftonline.us');
    expect(rt.tenantId).toBe('contoso.onmicrosoft.us');
    expect(rt.tokenKey).toBeUndefined();
    expect(rt.keyVaultUrl).toBe('https://wbmon-kv.vault.usgovcloudapi.net/');
  });

  it('name every missing setting at once, one line each', () => {
    expect(problems({ WBMON_ROUNDTRIP_USER: USER })).toEqual([
      'WBMON_ROUNDTRIP_CLIENT_ID: required when WBMON_ROUNDTRIP_USER is set: the public client app registration the round trip signs in with (docs/roundtrip.md)',
      'WBMON_TENANT_ID: required when WBMON_ROUNDTRIP_USER is set: the tenant the test user is in',
      'WBMON_ROUNDTRIP_TOKEN_KEY: required when WBMON_ROUNDTRIP_USER is set and WBMON_KEY_VAULT_URL is not: a base64 32-byte key that encrypts the stored refresh token (for example the output of openssl rand -base64 32)',
    ]);
  });

  it('refuse malformed values, naming each setting', () => {
    expect(
      problems({
        WBMON_ROUNDTRIP_USER: 'wbmon@contoso.com',
        WBMON_ROUNDTRIP_CLIENT_ID: 'my-app',
        WBMON_TENANT_ID: 'common!',
        WBMON_LOGIN_URL: 'http://login.example.com',
        WBMON_ROUNDTRIP_SCHEDULE: 'hourly',
        WBMON_ROUNDTRIP_TOKEN_KEY: KEY,
      }),
    ).toEqual([
      expect.stringMatching(/^WBMON_ROUNDTRIP_SCHEDULE: "hourly" is not a valid NCRONTAB schedule: /),
      'WBMON_LOGIN_URL: "http://login.example.com" must be the Entra ID authority host as an https URL, such as https://login.microsoftonline.com (national clouds: https://login.microsoftonline.us, https://login.chinacloudapi.cn), with no path, query or user',
      'WBMON_ROUNDTRIP_CLIENT_ID: "my-app" must be an application (client) id, a GUID',
      'WBMON_TENANT_ID: "common!" must be the tenant id (a GUID) or one of its domains, such as contoso.onmicrosoft.com',
      'WBMON_ROUNDTRIP_USER: "wbmon@contoso.com" must be the test user\'s object id, a GUID (Entra admin center, Users, the user, Object ID)',
    ]);
  });

  it('refuse a token key that is not 32 bytes of base64, without echoing it', () => {
    const short = Buffer.alloc(31, 9).toString('base64');
    const lines = problems({ WBMON_ROUNDTRIP_USER: USER, WBMON_ROUNDTRIP_CLIENT_ID: CLIENT, WBMON_TENANT_ID: TENANT, WBMON_ROUNDTRIP_TOKEN_KEY: short });
    expect(lines).toEqual(['WBMON_ROUNDTRIP_TOKEN_KEY: must be base64 of 32 random bytes (for example the output of openssl rand -base64 32); it decodes to 31 bytes']);
    expect(lines.join('\n')).not.toContain(short);
    const notBase64 = problems({ WBMON_ROUNDTRIP_USER: USER, WBMON_ROUNDTRIP_CLIENT_ID: CLIENT, WBMON_TENANT_ID: TENANT, WBMON_ROUNDTRIP_TOKEN_KEY: 'correct horse battery staple' });
    expect(notBase64.join('\n')).not.toContain('horse');
  });

  it('accept a loopback https authority (a local stand-in), and no plain http even there', () => {
    const rt = parseSettings({ WBMON_ROUNDTRIP_USER: USER, WBMON_ROUNDTRIP_CLIENT_ID: CLIENT, WBMON_TENANT_ID: TENANT, WBMON_ROUNDTRIP_TOKEN_KEY: KEY, WBMON_LOGIN_URL: 'https://127.0.0.1:8443' }).roundtrip!;
    expect(rt.loginUrl).toBe('https://127.0.0.1:8443');
    expect(problems({ WBMON_ROUNDTRIP_USER: USER, WBMON_ROUNDTRIP_CLIENT_ID: CLIENT, WBMON_TENANT_ID: TENANT, WBMON_ROUNDTRIP_TOKEN_KEY: KEY, WBMON_LOGIN_URL: 'http://127.0.0.1:8443' })[0]).toMatch(/^WBMON_LOGIN_URL: "http:\/\/127\.0\.0\.1:8443" must be/);
  });
});

describe('the shortest gap of a schedule', () => {
  const from = new Date('2026-12-02T07:00:00Z');
  it.each([
    ['0 30 * * * *', 60],
    ['0 */15 * * * *', 15],
    ['0 * * * * *', 1],
    ['0 0,10 * * * *', 10],
    ['0 0 3 * * *', 1440],
  ])('of "%s" is %i minutes', (expression, minutes) => {
    expect(shortestGapMinutes(parseSchedule(expression), from)).toBe(minutes);
  });
});
