/**
 * The round trip's telemetry, end to end: the BUILT serve, in a child process, signs in from the
 * token `roundtrip login` stored, runs a round trip that succeeds and one that fails against the
 * loopback Graph, and reports to a captured Application Insights ingestion. Every envelope is
 * searched for the passwords Graph received, the tokens the authority issued, the token key and
 * the app's Graph token.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { roundtripCommand } from '../../src/cli/roundtrip-command.js';
import { assertBuilt, distPath, useIngestion } from '../support/ingestion.js';
import { createLoopbackTls, startLoopbackAuthority, type LoopbackAuthority, type LoopbackTls } from '../support/loopback-authority.js';
import { APP_TOKEN, roundtripEnv, startRoundtripGraph, USER_ID, type RoundtripGraph } from './roundtrip-graph.js';

const TOKEN_KEY = Buffer.alloc(32, 0x3c).toString('base64');
let tls: LoopbackTls;
let authority: LoopbackAuthority;
let graph: RoundtripGraph;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  tls = await createLoopbackTls();
  authority = await startLoopbackAuthority({ tls, interval: 0 });
  // The first trip's operation succeeds, the second's fails.
  graph = await startRoundtripGraph({ reset: [{ status: 202, retryAfter: '0' }], pollRetryAfter: '0', operation: ['succeeded', { failed: 'The on-premises service could not be reached.' }] });
  dir = await mkdtemp(join(tmpdir(), 'wbmon-rt-telemetry-'));
  env = roundtripEnv(graph, authority, TOKEN_KEY);
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const out: string[] = [];
  expect(await roundtripCommand(['login', '--data', dir], { out: (l) => out.push(l), now: () => new Date(), sleep: async () => undefined, dispatcher: tls.agent }), out.join('\n')).toBe(0);
  vi.unstubAllEnvs();
}, 60_000);

afterAll(async () => {
  await graph?.close();
  await authority?.close();
  await tls?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function childScript(): string {
  const url = (file: string) => JSON.stringify(pathToFileURL(distPath(file)).href);
  return `
const { serve } = await import(${url('local/serve.js')});
const { parseSettings } = await import(${url('config/settings.js')});
const { readFileSync } = await import('node:fs');
const { createRequire } = await import('node:module');
// The authority's CA for sign-in only (both test CAs share a subject, so one trust file cannot hold both).
const { Agent } = createRequire(${JSON.stringify(distPath('local/serve.js'))})('undici');
const roundtripDispatcher = new Agent({ connect: { ca: readFileSync(process.env.WBMON_TEST_AUTHORITY_CA, 'utf8') } });
let offset = 0;
const clock = { now: () => new Date(Date.now() + offset), setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (h) => clearTimeout(h) };
const monitor = await serve({ settings: parseSettings(process.env), port: 0, dataDir: process.env.WBMON_TEST_DATA, log: (l) => console.log(l), clock, roundtripDispatcher });
await monitor.firstCycle;
await monitor.run('roundTrip');
offset += 16 * 60_000;
await monitor.run('roundTrip');
await monitor.stop();
console.log('child done');
process.exit(0);
`;
}

describe("the round trip's telemetry", () => {
  const capture = useIngestion('wbmon-rt-telemetry-');

  it('posts an availability result at location tenant for each round trip, and no password, token or key', { timeout: 90_000 }, async () => {
    assertBuilt(distPath(), ['local/serve.js', 'config/settings.js'], 'monitor');
    const ingestion = capture();
    const authorityCa = join(ingestion.dir, 'authority-ca.pem');
    await writeFile(authorityCa, tls.ca.cert);
    const run = await ingestion.runTelemetryChild(childScript(), { ...env, WBMON_TEST_AUTHORITY_CA: authorityCa, WBMON_TEST_DATA: dir });
    const secrets = [...graph.passwords, ...authority.issuedRefreshTokens, ...authority.issuedAccessTokens, TOKEN_KEY, APP_TOKEN];
    expect(graph.passwords, run.output).toHaveLength(2);
    ingestion.expectPosted(run, secrets);
    for (const secret of secrets) expect(run.output.includes(secret), 'a secret in the child\'s output').toBe(false);
    const availability = ingestion
      .envelopes<{ data: { baseType: string; baseData: Record<string, unknown> } }>()
      .filter((e) => e.data?.baseType === 'AvailabilityData' && e.data.baseData['name'] === `roundtrip:${USER_ID}`);
    expect(availability.map((e) => [e.data.baseData['runLocation'], e.data.baseData['success']])).toEqual([
      ['tenant', true],
      ['tenant', false],
    ]);
    expect(availability[1]!.data.baseData['message']).toContain('The on-premises service could not be reached.');
  });
});
