/**
 * Key Vault references the platform left unresolved, resolved by the app itself.
 *
 * App Service resolves an app setting `@Microsoft.KeyVault(...)` from outside the app. On the
 * Flex Consumption plan it cannot when the vault's network access is restricted, even with the
 * app integrated into the VNet (Microsoft's Flex Consumption considerations: use the client
 * SDKs then). With privateNetworking the vault is reachable only through its private endpoint,
 * so infra/ sets WBMON_KEY_VAULT_URL, and at start the app reads each secret whose reference is
 * still literal text itself, through the VNet, with its managed identity. A secret that does not
 * exist (404) stays unresolved, as the platform would leave it: the setting counts as unset.
 *
 * Only references to that one vault are followed, so a setting cannot send the identity's
 * token elsewhere. Secret values never appear in what this returns besides the environment.
 */
import { isUnresolvedKeyVaultReference, type Env } from './settings.js';

/** Key Vault's data-plane API version used for GET secret. */
export const KEY_VAULT_API_VERSION = '7.4';

export interface SecretReference {
  /** https://<vault>.<suffix>/secrets/<name>[/<version>] */
  readonly secretUrl: string;
  readonly vaultHost: string;
}

/**
 * Where a reference points: `@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/n/[version])`,
 * or `@Microsoft.KeyVault(VaultName=v;SecretName=n[;SecretVersion=x])` in the cloud of `vaultUrl`
 * (the DNS suffix of the configured vault). Undefined when it is neither.
 */
export function parseKeyVaultReference(value: string, vaultUrl: URL): SecretReference | undefined {
  const inner = /^\s*@Microsoft\.KeyVault\((.*)\)\s*$/i.exec(value)?.[1];
  if (inner === undefined) return undefined;
  const parts = new Map<string, string>();
  for (const part of inner.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) parts.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  const uri = parts.get('secreturi');
  if (uri !== undefined) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return undefined;
    }
    const path = /^\/secrets\/([0-9A-Za-z-]+)(?:\/([0-9A-Za-z]*))?\/?$/.exec(url.pathname);
    if (url.protocol !== 'https:' || !path) return undefined;
    return { secretUrl: `https://${url.host}/secrets/${path[1]}${path[2] ? `/${path[2]}` : ''}`, vaultHost: url.host.toLowerCase() };
  }
  const vault = parts.get('vaultname');
  const name = parts.get('secretname');
  if (!vault || !name || !/^[0-9A-Za-z-]+$/.test(vault) || !/^[0-9A-Za-z-]+$/.test(name)) return undefined;
  const version = parts.get('secretversion');
  if (version !== undefined && !/^[0-9A-Za-z]*$/.test(version)) return undefined;
  const suffix = vaultUrl.host.slice(vaultUrl.host.indexOf('.'));
  const host = `${vault}${suffix}`.toLowerCase();
  return { secretUrl: `https://${host}/secrets/${name}${version ? `/${version}` : ''}`, vaultHost: host };
}

/** The token audience of a vault host: https://vault.azure.net for *.vault.azure.net, and so on per cloud. */
export function keyVaultScope(vaultUrl: URL): string {
  return `https://${vaultUrl.host.slice(vaultUrl.host.indexOf('.') + 1)}/.default`;
}

export interface ResolveOptions {
  /** WBMON_KEY_VAULT_URL: https://<vault>.vault.azure.net/ (plain http only to a loopback host, for tests). */
  readonly vaultUrl: string;
  /** A bearer token for keyVaultScope(vaultUrl). */
  readonly token: () => Promise<string>;
  readonly fetch: typeof globalThis.fetch;
  /** For all reads together; what is not read by then stays unresolved. */
  readonly timeoutMs?: number;
}

export interface Resolution {
  readonly env: Env;
  /** Settings now holding their secret. */
  readonly resolved: readonly string[];
  /** Settings left unresolved for a reason other than a missing secret: `NAME: why` (never a value). */
  readonly problems: readonly string[];
}

/**
 * Reads every secret behind a reference to the configured vault that is still literal text in
 * `env`. Never throws: what it cannot read stays as it was, with the reason in `problems`.
 */
export async function resolveKeyVaultReferences(env: Env, options: ResolveOptions): Promise<Resolution> {
  const names = Object.keys(env).filter((n) => isUnresolvedKeyVaultReference(env[n])).sort();
  if (names.length === 0) return { env, resolved: [], problems: [] };
  let vault: URL;
  try {
    vault = new URL(options.vaultUrl);
    const loopback = vault.hostname === '127.0.0.1' || vault.hostname === 'localhost' || vault.hostname === '[::1]';
    if (!(vault.protocol === 'https:' || (vault.protocol === 'http:' && loopback)) || !vault.host.includes('.')) throw new Error('not an https URL of a vault');
  } catch {
    return { env, resolved: [], problems: [`WBMON_KEY_VAULT_URL: "${options.vaultUrl}" is not a vault URL such as https://kv-wbmon-abc.vault.azure.net/`] };
  }

  const signal = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  let token: string;
  try {
    token = await options.token();
  } catch (err) {
    return { env, resolved: [], problems: names.map((n) => `${n}: no token for Key Vault from the managed identity (${(err as Error).message})`) };
  }

  const out: Record<string, string | undefined> = { ...env };
  const resolved: string[] = [];
  const problems: string[] = [];
  await Promise.all(
    names.map(async (name) => {
      const ref = parseKeyVaultReference(env[name]!, vault);
      if (!ref) return void problems.push(`${name}: not a Key Vault reference the app can read`);
      if (ref.vaultHost !== vault.host.toLowerCase()) return void problems.push(`${name}: refers to another vault than WBMON_KEY_VAULT_URL (${ref.vaultHost}); not read`);
      // A loopback vault (tests) keeps its scheme and port.
      const url = `${vault.protocol}//${vault.host}${new URL(ref.secretUrl).pathname}?api-version=${KEY_VAULT_API_VERSION}`;
      try {
        const res = await options.fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal });
        if (res.status === 404) return void (await res.body?.cancel());
        if (!res.ok) {
          const code = await errorCode(res);
          return void problems.push(`${name}: Key Vault answered ${res.status}${code ? ` ${code}` : ''}${res.status === 403 ? ' (does the identity hold Key Vault Secrets User, and is the private endpoint in place?)' : ''}`);
        }
        const body = (await res.json()) as { value?: unknown };
        if (typeof body.value !== 'string') return void problems.push(`${name}: Key Vault's answer has no secret value`);
        out[name] = body.value;
        resolved.push(name);
      } catch (err) {
        problems.push(`${name}: Key Vault not reached (${(err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).message})`);
      }
    }),
  );
  return { env: out, resolved: resolved.sort(), problems: problems.sort() };
}

async function errorCode(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.json()) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code.slice(0, 80).replace(/[^\w.-]/g, '') : undefined;
  } catch {
    return undefined;
  }
}
