import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import {
  acquireRoundtripToken,
  deviceCodeLogin,
  roundtripScopes,
  RoundtripAuthError,
  RoundtripReauthError,
  type DeviceCodePrompt,
  type RoundtripAuthConfig,
} from '../../src/roundtrip/auth.js';
import type { TokenVault } from '../../src/roundtrip/token-vault.js';
import { createLoopbackTls, redirectingAgent, startLoopbackAuthority, type LoopbackAuthority, type LoopbackTls } from '../support/loopback-authority.js';
import { refusedPort, startSilentTcp } from '../support/servers.js';

const CLIENT_ID = '3f1c2a55-7d0e-4b8a-9c61-0a2b4c6d8e10';
const GRAPH = 'https://graph.microsoft.com';
const SCOPE = 'https://graph.microsoft.com/UserAuthenticationMethod.ReadWrite.All';
/** What MSAL sends (Entra also takes RFC 8628's URN). */
const DEVICE_GRANT = 'device_code';
/** Recognizable, so a leak would be found by substring. */
const PLANTED_RT = 'RT-PLANTED-SECRET-9d2f61c4e8a7b3051f6e2d9c8b7a6f5e4d3c2b1a0';

interface RecordingVault extends TokenVault {
  readonly writes: string[];
  stored: string | undefined;
}

function recordingVault(stored?: string): RecordingVault {
  const vault: RecordingVault = {
    where: 'a test vault',
    writes: [],
    stored,
    read: async () => vault.stored,
    write: async (blob) => {
      vault.writes.push(blob);
      vault.stored = blob;
    },
  };
  return vault;
}

let tls: LoopbackTls;
let authority: LoopbackAuthority;
const extraAgents: Agent[] = [];

beforeAll(async () => {
  tls = await createLoopbackTls(['login.microsoftonline.com', 'login.microsoftonline.us', 'login.chinacloudapi.cn']);
});
afterAll(() => tls.close());
beforeEach(async () => {
  authority = await startLoopbackAuthority({ tls });
});
afterEach(async () => {
  await authority.close();
  await Promise.all(extraAgents.splice(0).map((a) => a.close()));
});

function configFor(a: LoopbackAuthority, overrides: Partial<RoundtripAuthConfig> = {}): RoundtripAuthConfig {
  return { loginUrl: a.url, tenantId: a.user.tid, clientId: CLIENT_ID, graphUrl: GRAPH, dispatcher: tls.agent, timeoutMs: 5_000, ...overrides };
}

async function login(vault: TokenVault, config = configFor(authority)): Promise<{ username: string; prompts: DeviceCodePrompt[] }> {
  const prompts: DeviceCodePrompt[] = [];
  const { username } = await deviceCodeLogin(config, vault, { onPrompt: (p) => prompts.push(p) });
  return { username, prompts };
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error;
}

/** Every token the authority issued, and the planted one, are absent from everything the error shows. */
function expectNoSecrets(err: Error): void {
  const shown = [err.message, String(err), err.stack ?? '', JSON.stringify(err)].join('\n');
  for (const secret of [...authority.issuedRefreshTokens, ...authority.issuedAccessTokens, PLANTED_RT]) expect(shown).not.toContain(secret);
}

describe('roundtripScopes', () => {
  it("names UserAuthenticationMethod.ReadWrite.All on the origin of the cloud's Graph", () => {
    expect(roundtripScopes('https://graph.microsoft.com')).toEqual([SCOPE]);
    expect(roundtripScopes('https://graph.microsoft.us/v1.0/')).toEqual(['https://graph.microsoft.us/UserAuthenticationMethod.ReadWrite.All']);
    expect(roundtripScopes('https://microsoftgraph.chinacloudapi.cn')).toEqual(['https://microsoftgraph.chinacloudapi.cn/UserAuthenticationMethod.ReadWrite.All']);
  });
});

describe('deviceCodeLogin', () => {
  it('shows the code and URL the authority gave, polls through authorization_pending and stores the refresh token without any access token', async () => {
    authority.device = { pendingPolls: 2, outcome: 'tokens' };
    const vault = recordingVault();
    const { username, prompts } = await login(vault);

    const code = authority.issuedUserCodes[0]!;
    expect(prompts).toEqual([
      {
        userCode: code,
        verificationUri: `${authority.url}/devicelogin`,
        message: `To sign in, use a web browser to open the page ${authority.url}/devicelogin and enter the code ${code} to authenticate.`,
        expiresInSeconds: 900,
      },
    ]);
    expect(username).toBe('wbmon-admin@contoso.onmicrosoft.com');
    const polls = authority.requests.filter((r) => r.grantType === DEVICE_GRANT);
    expect(polls).toHaveLength(3);
    expect(polls[0]!.scope!.split(' ').sort()).toEqual([SCOPE, 'offline_access', 'openid', 'profile']);
    expect(polls[0]!.clientId).toBe(CLIENT_ID);

    expect(vault.writes).toHaveLength(1);
    const blob = vault.writes[0]!;
    expect(authority.issuedRefreshTokens).toHaveLength(1);
    expect(blob).toContain(authority.issuedRefreshTokens[0]);
    expect(blob).not.toContain(authority.issuedAccessTokens[0]);
    const cache = JSON.parse(blob) as Record<string, Record<string, { secret?: string; username?: string }>>;
    expect(Object.keys(cache)).toEqual(['Account', 'IdToken', 'RefreshToken', 'AppMetadata']);
    expect(Object.values(cache.RefreshToken!).map((t) => t.secret)).toEqual([authority.issuedRefreshTokens[0]]);
    expect(Object.values(cache.Account!).map((a) => a.username)).toEqual(['wbmon-admin@contoso.onmicrosoft.com']);
    expect(blob.length).toBeLessThan(4_000);
  });

  it('reports a code not entered in time as a RoundtripAuthError that is not transient, and stores nothing', async () => {
    authority.device = { pendingPolls: 1, outcome: 'expired_token' };
    const vault = recordingVault();
    const err = await failure(login(vault));
    expect(err).toBeInstanceOf(RoundtripAuthError);
    expect(err.message).toBe('the round-trip sign-in: the code was not entered in time (expired_token AADSTS70020)');
    expect((err as RoundtripAuthError).transient).toBe(false);
    expect(vault.writes).toEqual([]);
  });

  it('reports a declined sign-in as a RoundtripAuthError that is not transient', async () => {
    authority.device = { pendingPolls: 0, outcome: 'authorization_declined' };
    const err = await failure(login(recordingVault()));
    expect(err).toBeInstanceOf(RoundtripAuthError);
    expect(err.message).toBe('the round-trip sign-in: the sign-in was declined (authorization_declined AADSTS70000)');
  });

  it('stops polling when its signal aborts', async () => {
    authority.device = { pendingPolls: 1_000_000, outcome: 'tokens' };
    const controller = new AbortController();
    const vault = recordingVault();
    const err = await failure(deviceCodeLogin(configFor(authority), vault, { onPrompt: () => setTimeout(() => controller.abort(), 100), signal: controller.signal }));
    expect(err).toBeInstanceOf(RoundtripAuthError);
    expect(err.message).toBe('the round-trip sign-in: cancelled');
    // A poll already on the wire when the signal fired may still reach the server: let it land
    // (the machine may be loaded), then no further poll may come.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const polls = authority.requests.filter((r) => r.grantType === DEVICE_GRANT).length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(authority.requests.filter((r) => r.grantType === DEVICE_GRANT).length).toBe(polls);
    expect(vault.writes).toEqual([]);
  });

  it('says which setting is wrong when public client flows are off on the app registration', async () => {
    authority.answerNext(400, {
      error: 'invalid_client',
      error_description: "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      error_codes: [7000218],
    });
    // The first token request is the first poll: the device code request itself succeeds.
    const err = await failure(login(recordingVault()));
    expect(err).toBeInstanceOf(RoundtripAuthError);
    expect(err.message).toBe(
      'the round-trip sign-in: Entra ID refused (HTTP 400 invalid_client AADSTS7000218): allow public client flows on the app registration (Authentication: Allow public client flows)',
    );
    expect((err as RoundtripAuthError).transient).toBe(false);
  });

  it('refuses an authority URL that is not https', async () => {
    const err = await failure(login(recordingVault(), configFor(authority, { loginUrl: authority.url.replace('https:', 'http:') })));
    expect(err).toBeInstanceOf(RoundtripAuthError);
    expect(err.message).toBe(`WBMON_LOGIN_URL: "${authority.url.replace('https:', 'http:')}" must be an https origin without a path, such as https://login.microsoftonline.com`);
  });
});

describe('acquireRoundtripToken', () => {
  it('redeems the stored refresh token, returns the new access token and stores the rotated refresh token, which the next run presents', async () => {
    const vault = recordingVault();
    await login(vault);
    const [first] = authority.issuedRefreshTokens;

    const run1 = await acquireRoundtripToken(configFor(authority), vault);
    expect(run1).toEqual({ accessToken: authority.issuedAccessTokens[1], username: 'wbmon-admin@contoso.onmicrosoft.com' });
    const rotated = authority.issuedRefreshTokens[1]!;
    expect(vault.writes).toHaveLength(2);
    expect(vault.stored).toContain(rotated);
    expect(vault.stored).not.toContain(first);
    expect(vault.stored).not.toContain(run1.accessToken);

    const run2 = await acquireRoundtripToken(configFor(authority), vault);
    expect(run2.accessToken).toBe(authority.issuedAccessTokens[2]);
    const refreshes = authority.requests.filter((r) => r.grantType === 'refresh_token');
    expect(refreshes.map((r) => r.refreshToken)).toEqual([first, rotated]);
    expect(refreshes[0]!.scope!.split(' ').sort()).toEqual([SCOPE, 'offline_access', 'openid', 'profile']);
    expect(vault.stored).toContain(authority.issuedRefreshTokens[2]);
  });

  it('turns a revoked refresh token (invalid_grant AADSTS50173) into RoundtripReauthError naming roundtrip login, without any token, and leaves the vault alone', async () => {
    const vault = recordingVault();
    await login(vault);
    authority.revokeAll();
    const err = await failure(acquireRoundtripToken(configFor(authority), vault));
    expect(err).toBeInstanceOf(RoundtripReauthError);
    expect((err as RoundtripReauthError).reason).toBe(
      'invalid_grant AADSTS50173: the grant was revoked, for example after a password change or reset, or a revocation of sessions',
    );
    expect(err.message).toBe(
      'the round-trip sign-in cannot be used (invalid_grant AADSTS50173: the grant was revoked, for example after a password change or reset, or a revocation of sessions): run writeback-monitor roundtrip login again',
    );
    expect(err.message).not.toContain('\n');
    expectNoSecrets(err);
    expect(vault.writes).toHaveLength(1);
  });

  it('turns a refresh token Entra no longer knows (AADSTS700082, 90 days unused) into RoundtripReauthError, without the planted token', async () => {
    const vault = recordingVault();
    await login(vault);
    vault.stored = vault.stored!.replace(authority.issuedRefreshTokens[0]!, PLANTED_RT);
    const err = await failure(acquireRoundtripToken(configFor(authority), vault));
    expect(authority.requests.filter((r) => r.grantType === 'refresh_token').map((r) => r.refreshToken)).toEqual([PLANTED_RT]);
    expect(err).toBeInstanceOf(RoundtripReauthError);
    expect((err as RoundtripReauthError).reason).toBe('invalid_grant AADSTS700082: the refresh token expired after 90 days without use');
    expectNoSecrets(err);
  });

  it('turns interaction_required (multifactor authentication now required) into RoundtripReauthError', async () => {
    const vault = recordingVault();
    await login(vault);
    authority.answerNext(400, {
      error: 'interaction_required',
      error_description: `AADSTS50076: Due to a configuration change made by your administrator, you must use multi-factor authentication. ${PLANTED_RT}`,
      error_codes: [50076],
      suberror: 'basic_action',
    });
    const err = await failure(acquireRoundtripToken(configFor(authority), vault));
    expect(err).toBeInstanceOf(RoundtripReauthError);
    expect((err as RoundtripReauthError).reason).toBe('interaction_required AADSTS50076: multifactor authentication is required');
    expectNoSecrets(err);
  });

  it('throws RoundtripReauthError naming the vault when no sign-in is stored, or the stored one holds no account', async () => {
    const none = await failure(acquireRoundtripToken(configFor(authority), recordingVault()));
    expect(none).toBeInstanceOf(RoundtripReauthError);
    expect(none.message).toBe('the round-trip sign-in cannot be used (no sign-in is stored in a test vault): run writeback-monitor roundtrip login again');

    const empty = await failure(acquireRoundtripToken(configFor(authority), recordingVault('{"Account":{},"IdToken":{},"RefreshToken":{},"AppMetadata":{}}')));
    expect(empty).toBeInstanceOf(RoundtripReauthError);
    expect((empty as RoundtripReauthError).reason).toBe('the sign-in stored in a test vault holds no account');

    const garbage = await failure(acquireRoundtripToken(configFor(authority), recordingVault('not json')));
    expect(garbage).toBeInstanceOf(RoundtripReauthError);
    expect((garbage as RoundtripReauthError).reason).toBe('the sign-in stored in a test vault is not a token cache this version reads');
    expect(authority.requests.filter((r) => r.grantType === 'refresh_token')).toEqual([]);
  });

  it('throws RoundtripReauthError when the stored account has no refresh token left', async () => {
    const vault = recordingVault();
    await login(vault);
    const cache = JSON.parse(vault.stored!) as Record<string, unknown>;
    vault.stored = JSON.stringify({ ...cache, RefreshToken: {} });
    const err = await failure(acquireRoundtripToken(configFor(authority), vault));
    expect(err).toBeInstanceOf(RoundtripReauthError);
    expect((err as RoundtripReauthError).reason).toBe('no usable refresh token (no_tokens_found)');
  });

  it('reports a 503 from the token endpoint as a transient RoundtripAuthError, not a reauth, and the stored token still works on the next run', async () => {
    const vault = recordingVault();
    await login(vault);
    authority.failNext(503);
    const err = await failure(acquireRoundtripToken(configFor(authority), vault));
    expect(err).toBeInstanceOf(RoundtripAuthError);
    expect(err).not.toBeInstanceOf(RoundtripReauthError);
    expect(err.message).toBe('the round-trip token refresh: Entra ID answered HTTP 503');
    expect((err as RoundtripAuthError).transient).toBe(true);
    expectNoSecrets(err);
    expect(vault.writes).toHaveLength(1);

    const next = await acquireRoundtripToken(configFor(authority), vault);
    expect(next.accessToken).toBe(authority.issuedAccessTokens[1]);
    expect(authority.requests.filter((r) => r.grantType === 'refresh_token').map((r) => r.refreshToken)).toEqual([
      authority.issuedRefreshTokens[0],
      authority.issuedRefreshTokens[0],
    ]);
  });

  it('reports an authority that refuses connections as a transient RoundtripAuthError', async () => {
    const vault = recordingVault();
    await login(vault);
    const port = await refusedPort();
    const err = await failure(acquireRoundtripToken(configFor(authority, { loginUrl: `https://127.0.0.1:${port}` }), vault));
    expect(err).toBeInstanceOf(RoundtripAuthError);
    expect(err.message).toBe(`the round-trip token refresh: Entra ID not reached (127.0.0.1:${port}: ECONNREFUSED)`);
    expect((err as RoundtripAuthError).transient).toBe(true);
    expectNoSecrets(err);
  });

  it('reports an authority that never answers as a transient RoundtripAuthError after the timeout', async () => {
    const vault = recordingVault();
    await login(vault);
    const silent = await startSilentTcp();
    try {
      const started = Date.now();
      const err = await failure(acquireRoundtripToken(configFor(authority, { loginUrl: `https://127.0.0.1:${silent.port}`, timeoutMs: 300 }), vault));
      // Not undici's 10 s connect timeout: a handshake that never ends is cut at timeoutMs.
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(err).toBeInstanceOf(RoundtripAuthError);
      expect(err.message).toBe(`the round-trip token refresh: Entra ID not reached (127.0.0.1:${silent.port}: no answer within 300 ms)`);
      expect((err as RoundtripAuthError).transient).toBe(true);
    } finally {
      await silent.close();
    }
  });
});

describe('the real clouds, through an Agent that takes their host names to the loopback authority', () => {
  it.each([
    ['https://login.microsoftonline.com', 'login.microsoftonline.com', false],
    ['https://login.microsoftonline.us', 'login.microsoftonline.us', false],
    ['https://login.chinacloudapi.cn', 'login.chinacloudapi.cn', true],
  ])('%s: signs in and refreshes on that host alone, with no instance discovery', async (loginUrl, host, fetchesMetadata) => {
    const agent = redirectingAgent(tls, authority.port);
    extraAgents.push(agent);
    const config = configFor(authority, { loginUrl, dispatcher: agent });
    authority.device = { pendingPolls: 1, outcome: 'tokens' };
    const vault = recordingVault();
    await login(vault, config);
    const { accessToken } = await acquireRoundtripToken(config, vault);
    expect(accessToken).toBe(authority.issuedAccessTokens[1]);

    const tid = authority.user.tid;
    // MSAL has built-in endpoints for the public and US Government clouds; for other hosts it
    // reads the openid-configuration (Entra names the tenant by id in the endpoints it gives).
    const metadata = fetchesMetadata ? [`GET ${host}/${tid}/v2.0/.well-known/openid-configuration`] : [];
    expect(authority.requests.map((r) => `${r.method} ${r.host}${r.path}`)).toEqual([
      ...metadata,
      `POST ${host}/${tid}/oauth2/v2.0/devicecode`,
      `POST ${host}/${tid}/oauth2/v2.0/token`,
      `POST ${host}/${tid}/oauth2/v2.0/token`,
      ...metadata,
      `POST ${host}/${tid}/oauth2/v2.0/token`,
    ]);
  });
});
