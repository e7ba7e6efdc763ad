/**
 * Where the round trip keeps its sign-in (an MSAL token cache without access tokens: in effect
 * the refresh token) between runs. In Azure: a Key Vault secret, read and written with the
 * Function App's managed identity. Under `serve`: the state store, encrypted with a key of the
 * operator's (WBMON_ROUNDTRIP_TOKEN_KEY), so a copy of the table or the SQLite file alone does
 * not give a token that can reset a password.
 *
 * No message here ever contains the blob, the key or a bearer token.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import { isLoopback } from '../config/loopback.js';
import { KEY_VAULT_API_VERSION, keyVaultScope as scopeOfVaultUrl } from '../config/keyvault-references.js';
import { StoreConflictError, type Store } from '../store/store.js';

export interface TokenVault {
  /** The stored blob, or undefined when none was ever written. */
  read(): Promise<string | undefined>;
  /** Stores `blob`, replacing what was there. */
  write(blob: string): Promise<void>;
  /** Where the blob is, for messages: no secret in it. */
  readonly where: string;
}

/** The vault cannot give back or take the token: a wrong key, tampering, a refusal, no answer. */
export class TokenVaultError extends Error {
  override readonly name = 'TokenVaultError';
  constructor(
    message: string,
    /** HTTP status of Key Vault's answer, when there was one. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export const TOKEN_COLLECTION = 'secrets';
export const TOKEN_KEY = 'roundtrip-token';
export const TOKEN_SECRET_NAME = 'wbmon-roundtrip-token';

/**
 * Bound into every ciphertext as GCM associated data: a value sealed for another purpose or
 * format version with the same key does not decrypt as this one.
 */
const ASSOCIATED_DATA = Buffer.from('writeback-monitor/roundtrip-token/v1');

interface Sealed {
  readonly v: 1;
  /** base64: 12-byte IV, 16-byte GCM tag, ciphertext. */
  readonly iv: string;
  readonly tag: string;
  readonly data: string;
}

const UNDECRYPTABLE =
  'the stored round-trip token cannot be decrypted with WBMON_ROUNDTRIP_TOKEN_KEY (a different key, or tampered): run writeback-monitor roundtrip login again';


function seal(key: Buffer, blob: string): Sealed {
  const iv = randomBytes(12); // fresh per write: GCM must never reuse an IV with one key
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(ASSOCIATED_DATA);
  const data = Buffer.concat([cipher.update(blob, 'utf8'), cipher.final()]);
  return { v: 1, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

function open(key: Buffer, sealed: unknown): string {
  const s = sealed as Partial<Sealed> | null;
  if (typeof s !== 'object' || s === null || s.v !== 1 || typeof s.iv !== 'string' || typeof s.tag !== 'string' || typeof s.data !== 'string') {
    throw new TokenVaultError('the stored round-trip token is not in a format this version reads: run writeback-monitor roundtrip login again');
  }
  const iv = Buffer.from(s.iv, 'base64');
  const tag = Buffer.from(s.tag, 'base64');
  if (iv.length !== 12 || tag.length !== 16) throw new TokenVaultError(UNDECRYPTABLE);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    decipher.setAAD(ASSOCIATED_DATA);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(s.data, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    // The tag check fails alike for a wrong key and for a changed byte: GCM cannot tell them apart.
    throw new TokenVaultError(UNDECRYPTABLE);
  }
}

/** The token in the state store (collection `secrets`, key `roundtrip-token`), AES-256-GCM under `key`. */
export function storeTokenVault(store: Store, key: Buffer): TokenVault {
  if (key.length !== 32) throw new RangeError('the round-trip token key must be 32 bytes');
  return {
    where: 'the state store, encrypted with WBMON_ROUNDTRIP_TOKEN_KEY',
    async read() {
      const got = await store.get<unknown>(TOKEN_COLLECTION, TOKEN_KEY);
      return got === undefined ? undefined : open(key, got.value);
    },
    async write(blob) {
      const value = seal(key, blob);
      // Insert or replace on the ETag just read; a run writing at the same moment makes the
      // condition fail, and reading again lets the later token win rather than failing.
      for (let attempt = 0; ; attempt++) {
        const current = await store.get<unknown>(TOKEN_COLLECTION, TOKEN_KEY);
        try {
          if (current) await store.replace(TOKEN_COLLECTION, TOKEN_KEY, value, current.etag);
          else await store.insert(TOKEN_COLLECTION, TOKEN_KEY, value);
          return;
        } catch (err) {
          if (!(err instanceof StoreConflictError) || attempt >= 2) throw err;
        }
      }
    },
  };
}

/**
 * The token audience for a vault URL: https://vault.azure.net/.default for *.vault.azure.net,
 * https://vault.usgovcloudapi.net/.default, https://vault.azure.cn/.default, and so on.
 */
export function keyVaultScope(vaultUrl: string): string {
  return scopeOfVaultUrl(new URL(vaultUrl));
}

const KEY_VAULT_TIMEOUT_MS = 15_000;

/**
 * The token as the Key Vault secret `wbmon-roundtrip-token` (secrets hold up to 25 KB), read and
 * written with `getToken()` (a bearer token for keyVaultScope(vaultUrl)). Only https vaults,
 * except loopback hosts (tests).
 */
/** The value infra/modules/keyvault.bicep creates the secret with. */
export const NOT_SIGNED_IN = 'not-signed-in';

export function keyVaultTokenVault(vaultUrl: string, getToken: () => Promise<string>, dispatcher?: Dispatcher): TokenVault {
  let vault: URL;
  try {
    vault = new URL(vaultUrl);
  } catch {
    throw new TokenVaultError(`WBMON_KEY_VAULT_URL: "${vaultUrl}" is not a URL of a vault such as https://kv-wbmon-abc.vault.azure.net/`);
  }
  if (!(vault.protocol === 'https:' || (vault.protocol === 'http:' && isLoopback(vault.hostname)))) {
    throw new TokenVaultError(`WBMON_KEY_VAULT_URL: "${vault.origin}" is not an https URL (the token would travel in clear)`);
  }
  const secretUrl = `${vault.origin}/secrets/${TOKEN_SECRET_NAME}?api-version=${KEY_VAULT_API_VERSION}`;
  const where = `Key Vault ${vault.origin} secret ${TOKEN_SECRET_NAME}`;

  const call = async (method: 'GET' | 'PUT', body?: string): Promise<{ status: number; text: string }> => {
    let token: string;
    try {
      token = await getToken();
    } catch (err) {
      // The credential's message may be long and name other things: its class is enough here.
      throw new TokenVaultError(`no token for ${where} from the managed identity (${(err as Error)?.name ?? 'error'})`);
    }
    const signal = AbortSignal.timeout(KEY_VAULT_TIMEOUT_MS);
    const exchange = async () => {
      const res = await request(secretUrl, {
        method,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body,
        signal,
        ...(dispatcher ? { dispatcher } : {}),
      });
      return { status: res.statusCode, text: await res.body.text() };
    };
    // undici 7 lets a TLS handshake run to the Agent's connect timeout despite the signal: race it.
    const aborted = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
    try {
      return await Promise.race([exchange(), aborted]);
    } catch (err) {
      const why = signal.aborted ? `no answer within ${KEY_VAULT_TIMEOUT_MS} ms` : ((err as NodeJS.ErrnoException).code ?? (err as Error).name);
      throw new TokenVaultError(`${method} ${where}: not reached (${why})`);
    }
  };

  const refused = (method: string, status: number, text: string): TokenVaultError => {
    const code = errorCode(text);
    const shown = `${method} ${where}: Key Vault answered HTTP ${status}${code ? ` ${code}` : ''}`;
    if (status === 403 && code === 'ForbiddenByFirewall') return new TokenVaultError(`${shown}: the vault's network rules refuse this caller (is the private endpoint in place?)`, status);
    if (status === 403) {
      return new TokenVaultError(`${shown}: grant the Function App's identity (or, for roundtrip login, your account) the role Key Vault Secrets Officer on the secret wbmon-roundtrip-token: it reads and rewrites the rotated token (infra/ grants the app's identity this role when roundtripUser is set; docs/deployment-roundtrip.md)`, status);
    }
    if (status === 409) return new TokenVaultError(`${shown}: the secret is deleted but recoverable; recover or purge it, then run writeback-monitor roundtrip login again`, status);
    return new TokenVaultError(shown, status);
  };

  return {
    where,
    async read() {
      const { status, text } = await call('GET');
      if (status === 404) return undefined;
      if (status !== 200) throw refused('GET', status, text);
      let value: unknown;
      try {
        value = (JSON.parse(text) as { value?: unknown }).value;
      } catch {
        value = undefined;
      }
      if (typeof value !== 'string') throw new TokenVaultError(`GET ${where}: the answer holds no secret value`, status);
      // infra/ creates the secret once with this placeholder, so its role can be scoped to it
      // before anyone signed in (docs/deployment-roundtrip.md): no sign-in stored yet.
      return value === NOT_SIGNED_IN ? undefined : value;
    },
    async write(blob) {
      const body = JSON.stringify({ value: blob, contentType: 'application/json; writeback-monitor round-trip token cache' });
      const { status, text } = await call('PUT', body);
      if (status !== 200) throw refused('PUT', status, text);
    },
  };
}

/** Key Vault's error code (`{"error":{"code":"Forbidden","innererror":{"code":"ForbiddenByFirewall"}}}`), innermost first. */
function errorCode(text: string): string | undefined {
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; innererror?: { code?: unknown } } }).error;
    const code = error?.innererror?.code ?? error?.code;
    return typeof code === 'string' && /^[\w.-]{1,80}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}
