/**
 * A loopback Entra ID authority over real HTTPS: what MSAL for Node calls for the device code
 * sign-in and the refresh token grant, answered the way Entra answers (OAuth errors as HTTP 400
 * with `error`, `error_description` "AADSTSnnnn: ..." and `error_codes`; tokens with an id_token
 * and client_info). The TLS material (a test CA, a leaf, an undici Agent trusting the CA) is
 * made apart, so a loopback Graph can use the same Agent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Agent, buildConnector } from 'undici';
import { createTestCa, type KeyAndCert, type TestCa } from './certs.js';

export interface LoopbackTls {
  readonly ca: TestCa;
  /** For 127.0.0.1, localhost and the extra names asked for. */
  readonly leaf: KeyAndCert;
  /** Trusts the test CA and nothing else. */
  readonly agent: Agent;
  close(): Promise<void>;
}

/** A test CA, one leaf for 127.0.0.1 and localhost (plus `names`), and an Agent trusting the CA. */
export async function createLoopbackTls(names: readonly string[] = []): Promise<LoopbackTls> {
  const ca = await createTestCa();
  const leaf = await ca.issue({ names: ['localhost', ...names], ips: ['127.0.0.1'] });
  const agent = new Agent({ connect: { ca: ca.cert } });
  return { ca, leaf, agent, close: () => agent.close() };
}

/**
 * An Agent that sends every connection to 127.0.0.1:`port` but keeps the host name for SNI and
 * the certificate check: a request to https://login.microsoftonline.com/ reaches the loopback
 * authority, through MSAL's own URL for that cloud (its leaf must name the host).
 */
export function redirectingAgent(tls: LoopbackTls, port: number): Agent {
  const connector = buildConnector({ ca: tls.ca.cert });
  return new Agent({
    connect: (options, callback) => connector({ ...options, hostname: '127.0.0.1', port: String(port), servername: options.hostname }, callback),
  });
}

export interface AuthorityRequest {
  readonly method: string;
  /** The Host header: which authority the client thought it talked to. */
  readonly host: string;
  /** Without the query (MSAL adds its x-client-* parameters there). */
  readonly path: string;
  readonly grantType?: string;
  readonly refreshToken?: string;
  readonly deviceCode?: string;
  readonly clientId?: string;
  readonly scope?: string;
}

export type DeviceOutcome = 'tokens' | 'expired_token' | 'authorization_declined';

export interface LoopbackUser {
  readonly oid: string;
  readonly tid: string;
  readonly username: string;
  readonly name: string;
}

export interface LoopbackAuthority {
  /** https://127.0.0.1:PORT, no trailing slash (WBMON_LOGIN_URL). */
  readonly url: string;
  readonly port: number;
  readonly user: LoopbackUser;
  readonly requests: AuthorityRequest[];
  /** Every refresh token issued, oldest first. */
  readonly issuedRefreshTokens: string[];
  readonly issuedAccessTokens: string[];
  readonly issuedUserCodes: string[];
  /** For device codes issued from now on: polls answered authorization_pending, then the outcome. */
  device: { pendingPolls: number; outcome: DeviceOutcome };
  /** Revokes every refresh token issued so far (a password reset, "revoke sessions"): invalid_grant AADSTS50173. */
  revokeAll(): void;
  /** The next `times` token requests get HTTP `status` with a plain-text body, as a failing front end gives. */
  failNext(status: number, times?: number): void;
  /** The next token request gets this OAuth answer (e.g. 400 interaction_required). */
  answerNext(status: number, body: Record<string, unknown>): void;
  close(): Promise<void>;
}

/** Entra answers pending, expired and declined device codes with these (error, AADSTS) pairs. */
const DEVICE_ERRORS: Record<Exclude<DeviceOutcome, 'tokens'> | 'authorization_pending', [number, string]> = {
  authorization_pending: [70016, 'OAuth 2.0 device flow error. Authorization is pending. Continue polling.'],
  expired_token: [70020, 'The provided value for the input parameter device_code is not valid. This device code has expired.'],
  authorization_declined: [70000, 'The user declined the authorization request.'],
};

const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export async function startLoopbackAuthority(options: {
  readonly tls: LoopbackTls;
  readonly user?: Partial<LoopbackUser>;
  /** Seconds between polls the device code answer asks for. MSAL waits interval × 1000 ms; 0 keeps tests fast. */
  readonly interval?: number;
}): Promise<LoopbackAuthority> {
  const user: LoopbackUser = {
    oid: options.user?.oid ?? randomUUID(),
    tid: options.user?.tid ?? randomUUID(),
    username: options.user?.username ?? 'wbmon-admin@contoso.onmicrosoft.com',
    name: options.user?.name ?? 'Writeback Monitor Admin',
  };
  const requests: AuthorityRequest[] = [];
  const issuedRefreshTokens: string[] = [];
  const issuedAccessTokens: string[] = [];
  const issuedUserCodes: string[] = [];
  const revoked = new Set<string>();
  const deviceCodes = new Map<string, { polls: number; pendingPolls: number; outcome: DeviceOutcome }>();
  const failures: number[] = [];
  const answers: { status: number; body: Record<string, unknown> }[] = [];

  const authority: LoopbackAuthority = {
    url: '',
    port: 0,
    user,
    requests,
    issuedRefreshTokens,
    issuedAccessTokens,
    issuedUserCodes,
    device: { pendingPolls: 2, outcome: 'tokens' },
    revokeAll: () => issuedRefreshTokens.forEach((t) => revoked.add(t)),
    failNext: (status, times = 1) => failures.push(...Array<number>(times).fill(status)),
    answerNext: (status, body) => void answers.push({ status, body }),
    close: async () => undefined,
  };

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const oauthError = (res: ServerResponse, error: string, [code, text]: [number, string]): void =>
    send(res, 400, {
      error,
      error_description: `AADSTS${code}: ${text} Trace ID: ${randomUUID()} Correlation ID: ${randomUUID()} Timestamp: ${new Date().toISOString()}`,
      error_codes: [code],
      timestamp: new Date().toISOString(),
      trace_id: randomUUID(),
      correlation_id: randomUUID(),
    });

  const tokens = (base: string, clientId: string, scope: string): Record<string, unknown> => {
    const now = Math.floor(Date.now() / 1000);
    const idToken = `${b64url({ typ: 'JWT', alg: 'none' })}.${b64url({
      aud: clientId,
      iss: `${base}/${user.tid}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + 3600,
      name: user.name,
      oid: user.oid,
      preferred_username: user.username,
      sub: randomBytes(16).toString('base64url'),
      tid: user.tid,
      ver: '2.0',
    })}.`;
    // Entra's refresh tokens are long opaque strings; these are recognizable and unique.
    const refreshToken = `RT-${randomBytes(96).toString('base64url')}`;
    const accessToken = `AT-${randomBytes(48).toString('base64url')}`;
    issuedRefreshTokens.push(refreshToken);
    issuedAccessTokens.push(accessToken);
    return {
      token_type: 'Bearer',
      scope: scope.split(' ').filter((s) => s && !OIDC_SCOPES.has(s.toLowerCase())).join(' '),
      expires_in: 3599,
      ext_expires_in: 3599,
      access_token: accessToken,
      refresh_token: refreshToken,
      id_token: idToken,
      client_info: b64url({ uid: user.oid, utid: user.tid }),
    };
  };

  const token = (res: ServerResponse, base: string, form: URLSearchParams): void => {
    const failure = failures.shift();
    if (failure !== undefined) {
      res.writeHead(failure, { 'content-type': 'text/html', 'retry-after': '0' });
      return void res.end('<html><body>Service Unavailable</body></html>');
    }
    const answer = answers.shift();
    if (answer) return send(res, answer.status, answer.body);
    const clientId = form.get('client_id') ?? '';
    const scope = form.get('scope') ?? '';
    const grant = form.get('grant_type');
    // MSAL sends `device_code`; RFC 8628 names the URN. Entra takes both.
    if (grant === 'device_code' || grant === 'urn:ietf:params:oauth:grant-type:device_code') {
      const state = deviceCodes.get(form.get('device_code') ?? '');
      if (!state) return oauthError(res, 'bad_verification_code', [70000, 'The device code is not known.']);
      if (state.polls++ < state.pendingPolls) return oauthError(res, 'authorization_pending', DEVICE_ERRORS.authorization_pending);
      if (state.outcome !== 'tokens') return oauthError(res, state.outcome, DEVICE_ERRORS[state.outcome]);
      return send(res, 200, tokens(base, clientId, scope));
    }
    if (grant === 'refresh_token') {
      const presented = form.get('refresh_token') ?? '';
      if (revoked.has(presented)) {
        return oauthError(res, 'invalid_grant', [50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '2026-01-01T00:00:00Z' and the TokensValidFrom date (before which tokens are not valid) for this user is '2026-02-01T00:00:00Z'."]);
      }
      if (!issuedRefreshTokens.includes(presented)) {
        return oauthError(res, 'invalid_grant', [700082, "The refresh token has expired due to inactivity. The token was issued on 2025-09-01T00:00:00Z and was inactive for 90.00:00:00."]);
      }
      // Entra rotates: each refresh answers a new refresh token (the old one stays valid until it expires).
      return send(res, 200, tokens(base, clientId, scope));
    }
    return oauthError(res, 'unsupported_grant_type', [70003, `The app requested an unsupported grant type '${grant}'.`]);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, bodyText: string): void => {
    const host = req.headers.host ?? '';
    const base = `https://${host}`;
    const url = new URL(req.url ?? '/', base);
    const form = new URLSearchParams(req.method === 'POST' ? bodyText : '');
    const optional = (name: string) => form.get(name) ?? undefined;
    requests.push({
      method: req.method ?? '',
      host,
      path: url.pathname,
      grantType: optional('grant_type'),
      refreshToken: optional('refresh_token'),
      deviceCode: optional('device_code'),
      clientId: optional('client_id'),
      scope: optional('scope'),
    });
    const path = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && path.length === 4 && path.slice(1).join('/') === 'v2.0/.well-known/openid-configuration') {
      // Entra names the tenant by its id in every endpoint, whatever name it was asked with.
      const t = `${base}/${user.tid}`;
      return send(res, 200, {
        token_endpoint: `${t}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${base}/${user.tid}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${t}/v2.0`,
        request_uri_parameter_supported: false,
        authorization_endpoint: `${t}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${t}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${t}/oauth2/v2.0/logout`,
        tenant_region_scope: 'EU',
      });
    }
    if (req.method === 'GET' && url.pathname === '/common/discovery/instance') {
      return send(res, 200, {
        tenant_discovery_endpoint: `${base}/${user.tid}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
      });
    }
    if (req.method === 'POST' && path.length === 4 && path.slice(1).join('/') === 'oauth2/v2.0/devicecode') {
      const deviceCode = `DC-${randomBytes(24).toString('base64url')}`;
      const userCode = randomBytes(6).toString('hex').slice(0, 9).toUpperCase();
      issuedUserCodes.push(userCode);
      deviceCodes.set(deviceCode, { polls: 0, ...authority.device });
      const verificationUri = `${base}/devicelogin`;
      return send(res, 200, {
        user_code: userCode,
        device_code: deviceCode,
        verification_uri: verificationUri,
        expires_in: 900,
        interval: options.interval ?? 0,
        message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${userCode} to authenticate.`,
      });
    }
    if (req.method === 'POST' && path.length === 4 && path.slice(1).join('/') === 'oauth2/v2.0/token') return token(res, base, form);
    send(res, 404, { error: 'not_found', error_description: `AADSTS90002: no such endpoint ${url.pathname}` });
  };

  const server = createServer({ key: options.tls.leaf.key, cert: options.tls.leaf.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(authority, {
    url: `https://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
