import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TableClient } from '@azure/data-tables';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite } from '../../src/local/azurite.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { Store } from '../../src/store/store.js';
import { TableStore } from '../../src/store/table-store.js';
import { keyVaultScope, keyVaultTokenVault, storeTokenVault, TokenVaultError } from '../../src/roundtrip/token-vault.js';
import { parseTokenKey } from '../../src/config/roundtrip-settings.js';
import { createLoopbackTls, type LoopbackTls } from '../support/loopback-authority.js';
import { refusedPort } from '../support/servers.js';

/** Recognizable token values: any leak is found by substring. */
const RT = `RT-PLANTED-0.AXoA${randomBytes(300).toString('base64url')}`;
const BLOB = JSON.stringify({ Account: { a: { username: 'wbmon-admin@contoso.onmicrosoft.com' } }, RefreshToken: { r: { secret: RT } } });
const BEARER = 'KV-BEARER-TOKEN-eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.c2VjcmV0.c2ln';

const UNDECRYPTABLE =
  'the stored round-trip token cannot be decrypted with WBMON_ROUNDTRIP_TOKEN_KEY (a different key, or tampered): run writeback-monitor roundtrip login again';

async function failure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as Error;
}

/** Every 16-character piece of `secret` that occurs in `text` (none, for a text that does not leak it). */
function leakedPieces(text: string, secret: string): string[] {
  const found: string[] = [];
  for (let i = 0; i + 16 <= secret.length; i++) if (text.includes(secret.slice(i, i + 16))) found.push(secret.slice(i, i + 16));
  return found;
}

describe('parseTokenKey', () => {
  it('accepts base64 of 32 bytes, in the standard and the URL-safe alphabet, with or without padding', () => {
    const key = randomBytes(32);
    expect(parseTokenKey(key.toString('base64'))).toEqual(key);
    expect(parseTokenKey(` ${key.toString('base64')}\n`)).toEqual(key);
    expect(parseTokenKey(key.toString('base64url'))).toEqual(key);
  });

  it('refuses 31 and 33 bytes, naming the setting and the length, never the value', () => {
    const short = randomBytes(31).toString('base64');
    const long = randomBytes(33).toString('base64');
    expect(parseTokenKey(short)).toBe('WBMON_ROUNDTRIP_TOKEN_KEY: must be base64 of 32 random bytes (for example the output of openssl rand -base64 32); it decodes to 31 bytes');
    expect(parseTokenKey(long)).toBe('WBMON_ROUNDTRIP_TOKEN_KEY: must be base64 of 32 random bytes (for example the output of openssl rand -base64 32); it decodes to 33 bytes');
  });

  it('refuses text that is not base64 and an empty value without echoing them', () => {
    const value = 'correct horse battery staple, 32 chars!';
    const problem = parseTokenKey(value);
    expect(problem).toBe('WBMON_ROUNDTRIP_TOKEN_KEY: must be base64 of 32 random bytes (for example the output of openssl rand -base64 32); it is not base64');
    expect(problem).not.toContain('horse');
    expect(parseTokenKey('   ')).toBe('WBMON_ROUNDTRIP_TOKEN_KEY: is empty; it must be base64 of 32 random bytes (for example the output of openssl rand -base64 32)');
  });
});

/** The same behaviour on every Store; `raw` is what the store really holds for the entry, as text. */
function storeVaultSuite(name: string, open: () => Promise<{ store: Store; raw: () => Promise<string> }>): void {
  describe(`storeTokenVault on ${name}`, () => {
    it('gives undefined before anything is written, then the blob last written', async () => {
      const { store } = await open();
      const vault = storeTokenVault(store, randomBytes(32));
      expect(vault.where).toBe('the state store, encrypted with WBMON_ROUNDTRIP_TOKEN_KEY');
      expect(await vault.read()).toBeUndefined();
      await vault.write('first');
      await vault.write(BLOB);
      expect(await vault.read()).toBe(BLOB);
    });

    it('stores neither the refresh token nor any 16-character piece of it, under a fresh IV each write', async () => {
      const { store, raw } = await open();
      const vault = storeTokenVault(store, randomBytes(32));
      await vault.write(BLOB);
      const once = await raw();
      expect(leakedPieces(once, RT)).toEqual([]);
      const row = (await store.get<{ v: number; iv: string; tag: string; data: string }>('secrets', 'roundtrip-token'))!.value;
      expect(Object.keys(row).sort()).toEqual(['data', 'iv', 'tag', 'v']);
      expect(row.v).toBe(1);
      expect(Buffer.from(row.iv, 'base64')).toHaveLength(12);
      expect(Buffer.from(row.tag, 'base64')).toHaveLength(16);
      await vault.write(BLOB);
      const again = (await store.get<{ iv: string; data: string }>('secrets', 'roundtrip-token'))!.value;
      expect(again.iv).not.toBe(row.iv);
      expect(again.data).not.toBe(row.data);
    });

    it('throws TokenVaultError, without the blob or the key, when read with another key', async () => {
      const { store } = await open();
      const key = randomBytes(32);
      await storeTokenVault(store, key).write(BLOB);
      const other = randomBytes(32);
      const err = await failure(storeTokenVault(store, other).read());
      expect(err).toBeInstanceOf(TokenVaultError);
      expect(err.message).toBe(UNDECRYPTABLE);
      expect(leakedPieces(`${err.message}\n${err.stack}`, RT)).toEqual([]);
      expect(err.message).not.toContain(key.toString('base64'));
    });

    it('throws TokenVaultError when one byte of the ciphertext, the IV or the tag was changed', async () => {
      const { store } = await open();
      const vault = storeTokenVault(store, randomBytes(32));
      await vault.write(BLOB);
      for (const field of ['data', 'iv', 'tag'] as const) {
        const got = (await store.get<Record<string, string | number>>('secrets', 'roundtrip-token'))!;
        const bytes = Buffer.from(got.value[field] as string, 'base64');
        bytes[bytes.length >> 1]! ^= 0x01;
        const tampered = { ...got.value, [field]: bytes.toString('base64') };
        await store.replace('secrets', 'roundtrip-token', tampered, got.etag);
        const err = await failure(vault.read());
        expect(err).toBeInstanceOf(TokenVaultError);
        expect(err.message).toBe(UNDECRYPTABLE);
        await store.replace('secrets', 'roundtrip-token', got.value, (await store.get('secrets', 'roundtrip-token'))!.etag);
        expect(await vault.read()).toBe(BLOB);
      }
    });

    it('throws TokenVaultError for a stored value of another format', async () => {
      const { store } = await open();
      await store.insert('secrets', 'roundtrip-token', { v: 2, sealed: 'x' });
      const err = await failure(storeTokenVault(store, randomBytes(32)).read());
      expect(err).toBeInstanceOf(TokenVaultError);
      expect(err.message).toBe('the stored round-trip token is not in a format this version reads: run writeback-monitor roundtrip login again');
    });
  });
}

storeVaultSuite('the in-memory store', async () => {
  const store = new MemoryStore();
  return { store, raw: async () => JSON.stringify(await store.list('secrets')) };
});

describe('on a real Azurite', () => {
  let connectionString = '';
  let close = async (): Promise<void> => {};
  beforeAll(async () => {
    ({ connectionString, close } = await startAzurite({ port: 0 }));
  });
  afterAll(() => close());
  let tables = 0;
  const run = Date.now().toString(36);
  storeVaultSuite('TableStore', async () => {
    const tableName = `vault${run}t${++tables}`;
    const store = TableStore.fromConnectionString(connectionString, { tableName });
    await store.ready();
    // The row as Table Storage holds it, every property, read with a client of our own.
    const client = TableClient.fromConnectionString(connectionString, tableName, { allowInsecureConnection: true });
    const raw = async () => {
      const rows: unknown[] = [];
      for await (const entity of client.listEntities()) rows.push(entity);
      expect(rows).toHaveLength(1);
      return JSON.stringify(rows);
    };
    return { store, raw };
  });
});

describe('keyVaultScope', () => {
  it("gives the vault audience of the vault's cloud", () => {
    expect(keyVaultScope('https://kv-wbmon-abc.vault.azure.net/')).toBe('https://vault.azure.net/.default');
    expect(keyVaultScope('https://kv-wbmon-abc.vault.usgovcloudapi.net')).toBe('https://vault.usgovcloudapi.net/.default');
    expect(keyVaultScope('https://kv-wbmon-abc.vault.azure.cn/')).toBe('https://vault.azure.cn/.default');
  });
});

interface VaultRequest {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

/** A loopback HTTPS Key Vault data plane for one secret: GET and PUT, or `status` with Key Vault's error body. */
async function startKeyVault(tls: LoopbackTls): Promise<{ url: string; requests: VaultRequest[]; refuse: { status: number; code: string; inner?: string } | undefined; value: string | undefined; close(): Promise<void> }> {
  const state = {
    url: '',
    requests: [] as VaultRequest[],
    refuse: undefined as { status: number; code: string; inner?: string } | undefined,
    value: undefined as string | undefined,
    close: async () => undefined as void,
  };
  const server: Server = createServer({ key: tls.leaf.key, cert: tls.leaf.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      state.requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body });
      const reply = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(json));
      };
      if (state.refuse) {
        const { status, code, inner } = state.refuse;
        return reply(status, { error: { code, message: `Caller is not authorized. ${BEARER}`, ...(inner ? { innererror: { code: inner } } : {}) } });
      }
      const id = `${state.url}/secrets/wbmon-roundtrip-token/0123456789abcdef0123456789abcdef`;
      if (req.method === 'PUT') {
        state.value = (JSON.parse(body) as { value: string }).value;
        return reply(200, { value: state.value, id, attributes: { enabled: true } });
      }
      if (state.value === undefined) return reply(404, { error: { code: 'SecretNotFound', message: 'A secret with (name/id) wbmon-roundtrip-token was not found in this key vault.' } });
      reply(200, { value: state.value, id, attributes: { enabled: true } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

describe('keyVaultTokenVault against a loopback HTTPS Key Vault', () => {
  let tls: LoopbackTls;
  let kv: Awaited<ReturnType<typeof startKeyVault>>;
  beforeAll(async () => {
    tls = await createLoopbackTls();
  });
  afterAll(() => tls.close());
  afterEach(() => kv?.close());

  const vaultOf = (url: string) => keyVaultTokenVault(`${url}/`, async () => BEARER, tls.agent);

  it('gives undefined for a secret that does not exist (404), then round trips a PUT through GET with the bearer token', async () => {
    kv = await startKeyVault(tls);
    const vault = vaultOf(kv.url);
    expect(vault.where).toBe(`Key Vault ${kv.url} secret wbmon-roundtrip-token`);
    expect(await vault.read()).toBeUndefined();
    await vault.write(BLOB);
    expect(await vault.read()).toBe(BLOB);
    expect(kv.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /secrets/wbmon-roundtrip-token?api-version=7.4',
      'PUT /secrets/wbmon-roundtrip-token?api-version=7.4',
      'GET /secrets/wbmon-roundtrip-token?api-version=7.4',
    ]);
    expect(kv.requests.map((r) => r.authorization)).toEqual([`Bearer ${BEARER}`, `Bearer ${BEARER}`, `Bearer ${BEARER}`]);
    expect(JSON.parse(kv.requests[1]!.body)).toEqual({ value: BLOB, contentType: 'application/json; writeback-monitor round-trip token cache' });
  });

  it("reads infra's placeholder secret as no sign-in yet", async () => {
    kv = await startKeyVault(tls);
    const vault = vaultOf(kv.url);
    await vault.write('not-signed-in');
    expect(await vault.read()).toBeUndefined();
  });

  it('names the role Key Vault Secrets Officer on a 403, without the bearer token or the blob', async () => {
    kv = await startKeyVault(tls);
    kv.refuse = { status: 403, code: 'Forbidden' };
    const vault = vaultOf(kv.url);
    for (const [method, promise] of [
      ['GET', vault.read()],
      ['PUT', vault.write(BLOB)],
    ] as const) {
      const err = await failure(promise);
      expect(err).toBeInstanceOf(TokenVaultError);
      expect(err.message).toBe(
        `${method} Key Vault ${kv.url} secret wbmon-roundtrip-token: Key Vault answered HTTP 403 Forbidden: grant the Function App's identity (or, for roundtrip login, your account) the role Key Vault Secrets Officer on the secret wbmon-roundtrip-token: it reads and rewrites the rotated token (infra/ grants the app's identity this role when roundtripUser is set; docs/deployment-roundtrip.md)`,
      );
      expect((err as TokenVaultError).status).toBe(403);
      expect(err.message).not.toContain(BEARER);
      expect(leakedPieces(err.message, RT)).toEqual([]);
    }
  });

  it("says the vault's network rules refused on a 403 ForbiddenByFirewall", async () => {
    kv = await startKeyVault(tls);
    kv.refuse = { status: 403, code: 'Forbidden', inner: 'ForbiddenByFirewall' };
    const err = await failure(vaultOf(kv.url).read());
    expect(err.message).toBe(
      `GET Key Vault ${kv.url} secret wbmon-roundtrip-token: Key Vault answered HTTP 403 ForbiddenByFirewall: the vault's network rules refuse this caller (is the private endpoint in place?)`,
    );
  });

  it('reports a vault that refuses connections as TokenVaultError', async () => {
    const port = await refusedPort();
    const err = await failure(vaultOf(`https://127.0.0.1:${port}`).read());
    expect(err).toBeInstanceOf(TokenVaultError);
    expect(err.message).toBe(`GET Key Vault https://127.0.0.1:${port} secret wbmon-roundtrip-token: not reached (ECONNREFUSED)`);
  });

  it("names only the class of the managed identity's error when no token comes", async () => {
    const vault = keyVaultTokenVault('https://kv-wbmon-abc.vault.azure.net/', async () => {
      throw new TypeError(`IMDS said ${BEARER}`);
    });
    const err = await failure(vault.read());
    expect(err.message).toBe('no token for Key Vault https://kv-wbmon-abc.vault.azure.net secret wbmon-roundtrip-token from the managed identity (TypeError)');
  });

  it('refuses a vault URL that is not https, except on a loopback host', () => {
    expect(() => keyVaultTokenVault('http://kv-wbmon-abc.vault.azure.net/', async () => BEARER)).toThrow(
      new TokenVaultError('WBMON_KEY_VAULT_URL: "http://kv-wbmon-abc.vault.azure.net" is not an https URL (the token would travel in clear)'),
    );
    expect(keyVaultTokenVault('http://127.0.0.1:8200/', async () => BEARER).where).toBe('Key Vault http://127.0.0.1:8200 secret wbmon-roundtrip-token');
  });
});
