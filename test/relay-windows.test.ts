/**
 * The relay as it runs on a Windows Connect server, with Windows stood in through the injected
 * seams (platform, certificate store, machine.config, netsh, SRV resolver); every connection is
 * real: loopback TLS servers with certificates made at test time, a loopback CONNECT proxy.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dcResult } from '../src/monitor/evaluate-heartbeats.js';
import { probeTarget } from '../src/probes/probe.js';
import { RelayAgent, type RelayIo } from '../src/relay/agent.js';
import { checkDomainControllers, DC_PORTS, type ResolveSrv } from '../src/relay/dc.js';
import { parseRelaySettings } from '../src/relay/settings.js';
import { runRelay } from '../src/cli/relay-command.js';
import { heartbeatSchema } from '../src/heartbeat/schema.js';
import { createTestCa, type TestCa } from './support/certs.js';
import { startFirewall, type Firewall } from './support/firewall.js';
import { SECRET_A } from './support/heartbeats.js';
import { standInWindows } from './support/windows.js';
import { refusedPort, respond, startConnectProxy, startHttp, startHttps, type ProxyServer, type Running } from './support/servers.js';

const MACHINE_CONFIG = 'C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\Config\\machine.config';
const TENANT_RELAY = 'ssprdedicatedsbprodscu.servicebus.windows.net';
const FEED = '<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">Publicly Listed Services</title><generator>Service Bus 1.1</generator></feed>';
const fixture = (dir: string, name: string): string => readFileSync(join(import.meta.dirname, 'fixtures', dir, name), 'utf8');

let companyCa: TestCa;
let otherCa: TestCa;
let companySite: Running;
let monitor: Running;
const posted: string[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  companyCa = await createTestCa('Contoso Corporate Root CA');
  otherCa = await createTestCa('writeback-monitor test CA');
  companySite = await startHttps(await companyCa.issue({ names: ['localhost'] }));
  monitor = await startHttp((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      posted.push(body);
      res.writeHead(202).end();
    });
  });
});
afterAll(async () => {
  await companySite.close();
  await monitor.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function settings(extra: Record<string, string> = {}, platform: NodeJS.Platform = 'linux') {
  const dir = mkdtempSync(join(tmpdir(), 'wbmon-relay-win-'));
  dirs.push(dir);
  return parseRelaySettings(
    { WBMON_MONITOR_URL: monitor.url, WBMON_RELAY_ID: 'relay-a', WBMON_RELAY_SECRET: SECRET_A, WBMON_RELAY_TARGETS: companySite.url, WBMON_RELAY_STATE_DIR: dir, WINDIR: 'C:\\Windows', ...extra },
    {},
    platform,
  );
}

/** Windows with a direct WinHTTP and no Connect event log entries. */
function windows(overrides: Partial<RelayIo> = {}, machineConfig = fixture('machine-config', 'default.config')): RelayIo {
  return {
    platform: 'win32',
    systemCertificates: () => [],
    proxyDiscovery: {
      readFile: async (path) => {
        if (path !== MACHINE_CONFIG) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
        return machineConfig;
      },
      run: async () => fixture('netsh', 'direct.txt'),
    },
    eventLog: { run: async () => '' },
    // No Connect and no provisioning agent on this machine: reg and sc find nothing.
    windows: standInWindows({}),
    ...overrides,
  };
}

describe("the relay trusts Windows' certificate store on Windows, as Connect does", () => {
  it('finds a certificate issued by a company root in the Windows store up, and says the system store verified it', async () => {
    const agent = new RelayAgent(settings({}, 'win32'), windows({ systemCertificates: () => [companyCa.cert] }));
    try {
      const report = await agent.cycle();
      expect(report.heartbeat.results.map((r) => [r.ok, r.tls?.trust, r.failure?.code])).toEqual([[true, 'system', undefined]]);
      expect(report.outcome).toEqual({ kind: 'accepted', status: 202 });
      expect(heartbeatSchema.safeParse(report.heartbeat).success).toBe(true);
    } finally {
      await agent.close();
    }
  });

  it('finds the same certificate tls_untrusted when the company root is not in the store', async () => {
    const agent = new RelayAgent(settings({}, 'win32'), windows({ systemCertificates: () => [otherCa.cert] }));
    try {
      const [result] = (await agent.cycle()).heartbeat.results;
      expect([result?.ok, result?.failure?.code, result?.failure?.message, result?.tls?.trust]).toEqual([
        false,
        'tls_untrusted',
        'certificate not trusted: UNABLE_TO_VERIFY_LEAF_SIGNATURE (issuer CN=Contoso Corporate Root CA)',
        undefined,
      ]);
    } finally {
      await agent.close();
    }
  });

  it("changes nothing elsewhere than Windows: the machine's store is not even read", async () => {
    let read = 0;
    const agent = new RelayAgent(settings(), { platform: 'linux', systemCertificates: () => (read++, [companyCa.cert]) });
    try {
      const [result] = (await agent.cycle()).heartbeat.results;
      expect([result?.ok, result?.failure?.code, read]).toEqual([false, 'tls_untrusted', 0]);
    } finally {
      await agent.close();
    }
  });

  it('says `extra` for a root that came from neither the system store nor Node (extra CAs)', async () => {
    const result = await probeTarget(companySite.url, { timeoutMs: 5000, extraCa: [companyCa.cert], systemCa: [otherCa.cert] });
    expect([result.ok, result.tls?.trust]).toEqual([true, 'extra']);
  });

  it('posts heartbeats to a monitor whose certificate only the Windows store trusts (a TLS-inspecting proxy re-signs it too)', async () => {
    const inspected = await startHttps(await companyCa.issue({ names: ['localhost'] }), respond(202, ''));
    try {
      const onWindows = new RelayAgent(settings({ WBMON_MONITOR_URL: inspected.url }, 'win32'), windows({ systemCertificates: () => [companyCa.cert] }));
      const onLinux = new RelayAgent(settings({ WBMON_MONITOR_URL: inspected.url }), { platform: 'linux' });
      try {
        expect((await onWindows.cycle()).outcome).toEqual({ kind: 'accepted', status: 202 });
        expect((await onLinux.cycle()).outcome).toMatchObject({ kind: 'retry', message: expect.stringContaining('UNABLE_TO_VERIFY_LEAF_SIGNATURE') });
      } finally {
        await onWindows.close();
        await onLinux.close();
      }
    } finally {
      await inspected.close();
    }
  });
});

describe("the relay takes Connect's proxy from machine.config by itself", () => {
  let proxy: ProxyServer;
  beforeAll(async () => {
    proxy = await startConnectProxy();
  });
  afterAll(async () => proxy.close());

  it('probes through the loopback CONNECT proxy that machine.config names, and says so in the heartbeat', async () => {
    const config = fixture('machine-config', 'loopback-proxy.config').replace('http://proxy.corp.example:8080', proxy.url);
    const logged: string[] = [];
    const agent = new RelayAgent(settings({}, 'win32'), windows({ systemCertificates: () => [companyCa.cert], log: (l) => logged.push(l) }, config));
    try {
      proxy.requests.length = 0;
      const report = await agent.cycle();
      expect(report.heartbeat.results.map((r) => [r.ok, r.proxy, r.address, r.tls?.trust])).toEqual([[true, proxy.url, '127.0.0.1', 'system']]);
      expect(report.heartbeat.proxy).toEqual({ source: 'machine.config', url: proxy.url });
      expect(proxy.requests).toEqual([`localhost:${companySite.port}`, `localhost:${monitor.port}`]);
      expect(report.outcome).toEqual({ kind: 'accepted', status: 202 });
      expect(logged).toEqual([]);
    } finally {
      await agent.close();
    }
  });

  it('logs one line naming a machine.config it cannot parse, goes direct, and keeps running', async () => {
    const logged: string[] = [];
    const agent = new RelayAgent(settings({}, 'win32'), windows({ systemCertificates: () => [companyCa.cert], log: (l) => logged.push(l) }, fixture('machine-config', 'truncated.config')));
    try {
      const first = await agent.cycle();
      const second = await agent.cycle();
      expect([first.heartbeat.results[0]?.ok, first.heartbeat.results[0]?.proxy, second.outcome.kind]).toEqual([true, null, 'accepted']);
      expect(second.heartbeat.proxy).toEqual({
        source: 'none',
        url: null,
        problems: [`${MACHINE_CONFIG}: cannot be parsed (<configuration> is never closed (a truncated file?)); going direct`],
      });
      expect(logged).toEqual([`proxy: ${MACHINE_CONFIG}: cannot be parsed (<configuration> is never closed (a truncated file?)); going direct`]);
    } finally {
      await agent.close();
    }
  });
});

describe("writeback's own path, tested from where it runs", () => {
  it("probes the tenant's relay namespace named in the event log, through the proxy, besides the configured targets", async () => {
    const serviceBus = await startHttps(await otherCa.issue({ names: [TENANT_RELAY] }), respond(200, FEED));
    const proxy = await startConnectProxy({ upstream: (a) => (a === `${TENANT_RELAY}:443` ? { host: '127.0.0.1', port: serviceBus.port } : undefined) });
    const broken = fixture('wevtutil', 'broken.xml');
    const agent = new RelayAgent(settings({ WBMON_PROXY_URL: proxy.url }), {
      extraCa: [companyCa.cert, otherCa.cert],
      eventLog: { platform: 'win32', run: async () => broken, now: () => new Date('2026-03-01T10:00:00Z') },
    });
    try {
      const report = await agent.cycle();
      expect(report.heartbeat.eventLog?.relayNamespaces).toEqual([TENANT_RELAY]);
      expect(report.heartbeat.results.map((r) => [r.target, r.ok, r.proxy])).toEqual([
        [companySite.url, true, proxy.url],
        [`https://${TENANT_RELAY}/`, true, proxy.url],
      ]);
      expect(report.discoveredTargets).toEqual([`https://${TENANT_RELAY}/`]);
      expect(proxy.requests.slice(0, 2).sort()).toEqual([`${TENANT_RELAY}:443`, `localhost:${companySite.port}`].sort());
    } finally {
      await agent.close();
      await proxy.close();
      await serviceBus.close();
    }
  });

  describe('the keepalive pass mark', () => {
    let firewall: Firewall;
    let proxy: ProxyServer;
    beforeAll(async () => {
      // Idle connections die after 300 ms here, so every idle length ends at once.
      firewall = await startFirewall(companySite.port, 300, 'close');
      proxy = await startConnectProxy({ upstream: () => ({ host: '127.0.0.1', port: firewall.port }) });
    });
    afterAll(async () => {
      await proxy.close();
      await firewall.close();
    });

    const passMark = async (extra: Record<string, string>): Promise<[number, number[], boolean]> => {
      const agent = new RelayAgent(settings({ WBMON_KEEPALIVE_IDLE: '1', WBMON_KEEPALIVE_TARGET: `https://localhost:${firewall.port}/`, ...extra }), { extraCa: [companyCa.cert] });
      try {
        await agent.keepaliveNow();
        const k = (await agent.cycle()).heartbeat.keepalive!;
        return [k.requiredSeconds, k.results.map((r) => r.idleSeconds), k.passed];
      } finally {
        await agent.close();
      }
    };

    it('is 360 s when a proxy is in the path, as Connect asks of proxies', async () => {
      expect(await passMark({ WBMON_PROXY_URL: proxy.url })).toEqual([360, [1, 360], false]);
    });

    it('is 180 s when the path is direct', async () => {
      expect(await passMark({})).toEqual([180, [1, 180], false]);
    });

    it('is WBMON_KEEPALIVE_MIN whenever that is set', async () => {
      expect(await passMark({ WBMON_PROXY_URL: proxy.url, WBMON_KEEPALIVE_MIN: '2' })).toEqual([2, [1, 2], false]);
    });
  });

  describe('the domain controller, found through DNS', () => {
    const srv: Record<string, { name: string; port: number; priority: number; weight: number }[]> = {
      '_ldap._tcp.pdc._msdcs.corp.example': [
        { name: 'dc02.corp.example', port: 389, priority: 10, weight: 100 },
        { name: 'localhost.', port: 389, priority: 0, weight: 100 },
      ],
    };
    const asked: string[] = [];
    const resolveSrv: ResolveSrv = async (name) => {
      asked.push(name);
      const found = srv[name];
      if (!found) throw Object.assign(new Error(`querySrv ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      return found;
    };

    it("checks Microsoft's ports for writeback to the DC: 53, 88, 135, 389, 445, 636, 3268", () => {
      expect(DC_PORTS).toEqual([53, 88, 135, 389, 445, 636, 3268]);
    });

    it('finds the PDC emulator of each domain in _ldap._tcp.pdc._msdcs and names every failed port and every DC not found', async () => {
      const open = await startHttp();
      const closed = await refusedPort();
      try {
        const reports = await checkDomainControllers({ dcHost: undefined, adDomains: ['corp.example', 'lab.example'] }, 2000, { resolveSrv, ports: [open.port, closed] });
        expect(asked).toEqual(['_ldap._tcp.pdc._msdcs.corp.example', '_ldap._tcp.pdc._msdcs.lab.example']);
        expect(reports.map((r) => ({ ...r, ports: r.ports.map((p) => [p.port, p.ok, p.error]) }))).toEqual([
          { host: 'localhost', domain: 'corp.example', found: 'dns', ports: [[open.port, true, undefined], [closed, false, 'ECONNREFUSED']] },
          { host: 'lab.example', domain: 'lab.example', found: 'dns', ports: [], error: 'no PDC emulator found: _ldap._tcp.pdc._msdcs.lab.example ENOTFOUND' },
        ]);
        expect(dcResult(reports, '2026-03-01T10:00:00.000Z')).toEqual({
          ok: false,
          startedAt: '2026-03-01T10:00:00.000Z',
          failure: {
            code: 'dc_unreachable',
            phase: 'tcp',
            message: `domain controller localhost: port ${closed} ECONNREFUSED; domain lab.example: no PDC emulator found: _ldap._tcp.pdc._msdcs.lab.example ENOTFOUND`,
          },
        });
        expect(heartbeatSchema.shape.dcs.safeParse(reports).success).toBe(true);
      } finally {
        await open.close();
      }
    });

    it('takes the domains from WBMON_AD_DOMAINS, else USERDNSDOMAIN on Windows only, and refuses what is not a DNS domain', () => {
      expect(settings({ WBMON_AD_DOMAINS: 'Corp.Example, lab.example.' }).adDomains).toEqual(['corp.example', 'lab.example']);
      expect(settings({ USERDNSDOMAIN: 'CORP.EXAMPLE' }, 'win32').adDomains).toEqual(['corp.example']);
      expect(settings({ USERDNSDOMAIN: 'CORP.EXAMPLE' }, 'linux').adDomains).toEqual([]);
      expect(() => settings({ WBMON_AD_DOMAINS: 'corp.example,CORP;calc' })).toThrow('WBMON_AD_DOMAINS: "corp;calc": AD domains are DNS names such as corp.example, comma-separated');
    });

    it('lets the agent report every domain controller, with the first one where older monitors look', async () => {
      const agent = new RelayAgent(settings({ WBMON_AD_DOMAINS: 'corp.example,lab.example' }), { extraCa: [companyCa.cert], resolveSrv });
      try {
        const { heartbeat } = await agent.cycle();
        expect([heartbeat.dc?.host, heartbeat.dcs?.map((d) => d.domain)]).toEqual(['localhost', ['corp.example', 'lab.example']]);
        expect(heartbeatSchema.safeParse(heartbeat).success).toBe(true);
      } finally {
        await agent.close();
      }
    });
  });

  it('relay --once --keepalive prints one line per part, then the verdict, and exits 0 when accepted', async () => {
    const lines: string[] = [];
    const config = settings({ WBMON_KEEPALIVE_IDLE: '1', WBMON_KEEPALIVE_MIN: '1', WBMON_KEEPALIVE_TARGET: companySite.url, WBMON_RELAY_TARGETS: `${companySite.url},https://localhost:${await refusedPort()}/` });
    // runRelay builds its own agent: this Linux test cannot trust the company root through Windows, so NODE_EXTRA_CA_CERTS-like trust is not available; the refused target shows a down line.
    const code = await runRelay(config, true, (l) => lines.push(l), { keepalive: true });
    expect(code).toBe(0);
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe('proxy: none (direct), from none');
    expect(lines[1]).toBe(`target ${companySite.url}: DOWN tls_untrusted in tls: certificate not trusted: UNABLE_TO_VERIFY_LEAF_SIGNATURE (issuer CN=Contoso Corporate Root CA) direct`);
    expect(lines[2]).toMatch(/^target https:\/\/localhost:\d+\/: DOWN tcp_refused in tcp: 127\.0\.0\.1:\d+: connection refused direct$/);
    expect(lines[3]).toBe('event log: not read (not Windows)');
    expect(lines[4]).toBe('domain controller: not checked (set WBMON_DC_HOST, or WBMON_AD_DOMAINS to find the PDC emulator in DNS)');
    expect(lines[5]).toBe(`keepalive ${companySite.url} direct: FAILED (must survive 1 s idle): 1 s: tls_untrusted`);
    expect(lines[6]).toMatch(/^relay relay-a: heartbeat \d+ accepted \(HTTP 202\); 0\/2 targets up \(down: .*\); delivered 1, buffered 0, dropped 0$/);
  });
});
