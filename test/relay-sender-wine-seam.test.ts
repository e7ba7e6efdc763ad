/**
 * WBMON_RELAY_HTTP_CLIENT=node, the Wine tests' seam in src/relay/sender.ts: honoured only for
 * plain http to a loopback monitor; https monitors always go through undici, as on Windows.
 * Which client sent is seen on undici's diagnostics channel.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSender } from '../src/relay/sender.js';
import { parseRelaySettings } from '../src/relay/settings.js';
import { createTestCa } from './support/certs.js';
import { SECRET_A } from './support/heartbeats.js';
import { respond, startHttp, startHttps, type Running } from './support/servers.js';

let http: Running;
let https: Running;
let undiciConnects = 0;
const onConnect = (): void => {
  undiciConnects++;
};

beforeAll(async () => {
  http = await startHttp(respond(202, '{}'));
  const ca = await createTestCa();
  https = await startHttps(await ca.issue({ names: ['localhost'] }), respond(202, '{}'));
  subscribe('undici:client:beforeConnect', onConnect);
});
afterAll(async () => {
  unsubscribe('undici:client:beforeConnect', onConnect);
  await http.close();
  await https.close();
});

async function send(monitorUrl: string, env: Record<string, string>): Promise<{ kind: string; undici: boolean }> {
  const settings = parseRelaySettings({ WBMON_MONITOR_URL: monitorUrl, WBMON_RELAY_ID: 'relay-a', WBMON_RELAY_SECRET: SECRET_A, ...env });
  const sender = createSender(settings, 5_000);
  const before = undiciConnects;
  try {
    const outcome = await sender.send('{}', new Date());
    return { kind: outcome.kind, undici: undiciConnects > before };
  } finally {
    await sender.close();
  }
}

describe('the Wine seam of the heartbeat sender', () => {
  it('sends plain http to a loopback monitor with node:http when WBMON_RELAY_HTTP_CLIENT=node', async () => {
    await expect(send(http.url, { WBMON_RELAY_HTTP_CLIENT: 'node' })).resolves.toEqual({ kind: 'accepted', undici: false });
  });

  it('uses undici otherwise: without the setting, and for an https monitor even with it', async () => {
    await expect(send(http.url, {})).resolves.toEqual({ kind: 'accepted', undici: true });
    // The test CA is not trusted by the sender: the answer is a retry, but undici made the attempt.
    await expect(send(https.url, { WBMON_RELAY_HTTP_CLIENT: 'node' })).resolves.toMatchObject({ kind: 'retry', undici: true });
  });
});
