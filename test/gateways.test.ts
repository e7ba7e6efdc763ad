/**
 * Gateway discovery (src/relay/gateways.ts) against a loopback DNS server holding records
 * shaped like a real relay namespace's: the namespace's CNAME to its deployment's cloud service
 * (ns-sb2-prod-<cluster>-<n>.cloudapp.net, or through a private-link name), and the gateways
 * g<N>-<deployment>-sb and gv<N>-<deployment>-sb.servicebus.windows.net that exist.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heartbeatSchema } from '../src/heartbeat/schema.js';
import { reachResults } from '../src/monitor/sync-engine-checks.js';
import { RelayAgent } from '../src/relay/agent.js';
import { deploymentOf, discoverGateways, gatewayNames, systemGatewayDns } from '../src/relay/gateways.js';
import { parseRelaySettings } from '../src/relay/settings.js';
import { createTestCa } from './support/certs.js';
import { SECRET_A } from './support/heartbeats.js';
import { startConnectProxy, startDns, startHttp, startHttps, type DnsRecord } from './support/servers.js';

const SCU = 'ssprdedicatedsbprodscu.servicebus.windows.net';
const NCU = 'ssprdedicatedsbprodncu.servicebus.windows.net';
const PRIVATE = 'contoso-relay.servicebus.windows.net';
const V2 = 'fabrikam-relay.servicebus.windows.net';
const gateways = (prefix: 'g' | 'gv', deployment: string, indexes: number[]): Record<string, DnsRecord> =>
  Object.fromEntries(indexes.map((i) => [`${prefix}${i}-${deployment}-sb.servicebus.windows.net`, { a: [`20.38.${i}.${prefix === 'g' ? 10 : 20}`] }]));

const RECORDS: Record<string, DnsRecord> = {
  [SCU]: { cname: 'ns-sb2-prod-sn3-010.cloudapp.net' },
  'ns-sb2-prod-sn3-010.cloudapp.net': { a: ['20.38.1.1'] },
  ...gateways('g', 'prod-sn3-010', [0, 1, 2, 3, 31]),
  ...gateways('gv', 'prod-sn3-010', [0, 1]),
  [PRIVATE]: { cname: 'contoso-relay.privatelink.servicebus.windows.net' },
  'contoso-relay.privatelink.servicebus.windows.net': { cname: 'ns-prod-dm3-004.cloudapp.net' },
  'ns-prod-dm3-004.cloudapp.net': { a: ['20.40.2.2'] },
  ...gateways('g', 'prod-dm3-004', [0, 1]),
  [V2]: { cname: 'ns-prod-cq1-v2-002.cloudapp.net' },
  'ns-prod-cq1-v2-002.cloudapp.net': { a: ['20.41.3.3'] },
  ...gateways('g', 'prod-cq1-v2-002', [0]),
  ...gateways('gv', 'prod-cq1-v2-002', [0]),
  [NCU]: { cname: 'servicebus-westus.trafficmanager.net' },
  'servicebus-westus.trafficmanager.net': { a: ['20.42.4.4'] },
};

let dns: Awaited<ReturnType<typeof startDns>>;
beforeAll(async () => {
  dns = await startDns({ records: RECORDS });
});
afterAll(async () => {
  await dns.close();
});

describe('Gateway discovery against a loopback DNS server', () => {
  it("follows the namespace's CNAME to its deployment and finds the g<N> and gv<N> gateways that resolve, in GetNamespaceInfo.ps1's order", async () => {
    const found = await discoverGateways(SCU, systemGatewayDns([dns.url]));
    expect(found).toEqual({
      namespace: SCU,
      cnames: ['ns-sb2-prod-sn3-010.cloudapp.net'],
      deployment: 'prod-sn3-010',
      gateways: [
        'g0-prod-sn3-010-sb.servicebus.windows.net',
        'g1-prod-sn3-010-sb.servicebus.windows.net',
        'g2-prod-sn3-010-sb.servicebus.windows.net',
        'g3-prod-sn3-010-sb.servicebus.windows.net',
        'g31-prod-sn3-010-sb.servicebus.windows.net',
        'gv0-prod-sn3-010-sb.servicebus.windows.net',
        'gv1-prod-sn3-010-sb.servicebus.windows.net',
      ],
    });
    // Every index from 0 to 127 is asked, of both forms, as the tool asks them.
    expect(dns.queries.filter((q) => /^A g\d+-prod-sn3-010-sb\./.test(q))).toHaveLength(128);
    expect(dns.queries.filter((q) => /^A gv\d+-prod-sn3-010-sb\./.test(q))).toHaveLength(128);
  });

  it('goes through a private-link CNAME to the deployment behind it', async () => {
    expect(await discoverGateways(PRIVATE, systemGatewayDns([dns.url]))).toEqual({
      namespace: PRIVATE,
      cnames: ['contoso-relay.privatelink.servicebus.windows.net', 'ns-prod-dm3-004.cloudapp.net'],
      deployment: 'prod-dm3-004',
      gateways: ['g0-prod-dm3-004-sb.servicebus.windows.net', 'g1-prod-dm3-004-sb.servicebus.windows.net'],
    });
  });

  it('does not ask for gv<N> names of a deployment whose name has "-v", as the tool does not', async () => {
    expect((await discoverGateways(V2, systemGatewayDns([dns.url]))).gateways).toEqual(['g0-prod-cq1-v2-002-sb.servicebus.windows.net']);
  });

  it('reports a CNAME not shaped as a Service Bus deployment, and a namespace without one, instead of guessing', async () => {
    expect(await discoverGateways(NCU, systemGatewayDns([dns.url]))).toEqual({
      namespace: NCU,
      cnames: ['servicebus-westus.trafficmanager.net'],
      deployment: null,
      gateways: [],
      error: `${NCU} points to servicebus-westus.trafficmanager.net, which does not name a Service Bus deployment (ns-…): its gateways cannot be found`,
    });
    expect((await discoverGateways('nosuch-relay.servicebus.windows.net', systemGatewayDns([dns.url]))).error).toBe(
      'nosuch-relay.servicebus.windows.net has no CNAME: its deployment, and so its gateways, cannot be found',
    );
  });

  it('says so when the DNS server does not answer', async () => {
    const silent = await startDns({ silent: true });
    try {
      const found = await discoverGateways(SCU, { ...systemGatewayDns([silent.url]) });
      expect(found.deployment).toBeNull();
      expect(found.error).toMatch(/^DNS failed for ssprdedicatedsbprodscu\.servicebus\.windows\.net: (ETIMEOUT|ECONNREFUSED)/);
    } finally {
      await silent.close();
    }
  }, 20_000);

  it('reads the deployment as the tool does, and names the gateways of the parent domain of any cloud', () => {
    expect(deploymentOf('ns-sb2-prod-sy3-001.cloudapp.net')).toBe('prod-sy3-001');
    expect(deploymentOf('NS-PROD-BN3-002.cloudapp.net')).toBe('prod-bn3-002');
    expect(deploymentOf('sb-prod.trafficmanager.net')).toBeNull();
    expect(gatewayNames('x-relay.servicebus.usgovcloudapi.net', 'prod-bn1-001')[5]).toBe('g5-prod-bn1-001-sb.servicebus.usgovcloudapi.net');
    expect(gatewayNames('x-relay.servicebus.windows.net', 'prod-cq1-v2-002')).toHaveLength(128);
  });
});

describe("the relay probes the gateways its tenant's writeback really uses", () => {
  it('finds the gateways of the namespace it probes, probes each through the proxy, and the monitor names each one the firewall blocks', async () => {
    const ca = await createTestCa();
    const gateway = await startHttps(await ca.issue({ names: ['*.servicebus.windows.net'] }));
    const monitor = await startHttp((_req, res) => res.writeHead(202).end());
    // The firewall (a proxy here) allows the namespace and the g<N> gateways, not the gv<N> ones.
    const proxy = await startConnectProxy({ allow: (a) => !a.startsWith('gv'), upstream: () => ({ host: '127.0.0.1', port: gateway.port }) });
    const settings = parseRelaySettings(
      {
        WBMON_MONITOR_URL: monitor.url,
        WBMON_RELAY_ID: 'relay-a',
        WBMON_RELAY_SECRET: SECRET_A,
        WBMON_RELAY_TARGETS: `https://${SCU}/`,
        WBMON_RELAY_STATE_DIR: mkdtempSync(join(tmpdir(), 'wbmon-gateways-')),
        WBMON_PROXY_URL: proxy.url,
      },
      {},
      'linux',
    );
    const agent = new RelayAgent(settings, { platform: 'linux', extraCa: [ca.cert], gatewayDns: systemGatewayDns([dns.url]) });
    try {
      const { heartbeat } = await agent.cycle();
      expect(heartbeatSchema.safeParse(heartbeat).success).toBe(true);
      expect(heartbeat.gateways).toEqual([{ namespace: SCU, cnames: ['ns-sb2-prod-sn3-010.cloudapp.net'], deployment: 'prod-sn3-010', found: 7 }]);
      expect(heartbeat.reach?.map((r) => [r.target.replace(/^https:\/\/|-prod-sn3-010-sb\.servicebus\.windows\.net\/$/g, ''), r.ok, r.failure?.code])).toEqual([
        ['g0', true, undefined],
        ['g1', true, undefined],
        ['g2', true, undefined],
        ['g3', true, undefined],
        ['g31', true, undefined],
        ['gv0', false, 'proxy_refused'],
        ['gv1', false, 'proxy_refused'],
      ]);
      const { group, result } = reachResults(heartbeat.reach!, heartbeat.sentAt, heartbeat.gateways)[0]!;
      expect(group).toBe(`gateways:${SCU}`);
      expect(result.failure?.code).toBe('gateway_unreachable');
      expect(result.failure?.message).toMatch(/^2 of 7 relay gateways of ssprdedicatedsbprodscu\.servicebus\.windows\.net unreachable from here: gv0-prod-sn3-010-sb\.servicebus\.windows\.net \(proxy_refused: /);
      // Found once: the next cycle within the hour asks DNS nothing new.
      const asked = dns.queries.length;
      await agent.cycle();
      expect(dns.queries.length).toBe(asked);
    } finally {
      await agent.close();
      await proxy.close();
      await gateway.close();
      await monitor.close();
    }
  });

  it('warns, on an up check, of a namespace whose DNS names no Service Bus deployment', () => {
    const discovery = [{ namespace: NCU, cnames: ['servicebus-westus.trafficmanager.net'], deployment: null, found: 0, error: 'unshaped' }];
    expect(reachResults([], '2026-12-02T10:00:00.000Z', discovery)).toEqual([
      { group: `gateways:${NCU}`, result: { ok: true, startedAt: '2026-12-02T10:00:00.000Z', warnings: [{ code: 'gateways_unknown', message: 'unshaped' }] } },
    ]);
  });
});
