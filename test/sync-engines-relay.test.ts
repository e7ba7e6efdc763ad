/**
 * Both sync engines as the relay sees them on one Windows server (stood in: reg, sc,
 * powershell.exe, the trace folder) and as the monitor turns them into checks: connect,
 * agent, and one reach check per group, the revocation hosts and the agent's endpoints being
 * real loopback servers reached through the relay's own reach probe.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSettings } from '../src/config/settings.js';
import { heartbeatSchema } from '../src/heartbeat/schema.js';
import { ingestHeartbeat } from '../src/heartbeat/ingest.js';
import { listChecks } from '../src/monitor/checks-repository.js';
import { evaluateHeartbeats } from '../src/monitor/evaluate-heartbeats.js';
import { agentResult, reachResults } from '../src/monitor/sync-engine-checks.js';
import { RelayAgent } from '../src/relay/agent.js';
import { parseRelaySettings } from '../src/relay/settings.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { createTestCa, type TestCa } from './support/certs.js';
import { RELAYS_JSON, SECRET_A } from './support/heartbeats.js';
import { refusedPort, respond, startHttp, startHttps, type Running } from './support/servers.js';
import { standInWindows } from './support/windows.js';

const NOW = new Date('2026-12-02T10:00:00Z');
const AGENT_EXE = 'C:\\Program Files\\Microsoft Azure AD Connect Provisioning Agent\\AADConnectProvisioningAgent.exe';
let ca: TestCa;
let monitor: Running;
let crl: Running;
let login: Running;
const dirs: string[] = [];

beforeAll(async () => {
  ca = await createTestCa();
  monitor = await startHttp((_req, res) => res.writeHead(202).end());
  crl = await startHttp(respond(404));
  login = await startHttps(await ca.issue({ names: ['localhost'] }));
});
afterAll(async () => {
  await monitor.close();
  await crl.close();
  await login.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function relaySettings() {
  const dir = mkdtempSync(join(tmpdir(), 'wbmon-engines-'));
  dirs.push(dir);
  return parseRelaySettings(
    { WBMON_MONITOR_URL: monitor.url, WBMON_RELAY_ID: 'relay-a', WBMON_RELAY_SECRET: SECRET_A, WBMON_RELAY_TARGETS: crl.url, WBMON_RELAY_STATE_DIR: dir, WBMON_PROXY_DISCOVERY: 'off' },
    {},
    'win32',
  );
}

describe('a server running Connect Sync and the Cloud Sync agent side by side', () => {
  it('reports both engines and its reach of the revocation hosts and the agent endpoints, and the monitor makes a check of each', async () => {
    const blocked = await refusedPort();
    const machine = standInWindows({
      registry: { 'HKLM\\SOFTWARE\\Microsoft\\Azure AD Connect': { Version: '2.5.79.0' } },
      services: { ADSync: 'RUNNING', AADConnectProvisioningAgent: 'RUNNING', AADConnectAgentUpdater: 'STOPPED' },
      files: { [AGENT_EXE]: '1.1.1107.0' },
      stagingMode: false,
    });
    const agent = new RelayAgent(relaySettings(), {
      platform: 'win32',
      now: () => NOW,
      systemCertificates: () => [ca.cert],
      eventLog: { run: async () => '' },
      windows: {
        ...machine,
        fs: { readdir: async () => [], mtimeMs: async () => 0, readFile: async () => '' },
        revocationTargets: [crl.url, `http://127.0.0.1:${blocked}/`],
        cloudSyncTargets: [login.url],
      },
    });
    let heartbeat;
    try {
      heartbeat = (await agent.cycle()).heartbeat;
    } finally {
      await agent.close();
    }
    expect(heartbeatSchema.safeParse(heartbeat).success).toBe(true);
    expect(heartbeat.reach?.map((r) => [r.group, r.target, r.ok, r.failure?.code])).toEqual([
      ['revocation', crl.url, true, undefined],
      ['revocation', `http://127.0.0.1:${blocked}/`, false, 'tcp_refused'],
      ['cloudsync', login.url, true, undefined],
    ]);
    expect(agentResult(heartbeat.provisioningAgent!)?.warnings?.map((w) => w.code)).toEqual(['cloudsync_updater_stopped']);

    const settings = parseSettings({ WBMON_RELAYS: RELAYS_JSON, WBMON_FAILURE_THRESHOLD: '1' });
    const store = new MemoryStore();
    const received = new Date(NOW.getTime() + 1000);
    expect(await ingestHeartbeat(store, 'relay-a', { ...heartbeat, sentAt: NOW.toISOString() }, received)).toEqual({ status: 202 });
    await evaluateHeartbeats(settings, store, received);
    const checks = new Map((await listChecks(store)).map((c) => [c.id, c]));
    expect(checks.get('connect:relay-a')).toMatchObject({ kind: 'connect', state: 'down' });
    // 2.5.79.0 ends on 2026-10-23: on 2 December 2026 it is past its end of support.
    expect(checks.get('connect:relay-a')?.lastResult?.failure?.code).toBe('connect_unsupported');
    expect(checks.get('agent:relay-a')).toMatchObject({ kind: 'provisioning-agent', state: 'up', target: 'Entra Cloud Sync provisioning agent' });
    expect(checks.get('reach:relay-a:revocation')).toMatchObject({ kind: 'reach', state: 'down', target: 'certificate revocation hosts (HTTP 80)' });
    expect(checks.get('reach:relay-a:revocation')?.lastResult?.failure).toMatchObject({ code: 'revocation_unreachable', phase: 'tcp', message: expect.stringMatching(/^1 of 2 certificate revocation hosts \(HTTP 80\) unreachable from here: 127\.0\.0\.1:\d+ \(tcp_refused: /) });
    expect(checks.get('reach:relay-a:cloudsync')).toMatchObject({ state: 'up' });
  });

  it("goes down on a stopped agent or one too old for writeback, and says nothing of a server without it", () => {
    const base = { checkedAt: NOW.toISOString(), installed: true, version: '1.1.1107.0', services: [{ name: 'AADConnectProvisioningAgent', state: 'running' as const }, { name: 'AADConnectAgentUpdater', state: 'running' as const }] };
    expect(agentResult(base)).toEqual({ ok: true, startedAt: NOW.toISOString() });
    expect(agentResult({ ...base, version: '1.1.972.0' })?.failure?.code).toBe('cloudsync_agent_too_old');
    expect(agentResult({ ...base, services: [{ name: 'AADConnectProvisioningAgent', state: 'stopped' }] })?.failure).toMatchObject({ code: 'cloudsync_agent_stopped', phase: 'agent' });
    expect(agentResult({ ...base, trace: { files: 1, errors: 3, recent: [{ file: 'a.log', line: 'Error: "boom"' }] } })?.warnings).toEqual([
      { code: 'cloudsync_trace_errors', message: `the agent's trace logged 3 error lines in the last hour; the newest (a.log, trace text, not verified): "Error: 'boom'"` },
    ]);
    expect(agentResult({ checkedAt: NOW.toISOString(), installed: false, version: null, services: [] })).toBeUndefined();
    expect(reachResults([], NOW.toISOString())).toEqual([]);
  });
});
