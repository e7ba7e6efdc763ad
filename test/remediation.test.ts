import { describe, expect, it } from 'vitest';
import { REMEDIATIONS, remediationFor, ruleFor, type RemediationInput, type RemediationMatch } from '../src/alerting/remediation.js';
import { FAILURE_CODES } from '../src/probes/result.js';

const SB = 'https://ssprdedicatedsbprodscu.servicebus.windows.net/';
const SB_HOST = 'ssprdedicatedsbprodscu.servicebus.windows.net';
const PR = 'https://passwordreset.microsoftonline.com/';

function relay(code: string, phase: string, target = SB): RemediationInput {
  return { checkKind: 'relay-probe', code, phase, location: 'connect01', target };
}
function cloud(code: string, phase: string, target = SB): RemediationInput {
  return { checkKind: 'probe', code, phase, location: 'westeurope', target };
}
function fromRelay(checkKind: string, code: string, phase: string, target: string): RemediationInput {
  return { checkKind, code, phase, location: 'connect01', target };
}
function tenant(code: string): RemediationInput {
  return { checkKind: 'tenant', code, phase: 'graph', location: 'tenant', target: 'contoso.onmicrosoft.com' };
}

/** What older relays could store as dc.host before it had to be a host name. */
const HOSTILE_HOSTS = ['dc02; Start-Process calc; echo', 'dc02 | calc', 'dc02 -Port 1; calc', 'dc02"; calc', "dc02'", 'dc`calc', 'dc$(calc)', '  ', ':::::'];

const FINAL = REMEDIATIONS[REMEDIATIONS.length - 1]!;
const PHASE_OF: Record<string, string> = { dns: 'dns', proxy: 'proxy', tcp: 'tcp', tls: 'tls', http: 'http' };
const phaseOf = (code: string): string => (code === 'proxy_unreachable' ? 'tcp' : (PHASE_OF[code.split('_')[0]!] ?? 'http'));

/** Every input that matches `b` also matches `a`: `b` can never be reached when `a` comes first. */
function covers(a: RemediationMatch, b: RemediationMatch): boolean {
  if (a.kind !== undefined && a.kind !== b.kind) return false;
  if (a.phase !== undefined && a.phase !== b.phase) return false;
  if (a.code !== undefined && a.code !== b.code) return false;
  if (a.codePrefix !== undefined) {
    const bCode = b.code ?? b.codePrefix;
    if (bCode === undefined || !bCode.startsWith(a.codePrefix)) return false;
  }
  if (a.messageIncludes !== undefined && !(b.messageIncludes ?? '').toLowerCase().includes(a.messageIncludes.toLowerCase())) return false;
  return true;
}

const HOSTS = '*.servicebus.windows.net and *.passwordreset.microsoftonline.com';
/** Microsoft's recovery order (troubleshoot-sspr-writeback.md), as every generic rule gives it. */
const IN_ORDER =
  "Work through Microsoft's recovery steps below in order and stop at the one that fixes it: within 5 minutes a new event 31019 (writeback heartbeat, source PasswordResetService) appears in the Application log and the eventlog check clears.";
const CONNECTIVITY = `Network connectivity: outbound HTTPS (TCP 443) from the Connect server to ${HOSTS}, through its proxy, without TLS inspection, idle connections kept at least 3 minutes (6 on proxies); this relay's relay-probe and keepalive checks test that path.`;
const TLS12 =
  'TLS 1.2 on the Connect server: run Microsoft\'s "PowerShell script to check TLS 1.2" (Entra Connect TLS 1.2 enforcement page) as administrator; if it is not enabled, run the script that enables it, reboot and check again.';
const DOTNET48 =
  ".NET Framework 4.8 or later on the Connect server: (Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full').Release must be 528040 or higher; install .NET Framework 4.8 if it is lower.";
const RESTART = 'Restart the sync service (ADSync, shown as Microsoft Azure AD Sync in services.msc): Restart-Service ADSync.';
const REENABLE =
  'Disable and re-enable password writeback, on the active Connect server (not a staging server): Entra Connect wizard, Configure, Customize synchronization options; sign in with a managed (cloud-only or password-synchronized, not federated) Hybrid Identity Administrator or Global Administrator, then the AD DS admin credentials; in Optional features clear Password writeback, Configure, and on the last page clear "Synchronize now" / "Start the synchronization process when configuration completes"; then run the wizard again the same way and select Password writeback.';
const LATEST =
  'Install the latest Entra Connect Sync release (an in-place upgrade, from the Microsoft Entra admin center, Entra Connect, Get started; back up customised sync rules first): only Connect Sync 2.x is supported, 1.x is retired, and builds before 2.5.79.0 stop syncing on 30 September 2026.';
const MICROSOFT_ORDER = [IN_ORDER, CONNECTIVITY, TLS12, DOTNET48, RESTART, REENABLE, LATEST];
const SB_CONNECTIVITY = [
  "Read the event in the Application log on the Connect server (source PasswordResetService, or the last 31019 or 31034): it names the tenant's relay namespace (ssprdedicatedsbprod….servicebus.windows.net).",
  'From the Connect server, test that namespace through the proxy as Microsoft does: Invoke-WebRequest -Uri https://<namespace>.servicebus.windows.net -Verbose (Test-NetConnection <namespace> -Port 443 ignores the proxy, so it can fail where writeback would get through, and pass where the proxy blocks it).',
  `Allow outbound TCP 443 from the Connect server to ${HOSTS} on every firewall on the way (host firewall, perimeter, cloud egress); allow by name, as the relay addresses change.`,
  `Exclude ${HOSTS} from TLS inspection (SSL decryption) on the firewall or proxy: writeback needs an unbroken TLS session to Microsoft.`,
  'Raise idle timeouts for those connections to at least 3 minutes on firewalls and NAT, 6 on proxies.',
  "This relay's relay-probe and keepalive checks test the same path and show which phase fails.",
];
const THEN = "Once the path works, go on in Microsoft's order if the events continue:";
const PDC =
  'Writeback contacts the PDC emulator even when preferred domain controllers are set, so another DC does not restore it: find the PDC emulator with Get-ADDomain | Select-Object PDCEmulator (or netdom query fsmo) and make sure the Connect server reaches it on those ports.';
const invokeWebRequest = (hostport: string, host: string): string =>
  `On the Connect server, run: Invoke-WebRequest -Uri https://${hostport} -Verbose (it goes through the system proxy, as writeback does through its own; add -Proxy http://<proxy>:<port> to use Connect's machine.config proxy). Any HTTP answer, even an error status, proves the path; Test-NetConnection ${host} -Port 443 tests a direct connection only and ignores any proxy.`;
const eventlog = (code: string, message?: string): RemediationInput => ({
  checkKind: 'eventlog',
  code,
  phase: 'eventlog',
  location: 'connect01',
  target: 'Application log, PasswordResetService',
  ...(message !== undefined && { message }),
});

describe('the remediation table', () => {
  it('ends with a catch-all that matches everything', () => {
    expect(FINAL.match).toEqual({});
  });

  it('has no rule hidden behind a more general rule above it', () => {
    const hidden: string[] = [];
    REMEDIATIONS.forEach((later, j) => {
      for (let i = 0; i < j; i++) {
        if (covers(REMEDIATIONS[i]!.match, later.match)) hidden.push(`${JSON.stringify(later.match)} behind ${JSON.stringify(REMEDIATIONS[i]!.match)}`);
      }
    });
    expect(hidden).toEqual([]);
  });

  it('has a non-empty summary and no empty step in any rule or local wording, each short enough for a Teams card', () => {
    for (const { match, remediation, local } of REMEDIATIONS) {
      for (const r of local ? [remediation, local] : [remediation]) {
        expect(r.summary.trim(), JSON.stringify(match)).not.toBe('');
        expect(r.steps.length, JSON.stringify(match)).toBeGreaterThan(0);
        expect(r.steps.length, JSON.stringify(match)).toBeLessThanOrEqual(15);
        for (const step of r.steps) {
          expect(step.trim(), JSON.stringify(match)).not.toBe('');
          expect(step.length, step).toBeLessThanOrEqual(600);
        }
      }
    }
  });

  it('no longer says "1.1.443" anywhere: Connect Sync 1.x is retired', () => {
    for (const { remediation, local } of REMEDIATIONS) {
      for (const text of [remediation.summary, ...remediation.steps, ...(local ? [local.summary, ...local.steps] : [])]) expect(text).not.toContain('1.1.443');
    }
  });

  it('gives every probe failure code a rule more specific than the catch-alls, from the cloud and from a relay', () => {
    for (const checkKind of ['probe', 'relay-probe']) {
      for (const code of FAILURE_CODES) {
        const rule = ruleFor({ checkKind, code, phase: phaseOf(code), location: 'x', target: SB });
        expect(rule, `${checkKind} ${code}`).not.toBe(FINAL);
        expect(rule.match.code ?? rule.match.codePrefix, `${checkKind} ${code}`).toBeDefined();
      }
    }
  });

  it('gives the heartbeat, keepalive, event log, DC and tenant codes their own rules', () => {
    const codes = [
      'heartbeat_missing',
      'keepalive_fin',
      'keepalive_rst',
      'keepalive_timeout',
      'keepalive_failed',
      'eventlog_unreadable',
      'event_31019_missing',
      'event_31016',
      'event_31034',
      'event_31044',
      'event_32001',
      'event_32002',
      'event_32009',
      'event_32015',
      'event_6800',
      'dc_unreachable',
      'licence_missing',
      'sync_disabled',
      'sync_stale',
      'writeback_failures',
      'writeback_disabled',
      'graph_permission',
      'cloudsync_quarantined',
      'cloudsync_failed',
      'cloudsync_paused',
      'cloudsync_not_running',
      'cloudsync_stale',
    ];
    for (const code of codes) expect(ruleFor({ checkKind: 'x', code, location: 'x', target: 'x' }).match.code, code).toBe(code);
  });
});

describe('remediationFor', () => {
  it('tells a relay DNS failure to fix DNS forwarding of Microsoft zones on the Connect server', () => {
    const r = remediationFor(relay('dns_nxdomain', 'dns'));
    expect(r.summary).toBe(`Fix DNS forwarding on the Connect server's network: ${SB_HOST} does not resolve there`);
    expect(r.steps).toContain(`On the Connect server, run: Resolve-DnsName ${SB_HOST} to see which DNS server answers and what it says.`);
    expect(r.steps.some((s) => s.includes('microsoftonline.com and servicebus.windows.net'))).toBe(true);
  });

  it("blames a cloud DNS failure on Microsoft or our own Function App, not on the customer's network", () => {
    const r = remediationFor(cloud('dns_timeout', 'dns', PR));
    expect(r.summary).toBe(
      "passwordreset.microsoftonline.com does not resolve from the monitor in Azure: Microsoft's DNS or our own Function App networking, not the customer's network",
    );
    expect(r.steps[0]).toBe(
      "Compare with the relay checks for passwordreset.microsoftonline.com (GET /api/status): if the relays get through, the fault is in our own Function App networking; if every location fails, it is on Microsoft's side.",
    );
    expect(r.steps).toHaveLength(4);
  });

  it("words a cloud probe that ran under serve (location local) for the monitor's machine, never for Azure", () => {
    const r = remediationFor({ checkKind: 'probe', code: 'tcp_refused', phase: 'tcp', location: 'local', target: SB });
    expect(r.summary).toBe(`The monitor's machine cannot connect to ${SB_HOST} on 443: that machine's network or Microsoft's side`);
    expect(r.steps).toEqual([
      `Compare with the relay checks for ${SB_HOST} (GET /api/status): if the relays get through, the fault is in the network of the monitor's machine (the one running writeback-monitor serve); if every location fails, it is on Microsoft's side.`,
      `Check that machine's outbound path (host firewall, VPN, corporate firewall, and the proxy in WBMON_PROXY_URL / HTTPS_PROXY if it has one) allows TCP 443 to ${HOSTS}.`,
      'Check Azure status (https://azure.status.microsoft/status) and Microsoft 365 service health (Microsoft 365 admin center, Health, Service health).',
    ]);
    expect(remediationFor(cloud('dns_nxdomain', 'dns')).summary).toContain('from the monitor in Azure');
    expect(remediationFor({ checkKind: 'probe', code: 'dns_nxdomain', phase: 'dns', location: 'local', target: SB }).summary).toBe(
      `${SB_HOST} does not resolve from the monitor's machine: that machine's DNS, or Microsoft's, not the customer's network`,
    );
  });

  it('never says "in Azure" nor blames the Function App for any cloud probe code under serve', () => {
    for (const code of [...FAILURE_CODES, 'zzz_new', undefined]) {
      const r = remediationFor({ checkKind: 'probe', code, phase: code && phaseOf(code), location: 'local', target: SB });
      for (const text of [r.summary, ...r.steps]) {
        expect(text, String(code)).not.toMatch(/in Azure/i);
        expect(text, String(code)).not.toContain('Function App');
      }
    }
  });

  it('tells a relay TCP timeout to open outbound 443 and names the target host in a step', () => {
    const r = remediationFor(relay('tcp_timeout', 'tcp'));
    expect(r.summary).toBe(
      `Open outbound TCP 443 from the Connect server to *.servicebus.windows.net and *.passwordreset.microsoftonline.com (${SB_HOST} is blocked)`,
    );
    expect(r.steps[0]).toBe(invokeWebRequest(SB_HOST, SB_HOST));
    expect(r.steps.filter((s) => s.includes(SB_HOST)).length).toBeGreaterThan(0);
  });

  it('words the same TCP code differently for the cloud', () => {
    const r = remediationFor(cloud('tcp_refused', 'tcp'));
    expect(r.summary).toBe(`The monitor in Azure cannot connect to ${SB_HOST} on 443: Microsoft's side or our own Function App networking`);
    expect(r.steps.some((s) => s.includes('Function App'))).toBe(true);
  });

  it('tells a proxy refusal to fix the allow-list, proxy authentication for ADSync and the idle timeout', () => {
    const r = remediationFor(relay('proxy_refused', 'proxy'));
    expect(r.summary).toBe(
      `The proxy refuses to tunnel to ${SB_HOST}: add *.servicebus.windows.net and *.passwordreset.microsoftonline.com to its allow-list`,
    );
    expect(r.steps).toContain("Set the proxy's idle timeout for these tunnels to at least 6 minutes, so writeback's mostly idle connection survives.");
    expect(r.steps.some((s) => s.startsWith('For 407:') && s.includes('ADSync service account'))).toBe(true);
  });

  it('tells an untrusted relay certificate to exclude the writeback hosts from TLS inspection', () => {
    const r = remediationFor(relay('tls_untrusted', 'tls'));
    expect(r.summary).toBe(
      `Exclude the writeback hosts from TLS inspection: ${SB_HOST} is served with a certificate the Connect server's path does not trust`,
    );
    expect(r.steps).toContain(
      'Exclude *.servicebus.windows.net and *.passwordreset.microsoftonline.com from TLS inspection (SSL decryption) on the firewall or proxy: writeback needs an unbroken TLS session to Microsoft.',
    );
    expect(r.steps.some((s) => s.includes('w32tm'))).toBe(true);
  });

  it('tells an expired certificate to check the clock first', () => {
    const r = remediationFor(relay('tls_expired', 'tls'));
    expect(r.summary).toBe(`The certificate for ${SB_HOST} looks out of date from the Connect server: check the clock, then TLS inspection`);
    expect(r.steps[0]).toContain('w32tm /query /status');
  });

  it('says an HTTP 5xx is on the Microsoft side with nothing to fix locally', () => {
    const r = remediationFor(cloud('http_status', 'http', PR));
    expect(r.summary).toBe(
      "Microsoft's service at passwordreset.microsoftonline.com is failing (HTTP 5xx): nothing to fix locally, follow Microsoft's service health",
    );
    expect(r.steps[0]).toContain('Microsoft 365 service health');
  });

  it('explains an unexpected relay answer as a proxy or captive portal, and a Service Bus 400 as IP filtering', () => {
    const r = remediationFor(relay('http_unexpected', 'http'));
    expect(r.summary).toBe(
      `Something other than ${SB_HOST} answers on the Connect server's path: a proxy or captive portal, or Service Bus refusing the request`,
    );
    expect(r.steps.some((s) => s.includes('400 Bad Request') && s.includes('IP filtering'))).toBe(true);
  });

  it('tells a silent keepalive drop to raise the idle timeout and calls it a black hole', () => {
    const r = remediationFor(fromRelay('keepalive', 'keepalive_timeout', 'keepalive', SB));
    expect(r.summary).toBe(
      `A firewall or NAT silently drops idle connections to ${SB_HOST} (a black hole): raise its idle timeout to at least 3 minutes, 6 on proxies`,
    );
    expect(r.steps).toContain(
      "Azure's own load balancers drop idle TCP after 4 minutes and writeback is built for that; a device on your side that drops it sooner breaks writeback silently.",
    );
    expect(r.steps).toContain(
      `Rerun the test by hand on the Connect server to see which idle length survives: writeback-monitor keepalive --target https://${SB_HOST}/ --idle 120,240,360`,
    );
  });

  it('tells a keepalive FIN that the server itself may be the one closing', () => {
    const r = remediationFor(fromRelay('keepalive', 'keepalive_fin', 'keepalive', SB));
    expect(r.steps.some((s) => s.includes("server's own announced limit"))).toBe(true);
  });

  it('sends a missing heartbeat to the relay host, its path to the monitor and its clock', () => {
    const r = remediationFor(fromRelay('heartbeat', 'heartbeat_missing', 'heartbeat', 'connect01'));
    expect(r.summary).toBe('Relay connect01 has stopped sending heartbeats: check that the relay runs and can reach the monitor');
    expect(r.steps.some((s) => s.includes('300 s'))).toBe(true);
    expect(r.steps.some((s) => s.includes('WBMON_MONITOR_URL'))).toBe(true);
    expect(r.steps.some((s) => s.includes('log line'))).toBe(true);
  });

  it('names the function key (WBMON_MONITOR_KEY) first for a heartbeat 401, then the relay id, secret and clock', () => {
    const key401 =
      "A 401 first means a missing or wrong function key: WBMON_MONITOR_KEY on the relay must be a key of the monitor's heartbeat function (the Functions host refuses the request before the monitor sees it). With the right key, a 401 means the relay id, its secret (WBMON_RELAY_SECRET against WBMON_RELAYS on the monitor) or its clock is wrong: the monitor refuses heartbeats more than 300 s from its own clock, so check w32tm /query /status.";
    expect(remediationFor(fromRelay('heartbeat', 'heartbeat_missing', 'heartbeat', 'connect01')).steps[4]).toBe(key401);
    expect(remediationFor(fromRelay('heartbeat', 'heartbeat_other', 'heartbeat', 'connect01')).steps).toEqual([
      'On the relay host, check the scheduled task or service that runs writeback-monitor relay, and read its latest log line.',
      "Run writeback-monitor relay --once there: it prints the heartbeat's fate.",
      key401,
    ]);
  });

  it("keeps a target's non-default port in the keepalive rerun and the Invoke-WebRequest test, and drops a default one", () => {
    const rerun = (target: string): string => remediationFor(fromRelay('keepalive', 'keepalive_rst', 'keepalive', target)).steps.at(-1)!;
    const command = (hostport: string): string =>
      `Rerun the test by hand on the Connect server to see which idle length survives: writeback-monitor keepalive --target https://${hostport}/ --idle 120,240,360`;
    expect(rerun('https://sb.example.net:8443/path?code=KEY')).toBe(command('sb.example.net:8443'));
    expect(rerun('https://sb.example.net:443/')).toBe(command('sb.example.net'));
    expect(rerun('http://sb.example.net/')).toBe(command('sb.example.net:80'));
    expect(rerun('https://[fd00::5]:9443/')).toBe(command('[fd00::5]:9443'));
    expect(rerun('https://sb;calc:8443/')).toBe(command('<host>'));
    expect(remediationFor(relay('tcp_timeout', 'tcp', 'https://sb.example.net:8443/')).steps[0]).toBe(invokeWebRequest('sb.example.net:8443', 'sb.example.net'));
  });

  it('tells a stopped writeback service (31016) to restart ADSync and re-enable writeback, and the cloud service unreachable (32001) to open the path', () => {
    const stopped = remediationFor(fromRelay('eventlog', 'event_31016', 'eventlog', 'x'));
    expect(stopped.summary).toBe(
      "The password writeback service stopped on the Connect server (event 31016): restart ADSync, then follow Microsoft's recovery order if it stops again",
    );
    expect(stopped.steps.slice(1)).toEqual(remediationFor(fromRelay('eventlog', 'event_31034', 'eventlog', 'x')).steps);
    expect(stopped.steps[0]).toMatch(/^Restart the sync service \(ADSync/);
    const service = remediationFor(fromRelay('eventlog', 'event_32001', 'eventlog', 'x'));
    expect(service.summary).toBe('Writeback could not reach the cloud password reset service (event 32001): check outbound 443 to *.passwordreset.microsoftonline.com');
    expect(service.steps).toEqual(remediationFor(fromRelay('eventlog', 'event_32015', 'eventlog', 'x')).steps.slice(1));
  });

  it("gives a listener failure (31034) Microsoft's recovery order: connectivity, TLS 1.2, .NET 4.8, restart, re-enable, latest Connect", () => {
    const r = remediationFor(eventlog('event_31034', 'PasswordResetService 31034 at 2026-12-01T00:00:00Z: ServiceBusListenerError: the connection was closed'));
    expect(r.summary).toBe(
      "The writeback listener failed on the Connect server (event 31034): follow Microsoft's recovery order (connectivity, TLS 1.2, .NET 4.8, restart ADSync, re-enable writeback, latest Connect)",
    );
    expect(r.steps).toEqual(MICROSOFT_ORDER);
    expect(remediationFor(eventlog('event_31034')).steps).toEqual(MICROSOFT_ORDER);
  });

  it('sends a 31034 whose message says "The remote certificate is invalid" to the Azure root CAs, in any case and wrapping', () => {
    const messages = [
      'PasswordResetService 31034 at 2026-12-01T00:00:00Z: ServiceBusListenerError. The remote certificate is invalid according to the validation procedure.',
      `PasswordResetService 31034 at 2026-12-01T00:00:00Z: event text (from the server's Application log, not verified): "Error: THE REMOTE CERTIFICATE IS INVALID according to the validation procedure"`,
    ];
    for (const message of messages) {
      const input = eventlog('event_31034', message);
      expect(ruleFor(input).match).toEqual({ code: 'event_31034', messageIncludes: 'remote certificate is invalid' });
      const r = remediationFor(input);
      expect(r.summary).toBe(
        'The Connect server does not trust the certificate of writeback\'s Service Bus listener (event 31034, "The remote certificate is invalid"): install the current Azure root CAs',
      );
      expect(r.steps).toEqual([
        'Microsoft\'s fix for this 31034 is the root CAs of "Azure TLS certificate changes": the Connect server must trust the roots Azure now chains to, among them DigiCert Global Root G2, DigiCert Global Root CA and Microsoft RSA Root Certificate Authority 2017 (and Microsoft ECC Root Certificate Authority 2017).',
        "Check the machine's store: Get-ChildItem Cert:\\LocalMachine\\Root | Where-Object Subject -Match 'DigiCert Global Root G2|Microsoft RSA Root Certificate Authority 2017' | Select-Object Subject, NotAfter",
        "Install the missing ones through Windows Update's automatic root update (it needs outbound HTTP 80 to ctldl.windowsupdate.com) or your Group Policy or certificate deployment; Connect also needs HTTP 80 for certificate revocation lists.",
        `If the certificate Connect sees is issued by your firewall's or proxy's own CA, the connection is being intercepted: exclude ${HOSTS} from TLS inspection (SSL decryption), as Microsoft does not support breaking Connect's traffic.`,
        "Check the Connect server's clock: w32tm /query /status; a clock that is minutes off breaks certificates and tokens.",
        `${RESTART} Then watch for a new event 31019 within 5 minutes.`,
      ]);
      expect(r.steps.some((s) => s.includes('Disable and re-enable'))).toBe(false);
      for (const text of [r.summary, ...r.steps]) expect(text).not.toContain('validation procedure');
    }
  });

  it('reads an event 6800 first, then gives the same recovery order', () => {
    const r = remediationFor(eventlog('event_6800'));
    expect(r.summary).toBe(
      "The writeback endpoint failed to start (ADSync event 6800): read the PasswordResetService events beside it, then follow Microsoft's recovery order",
    );
    expect(r.steps).toEqual([
      'Read event 6800 and the PasswordResetService events logged with it in the Application log on the Connect server: they say why the endpoint did not start.',
      ...MICROSOFT_ORDER,
    ]);
  });

  it('treats a Service Bus error (32002) as connectivity first, testing through the proxy, then the rest in order', () => {
    const r = remediationFor(eventlog('event_32002'));
    expect(r.summary).toBe(`Writeback hit a Service Bus error on the Connect server (event 32002): check outbound 443 to ${HOSTS}`);
    expect(r.steps).toEqual([...SB_CONNECTIVITY, THEN, TLS12, DOTNET48, RESTART, REENABLE, LATEST]);
  });

  it('tells a 31044 that one of the two local service hosts is down: restart ADSync first, then 443', () => {
    const r = remediationFor(eventlog('event_31044'));
    expect(r.summary).toBe(
      "One of writeback's two Service Bus listeners (service hosts) is not running on the Connect server (event 31044): restart ADSync first, then check outbound 443",
    );
    expect(r.steps).toEqual([
      'Writeback listens on two Service Bus relays, each held by its own service host inside ADSync; 31044 means one of them is not running.',
      `${RESTART} Then watch the Application log: a new event 31019 within 5 minutes and no new 31044 mean both listeners are back.`,
      'If 31044 comes back, one relay cannot be reached: follow the connectivity steps below.',
      ...SB_CONNECTIVITY,
      THEN,
      TLS12,
      DOTNET48,
      REENABLE,
      LATEST,
    ]);
  });

  it('sends a 32015 to the password reset web service, not to Service Bus', () => {
    const r = remediationFor(eventlog('event_32015'));
    expect(r.summary).toBe(
      'Writeback could not send its health heartbeat to the password reset web service (event 32015): check outbound 443 to *.passwordreset.microsoftonline.com',
    );
    expect(r.steps).toEqual([
      'Every five minutes writeback reports its health to the password reset web service (*.passwordreset.microsoftonline.com), not over Service Bus; 32015 means that report did not get through.',
      'From the Connect server, through the proxy: Invoke-WebRequest -Uri https://passwordreset.microsoftonline.com -Verbose (any HTTP answer proves the path).',
      'Allow outbound TCP 443 from the Connect server to *.passwordreset.microsoftonline.com on every firewall and on the proxy (by name, without TLS inspection).',
      "This relay's relay-probe check of passwordreset.microsoftonline.com tests the same path and shows which phase fails.",
      THEN,
      TLS12,
      DOTNET48,
      RESTART,
    ]);
  });

  it('tells an auth token failure (32009) about the wrong password or federated admin first, then the 2.5.3.0 application credential', () => {
    const r = remediationFor(eventlog('event_32009'));
    expect(r.summary).toBe(
      'Writeback could not get an authentication token (event 32009): a wrong password, or a federated administrator named at setup; rerun the wizard with a managed account',
    );
    expect(r.steps).toEqual([
      'Microsoft names two causes: a wrong password for the administrator given in the Entra Connect wizard, or an administrator that is federated: it must be a managed (cloud-only or password-synchronized) account.',
      'Rerun the Entra Connect wizard (Configure, Customize synchronization options) and sign in with the correct password of a managed Hybrid Identity Administrator or Global Administrator, the role assigned to the user directly; then re-enable writeback as below if the event continues.',
      "On Connect 2.5.3.0 and later, Connect may authenticate as an application instead of the Sync_ account: the wizard's Tasks, View or export current configuration, shows its application (client) ID; in Enterprise applications, that application must hold the Microsoft password reset service app roles PasswordWriteback.OffboardClient.All, PasswordWriteback.RegisterClientVersion.All and PasswordWriteback.RefreshClient.All, and its certificate must be valid.",
      "On older builds, Connect's Entra ID connector account (Sync_<server>_… under Users) must be enabled and not blocked by Conditional Access or MFA.",
      "Check the Connect server's clock: w32tm /query /status; a clock that is minutes off breaks certificates and tokens.",
      'Check the Connect server reaches login.microsoftonline.com on 443: the tokens come from there.',
      REENABLE,
    ]);
  });

  it('tells a permission refusal (33004) about sdprop, the SAM policy and "User cannot change password", and leaves AdminSDHolder alone', () => {
    const r = remediationFor(eventlog('event_33004'));
    expect(r.summary).toBe(
      "On-prem Active Directory denied the AD DS connector account the password reset (event 33004): check its permissions, the SAM remote-call policy and the user's flags",
    );
    expect(r.steps).toEqual([
      'Read the event on the Connect server (Application log, source PasswordResetService): it names the user.',
      'Give the AD DS connector account (Synchronization Service Manager, Connectors, the Active Directory connector, Properties) these rights on user objects below the domain root: Reset password, Change password, Write lockoutTime and Write pwdLastSet; the ADSyncConfig module does it: Set-ADSyncPasswordWritebackPermissions.',
      'New permissions reach the user objects through the sdprop background task on the domain controller, which can take up to an hour: until they show on the user, writeback keeps failing with access denied.',
      'Run RSOP (rsop.msc or gpresult /h) on the Connect server and the domain controllers: if "Network access: Restrict clients allowed to make remote calls to SAM" (Security Options) is enabled, add the AD DS connector account (MSOL_…) to it as allowed.',
      'If the user has "User cannot change password" set (Active Directory Users and Computers, the user, Account), a password change cannot be written back: clear it if the user should be able to change the password.',
      "Users in protected groups (adminCount=1: Domain Admins, Enterprise Admins and the like) cannot be reset by writeback, by design: they change their password on-premises. Leave AdminSDHolder's permissions as they are.",
      PDC,
    ]);
    for (const code of ['event_33004', 'event_33008', 'event_33001']) {
      const text = [remediationFor(eventlog(code)).summary, ...remediationFor(eventlog(code)).steps].join('\n');
      expect(text, code).not.toMatch(/grant(ed)? [^.\n]*AdminSDHolder|AdminSDHolder[^.\n]*grant/i);
    }
  });

  it('matches event_33008 to the on-prem AD rule for every 33xxx event', () => {
    const input = fromRelay('eventlog', 'event_33008', 'eventlog', 'Application log, PasswordResetService');
    expect(ruleFor(input).match).toEqual({ codePrefix: 'event_33' });
    const r = remediationFor(input);
    expect(r.summary).toBe(
      "On-prem Active Directory refused the password change (event_33008): check the password policy and the AD DS connector account's permissions",
    );
    expect(r.steps.some((s) => s.includes('Reset password, Change password, Write lockoutTime and Write pwdLastSet'))).toBe(true);
    expect(r.steps.some((s) => s.includes('PDC emulator'))).toBe(true);
  });

  it("sends a missing writeback heartbeat (31019) to the ADSync service and the writeback setting, then Microsoft's recovery order", () => {
    const r = remediationFor(fromRelay('eventlog', 'event_31019_missing', 'eventlog', 'x'));
    expect(r.summary).toBe(
      "Writeback has logged no heartbeat (event 31019) for 10 minutes: check that ADSync runs and password writeback is enabled, then follow Microsoft's recovery order",
    );
    expect(r.steps).toEqual([
      'On the Connect server, check the ADSync service (Microsoft Azure AD Sync) runs: Get-Service ADSync; start it if not.',
      'Check the server is not in staging mode: Get-ADSyncScheduler must show StagingModeEnabled False; a staging server does not handle writeback, so the relay belongs on the active one.',
      'Check password writeback is enabled: Entra Connect wizard, Configure, Customize synchronization options, Optional features; and Entra admin center, Password reset, On-premises integration.',
      ...MICROSOFT_ORDER,
    ]);
  });

  it("ends the generic event, event log and catch-all rules with Microsoft's recovery order", () => {
    const event = remediationFor(eventlog('event_31999'));
    expect(event.steps).toEqual([
      "Open the Application log on the Connect server (source PasswordResetService or ADSync) at the time of the alert and read the event's text: Microsoft's troubleshooting page lists what each event id means.",
      ...MICROSOFT_ORDER,
    ]);
    expect(remediationFor(eventlog('eventlog_new_thing')).steps.slice(-MICROSOFT_ORDER.length)).toEqual(MICROSOFT_ORDER);
    const last = remediationFor({ checkKind: 'something-new', code: 'mystery', location: 'l', target: 't' });
    expect(last.summary).toBe('Check failed (mystery) at l for t: work through the writeback checklist');
    expect(last.steps).toEqual([
      'Read the alert message and GET /api/status for the phase that failed; docs/probe-codes.md explains each code.',
      'Licence: Entra ID P1/P2 (or EMS / Microsoft 365 E3/E5 / Business Premium) assigned to the on-prem users.',
      'A supported Entra Connect Sync 2.x (1.x is retired), with password writeback enabled and a recent full sync.',
      ...MICROSOFT_ORDER,
    ]);
  });

  it('tells an unreadable event log to add the relay account to Event Log Readers', () => {
    const r = remediationFor(fromRelay('eventlog', 'eventlog_unreadable', 'eventlog', 'x'));
    expect(r.summary).toBe('Relay connect01 cannot read the Application log: add its service account to Event Log Readers');
  });

  it('gives an unlisted Connect event the generic event rule with its code', () => {
    const r = remediationFor(fromRelay('eventlog', 'event_31999', 'eventlog', 'x'));
    expect(r.summary).toBe('Entra Connect logged a writeback failure (event_31999): read the event on the Connect server');
  });

  it("tells an unreachable DC to open Microsoft's writeback ports and that another DC does not replace the PDC emulator", () => {
    const r = remediationFor(fromRelay('dc', 'dc_unreachable', 'tcp', 'dc01.contoso.local'));
    expect(r.summary).toBe("The Connect server cannot reach domain controller dc01.contoso.local on a port writeback needs: open the ports the alert names (Microsoft's list: 53, 88, 135, 389, 445, 636, 3268)");
    const ports =
      "Open Microsoft's ports for Entra Connect and writeback from the Connect server to every domain controller, on host and network firewalls: DNS 53 (TCP/UDP), Kerberos 88 (TCP/UDP), RPC endpoint mapper 135 (TCP), LDAP 389 (TCP/UDP), SMB 445 (TCP, used for password writeback), LDAPS 636, Global Catalog 3268 (TCP) and dynamic RPC 49152-65535 (TCP).";
    expect(r.steps).toEqual([
      'From the Connect server, for each port the alert names as failed: Test-NetConnection dc01.contoso.local -Port <port> (TcpTestSucceeded must be True).',
      ports,
      PDC,
      'If dc01.contoso.local itself is down, bring it back: if it holds the PDC emulator role, writeback stays broken until it is back or the role is moved to a healthy DC (Move-ADDirectoryServerOperationMasterRole). Point WBMON_DC_HOST at the PDC emulator, the DC writeback uses.',
    ]);
    expect(r.steps.some((s) => /make sure Connect may use another DC/.test(s))).toBe(false);
    expect(remediationFor(fromRelay('dc', 'dc_ldap_new', 'ldap', 'dc01.contoso.local')).steps).toEqual([
      'From the Connect server: Test-NetConnection dc01.contoso.local -Port 389, then the same for 53, 88, 135, 445, 636 and 3268.',
      ports,
      PDC,
    ]);
  });

  it('covers the tenant checks: licence, sync, writeback failures and Graph permissions', () => {
    expect(remediationFor(tenant('licence_missing')).summary).toBe(
      'The tenant has no licence that includes password writeback: assign Entra ID P1 or P2 (or EMS E3/E5, Microsoft 365 E3/E5, Business Premium)',
    );
    expect(remediationFor(tenant('sync_disabled')).summary).toBe(
      'Directory synchronisation is switched off in the tenant: writeback cannot work until it is on again',
    );
    const stale = remediationFor(tenant('sync_stale'));
    expect(stale.summary).toBe('Entra Connect has not synchronised for too long: check the sync service, then run a full import and full sync');
    expect(stale.steps).toContain(
      'Run a full import and full sync: Start-ADSyncSyncCycle -PolicyType Initial, and watch it finish in Synchronization Service Manager.',
    );
    expect(remediationFor(tenant('writeback_failures')).summary).toBe(
      'Password writeback failed for users in the tenant: open the Entra audit log for the SSPR writeback failures',
    );
    const graph = remediationFor(tenant('graph_permission'));
    expect(graph.summary).toBe(
      "The monitor's managed identity lacks Microsoft Graph permissions: grant Organization.Read.All, AuditLog.Read.All, Directory.Read.All and Synchronization.Read.All",
    );
    expect(remediationFor(tenant('writeback_disabled')).summary).toBe(
      'Password writeback was turned off for the directory: synced users cannot reset or change their passwords until it is back on',
    );
    expect(graph.steps.slice(0, 2)).toEqual([
      "As a Privileged Role Administrator or Global Administrator, with the Azure CLI signed in to the tenant, run from the repository: infra/grant-graph-permissions.sh <principal id> (the principal id is the Function App's managed identity object id: az functionapp identity show -g <group> -n <app> --query principalId -o tsv).",
      'Or in PowerShell, with Microsoft Graph PowerShell (Install-Module Microsoft.Graph.Applications): ./infra/grant-graph-permissions.ps1 -PrincipalId <principal id>; it grants the same four app roles with New-MgServicePrincipalAppRoleAssignment (the audit log API names both AuditLog.Read.All and Directory.Read.All; Synchronization.Read.All reads the jobs of the Cloud Sync configurations).',
    ]);
  });

  it('sends Cloud Sync findings to the provisioning agents and the configuration, not to a Connect server', () => {
    const quarantined = remediationFor(tenant('cloudsync_quarantined'));
    expect(quarantined.summary).toBe(
      'An Entra Cloud Sync configuration is in quarantine: it synchronises nothing until the error the alert quotes is fixed and it is restarted',
    );
    for (const code of ['cloudsync_quarantined', 'cloudsync_failed', 'cloudsync_stale']) {
      const r = remediationFor(tenant(code));
      expect(r.steps.some((s) => s.includes('Get-Service AADConnectProvisioningAgent')), code).toBe(true);
      expect(r.steps.join(' '), code).not.toContain('ADSync');
    }
    expect(remediationFor(tenant('cloudsync_stale')).steps.join(' ')).toContain('*.msappproxy.net');
    expect(remediationFor(tenant('cloudsync_paused')).summary).toBe('An Entra Cloud Sync configuration is paused: start it again unless it was paused on purpose');
    expect(remediationFor(tenant('cloudsync_not_running')).summary).toBe('An Entra Cloud Sync configuration has never run: finish setting it up and enable it');
  });

  it('gives writeback failures through the Cloud Sync agent their own steps, and leaves Connect Sync ones as they were', () => {
    const message = '2 password writeback failures since x; on-premises connectivity: 2 (j***@contoso.com; 2 by an administrator; agent Cloud Sync 1, Connect Sync 1)';
    const cloud = remediationFor({ ...tenant('writeback_failures'), message });
    expect(cloud.summary).toBe('Password writeback failed for users in the tenant, through Entra Cloud Sync: check the provisioning agents, then the audit log');
    expect(cloud.steps.at(-1)).toContain('PasswordResetService');
    const connect = remediationFor({ ...tenant('writeback_failures'), message: message.replace('agent Cloud Sync 1, Connect Sync 1', 'agent Connect Sync 2') });
    expect(connect.summary).toBe('Password writeback failed for users in the tenant: open the Entra audit log for the SSPR writeback failures');
  });

  it('falls back to the rule of the check kind for an unknown code', () => {
    expect(remediationFor(tenant('tenant_new_thing')).summary).toBe(
      "A tenant check failed (tenant_new_thing): check the monitor's Microsoft Graph access and the tenant's writeback settings",
    );
    expect(remediationFor(relay('x509_weird', 'tls')).summary).toBe(
      `TLS to ${SB_HOST} fails from the Connect server's network (x509_weird): exclude the writeback hosts from TLS inspection`,
    );
  });

  it('still gives a non-empty remediation for an unknown kind and code, or none at all', () => {
    for (const input of [
      { checkKind: 'something-new', code: 'mystery', phase: 'nowhere', location: 'l', target: 't' },
      { checkKind: '', location: '', target: '' },
    ]) {
      const r = remediationFor(input);
      expect(ruleFor(input)).toBe(FINAL);
      expect(r.summary.trim()).not.toBe('');
      expect(r.steps.length).toBeGreaterThan(0);
      for (const step of r.steps) expect(step.trim()).not.toBe('');
    }
  });

  it('never has an empty step, nor an unfilled placeholder, for any code and kind', () => {
    const kinds = ['probe', 'relay-probe', 'heartbeat', 'keepalive', 'eventlog', 'dc', 'tenant', 'other'];
    const codes = [...FAILURE_CODES, 'keepalive_fin', 'heartbeat_missing', 'event_33001', 'event_31034', 'dc_unreachable', 'graph_permission', 'zzz', undefined];
    for (const checkKind of kinds) {
      for (const code of codes) {
        const r = remediationFor({ checkKind, code, phase: code && phaseOf(code), location: 'connect01', target: SB });
        for (const text of [r.summary, ...r.steps]) {
          expect(text.trim(), `${checkKind} ${code}`).not.toBe('');
          expect(text, `${checkKind} ${code}`).not.toMatch(/\{(host|location|code)\}/);
        }
      }
    }
  });

  it('never copies credentials, paths or query strings of a target into the text', () => {
    const target = 'https://user:hunter2@ssprdedicatedsbprodscu.servicebus.windows.net/secret-path?code=KEY123#frag';
    for (const input of [relay('tcp_timeout', 'tcp', target), cloud('http_unexpected', 'http', target), fromRelay('keepalive', 'keepalive_rst', 'keepalive', target)]) {
      const text = [remediationFor(input).summary, ...remediationFor(input).steps].join('\n');
      expect(text).toContain(SB_HOST);
      for (const secret of ['hunter2', 'user:', 'KEY123', 'secret-path', 'frag']) expect(text).not.toContain(secret);
    }
    const plain = remediationFor(fromRelay('dc', 'dc_unreachable', 'tcp', 'admin@dc01.contoso.local?token=abc'));
    expect([plain.summary, ...plain.steps].join('\n')).not.toMatch(/admin@|token=abc/);
  });

  it('fills a hostile stored DC host into no step and no summary, only the placeholder <host>', () => {
    for (const host of HOSTILE_HOSTS) {
      const r = remediationFor(fromRelay('dc', 'dc_unreachable', 'tcp', host));
      const text = [r.summary, ...r.steps].join('\n');
      if (host.trim()) expect(text, host).not.toContain(host.trim());
      expect(r.summary, host).toBe("The Connect server cannot reach domain controller <host> on a port writeback needs: open the ports the alert names (Microsoft's list: 53, 88, 135, 389, 445, 636, 3268)");
      expect(r.steps[0], host).toBe('From the Connect server, for each port the alert names as failed: Test-NetConnection <host> -Port <port> (TcpTestSucceeded must be True).');
    }
  });

  it('fills the placeholder for a URL target whose host name carries shell syntax', () => {
    // The WHATWG URL parser keeps ';', '$(', quotes and backticks in host names.
    const r = remediationFor(relay('tcp_timeout', 'tcp', 'https://sb;Start-Process calc;$(x)/'));
    expect(r.steps[0]).toBe(invokeWebRequest('<host>', '<host>'));
    expect([r.summary, ...r.steps].join('\n')).not.toMatch(/Start-Process|\$\(/);
  });

  it('fills the placeholders <location> and <code> for a stored location or code that is not a plain word', () => {
    const r = remediationFor({ checkKind: 'eventlog', code: 'eventlog; calc', phase: 'eventlog', location: 'connect01 | calc', target: 'x' });
    expect(r.summary).toBe("The event log check of relay <location> failed (<code>): read Entra Connect's events on the Connect server");
  });

  it('still fills IPv4 and IPv6 literals into the commands', () => {
    expect(remediationFor(fromRelay('dc', 'dc_unreachable', 'tcp', '10.0.0.5')).steps[0]).toBe(
      'From the Connect server, for each port the alert names as failed: Test-NetConnection 10.0.0.5 -Port <port> (TcpTestSucceeded must be True).',
    );
    expect(remediationFor(fromRelay('dc', 'dc_unreachable', 'tcp', 'fd00::5')).steps[0]).toBe(
      'From the Connect server, for each port the alert names as failed: Test-NetConnection fd00::5 -Port <port> (TcpTestSucceeded must be True).',
    );
  });
});

