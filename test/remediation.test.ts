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
  return true;
}

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

  it('has a non-empty summary and no empty step in any rule', () => {
    for (const { match, remediation } of REMEDIATIONS) {
      expect(remediation.summary.trim(), JSON.stringify(match)).not.toBe('');
      expect(remediation.steps.length, JSON.stringify(match)).toBeGreaterThan(0);
      for (const step of remediation.steps) expect(step.trim(), JSON.stringify(match)).not.toBe('');
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
    expect(r.steps).toContain(
      "This probe ran from westeurope; if that is 'local', the cloud side is the machine running writeback-monitor serve: check that machine's network instead of Azure's.",
    );
  });

  it('tells a relay TCP timeout to open outbound 443 and names the target host in a step', () => {
    const r = remediationFor(relay('tcp_timeout', 'tcp'));
    expect(r.summary).toBe(
      `Open outbound TCP 443 from the Connect server to *.servicebus.windows.net and *.passwordreset.microsoftonline.com (${SB_HOST} is blocked)`,
    );
    expect(r.steps).toContain(`On the Connect server, run: Test-NetConnection ${SB_HOST} -Port 443 (TcpTestSucceeded must be True).`);
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

  it('tells a listener failure (31034) and a failed endpoint (6800) to re-enable writeback and restart ADSync', () => {
    const a = remediationFor(fromRelay('eventlog', 'event_31034', 'eventlog', 'Application log, PasswordResetService'));
    const b = remediationFor(fromRelay('eventlog', 'event_6800', 'eventlog', 'Application log, PasswordResetService'));
    expect(a.summary).toBe(
      'The writeback listener failed on the Connect server (event 31034): disable and re-enable password writeback in Entra Connect, then restart ADSync',
    );
    expect(b.steps).toEqual(a.steps);
    expect(a.steps).toContain('Restart the ADSync service (Microsoft Azure AD Sync): Restart-Service ADSync.');
    expect(a.steps.some((s) => s.includes('1.1.443'))).toBe(true);
  });

  it('treats Service Bus events (31044, 32002, 32015) as a connectivity problem of the Connect server', () => {
    const r = remediationFor(fromRelay('eventlog', 'event_32002', 'eventlog', 'Application log, PasswordResetService'));
    expect(r.summary).toBe(
      'Writeback hit a Service Bus error on the Connect server (event 32002): check outbound 443 to *.servicebus.windows.net and *.passwordreset.microsoftonline.com',
    );
    expect(remediationFor(fromRelay('eventlog', 'event_31044', 'eventlog', 'x')).steps).toEqual(r.steps);
    expect(remediationFor(fromRelay('eventlog', 'event_32015', 'eventlog', 'x')).steps).toEqual(r.steps);
  });

  it('tells a stopped writeback service (31016) to restart ADSync and re-enable writeback, and the cloud service unreachable (32001) to open the path', () => {
    const stopped = remediationFor(fromRelay('eventlog', 'event_31016', 'eventlog', 'x'));
    expect(stopped.summary).toBe(
      'The password writeback service stopped on the Connect server (event 31016): restart ADSync, then disable and re-enable password writeback if it stays stopped',
    );
    expect(stopped.steps).toEqual(remediationFor(fromRelay('eventlog', 'event_31034', 'eventlog', 'x')).steps);
    const service = remediationFor(fromRelay('eventlog', 'event_32001', 'eventlog', 'x'));
    expect(service.summary).toBe('Writeback could not reach the cloud password reset service (event 32001): check outbound 443 to *.passwordreset.microsoftonline.com');
    expect(service.steps).toEqual(remediationFor(fromRelay('eventlog', 'event_32002', 'eventlog', 'x')).steps);
  });

  it('tells an auth token failure (32009) to check the clock and the connector credentials', () => {
    const r = remediationFor(fromRelay('eventlog', 'event_32009', 'eventlog', 'x'));
    expect(r.summary).toBe(
      "Writeback could not get an authentication token (event 32009): check the clock and re-enter Entra Connect's Entra ID connector credentials",
    );
    expect(r.steps[0]).toContain('w32tm');
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

  it('sends a missing writeback heartbeat (31019) to the ADSync service and the writeback setting', () => {
    const r = remediationFor(fromRelay('eventlog', 'event_31019_missing', 'eventlog', 'x'));
    expect(r.summary).toBe(
      'Writeback has logged no heartbeat (event 31019) for 10 minutes: check that ADSync runs and password writeback is enabled in Entra Connect',
    );
    expect(r.steps[0]).toContain('Get-Service ADSync');
  });

  it('tells an unreadable event log to add the relay account to Event Log Readers', () => {
    const r = remediationFor(fromRelay('eventlog', 'eventlog_unreadable', 'eventlog', 'x'));
    expect(r.summary).toBe('Relay connect01 cannot read the Application log: add its service account to Event Log Readers');
  });

  it('gives an unlisted Connect event the generic event rule with its code', () => {
    const r = remediationFor(fromRelay('eventlog', 'event_31999', 'eventlog', 'x'));
    expect(r.summary).toBe('Entra Connect logged a writeback failure (event_31999): read the event on the Connect server');
  });

  it('tells an unreachable DC to open LDAP and Kerberos and points at the PDC emulator', () => {
    const r = remediationFor(fromRelay('dc', 'dc_unreachable', 'tcp', 'dc01.contoso.local'));
    expect(r.summary).toBe('The Connect server cannot reach domain controller dc01.contoso.local on LDAP (389) or Kerberos (88): open those ports');
    expect(r.steps).toContain('From the Connect server: Test-NetConnection dc01.contoso.local -Port 389 and Test-NetConnection dc01.contoso.local -Port 88.');
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
    expect(graph.summary).toBe("The monitor's managed identity lacks Microsoft Graph permissions: grant Organization.Read.All, AuditLog.Read.All and Directory.Read.All");
    expect(remediationFor(tenant('writeback_disabled')).summary).toBe(
      'Password writeback was turned off for the directory: synced users cannot reset or change their passwords until it is back on',
    );
    expect(graph.steps[0]).toContain('infra');
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
      expect(r.summary, host).toBe('The Connect server cannot reach domain controller <host> on LDAP (389) or Kerberos (88): open those ports');
      expect(r.steps[0], host).toBe('From the Connect server: Test-NetConnection <host> -Port 389 and Test-NetConnection <host> -Port 88.');
    }
  });

  it('fills the placeholder for a URL target whose host name carries shell syntax', () => {
    // The WHATWG URL parser keeps ';', '$(', quotes and backticks in host names.
    const r = remediationFor(relay('tcp_timeout', 'tcp', 'https://sb;Start-Process calc;$(x)/'));
    expect(r.steps[0]).toBe('On the Connect server, run: Test-NetConnection <host> -Port 443 (TcpTestSucceeded must be True).');
    expect([r.summary, ...r.steps].join('\n')).not.toMatch(/Start-Process|\$\(/);
  });

  it('fills the placeholders <location> and <code> for a stored location or code that is not a plain word', () => {
    const r = remediationFor({ checkKind: 'eventlog', code: 'eventlog; calc', phase: 'eventlog', location: 'connect01 | calc', target: 'x' });
    expect(r.summary).toBe("The event log check of relay <location> failed (<code>): read Entra Connect's events on the Connect server");
  });

  it('still fills IPv4 and IPv6 literals into the commands', () => {
    expect(remediationFor(fromRelay('dc', 'dc_unreachable', 'tcp', '10.0.0.5')).steps[0]).toBe(
      'From the Connect server: Test-NetConnection 10.0.0.5 -Port 389 and Test-NetConnection 10.0.0.5 -Port 88.',
    );
    expect(remediationFor(fromRelay('dc', 'dc_unreachable', 'tcp', 'fd00::5')).steps[0]).toBe(
      'From the Connect server: Test-NetConnection fd00::5 -Port 389 and Test-NetConnection fd00::5 -Port 88.',
    );
  });
});

