import { afterEach, describe, expect, it } from 'vitest';
import { GraphError, GraphPermissionError, graphGet, permissionFor } from '../../src/graph/client.js';
import { forbidden, json, startGraphServer, type GraphServer } from './graph-server.js';

const TOKEN = 'eyJ0eXAiOiJKV1Qi.secret-token-value.sig';
let server: GraphServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function expectError(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err).toBeInstanceOf(Error);
  expect(String(err?.message)).not.toContain(TOKEN);
  expect(String(err?.message)).not.toContain('secret-token-value');
  return err as Error;
}

describe('the Graph client', () => {
  it('sends the token as a Bearer authorization header', async () => {
    server = await startGraphServer({ '/v1.0/subscribedSkus': (_q, res) => json(res, 200, { value: [{ a: 1 }] }) });
    const items = await graphGet('/v1.0/subscribedSkus', { baseUrl: server.baseUrl, token: async () => TOKEN });
    expect(items).toEqual([{ a: 1 }]);
    expect(server.requests[0]?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('follows @odata.nextLink across three pages and returns every item', async () => {
    server = await startGraphServer({
      '/v1.0/auditLogs/directoryAudits': (_q, res, url) => {
        const page = Number(url.searchParams.get('$skiptoken') ?? '1');
        const next = page < 3 ? { '@odata.nextLink': `${server!.baseUrl}/v1.0/auditLogs/directoryAudits?$skiptoken=${page + 1}` } : {};
        json(res, 200, { '@odata.context': 'x', value: [{ page, n: 1 }, { page, n: 2 }], ...next });
      },
    });
    const items = await graphGet('/v1.0/auditLogs/directoryAudits', { baseUrl: server.baseUrl, token: TOKEN });
    expect(items).toHaveLength(6);
    expect(server.requests.map((r) => r.url)).toEqual([
      '/v1.0/auditLogs/directoryAudits',
      '/v1.0/auditLogs/directoryAudits?$skiptoken=2',
      '/v1.0/auditLogs/directoryAudits?$skiptoken=3',
    ]);
  });

  it('refuses to follow a nextLink to another origin, so the token stays with Graph', async () => {
    server = await startGraphServer({
      '/v1.0/subscribedSkus': (_q, res) => json(res, 200, { value: [], '@odata.nextLink': 'https://evil.example/steal' }),
    });
    const err = await expectError(graphGet('/v1.0/subscribedSkus', { baseUrl: server.baseUrl, token: TOKEN }));
    expect(err).toBeInstanceOf(GraphError);
    expect(server.requests).toHaveLength(1);
  });

  it('waits out a 429 for its Retry-After and then succeeds', async () => {
    let calls = 0;
    server = await startGraphServer({
      '/v1.0/organization': (_q, res) => {
        calls++;
        if (calls === 1) json(res, 429, { error: { code: 'TooManyRequests', message: 'throttled' } }, { 'retry-after': '7' });
        else json(res, 200, { value: [{ id: 'org' }] });
      },
    });
    const waits: number[] = [];
    const items = await graphGet('/v1.0/organization', { baseUrl: server.baseUrl, token: TOKEN, sleep: async (ms) => void waits.push(ms) });
    expect(items).toEqual([{ id: 'org' }]);
    expect(waits).toEqual([7000]);
  });

  it('caps a long Retry-After on 503 and gives up after maxRetries with a GraphError', async () => {
    server = await startGraphServer({ '/v1.0/organization': (_q, res) => json(res, 503, {}, { 'retry-after': '3600' }) });
    const waits: number[] = [];
    const err = await expectError(
      graphGet('/v1.0/organization', { baseUrl: server.baseUrl, token: TOKEN, maxRetries: 2, maxRetryWaitMs: 30_000, sleep: async (ms) => void waits.push(ms) }),
    );
    expect(err).toBeInstanceOf(GraphError);
    expect((err as GraphError).status).toBe(503);
    expect(waits).toEqual([30_000, 30_000]);
  });

  it('turns a 403 on the audit log into a GraphPermissionError naming AuditLog.Read.All and Directory.Read.All', async () => {
    server = await startGraphServer({ '/v1.0/auditLogs/directoryAudits': forbidden });
    const err = await expectError(graphGet("/v1.0/auditLogs/directoryAudits?$filter=x eq 'y'", { baseUrl: server.baseUrl, token: TOKEN }));
    expect(err).toBeInstanceOf(GraphPermissionError);
    expect(err.name).toBe('GraphPermissionError');
    expect((err as GraphPermissionError).permission).toBe('AuditLog.Read.All and Directory.Read.All');
    expect(err.message).toContain('AuditLog.Read.All');
  });

  it('names Organization.Read.All for subscribedSkus and organization, Synchronization.Read.All for synchronization jobs', () => {
    expect(permissionFor('/v1.0/subscribedSkus')).toBe('Organization.Read.All');
    expect(permissionFor('/v1.0/organization?$select=id')).toBe('Organization.Read.All');
    expect(permissionFor('/v1.0/servicePrincipals/c0a1b2c3-0000-4000-8000-000000000001/synchronization/jobs')).toBe('Synchronization.Read.All');
    expect(permissionFor("/v1.0/servicePrincipals?$filter=applicationTemplateId eq 'x'")).toBe('Directory.Read.All');
  });

  it('reports malformed JSON as a GraphError', async () => {
    server = await startGraphServer({
      '/v1.0/subscribedSkus': (_q, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"value": [ {"skuPartNumber": "AAD_PREMIUM"');
      },
    });
    const err = await expectError(graphGet('/v1.0/subscribedSkus', { baseUrl: server.baseUrl, token: TOKEN }));
    expect(err).toBeInstanceOf(GraphError);
    expect(err.name).toBe('GraphError');
    expect((err as GraphError).kind).toBe('json');
    expect(err.cause).toBeDefined();
  });

  it('gives up on a slow answer past the timeout with a GraphError', async () => {
    server = await startGraphServer({ '/v1.0/organization': (_q, res) => void setTimeout(() => json(res, 200, { value: [] }), 2000) });
    const started = Date.now();
    const err = await expectError(graphGet('/v1.0/organization', { baseUrl: server.baseUrl, token: TOKEN, timeoutMs: 150 }));
    expect(err).toBeInstanceOf(GraphError);
    expect((err as GraphError).kind).toBe('timeout');
    expect(err.message).toContain('timeout');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('never puts the token in the message of an HTTP error', async () => {
    server = await startGraphServer({ '/v1.0/organization': (_q, res) => json(res, 401, { error: { code: 'InvalidAuthenticationToken', message: `bad ${TOKEN}` } }) });
    const err = await expectError(graphGet('/v1.0/organization', { baseUrl: server.baseUrl, token: TOKEN }));
    expect(err.message).toContain('HTTP 401 InvalidAuthenticationToken');
  });
});
