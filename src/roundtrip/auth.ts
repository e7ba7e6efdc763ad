/**
 * The round trip's sign-in. Resetting a password through Graph takes a delegated token, so an
 * administrator signs in once with the device code flow (`writeback-monitor roundtrip login`);
 * every run after that refreshes the token unattended with the stored refresh token and stores
 * the rotated one. MSAL for Node does the OAuth; this module gives it its I/O (undici through
 * the injected dispatcher), keeps only what a refresh needs, and sorts failures into "sign in
 * again" (RoundtripReauthError) and "try again later" (RoundtripAuthError with transient).
 *
 * No message here contains a token: they are built from OAuth error codes and fixed text, never
 * from a server's description or MSAL's message.
 */
import {
  AuthError,
  InteractionRequiredAuthError,
  LogLevel,
  PublicClientApplication,
  type AccountInfo,
  type AuthenticationResult,
  type DeviceCodeRequest,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import { request, type Dispatcher } from 'undici';
import { stripControls } from '../text/safe-text.js';
import type { TokenVault } from './token-vault.js';

export interface RoundtripAuthConfig {
  /** WBMON_LOGIN_URL: https://login.microsoftonline.com, a national cloud's, or a loopback test authority. */
  readonly loginUrl: string;
  /** WBMON_TENANT_ID: the tenant's id or one of its domains. */
  readonly tenantId: string;
  /** WBMON_ROUNDTRIP_CLIENT_ID: the public client application. */
  readonly clientId: string;
  /** WBMON_GRAPH_URL: the scope is on its origin. */
  readonly graphUrl: string;
  /** Carries every request to the authority (tests: an Agent trusting the test CA). */
  readonly dispatcher?: Dispatcher;
  /** Per request to the authority, headers and body. Default 30 000 ms. */
  readonly timeoutMs?: number;
}

/** The sign-in cannot be used any more: only `writeback-monitor roundtrip login` mends it. */
export class RoundtripReauthError extends Error {
  override readonly name = 'RoundtripReauthError';
  constructor(
    /** Why, in a few words (an AADSTS number when Entra gave one); no token. */
    readonly reason: string,
  ) {
    super(`the round-trip sign-in cannot be used (${reason}): run writeback-monitor roundtrip login again`);
  }
}

/** The sign-in did not happen for another reason: the authority not reached, a 5xx, a refusal that signing in again does not mend. */
export class RoundtripAuthError extends Error {
  override readonly name = 'RoundtripAuthError';
  constructor(
    message: string,
    /** A network failure, timeout, 429 or 5xx: the next run may well succeed. */
    readonly transient: boolean,
  ) {
    super(message);
  }
}

export interface DeviceCodePrompt {
  readonly userCode: string;
  readonly verificationUri: string;
  /** Entra's own sentence (with the URL and the code), control characters removed. */
  readonly message: string;
  readonly expiresInSeconds: number;
}

/** The delegated scope on Graph's origin in this cloud; MSAL adds openid, profile and offline_access. */
export function roundtripScopes(graphUrl: string): string[] {
  return [`${new URL(graphUrl).origin}/UserAuthenticationMethod.ReadWrite.All`];
}

/** What the last exchange with the authority went wrong with, if it did: classify() reads it, not MSAL's messages. */
type Failure =
  | { readonly kind: 'unreached'; readonly why: string }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'status'; readonly status: number }
  | { readonly kind: 'oauth'; readonly status: number; readonly error: string; readonly aadsts?: number };

/**
 * MSAL's INetworkModule on undici `request`: the dispatcher and timeout are ours, and every
 * failure is recorded in a form that holds no token. Non-2xx answers with a JSON body go back
 * to MSAL as they are (it reads the OAuth error from the body); a 429, a 5xx or a body that is
 * not JSON is thrown, so MSAL never takes an empty answer for tokens.
 */
class UndiciNetwork implements INetworkModule {
  failure: Failure | undefined;

  constructor(
    private readonly dispatcher: Dispatcher | undefined,
    private readonly timeoutMs: number,
    private readonly signal?: AbortSignal,
  ) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(method: 'GET' | 'POST', url: string, options: NetworkRequestOptions | undefined, timeout?: number): Promise<NetworkResponse<T>> {
    this.failure = undefined;
    const ms = Math.min(timeout ?? this.timeoutMs, this.timeoutMs);
    const timer = AbortSignal.timeout(ms);
    const signal = this.signal ? AbortSignal.any([timer, this.signal]) : timer;
    const exchange = async (): Promise<{ status: number; headers: Record<string, string>; text: string }> => {
      const res = await request(url, {
        method,
        headers: options?.headers ?? {},
        ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
        signal,
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
      const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
      return { status: res.statusCode, headers, text: await res.body.text() };
    };
    // undici 7 does not abort a connection still in its TLS handshake (seen: a silent peer held
    // the request for the Agent's 10 s connect timeout despite the signal): race the signal too.
    const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    let answer: { status: number; headers: Record<string, string>; text: string };
    try {
      answer = await Promise.race([exchange(), aborted]);
    } catch (err) {
      const host = new URL(url).host;
      if (this.signal?.aborted) this.failure = { kind: 'aborted' };
      else if (timer.aborted) this.failure = { kind: 'unreached', why: `${host}: no answer within ${ms} ms` };
      else this.failure = { kind: 'unreached', why: `${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).name}` };
      throw new Error('the authority was not reached');
    }
    const { status, headers, text } = answer;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (status === 429 || status >= 500 || typeof body !== 'object' || body === null) {
      this.failure = { kind: 'status', status };
      throw new Error(`the authority answered HTTP ${status}`);
    }
    const error = (body as { error?: unknown }).error;
    if (typeof error === 'string') this.failure = { kind: 'oauth', status, error: safeCode(error), aadsts: aadstsOf(body) };
    return { status, headers, body: body as T };
  }
}

function safeCode(code: string): string {
  return /^[\w.-]{1,80}$/.test(code) ? code : 'an unreadable error';
}

/** Entra's number for the error: error_codes[0], else the "AADSTSnnnn:" its description starts with. */
function aadstsOf(body: object): number | undefined {
  const codes = (body as { error_codes?: unknown }).error_codes;
  if (Array.isArray(codes) && Number.isInteger(codes[0])) return codes[0] as number;
  const description = (body as { error_description?: unknown }).error_description;
  const match = typeof description === 'string' ? /^AADSTS(\d{4,9})\b/.exec(description) : null;
  return match ? Number(match[1]) : undefined;
}

/**
 * Why a refresh token stopped working, for the Entra errors that mean "sign in again"
 * (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
 */
const REAUTH_REASONS: Readonly<Record<number, string>> = {
  50173: 'the grant was revoked, for example after a password change or reset, or a revocation of sessions',
  50133: 'the session ended after a password change',
  700082: 'the refresh token expired after 90 days without use',
  70008: 'the refresh token expired',
  700081: 'the refresh token reached its maximum lifetime',
  70043: 'a Conditional Access sign-in frequency requires signing in again',
  50076: 'multifactor authentication is required',
  50079: 'multifactor authentication registration is required',
  50078: 'the multifactor authentication claim expired',
  65001: 'consent to the delegated permission is missing',
  50057: 'the account is disabled',
  50053: 'the account is locked',
  50034: 'the account does not exist in the tenant',
};

/** Refusals that a new sign-in does not mend, with what to change instead. */
const CONFIG_HINTS: Readonly<Record<number, string>> = {
  7000218: 'allow public client flows on the app registration (Authentication: Allow public client flows)',
  700016: 'WBMON_ROUNDTRIP_CLIENT_ID names no application in this tenant',
  90002: 'WBMON_TENANT_ID names no tenant in this cloud',
  900023: 'WBMON_TENANT_ID is not a tenant id or domain',
  65002: 'the application is not allowed this scope',
};

const REAUTH_ERRORS = new Set(['invalid_grant', 'interaction_required', 'consent_required', 'login_required']);

/** Turns what MSAL threw into one of ours, from the recorded exchange first, then MSAL's error code. */
function classify(err: unknown, network: UndiciNetwork, what: string): Error {
  if (err instanceof RoundtripReauthError || err instanceof RoundtripAuthError) return err;
  const f = network.failure;
  if (f?.kind === 'aborted') return new RoundtripAuthError(`${what}: cancelled`, false);
  if (f?.kind === 'unreached') return new RoundtripAuthError(`${what}: Entra ID not reached (${f.why})`, true);
  if (f?.kind === 'status') return new RoundtripAuthError(`${what}: Entra ID answered HTTP ${f.status}`, f.status === 429 || f.status >= 500);
  if (f?.kind === 'oauth') {
    const code = f.aadsts === undefined ? f.error : `${f.error} AADSTS${f.aadsts}`;
    if (REAUTH_ERRORS.has(f.error)) {
      const reason = f.aadsts === undefined ? undefined : REAUTH_REASONS[f.aadsts];
      return new RoundtripReauthError(reason ? `${code}: ${reason}` : code);
    }
    if (f.error === 'expired_token') return new RoundtripAuthError(`${what}: the code was not entered in time (${code})`, false);
    if (f.error === 'authorization_declined') return new RoundtripAuthError(`${what}: the sign-in was declined (${code})`, false);
    const hint = f.aadsts === undefined ? undefined : CONFIG_HINTS[f.aadsts];
    return new RoundtripAuthError(`${what}: Entra ID refused (HTTP ${f.status} ${code})${hint ? `: ${hint}` : ''}`, false);
  }
  // No failed exchange: MSAL decided by itself (no refresh token in the cache, an expired one).
  if (err instanceof InteractionRequiredAuthError) return new RoundtripReauthError(`no usable refresh token (${safeCode(err.errorCode)})`);
  if (err instanceof AuthError) return new RoundtripAuthError(`${what}: MSAL failed (${safeCode(err.errorCode)})`, false);
  return err instanceof Error ? err : new Error(String(err));
}

const DEFAULT_TIMEOUT_MS = 30_000;

function application(config: RoundtripAuthConfig, network: UndiciNetwork): PublicClientApplication {
  let login: URL;
  try {
    login = new URL(config.loginUrl);
  } catch {
    throw new RoundtripAuthError(`WBMON_LOGIN_URL: "${config.loginUrl}" is not a URL such as https://login.microsoftonline.com`, false);
  }
  if (login.protocol !== 'https:' || login.pathname.replace(/\/+$/, '') !== '' || login.search || login.username) {
    throw new RoundtripAuthError(`WBMON_LOGIN_URL: "${login.origin}" must be an https origin without a path, such as https://login.microsoftonline.com`, false);
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(config.tenantId)) throw new RoundtripAuthError('WBMON_TENANT_ID: must be the tenant id (a GUID) or one of its domains', false);
  if (!/^[\w.-]{1,100}$/.test(config.clientId)) throw new RoundtripAuthError('WBMON_ROUNDTRIP_CLIENT_ID: must be the application (client) id of the app registration', false);
  return new PublicClientApplication({
    auth: {
      clientId: config.clientId,
      authority: `${login.origin}/${config.tenantId}`,
      // knownAuthorities makes MSAL take the configured host as the authority as it is (cloud
      // discovery from configuration, Authority.getCloudDiscoveryMetadataFromConfig). Without
      // it, a host missing from MSAL's built-in list (a loopback test authority) is checked
      // with a GET to https://login.microsoftonline.com/common/discovery/instance, the public
      // cloud's, which fails offline and means nothing to a national cloud. For the real
      // clouds this only drops MSAL's alias table (login.windows.net and friends), which
      // concerns sharing a cache with other apps; this cache is ours alone and always read
      // with this same configuration. Endpoints still come from MSAL's built-in metadata for
      // login.microsoftonline.com, .us and .partner.microsoftonline.cn, and otherwise from the
      // host's openid-configuration, whose issuer MSAL validates (same origin, or a Microsoft
      // host). The host is the operator's WBMON_LOGIN_URL, https only.
      knownAuthorities: [login.host],
    },
    system: {
      networkClient: network,
      // MSAL's log can name accounts and, at verbose levels, request details: nothing goes anywhere.
      loggerOptions: { loggerCallback: () => undefined, piiLoggingEnabled: false, logLevel: LogLevel.Error },
    },
  });
}

/**
 * What is kept: MSAL's cache serialization without its AccessToken entries (an account, its id
 * token, the refresh token, app metadata), a few KB, well under Key Vault's 25 KB per secret.
 * Access tokens are not kept: every run refreshes anyway, and a stored one would be a live
 * credential for an hour.
 */
function persistable(app: PublicClientApplication): string {
  const cache = JSON.parse(app.getTokenCache().serialize()) as Record<string, Record<string, unknown> | undefined>;
  if (Object.keys(cache.RefreshToken ?? {}).length === 0) {
    throw new RoundtripAuthError('Entra ID issued no refresh token (offline_access): the round trip cannot refresh unattended', false);
  }
  return JSON.stringify({ Account: cache.Account ?? {}, IdToken: cache.IdToken ?? {}, RefreshToken: cache.RefreshToken, AppMetadata: cache.AppMetadata ?? {} });
}

/**
 * The administrator's one sign-in: shows the code through `io.onPrompt`, waits while the
 * administrator enters it (MSAL polls at the interval Entra asks for), then stores the sign-in
 * in `vault`. `io.signal` cancels the wait.
 */
export async function deviceCodeLogin(
  config: RoundtripAuthConfig,
  vault: TokenVault,
  io: { onPrompt(p: DeviceCodePrompt): void; signal?: AbortSignal },
): Promise<{ username: string }> {
  const what = 'the round-trip sign-in';
  if (io.signal?.aborted) throw new RoundtripAuthError(`${what}: cancelled`, false);
  const network = new UndiciNetwork(config.dispatcher, config.timeoutMs ?? DEFAULT_TIMEOUT_MS, io.signal);
  const app = application(config, network);
  const request: DeviceCodeRequest = {
    scopes: roundtripScopes(config.graphUrl),
    deviceCodeCallback: (r) =>
      io.onPrompt({ userCode: stripControls(r.userCode), verificationUri: stripControls(r.verificationUri), message: stripControls(r.message), expiresInSeconds: r.expiresIn }),
  };
  // MSAL polls while request.cancel is false (DeviceCodeClient.continuePolling reads the very
  // object passed in): the signal sets it, and also aborts a request under way.
  const cancel = () => void (request.cancel = true);
  io.signal?.addEventListener('abort', cancel, { once: true });
  let result: AuthenticationResult | null;
  try {
    result = await app.acquireTokenByDeviceCode(request);
  } catch (err) {
    if (io.signal?.aborted) throw new RoundtripAuthError(`${what}: cancelled`, false);
    throw classify(err, network, what);
  } finally {
    io.signal?.removeEventListener('abort', cancel);
  }
  if (!result?.account) throw new RoundtripAuthError(`${what}: Entra ID's answer names no account`, false);
  await vault.write(persistable(app));
  return { username: result.account.username };
}

/**
 * A Graph token for the round trip, unattended: the stored refresh token is redeemed every run
 * (acquireTokenSilent with forceRefresh goes straight to the refresh token grant, see
 * SilentFlowClient.acquireCachedToken and RefreshTokenClient), and the rotated refresh token,
 * which MSAL writes over the old one in its cache (one key per account and client), is stored
 * before the token is returned. Errors of `vault` (TokenVaultError) come through as they are.
 */
export async function acquireRoundtripToken(config: RoundtripAuthConfig, vault: TokenVault): Promise<{ accessToken: string; username: string }> {
  const blob = await vault.read();
  if (blob === undefined) throw new RoundtripReauthError(`no sign-in is stored in ${vault.where}`);
  const network = new UndiciNetwork(config.dispatcher, config.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const app = application(config, network);
  let account: AccountInfo | undefined;
  try {
    app.getTokenCache().deserialize(blob);
    account = (await app.getTokenCache().getAllAccounts())[0];
  } catch {
    throw new RoundtripReauthError(`the sign-in stored in ${vault.where} is not a token cache this version reads`);
  }
  if (!account) throw new RoundtripReauthError(`the sign-in stored in ${vault.where} holds no account`);
  let result: AuthenticationResult;
  try {
    result = await app.acquireTokenSilent({ account, scopes: roundtripScopes(config.graphUrl), forceRefresh: true });
  } catch (err) {
    throw classify(err, network, 'the round-trip token refresh');
  }
  if (!result.accessToken) throw new RoundtripAuthError("the round-trip token refresh: Entra ID's answer holds no access token", false);
  await vault.write(persistable(app));
  return { accessToken: result.accessToken, username: result.account?.username ?? account.username };
}
