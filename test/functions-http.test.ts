/**
 * The HTTP functions as the host calls them: real HttpRequest objects into the handlers of
 * functions/*.ts, with the store on an in-process Azurite. Settings come from the environment,
 * as app settings do in Azure.
 */
import { HttpRequest, InvocationContext } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type RunningAzurite } from '../src/local/azurite.js';
import { heartbeat as buildHeartbeat, RELAYS_JSON, signed } from './support/heartbeats.js';

let azurite: RunningAzurite;
let functions: { heartbeat: typeof import('../functions/heartbeat.js').heartbeat; status: typeof import('../functions/status.js').status };
const logged: string[] = [];
const saved = { ...process.env };

beforeAll(async () => {
  azurite = await startAzurite({});
  Object.assign(process.env, { AzureWebJobsStorage: azurite.connectionString, WBMON_RELAYS: RELAYS_JSON, WBMON_TARGETS: 'https://127.0.0.1:1/' });
  functions = { heartbeat: (await import('../functions/heartbeat.js')).heartbeat, status: (await import('../functions/status.js')).status };
});
afterAll(async () => {
  process.env = saved;
  await azurite.close();
});

function context(name: string): InvocationContext {
  return new InvocationContext({ functionName: name, logHandler: (level, ...args) => logged.push(`${level} ${args.join(' ')}`) });
}

function post(body: string | Buffer, headers: Record<string, string>): HttpRequest {
  return new HttpRequest({ method: 'POST', url: 'http://localhost/api/heartbeat', body: { string: Buffer.from(body).toString() }, headers });
}

describe('the heartbeat and status functions', () => {
  const sequence = Date.now();

  it('accept a signed heartbeat with 202 and show the relay up in status', async () => {
    const request = signed(JSON.stringify(buildHeartbeat(sequence)));
    const response = await functions.heartbeat(post(request.body, request.headers), context('heartbeat'));
    expect(response).toEqual({ status: 202, jsonBody: { accepted: true, relayId: 'relay-a', sequence } });

    const status = await functions.status(new HttpRequest({ method: 'GET', url: 'http://localhost/api/status' }), context('status'));
    expect(status.status).toBe(200);
    const body = status.jsonBody as { relays: { relayId: string; state: string; lastSequence: number }[] };
    expect(body.relays.find((r) => r.relayId === 'relay-a')).toMatchObject({ state: 'up', lastSequence: sequence });
  });

  it('refuse a declared body over 64 KiB with 413 without reading it, and a replay with 409', async () => {
    const request = signed(JSON.stringify(buildHeartbeat(sequence + 1)));
    const big = await functions.heartbeat(post(request.body, { ...request.headers, 'content-length': String(64 * 1024 + 1) }), context('heartbeat'));
    expect(big).toEqual({ status: 413, jsonBody: { error: 'body larger than 65536 bytes' } });
    const replay = signed(JSON.stringify(buildHeartbeat(sequence)));
    const again = await functions.heartbeat(post(replay.body, replay.headers), context('heartbeat'));
    expect(again).toEqual({ status: 409, jsonBody: { error: `replay: sequence ${sequence} is not greater than the last stored ${sequence}` } });
  });
});

describe('the timer functions', () => {
  it('run their work, the alert pass and log a line for each, as the host would call them', async () => {
    const { probeEndpoints } = await import('../functions/probeEndpoints.js');
    const { evaluateHeartbeats } = await import('../functions/evaluateHeartbeats.js');
    logged.length = 0;
    await probeEndpoints({ isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } }, context('probeEndpoints'));
    await evaluateHeartbeats({ isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } }, context('evaluateHeartbeats'));
    expect(logged.filter((l) => l.startsWith('information probe cycle: 0/1 up'))).toHaveLength(1);
    expect(logged.filter((l) => l.startsWith('information heartbeat evaluation: relay-a up'))).toHaveLength(1);
    expect(logged.filter((l) => l.startsWith('information alerts: '))).toHaveLength(2);
  });
});

describe('the dashboard function', () => {
  it('answers the status page as HTML with its Content-Security-Policy, the relay on it', async () => {
    const { dashboard } = await import('../functions/dashboard.js');
    const { DASHBOARD_CSP } = await import('../src/web/dashboard.js');
    const response = await dashboard(new HttpRequest({ method: 'GET', url: 'http://localhost/api/dashboard?code=k' }), context('dashboard'));
    expect(response.status).toBe(200);
    expect(response.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'content-security-policy': DASHBOARD_CSP, 'referrer-policy': 'no-referrer' });
    expect(String(response.body)).toMatch(/^<!doctype html>/);
    expect(String(response.body)).toContain('relay relay-a</h3>');
  });
});
