/**
 * Where the round trip's token lives and how it is refreshed, the same under serve, the
 * Functions host and the CLI: with WBMON_ROUNDTRIP_TOKEN_KEY, an encrypted row in the state
 * store (serve --data, or AzureWebJobsStorage); otherwise the Key Vault secret in
 * WBMON_KEY_VAULT_URL, read and rewritten with the managed identity (or, for `roundtrip login`
 * on an administrator's machine, their Azure sign-in).
 */
import type { Dispatcher } from 'undici';
import { keyVaultScope } from '../config/keyvault-references.js';
import type { RoundtripSettings } from '../config/roundtrip-settings.js';
import type { Settings } from '../config/settings.js';
import type { Store } from '../store/store.js';
import { identityToken } from '../graph/token.js';
import type { RoundtripAuthConfig } from './auth.js';
import { keyVaultTokenVault, storeTokenVault, type TokenVault } from './token-vault.js';

export interface RoundtripWiring {
  readonly config: RoundtripAuthConfig;
  readonly vault: TokenVault;
  /** The delegated token, refreshed; the rotated refresh token is stored before it returns. */
  readonly userToken: () => Promise<{ readonly accessToken: string }>;
}

/** `store` is needed when the token is kept there (WBMON_ROUNDTRIP_TOKEN_KEY), not with Key Vault. */
export function roundtripWiring(settings: Settings, rt: RoundtripSettings, store: Store | undefined, options: { dispatcher?: Dispatcher } = {}): RoundtripWiring {
  const config: RoundtripAuthConfig = {
    loginUrl: rt.loginUrl,
    tenantId: rt.tenantId,
    clientId: rt.clientId,
    graphUrl: settings.tenant.graphUrl,
    ...(options.dispatcher && { dispatcher: options.dispatcher }),
  };
  if (rt.tokenKey && !store) throw new Error('the round trip keeps its token in the state store (WBMON_ROUNDTRIP_TOKEN_KEY), and none was opened');
  const vault = rt.tokenKey ? storeTokenVault(store!, rt.tokenKey) : keyVaultTokenVault(rt.keyVaultUrl!, identityToken(keyVaultScope(new URL(rt.keyVaultUrl!)), 'Key Vault'), options.dispatcher);
  // MSAL loads on the first token, not with every function that imports this.
  return { config, vault, userToken: async () => (await import('./auth.js')).acquireRoundtripToken(config, vault) };
}
