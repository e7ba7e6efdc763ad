/**
 * The app reading the Key Vault references the platform left unresolved (a vault behind a
 * private endpoint, which Flex Consumption cannot resolve references to), against a loopback
 * server that answers as Key Vault's GET secret does.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyVaultScope, parseKeyVaultReference, resolveKeyVaultReferences, KEY_VAULT_API_VERSION } from '../src/config/keyvault-references.js';
import { parseSettings } from '../src/config/settings.js';

const RELAYS = '{"dc01": {"secret": "0123456789abcdef0123456789abcdef"}}';

describe('a Key Vault reference', () => {
  const vault = new URL('https://kv-wbmon-abc.vault.azure.net/');

  it('names its secret by VaultName and SecretName, in the cloud of the configured vault', () => {
    expect(parseKeyVaultReference('@Microsoft.KeyVault(VaultName=kv-wbmon-abc;SecretName=wbmon-relays)', vault)).toEqual({
      secretUrl: 'https://kv-wbmon-abc.vault.azure.net/secrets/wbmon-relays',
      vaultHost: 'kv-wbmon-abc.vault.azure.net',
    });
    expect(parseKeyVaultReference('@Microsoft.KeyVault(VaultName=kv;SecretName=s;SecretVersion=abc123)', new URL('https://x.vault.usgovcloudapi.net/'))?.secretUrl).toBe(
      'https://kv.vault.usgovcloudapi.net/secrets/s/abc123',
    );
  });

  it('or by SecretUri, with or without a version', () => {
    expect(parseKeyVaultReference('@Microsoft.KeyVault(SecretUri=https://kv-wbmon-abc.vault.azure.net/secrets/wbmon-smtp-url/)', vault)?.secretUrl).toBe('https://kv-wbmon-abc.vault.azure.net/secrets/wbmon-smtp-url');
    expect(parseKeyVaultReference(' @Microsoft.KeyVault(SecretUri=https://kv-wbmon-abc.vault.azure.net/secrets/s/0a1b) ', vault)?.secretUrl).toBe('https://kv-wbmon-abc.vault.azure.net/secrets/s/0a1b');
  });

  it('is refused when it is anything else: not https, another path, names with other characters', () => {
    for (const bad of [
      '@Microsoft.KeyVault(SecretUri=http://kv.vault.azure.net/secrets/s)',
      '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/keys/s)',
      '@Microsoft.KeyVault(VaultName=kv;SecretName=../x)',
      '@Microsoft.KeyVault(VaultName=kv)',
      '@Microsoft.AppConfiguration(Endpoint=https://x)',
      'plain',
    ]) {
      expect(parseKeyVaultReference(bad, vault), bad).toBeUndefined();
    }
  });

  it('is read with a token for the vault service of its cloud', () => {
    expect(keyVaultScope(vault)).toBe('https://vault.azure.net/.default');
    expect(keyVaultScope(new URL('https://kv.vault.azure.cn/'))).toBe('https://vault.azure.cn/.default');
  });
});

describe('reading the unresolved references from the vault', () => {
  let server: Server;
  let base: string;
  const seen: { url: string; authorization: string | undefined }[] = [];
  const secrets: Record<string, string> = { 'wbmon-relays': RELAYS, 'wbmon-teams-webhook-url': 'https://contoso.example/workflows/abc' };

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      const name = /^\/secrets\/([\w-]+)/.exec(req.url ?? '')?.[1] ?? '';
      res.setHeader('content-type', 'application/json');
      if (name === 'wbmon-forbidden') {
        res.statusCode = 403;
        return res.end(JSON.stringify({ error: { code: 'Forbidden', message: 'Caller is not authorized' } }));
      }
      if (name === 'wbmon-slow') return; // never answers
      if (!(name in secrets)) {
        res.statusCode = 404;
        return res.end(JSON.stringify({ error: { code: 'SecretNotFound' } }));
      }
      res.end(JSON.stringify({ value: secrets[name], id: `${base}/secrets/${name}/1` }));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });

  const reference = (name: string) => `@Microsoft.KeyVault(SecretUri=${base.replace('http:', 'https:')}/secrets/${name}/)`;

  it('puts each secret in place of its reference, reading it with the identity\'s token, and leaves a missing one unresolved', async () => {
    seen.length = 0;
    const env = {
      WBMON_RELAYS: reference('wbmon-relays'),
      WBMON_TEAMS_WEBHOOK_URL: `@Microsoft.KeyVault(VaultName=127;SecretName=wbmon-teams-webhook-url)`,
      WBMON_SMTP_URL: reference('wbmon-smtp-url'),
      WBMON_REMIND_MINUTES: '30',
    };
    // VaultName form: the vault is named by the first label of the configured host (127 of 127.0.0.1).
    const result = await resolveKeyVaultReferences(env, { vaultUrl: `${base}/`, token: async () => 'token-1', fetch });
    expect(result.resolved).toEqual(['WBMON_RELAYS', 'WBMON_TEAMS_WEBHOOK_URL']);
    expect(result.problems).toEqual([]);
    expect(result.env).toEqual({ ...env, WBMON_RELAYS: RELAYS, WBMON_TEAMS_WEBHOOK_URL: secrets['wbmon-teams-webhook-url'] });
    expect(seen.map((s) => s.authorization)).toEqual(['Bearer token-1', 'Bearer token-1', 'Bearer token-1']);
    expect(seen.map((s) => s.url).sort()).toEqual(['wbmon-relays', 'wbmon-smtp-url', 'wbmon-teams-webhook-url'].map((n) => `/secrets/${n}?api-version=${KEY_VAULT_API_VERSION}`));

    // The settings then see the relays and the webhook, and the SMTP URL as not configured yet.
    const settings = parseSettings(result.env);
    expect([...settings.relays.keys()]).toEqual(['dc01']);
    expect(settings.alerting.teamsWebhookUrl).toBe(secrets['wbmon-teams-webhook-url']);
    expect(settings.unresolvedSecrets).toEqual(['WBMON_SMTP_URL']);
  });

  it('says why a secret could not be read, never its value, and reads nothing of another vault', async () => {
    seen.length = 0;
    const result = await resolveKeyVaultReferences(
      {
        WBMON_WEBHOOK_URL: reference('wbmon-forbidden'),
        WBMON_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=https://elsewhere.vault.azure.net/secrets/x/)',
        WBMON_SMTP_URL: '@Microsoft.KeyVault(SecretUri=https://127.0.0.1/keys/x/)',
      },
      { vaultUrl: `${base}/`, token: async () => 't', fetch },
    );
    expect(result.resolved).toEqual([]);
    expect(result.problems).toEqual([
      'WBMON_SMTP_URL: not a Key Vault reference the app can read',
      'WBMON_WEBHOOK_SECRET: refers to another vault than WBMON_KEY_VAULT_URL (elsewhere.vault.azure.net); not read',
      'WBMON_WEBHOOK_URL: Key Vault answered 403 Forbidden (does the identity hold Key Vault Secrets User, and is the private endpoint in place?)',
    ]);
    expect(seen.map((s) => s.url)).toEqual([`/secrets/wbmon-forbidden?api-version=${KEY_VAULT_API_VERSION}`]);
  });

  it('gives up on a vault that does not answer in time, and on a missing token, leaving the references as they were', async () => {
    const env = { WBMON_RELAYS: reference('wbmon-slow') };
    const slow = await resolveKeyVaultReferences(env, { vaultUrl: `${base}/`, token: async () => 't', fetch, timeoutMs: 200 });
    expect(slow).toEqual({ env, resolved: [], problems: ['WBMON_RELAYS: Key Vault not reached (timed out)'] });
    const noToken = await resolveKeyVaultReferences(env, {
      vaultUrl: `${base}/`,
      token: async () => {
        throw new Error('ManagedIdentityCredential: no identity');
      },
      fetch,
    });
    expect(noToken.problems).toEqual(['WBMON_RELAYS: no token for Key Vault from the managed identity (ManagedIdentityCredential: no identity)']);
    expect(noToken.env).toBe(env);
  });

  it('does nothing when no reference is left, and refuses a vault URL that is not one', async () => {
    let asked = false;
    const none = await resolveKeyVaultReferences({ WBMON_RELAYS: RELAYS }, { vaultUrl: `${base}/`, token: async () => ((asked = true), 't'), fetch });
    expect(none).toEqual({ env: { WBMON_RELAYS: RELAYS }, resolved: [], problems: [] });
    expect(asked).toBe(false);
    const bad = await resolveKeyVaultReferences({ WBMON_RELAYS: reference('wbmon-relays') }, { vaultUrl: 'http://kv.vault.azure.net/', token: async () => 't', fetch });
    expect(bad.problems).toEqual(['WBMON_KEY_VAULT_URL: "http://kv.vault.azure.net/" is not a vault URL such as https://kv-wbmon-abc.vault.azure.net/']);
  });
});
