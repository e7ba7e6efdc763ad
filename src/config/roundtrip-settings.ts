/**
 * The round trip's settings (docs/roundtrip.md): off unless WBMON_ROUNDTRIP_USER is set, and
 * then everything it needs to sign in and keep its token, checked at once with every other
 * setting (one line per problem, naming the setting, never echoing a secret).
 */
import { parseSchedule, type Schedule } from '../schedule/ncrontab.js';

export interface RoundtripSettings {
  /** WBMON_ROUNDTRIP_USER: the object id of the dedicated, synced test user. */
  readonly userId: string;
  readonly schedule: Schedule;
  /** WBMON_ROUNDTRIP_CLIENT_ID: the public client application it signs in with. */
  readonly clientId: string;
  /** WBMON_TENANT_ID: a tenant id or one of its verified domains. */
  readonly tenantId: string;
  /** WBMON_LOGIN_URL: the authority host, as an origin without a trailing slash. */
  readonly loginUrl: string;
  /** WBMON_ROUNDTRIP_TOKEN_KEY, decoded (a secret): the stored token is encrypted with it. */
  readonly tokenKey: Buffer | undefined;
  /** WBMON_KEY_VAULT_URL: where the token is kept when there is no token key (in Azure). */
  readonly keyVaultUrl: string | undefined;
}

export const DEFAULT_ROUNDTRIP_SCHEDULE = '0 30 * * * *';
export const DEFAULT_LOGIN_URL = 'https://login.microsoftonline.com';
/** Never more often, whatever the schedule says: AD's minimum password age and history would refuse, and a loop must not lock anything. */
export const MIN_ROUNDTRIP_INTERVAL_MINUTES = 15;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

type Raw = Readonly<Record<string, string | undefined>>;

/** Problems of the round-trip settings (blank values already count as unset). */
export function roundtripProblems(env: Raw): string[] {
  return readRoundtrip(env).problems;
}

export function parseRoundtrip(env: Raw): RoundtripSettings | undefined {
  return readRoundtrip(env).settings;
}

function readRoundtrip(env: Raw): { settings?: RoundtripSettings; problems: string[] } {
  const problems: string[] = [];
  const user = env.WBMON_ROUNDTRIP_USER?.trim();
  const scheduleText = env.WBMON_ROUNDTRIP_SCHEDULE?.trim() || DEFAULT_ROUNDTRIP_SCHEDULE;
  let schedule: Schedule | undefined;
  try {
    schedule = parseSchedule(scheduleText);
  } catch (err) {
    problems.push(`WBMON_ROUNDTRIP_SCHEDULE: "${scheduleText}" is not a valid NCRONTAB schedule: ${(err as Error).message}`);
  }
  const loginUrl = loginUrlOf(env.WBMON_LOGIN_URL?.trim() || DEFAULT_LOGIN_URL, problems);
  const parsedKey = env.WBMON_ROUNDTRIP_TOKEN_KEY === undefined ? undefined : parseTokenKey(env.WBMON_ROUNDTRIP_TOKEN_KEY);
  if (typeof parsedKey === 'string') problems.push(parsedKey);
  const tokenKey = typeof parsedKey === 'string' ? undefined : parsedKey;
  const clientId = env.WBMON_ROUNDTRIP_CLIENT_ID?.trim();
  const tenantId = env.WBMON_TENANT_ID?.trim();
  if (clientId !== undefined && !GUID.test(clientId)) problems.push(`WBMON_ROUNDTRIP_CLIENT_ID: "${clientId.slice(0, 80)}" must be an application (client) id, a GUID`);
  if (tenantId !== undefined && !GUID.test(tenantId) && !DOMAIN.test(tenantId)) {
    problems.push(`WBMON_TENANT_ID: "${tenantId.slice(0, 80)}" must be the tenant id (a GUID) or one of its domains, such as contoso.onmicrosoft.com`);
  }
  if (user === undefined) return { problems };
  if (!GUID.test(user)) problems.push(`WBMON_ROUNDTRIP_USER: "${user.slice(0, 80)}" must be the test user's object id, a GUID (Entra admin center, Users, the user, Object ID)`);
  if (clientId === undefined) problems.push('WBMON_ROUNDTRIP_CLIENT_ID: required when WBMON_ROUNDTRIP_USER is set: the public client app registration the round trip signs in with (docs/roundtrip.md)');
  if (tenantId === undefined) problems.push('WBMON_TENANT_ID: required when WBMON_ROUNDTRIP_USER is set: the tenant the test user is in');
  const keyVaultUrl = env.WBMON_KEY_VAULT_URL?.trim();
  if (env.WBMON_ROUNDTRIP_TOKEN_KEY === undefined && keyVaultUrl === undefined) {
    problems.push(
      'WBMON_ROUNDTRIP_TOKEN_KEY: required when WBMON_ROUNDTRIP_USER is set and WBMON_KEY_VAULT_URL is not: a base64 32-byte key that encrypts the stored refresh token (for example the output of openssl rand -base64 32)',
    );
  }
  if (problems.length > 0 || !schedule || !loginUrl || !clientId || !tenantId) return { problems };
  return { settings: { userId: user.toLowerCase(), schedule, clientId, tenantId, loginUrl, tokenKey, keyVaultUrl }, problems };
}

function loginUrlOf(text: string, problems: string[]): string | undefined {
  const hint = 'must be the Entra ID authority host as an https URL, such as https://login.microsoftonline.com (national clouds: https://login.microsoftonline.us, https://login.chinacloudapi.cn)';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push(`WBMON_LOGIN_URL: "${text.slice(0, 200)}" ${hint}`);
    return undefined;
  }
  // https even for a loopback stand-in: MSAL refuses an authority over plain http.
  if (url.protocol !== 'https:' || url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    problems.push(`WBMON_LOGIN_URL: "${url.origin}" ${hint}, with no path, query or user`);
    return undefined;
  }
  return url.origin;
}

/**
 * WBMON_ROUNDTRIP_TOKEN_KEY: base64 (standard or URL-safe alphabet) of exactly 32 bytes, for
 * AES-256. Else a problem line for the settings report; it never repeats the value.
 */
export function parseTokenKey(text: string): Buffer | string {
  const hint = 'must be base64 of 32 random bytes (for example the output of openssl rand -base64 32)';
  const t = text.trim();
  if (t === '') return `WBMON_ROUNDTRIP_TOKEN_KEY: is empty; it ${hint}`;
  // Buffer.from(..., 'base64') skips characters it does not know: check the alphabet first.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) return `WBMON_ROUNDTRIP_TOKEN_KEY: ${hint}; it is not base64`;
  const key = Buffer.from(t, 'base64');
  if (key.length !== 32) return `WBMON_ROUNDTRIP_TOKEN_KEY: ${hint}; it decodes to ${key.length} bytes`;
  return key;
}

/**
 * The shortest gap between two runs of a schedule over the next two days (enough for every
 * schedule without a day-of-month or month field; those only fire less often).
 */
export function shortestGapMinutes(schedule: Schedule, from: Date): number {
  let shortest = Number.POSITIVE_INFINITY;
  let previous = schedule.next(from);
  const end = previous.getTime() + 2 * 86_400_000;
  for (let i = 0; i < 5000; i++) {
    const next = schedule.next(previous);
    if (next.getTime() > end) break;
    shortest = Math.min(shortest, (next.getTime() - previous.getTime()) / 60_000);
    previous = next;
  }
  return shortest;
}
