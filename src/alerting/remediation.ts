/**
 * What to do about a failure: one declarative table, from Microsoft's "Troubleshoot
 * self-service password reset writeback" page (troubleshoot-sspr-writeback.md, the reference
 * wherever our text and it disagree) and the contract in docs/contract.md, keyed on the stable
 * failure codes of docs/probe-codes.md, the heartbeat evaluation
 * (src/monitor/evaluate-heartbeats.ts) and the tenant checks.
 *
 * Rules are tried in order and the first match wins, so the most specific come first:
 *   kind + code (+ message), then code, then kind + code prefix, code prefix, kind + phase,
 *   kind alone, and a final catch-all that matches everything (so there is always an answer).
 * test/remediation.test.ts checks that no rule is hidden behind a more general one above it.
 *
 * The same code means different things by where it was seen: `probe` results come from the
 * monitor in Azure (a failure there is Microsoft's side or our own Function App's networking),
 * or, under `serve` (location `local`), from the machine running the monitor: a rule for cloud
 * probes gives that case its own wording (`local`), so it never says "in Azure" there.
 * `relay-probe` results come from the customer's Connect server (a failure there is the
 * customer's firewall, proxy or DNS).
 *
 * Texts may name `{host}` (the target's host name, or the target itself when it is not a URL),
 * `{hostport}` (the host as a URL authority: IPv6 in brackets, and the target's port when it is
 * not the scheme's default), `{location}` (an Azure region, `local`, `tenant`, or a relay id)
 * and `{code}`. Only the host and port of a URL are ever filled in, never its user name,
 * password, path or query, so no key can leak into an alert through a target.
 *
 * The steps are commands an administrator pastes on the Connect server, and targets and DC
 * hosts come from relays (or from the store, written by older relays that sent free text). So a
 * value is filled in only when it is a valid host name (src/config/hostname.ts), port, relay id
 * or code; anything else becomes a fixed placeholder (`<host>`), never the text itself. The
 * failure message is only ever matched against (`messageIncludes`), never copied into a text.
 */
import { isHostName } from '../config/hostname.js';
import type { Remediation } from './event.js';

export interface RemediationMatch {
  /** The check kind (`probe`, `relay-probe`, `heartbeat`, `keepalive`, `eventlog`, `dc`, `tenant`). */
  readonly kind?: string;
  /** The exact failure code. */
  readonly code?: string;
  /** The start of the failure code, e.g. `event_33` for every 33xxx event. */
  readonly codePrefix?: string;
  /** The phase the failure happened in. */
  readonly phase?: string;
  /**
   * A phrase the failure message contains, compared case-insensitively anywhere in it (an
   * event log check's message carries the event's text, in whatever wrapping the evaluation
   * gives it).
   */
  readonly messageIncludes?: string;
}

export interface RemediationRule {
  /** Every field given must match; an empty match matches everything. */
  readonly match: RemediationMatch;
  readonly remediation: Remediation;
  /**
   * The wording when the check ran under `serve` (location `local`): a cloud probe there ran
   * from the monitor's machine, not from Azure. Without it, `remediation` is used everywhere.
   */
  readonly local?: Remediation;
}

export interface RemediationInput {
  /** A CheckKind, or a kind not in that type yet (`tenant`). */
  readonly checkKind: string;
  readonly code?: string;
  readonly phase?: string;
  readonly location: string;
  readonly target: string;
  /** The failure message: matched against, never copied into the remediation. */
  readonly message?: string;
}

/** Where the cloud probes run under `serve`. */
export const LOCAL_LOCATION = 'local';

const WRITEBACK_HOSTS = '*.servicebus.windows.net and *.passwordreset.microsoftonline.com';
const AZURE_STATUS =
  'Check Azure status (https://azure.status.microsoft/status) and Microsoft 365 service health (Microsoft 365 admin center, Health, Service health).';
const COMPARE_WITH_RELAYS =
  'Compare with the relay checks for {host} (GET /api/status): if the relays get through, the fault is in our own Function App networking; if every location fails, it is on Microsoft\'s side.';
const FUNCTION_APP_EGRESS = `If only the cloud fails, check the Function App's outbound path (VNet integration, NSG outbound rules, NAT gateway, Azure Firewall) allows TCP 443 to ${WRITEBACK_HOSTS}.`;
const LOCAL_COMPARE =
  "Compare with the relay checks for {host} (GET /api/status): if the relays get through, the fault is in the network of the monitor's machine (the one running writeback-monitor serve); if every location fails, it is on Microsoft's side.";
const LOCAL_EGRESS = `Check that machine's outbound path (host firewall, VPN, corporate firewall, and the proxy in WBMON_PROXY_URL / HTTPS_PROXY if it has one) allows TCP 443 to ${WRITEBACK_HOSTS}.`;
const RELAY_PROXY_NAME =
  "If relay {location} uses a proxy, the name that failed may be the proxy's own: check WBMON_PROXY_URL / HTTPS_PROXY there and that the proxy's name resolves.";
const CLOCK = 'Check the Connect server\'s clock: w32tm /query /status; a clock that is minutes off breaks certificates and tokens.';
// how-to-connect-install-prerequisites.md: "It isn't supported to break and analyze traffic
// between Microsoft Entra Connect and Microsoft Entra ID. Doing so could disrupt the service."
const EXCLUDE_FROM_INSPECTION = `Exclude ${WRITEBACK_HOSTS} from TLS inspection (SSL decryption) on the firewall or proxy: writeback needs an unbroken TLS session to Microsoft.`;
const PROXY_IDLE = 'Set the proxy\'s idle timeout for these tunnels to at least 6 minutes, so writeback\'s mostly idle connection survives.';
const PROXY_MATCHES_ADSYNC =
  'The relay must use the same proxy as the ADSync service: compare WBMON_PROXY_URL / HTTPS_PROXY on relay {location} with Entra Connect\'s proxy (the defaultProxy element of the .NET machine.config on the Connect server).';
const OPEN_443 = `Allow outbound TCP 443 from the Connect server to ${WRITEBACK_HOSTS} on every firewall on the way (host firewall, perimeter, cloud egress); allow by name, as the relay addresses change.`;
// troubleshoot-sspr-writeback.md ("Confirm network connectivity") gives both
// `Test-NetConnection -ComputerName <namespace>.servicebus.windows.net -Port 443` and
// `Invoke-WebRequest -Uri https://<namespace>.servicebus.windows.net -Verbose`; only the second
// goes through a proxy, as writeback does, so that is the one we give.
const INVOKE_WEB_REQUEST =
  'On the Connect server, run: Invoke-WebRequest -Uri https://{hostport} -Verbose (it goes through the system proxy, as writeback does through its own; add -Proxy http://<proxy>:<port> to use Connect\'s machine.config proxy). Any HTTP answer, even an error status, proves the path; Test-NetConnection {host} -Port 443 tests a direct connection only and ignores any proxy.';
// Under Azure Functions the host checks the function key before the monitor sees the request, and
// answers 401 itself; the monitor's own 401 (id, signature, clock) comes only after that.
const HEARTBEAT_401 =
  'A 401 first means a missing or wrong function key: WBMON_MONITOR_KEY on the relay must be a key of the monitor\'s heartbeat function (the Functions host refuses the request before the monitor sees it). With the right key, a 401 means the relay id, its secret (WBMON_RELAY_SECRET against WBMON_RELAYS on the monitor) or its clock is wrong: the monitor refuses heartbeats more than 300 s from its own clock, so check w32tm /query /status.';
const RELAY_RETEST = 'Confirm from the Connect server with writeback-monitor relay --once: it prints each target\'s result.';
const IDLE_3_MIN = `Raise the idle timeout for TCP 443 to ${WRITEBACK_HOSTS} to at least 3 minutes on every firewall and NAT between the Connect server and the internet.`;
// how-to-connect-install-prerequisites.md: "It's common for proxy servers to have connection
// idle time-out configuration. Ensure the configuration is set to at least 6 minutes or more."
const IDLE_6_MIN_PROXY = 'On proxies, raise the idle timeout for those tunnels to at least 6 minutes (Microsoft\'s guidance for Entra Connect behind a proxy).';
const AZURE_LB_4_MIN =
  'Azure\'s own load balancers drop idle TCP after 4 minutes and writeback is built for that; a device on your side that drops it sooner breaks writeback silently.';
const KEEPALIVE_RETEST =
  'Rerun the test by hand on the Connect server to see which idle length survives: writeback-monitor keepalive --target https://{hostport}/ --idle 120,240,360';

// ---- Microsoft's recovery order ---------------------------------------------------------------
// troubleshoot-sspr-writeback.md, "Troubleshoot connectivity": "To recover your service, we
// recommend that you follow these steps in order: Confirm network connectivity; Check if TLS 1.2
// is enabled; Make sure Microsoft .NET Framework 4.8 or higher is enabled (Sync Server); Restart
// the Microsoft Entra Connect Sync service; Disable and re-enable the password writeback
// feature; Install the latest Microsoft Entra Connect release".
const CONNECTIVITY = `Network connectivity: outbound HTTPS (TCP 443) from the Connect server to ${WRITEBACK_HOSTS}, through its proxy, without TLS inspection, idle connections kept at least 3 minutes (6 on proxies); this relay's relay-probe and keepalive checks test that path.`;
// "An additional troubleshooting step is to check that TLS 1.2 is enabled correctly on the Sync
// Server. Run [PowerShell Script to check TLS 1.2 on Entra Connect Server] ... in Admin Mode."
const TLS12 =
  'TLS 1.2 on the Connect server: run Microsoft\'s "PowerShell script to check TLS 1.2" (Entra Connect TLS 1.2 enforcement page) as administrator; if it is not enabled, run the script that enables it, reboot and check again.';
// "Make sure Microsoft .NET Framework 4.8 or higher is enabled on the Sync Server."
const DOTNET48 =
  ".NET Framework 4.8 or later on the Connect server: (Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v4\\Full').Release must be 528040 or higher; install .NET Framework 4.8 if it is lower.";
// "Look for the *Azure AD Sync* entry. Right-click the service entry, select **Restart**".
const RESTART_ADSYNC = 'Restart the sync service (ADSync, shown as Microsoft Azure AD Sync in services.msc): Restart-Service ADSync.';
// "In **Connect to Microsoft Entra ID**, enter your ... credentials. In **Connect to AD DS**,
// enter your on-premises Active Directory Domain Services admin credentials. ... In
// **Optional features**, clear the **Password writeback** check box. ... In **Finished**, clear
// the **Synchronize now** option". 32009/31014: the admin must not be federated ("ensure that
// the administrator is a managed (cloud-only or password-synchronized) account"). The Hybrid
// Identity Administrator, the wizard's other wording of "Synchronize now" and the staging server
// come from issue 12 (the stored copy of the page names a Global Administrator only).
const REENABLE_WRITEBACK =
  'Disable and re-enable password writeback, on the active Connect server (not a staging server): Entra Connect wizard, Configure, Customize synchronization options; sign in with a managed (cloud-only or password-synchronized, not federated) Hybrid Identity Administrator or Global Administrator, then the AD DS admin credentials; in Optional features clear Password writeback, Configure, and on the last page clear "Synchronize now" / "Start the synchronization process when configuration completes"; then run the wizard again the same way and select Password writeback.';
// "Download the latest version of Microsoft Entra Connect ... perform an in-place upgrade";
// "If you've customized the out-of-the-box sync rules, back them up before you proceed".
// reference-connect-version-history.md: "Synchronization will stop working on October 1, 2023,
// for any customers still running Microsoft Entra Connect Sync V1"; prerequisites: "All
// synchronization services in Microsoft Entra Connect Sync will stop working on September 30,
// 2026 if you're not on at least version 2.5.79.0".
const LATEST_CONNECT =
  'Install the latest Entra Connect Sync release (an in-place upgrade, from the Microsoft Entra admin center, Entra Connect, Get started; back up customised sync rules first): only Connect Sync 2.x is supported, 1.x is retired, and builds before 2.5.79.0 stop syncing on 30 September 2026.';
const IN_ORDER =
  "Work through Microsoft's recovery steps below in order and stop at the one that fixes it: within 5 minutes a new event 31019 (writeback heartbeat, source PasswordResetService) appears in the Application log and the eventlog check clears.";
/** Microsoft's order, whole. */
const MICROSOFT_ORDER: readonly string[] = [IN_ORDER, CONNECTIVITY, TLS12, DOTNET48, RESTART_ADSYNC, REENABLE_WRITEBACK, LATEST_CONNECT];

// troubleshoot-sspr-writeback.md, 32002: "Your on-premises environment isn't able to connect to
// the Azure Service Bus endpoint in the cloud ... After you update these rules, restart the
// Microsoft Entra Connect server"; the namespace comes from the events ("identify the name of
// the service bus listener").
const SERVICE_BUS_CONNECTIVITY: readonly string[] = [
  'Read the event in the Application log on the Connect server (source PasswordResetService, or the last 31019 or 31034): it names the tenant\'s relay namespace (ssprdedicatedsbprod….servicebus.windows.net).',
  'From the Connect server, test that namespace through the proxy as Microsoft does: Invoke-WebRequest -Uri https://<namespace>.servicebus.windows.net -Verbose (Test-NetConnection <namespace> -Port 443 ignores the proxy, so it can fail where writeback would get through, and pass where the proxy blocks it).',
  OPEN_443,
  EXCLUDE_FROM_INSPECTION,
  'Raise idle timeouts for those connections to at least 3 minutes on firewalls and NAT, 6 on proxies.',
  'This relay\'s relay-probe and keepalive checks test the same path and show which phase fails.',
];
const THEN_IN_ORDER = "Once the path works, go on in Microsoft's order if the events continue:";
/** The path to the password reset web service (32015's heartbeat, 32001), not Service Bus. */
const PASSWORD_RESET_SERVICE_PATH: readonly string[] = [
  'From the Connect server, through the proxy: Invoke-WebRequest -Uri https://passwordreset.microsoftonline.com -Verbose (any HTTP answer proves the path).',
  'Allow outbound TCP 443 from the Connect server to *.passwordreset.microsoftonline.com on every firewall and on the proxy (by name, without TLS inspection).',
  "This relay's relay-probe check of passwordreset.microsoftonline.com tests the same path and shows which phase fails.",
  THEN_IN_ORDER,
  TLS12,
  DOTNET48,
  RESTART_ADSYNC,
];
const SERVICE_BUS_PATH: readonly string[] = [...SERVICE_BUS_CONNECTIVITY, THEN_IN_ORDER, TLS12, DOTNET48, RESTART_ADSYNC, REENABLE_WRITEBACK, LATEST_CONNECT];

// reference-connect-ports.md, Table 1 (Connect server to on-premises AD): DNS 53, Kerberos 88,
// MS-RPC 135, LDAP 389, SMB 445 ("Used by Seamless SSO to create a computer account in the AD
// forest and during password writeback"), LDAP/SSL 636, Global Catalog 3268, RPC 49152-65535.
const DC_PORTS =
  'Open Microsoft\'s ports for Entra Connect and writeback from the Connect server to every domain controller, on host and network firewalls: DNS 53 (TCP/UDP), Kerberos 88 (TCP/UDP), RPC endpoint mapper 135 (TCP), LDAP 389 (TCP/UDP), SMB 445 (TCP, used for password writeback), LDAPS 636, Global Catalog 3268 (TCP) and dynamic RPC 49152-65535 (TCP).';
// The PDC emulator is contacted for password operations even when preferred domain controllers
// are set (issue 12), so pointing Connect at another DC does not restore writeback.
const PDC =
  'Writeback contacts the PDC emulator even when preferred domain controllers are set, so another DC does not restore it: find the PDC emulator with Get-ADDomain | Select-Object PDCEmulator (or netdom query fsmo) and make sure the Connect server reaches it on those ports.';
const AD_PERMISSIONS =
  'Give the AD DS connector account (Synchronization Service Manager, Connectors, the Active Directory connector, Properties) these rights on user objects below the domain root: Reset password, Change password, Write lockoutTime and Write pwdLastSet; the ADSyncConfig module does it: Set-ADSyncPasswordWritebackPermissions.';
// troubleshoot-sspr-writeback.md: "it can take up to one hour for the permissions to trickle
// down via the `sdprop` background task on the domain controller (DC)".
const SDPROP =
  'New permissions reach the user objects through the sdprop background task on the domain controller, which can take up to an hour: until they show on the user, writeback keeps failing with access denied.';
// troubleshoot-sspr-writeback.md, SSPR_0029: "see if the policy "Network access: Restrict
// clients allowed to make remote calls to SAM" ... is enabled. Edit the policy to include the
// MSOL_XXXXXXX management account as an allowed user."
const SAM_POLICY =
  'Run RSOP (rsop.msc or gpresult /h) on the Connect server and the domain controllers: if "Network access: Restrict clients allowed to make remote calls to SAM" (Security Options) is enabled, add the AD DS connector account (MSOL_…) to it as allowed.';
// concept-sspr-writeback.md: "The on-premises service account that handles password write-back
// requests cannot change the passwords for users that belong to protected groups."
const PROTECTED_GROUPS =
  'Users in protected groups (adminCount=1: Domain Admins, Enterprise Admins and the like) cannot be reset by writeback, by design: they change their password on-premises. Leave AdminSDHolder\'s permissions as they are.';
export const REMEDIATIONS: readonly RemediationRule[] = [
  // ---- DNS ---------------------------------------------------------------------------------
  {
    match: { kind: 'relay-probe', code: 'dns_nxdomain' },
    remediation: {
      summary: "Fix DNS forwarding on the Connect server's network: {host} does not resolve there",
      steps: [
        'On the Connect server, run: Resolve-DnsName {host} to see which DNS server answers and what it says.',
        "Make the internal DNS servers forward microsoftonline.com and servicebus.windows.net to public DNS; a split-horizon or internal zone for either name must not hide Microsoft's records.",
        RELAY_PROXY_NAME,
        'If {host} was typed into WBMON_RELAY_TARGETS, check it for typos: the writeback hosts end in .servicebus.windows.net or .passwordreset.microsoftonline.com.',
      ],
    },
  },
  {
    match: { kind: 'relay-probe', codePrefix: 'dns_' },
    remediation: {
      summary: "Fix DNS on the Connect server's network: its resolver gives no usable answer for {host}",
      steps: [
        'On the Connect server, run: Resolve-DnsName {host}, and ipconfig /all to see which DNS servers it uses.',
        'Check those DNS servers are up and reachable from the Connect server (UDP and TCP 53).',
        'Make them forward microsoftonline.com and servicebus.windows.net to public DNS (a SERVFAIL or refusal usually means a broken forwarder).',
        RELAY_PROXY_NAME,
      ],
    },
  },
  {
    match: { kind: 'probe', codePrefix: 'dns_' },
    remediation: {
      summary: "{host} does not resolve from the monitor in Azure: Microsoft's DNS or our own Function App networking, not the customer's network",
      steps: [
        COMPARE_WITH_RELAYS,
        'Check the target in WBMON_TARGETS for typos; a tenant relay namespace taken from old events may have been retired.',
        'If the Function App uses VNet integration with custom DNS servers or a private DNS zone for servicebus.windows.net, check they resolve public names: nslookup {host} from the Function App\'s console.',
        AZURE_STATUS,
      ],
    },
    local: {
      summary: "{host} does not resolve from the monitor's machine: that machine's DNS, or Microsoft's, not the customer's network",
      steps: [
        LOCAL_COMPARE,
        'Check the target in WBMON_TARGETS for typos; a tenant relay namespace taken from old events may have been retired.',
        "On the monitor's machine, run nslookup {host} (or Resolve-DnsName {host} on Windows) and check its DNS servers, VPN split DNS and hosts file.",
        AZURE_STATUS,
      ],
    },
  },

  // ---- proxy ---------------------------------------------------------------------------------
  {
    match: { kind: 'relay-probe', code: 'proxy_unreachable' },
    remediation: {
      summary: 'The relay cannot reach its proxy: check the proxy address and port, and that the proxy is up',
      steps: [
        PROXY_MATCHES_ADSYNC,
        'From the Connect server, test the proxy: Test-NetConnection <proxy host> -Port <proxy port>.',
        'If the proxy is down or overloaded, fix it there: writeback through it is down too.',
        'Allow the Connect server to reach the proxy through any firewall between them.',
      ],
    },
  },
  {
    match: { kind: 'relay-probe', code: 'proxy_refused' },
    remediation: {
      summary: `The proxy refuses to tunnel to {host}: add ${WRITEBACK_HOSTS} to its allow-list`,
      steps: [
        'Read the status in the alert message: 407 means the proxy wants authentication; 403 or another status means its allow-list or policy blocks the destination.',
        `Allow CONNECT to port 443 of ${WRITEBACK_HOSTS} on the proxy, by wildcard name.`,
        'For 407: exempt those two wildcards from proxy authentication, or set up proxy authentication for the ADSync service account (machine.config defaultProxy with useDefaultCredentials, and a proxy that accepts that account); the relay can carry credentials in WBMON_PROXY_URL.',
        PROXY_IDLE,
        PROXY_MATCHES_ADSYNC,
      ],
    },
  },
  {
    match: { kind: 'relay-probe', code: 'proxy_timeout' },
    remediation: {
      summary: 'The proxy accepted the connection but never answered CONNECT for {host}: check the proxy\'s load and its rules for the writeback hosts',
      steps: [
        'Check the proxy\'s health and load (CPU, connection limits) and its log for CONNECT {host}:443 from the Connect server.',
        'Check the proxy itself can reach {host} on 443 (its own DNS, upstream firewall and parent proxy).',
        `Make sure its allow-list covers ${WRITEBACK_HOSTS}; some proxies hold a blocked CONNECT instead of refusing it.`,
        PROXY_IDLE,
      ],
    },
  },
  {
    match: { kind: 'relay-probe', codePrefix: 'proxy_' },
    remediation: {
      summary: `The Connect server's proxy fails for {host} ({code}): check the proxy and its allow-list for ${WRITEBACK_HOSTS}`,
      steps: [
        PROXY_MATCHES_ADSYNC,
        `Allow CONNECT to port 443 of ${WRITEBACK_HOSTS} on the proxy, by wildcard name.`,
        'A 407 from the proxy means it wants authentication: exempt the two wildcards, or set up proxy authentication for the ADSync service account.',
        PROXY_IDLE,
      ],
    },
  },
  {
    match: { kind: 'probe', codePrefix: 'proxy_' },
    remediation: {
      summary: "The monitor's own proxy failed ({code}): fix the proxy the cloud probes use, not the customer's",
      steps: [
        'The cloud probes go through the proxy in WBMON_PROXY_URL / HTTPS_PROXY of the monitor at {location}: check its address, port and credentials, and that it is up.',
        `Add ${WRITEBACK_HOSTS} to that proxy's allow-list, or list them in NO_PROXY to probe directly.`,
        'If the monitor does not need a proxy, remove WBMON_PROXY_URL and HTTPS_PROXY from its settings.',
      ],
    },
  },

  // ---- TCP -------------------------------------------------------------------------------------
  {
    match: { kind: 'relay-probe', codePrefix: 'tcp_' },
    remediation: {
      summary: `Open outbound TCP 443 from the Connect server to ${WRITEBACK_HOSTS} ({host} is blocked)`,
      steps: [
        INVOKE_WEB_REQUEST,
        OPEN_443,
        'tcp_timeout means a device drops the packets silently; tcp_refused or tcp_unreachable that one rejects them: the firewall logs for {host} show which device.',
        'If the Connect server must go through a proxy, give the relay the same one (WBMON_PROXY_URL) so both take the same path.',
        RELAY_RETEST,
      ],
    },
  },
  {
    match: { kind: 'probe', codePrefix: 'tcp_' },
    remediation: {
      summary: "The monitor in Azure cannot connect to {host} on 443: Microsoft's side or our own Function App networking",
      steps: [COMPARE_WITH_RELAYS, FUNCTION_APP_EGRESS, AZURE_STATUS],
    },
    local: {
      summary: "The monitor's machine cannot connect to {host} on 443: that machine's network or Microsoft's side",
      steps: [LOCAL_COMPARE, LOCAL_EGRESS, AZURE_STATUS],
    },
  },

  // ---- TLS -------------------------------------------------------------------------------------
  {
    match: { kind: 'relay-probe', code: 'tls_untrusted' },
    remediation: {
      summary: 'Exclude the writeback hosts from TLS inspection: {host} is served with a certificate the Connect server\'s path does not trust',
      steps: [
        'Look at the issuer in the alert message: if it is your firewall\'s or proxy\'s own CA, the connection is being intercepted.',
        EXCLUDE_FROM_INSPECTION,
        'If the issuer is a public CA (DigiCert, Microsoft), the trusted roots on the Connect server are out of date: install the current ones (DigiCert Global Root G2, Microsoft RSA Root Certificate Authority 2017) through Windows Update or Group Policy.',
        CLOCK,
      ],
    },
  },
  {
    match: { kind: 'relay-probe', code: 'tls_hostname' },
    remediation: {
      summary: 'The certificate for {host} does not match its name on the Connect server\'s path: exclude the writeback hosts from TLS inspection',
      steps: [
        'Look at the subject and issuer in the alert message: a certificate from your own firewall or proxy means interception.',
        EXCLUDE_FROM_INSPECTION,
        'If it is not interception, {host} resolves to the wrong address: check Resolve-DnsName {host} on the Connect server, the hosts file (C:\\Windows\\System32\\drivers\\etc\\hosts) and internal DNS overrides.',
      ],
    },
  },
  {
    match: { kind: 'relay-probe', code: 'tls_expired' },
    remediation: {
      summary: 'The certificate for {host} looks out of date from the Connect server: check the clock, then TLS inspection',
      steps: [
        CLOCK,
        'If the clock is right, a TLS inspection device is serving a stale certificate: compare the issuer in the alert with the cloud check of {host} (Microsoft uses public CAs such as DigiCert and Microsoft).',
        EXCLUDE_FROM_INSPECTION,
      ],
    },
  },
  {
    match: { kind: 'relay-probe', codePrefix: 'tls_' },
    remediation: {
      summary: 'A device between the Connect server and {host} breaks the TLS handshake: exclude the writeback hosts from TLS inspection',
      steps: [
        EXCLUDE_FROM_INSPECTION,
        'A handshake that stalls (tls_timeout) points at an IPS or inspection device that accepts the connection and then waits: check its logs for {host}.',
        'Make sure nothing on the path forces an old protocol or cipher: Microsoft\'s endpoints need TLS 1.2 or later.',
        CLOCK,
      ],
    },
  },
  {
    match: { kind: 'probe', codePrefix: 'tls_' },
    remediation: {
      summary: "TLS to {host} fails from the monitor in Azure ({code}): Microsoft's certificate or our own Function App networking",
      steps: [
        COMPARE_WITH_RELAYS,
        `If only the cloud fails, check whether the Function App's outbound traffic passes an appliance with TLS inspection (such as Azure Firewall Premium) and exclude ${WRITEBACK_HOSTS} from it.`,
        'If every location sees the same certificate problem, Microsoft is serving a bad certificate: open a Microsoft support case.',
        AZURE_STATUS,
        'A certificate that does not cover the name (tls_hostname) often means a wrong or retired target in WBMON_TARGETS.',
      ],
    },
    local: {
      summary: "TLS to {host} fails from the monitor's machine ({code}): Microsoft's certificate or that machine's network",
      steps: [
        LOCAL_COMPARE,
        `If only that machine fails, check whether its traffic passes a proxy or firewall with TLS inspection, or an antivirus that intercepts HTTPS, and exclude ${WRITEBACK_HOSTS} from it; its clock must be right too.`,
        'If every location sees the same certificate problem, Microsoft is serving a bad certificate: open a Microsoft support case.',
        AZURE_STATUS,
        'A certificate that does not cover the name (tls_hostname) often means a wrong or retired target in WBMON_TARGETS.',
      ],
    },
  },
  {
    match: { kind: 'relay-probe', phase: 'tls' },
    remediation: {
      summary: 'TLS to {host} fails from the Connect server\'s network ({code}): exclude the writeback hosts from TLS inspection',
      steps: [EXCLUDE_FROM_INSPECTION, CLOCK],
    },
  },

  // ---- HTTP ------------------------------------------------------------------------------------
  {
    match: { code: 'http_status' },
    remediation: {
      summary: "Microsoft's service at {host} is failing (HTTP 5xx): nothing to fix locally, follow Microsoft's service health",
      steps: [
        AZURE_STATUS,
        'Compare the checks of {host} in GET /api/status: if the cloud and the relays all see 5xx, it is Microsoft\'s; tell the help desk that self-service password reset may fail.',
        'If only a relay sees 5xx, its proxy may be answering with its own error page (502, 503, 504): check the proxy\'s log for {host}.',
        'If it lasts more than an hour without a service health notice, open a Microsoft support case with the host and the times.',
      ],
    },
  },
  {
    match: { kind: 'relay-probe', code: 'http_unexpected' },
    remediation: {
      summary: 'Something other than {host} answers on the Connect server\'s path: a proxy or captive portal, or Service Bus refusing the request',
      steps: [
        'Read the status in the alert message; from the Connect server run: Invoke-WebRequest -Uri https://{hostport}/ -UseBasicParsing -Verbose (through the same proxy) and look at what answers.',
        'A proxy block page, login page or captive portal: allow ' + WRITEBACK_HOSTS + ' on the proxy, without authentication or content filtering.',
        'A 400 Bad Request (with a TrackingId) from a *.servicebus.windows.net host means IP filtering or a network rule refused the request: check the public address the Connect server leaves through and any device rewriting the request.',
        EXCLUDE_FROM_INSPECTION,
      ],
    },
  },
  {
    match: { kind: 'probe', code: 'http_unexpected' },
    remediation: {
      summary: '{host} gives the monitor in Azure something other than its normal answer: check the target and our own Function App networking',
      steps: [
        'Read the status in the alert message: a 400 Bad Request (with a TrackingId) from a *.servicebus.windows.net host means IP filtering or a network rule refused the monitor\'s outbound address.',
        COMPARE_WITH_RELAYS,
        'Check the target in WBMON_TARGETS: a retired relay namespace or a wrong path answers differently.',
        'If every location gets the same new answer, Microsoft changed it: compare with docs/probe-codes.md and src/probes/rules.ts.',
      ],
    },
    local: {
      summary: "{host} gives the monitor's machine something other than its normal answer: check the target and that machine's proxy",
      steps: [
        "Read the status in the alert message: a 400 Bad Request (with a TrackingId) from a *.servicebus.windows.net host means IP filtering or a network rule refused the machine's outbound address; a proxy block or login page means its proxy answered instead.",
        LOCAL_COMPARE,
        'Check the target in WBMON_TARGETS: a retired relay namespace or a wrong path answers differently.',
        'If every location gets the same new answer, Microsoft changed it: compare with docs/probe-codes.md and src/probes/rules.ts.',
      ],
    },
  },
  {
    match: { kind: 'relay-probe', code: 'http_timeout' },
    remediation: {
      summary: 'The request to {host} left the Connect server\'s network but no answer came back: a proxy or inspection device is holding it',
      steps: [
        'Check the proxy\'s and firewall\'s logs for {host}: content scanning, IPS or a slow parent proxy may hold the request.',
        EXCLUDE_FROM_INSPECTION,
        'Compare with the cloud check of {host}: if the cloud gets answers, the delay is on the customer\'s path.',
      ],
    },
  },
  {
    match: { kind: 'relay-probe', code: 'http_error' },
    remediation: {
      summary: 'The connection to {host} broke during the request from the Connect server\'s network: a firewall, IPS or proxy is cutting it',
      steps: [
        'Check the firewall\'s, IPS\'s and proxy\'s logs for {host} at the time of the alert: a reset after the TLS handshake is usually a policy or inspection verdict.',
        EXCLUDE_FROM_INSPECTION,
        `Allow ${WRITEBACK_HOSTS} without content filtering on the proxy.`,
      ],
    },
  },
  {
    match: { kind: 'probe', codePrefix: 'http_' },
    remediation: {
      summary: "The exchange with {host} fails from the monitor in Azure ({code}): Microsoft's side or our own Function App networking",
      steps: [COMPARE_WITH_RELAYS, FUNCTION_APP_EGRESS, AZURE_STATUS],
    },
    local: {
      summary: "The exchange with {host} fails from the monitor's machine ({code}): that machine's network or Microsoft's side",
      steps: [LOCAL_COMPARE, LOCAL_EGRESS, AZURE_STATUS],
    },
  },

  // ---- idle keepalive ----------------------------------------------------------------------
  {
    match: { code: 'keepalive_fin' },
    remediation: {
      summary: 'A proxy or firewall closes idle connections to {host} too soon: raise the idle timeout to at least 3 minutes, 6 on proxies',
      steps: [
        IDLE_3_MIN,
        IDLE_6_MIN_PROXY,
        AZURE_LB_4_MIN,
        "If the alert message says the server's own announced limit is shorter, the server closed it, not your network: point WBMON_KEEPALIVE_TARGET at a *.servicebus.windows.net host.",
        KEEPALIVE_RETEST,
      ],
    },
  },
  {
    match: { code: 'keepalive_rst' },
    remediation: {
      summary: 'A firewall forgets idle connections to {host} and then resets them: raise its idle timeout to at least 3 minutes, 6 on proxies',
      steps: [IDLE_3_MIN, IDLE_6_MIN_PROXY, AZURE_LB_4_MIN, KEEPALIVE_RETEST],
    },
  },
  {
    match: { code: 'keepalive_timeout' },
    remediation: {
      summary: 'A firewall or NAT silently drops idle connections to {host} (a black hole): raise its idle timeout to at least 3 minutes, 6 on proxies',
      steps: [
        IDLE_3_MIN,
        'A silent drop leaves writeback waiting on a dead connection: look for TCP idle or session timeouts on firewalls, NAT gateways and load balancers (including cloud egress) on the path.',
        IDLE_6_MIN_PROXY,
        AZURE_LB_4_MIN,
        KEEPALIVE_RETEST,
      ],
    },
  },
  {
    match: { code: 'keepalive_failed' },
    remediation: {
      summary: 'The keepalive test could not open its connection to {host}: fix basic connectivity from the Connect server first',
      steps: [
        'The alert message names the underlying failure code (dns_, tcp_, proxy_, tls_ …): the relay-probe check of {host} for relay {location} has its fix.',
        'Check that WBMON_KEEPALIVE_TARGET on relay {location} (by default the first Service Bus target) is a reachable writeback host.',
        KEEPALIVE_RETEST,
      ],
    },
  },

  // ---- the relay's own heartbeat -------------------------------------------------------------
  {
    match: { code: 'heartbeat_missing' },
    remediation: {
      summary: 'Relay {location} has stopped sending heartbeats: check that the relay runs and can reach the monitor',
      steps: [
        'On the relay host, check that the relay runs: the scheduled task or service that starts writeback-monitor relay, its last run result, and that the host itself is up.',
        "Read the relay's latest log line: 'heartbeat N: not delivered (...)' says why (network error, HTTP 5xx, 401); 'refused for good' means the monitor rejects its heartbeats (400, 413, 415) and the relay needs updating.",
        'Run writeback-monitor relay --once in a console on the relay host: it prints the heartbeat\'s fate and exits 0 only when the monitor accepted it.',
        'Check the relay host can reach WBMON_MONITOR_URL on 443, through its proxy if it uses one.',
        HEARTBEAT_401,
        'Until heartbeats arrive, every other check of relay {location} is stale; buffered heartbeats are sent in order once it gets through.',
      ],
    },
  },

  // ---- Entra Connect's event log -------------------------------------------------------------
  {
    match: { code: 'eventlog_unreadable' },
    remediation: {
      summary: 'Relay {location} cannot read the Application log: add its service account to Event Log Readers',
      steps: [
        "On the Connect server, add the account the relay runs as to the local Event Log Readers group: Add-LocalGroupMember -Group 'Event Log Readers' -Member <account>.",
        'Restart the relay (its scheduled task or service) so it runs with the new group membership.',
        'Check by hand as that account: wevtutil qe Application /c:1 /rd:true /f:text',
        'The alert message quotes the error: access denied is the group; anything else (wevtutil not found, a damaged log) needs a look at the host.',
      ],
    },
  },
  {
    match: { code: 'event_31019_missing' },
    remediation: {
      summary: 'Writeback has logged no heartbeat (event 31019) for 10 minutes: check that ADSync runs and password writeback is enabled, then follow Microsoft\'s recovery order',
      steps: [
        'On the Connect server, check the ADSync service (Microsoft Azure AD Sync) runs: Get-Service ADSync; start it if not.',
        'Check the server is not in staging mode: Get-ADSyncScheduler must show StagingModeEnabled False; a staging server does not handle writeback, so the relay belongs on the active one.',
        'Check password writeback is enabled: Entra Connect wizard, Configure, Customize synchronization options, Optional features; and Entra admin center, Password reset, On-premises integration.',
        ...MICROSOFT_ORDER,
      ],
    },
  },
  {
    // troubleshoot-sspr-writeback.md, 31034 ServiceBusListenerError: "If the error message
    // includes "The remote certificate is invalid", check to make sure that your Microsoft Entra
    // Connect server has all the required Root CAs as described in [Azure TLS certificate
    // changes]".
    match: { code: 'event_31034', messageIncludes: 'remote certificate is invalid' },
    remediation: {
      summary: 'The Connect server does not trust the certificate of writeback\'s Service Bus listener (event 31034, "The remote certificate is invalid"): install the current Azure root CAs',
      steps: [
        'Microsoft\'s fix for this 31034 is the root CAs of "Azure TLS certificate changes": the Connect server must trust the roots Azure now chains to, among them DigiCert Global Root G2, DigiCert Global Root CA and Microsoft RSA Root Certificate Authority 2017 (and Microsoft ECC Root Certificate Authority 2017).',
        "Check the machine's store: Get-ChildItem Cert:\\LocalMachine\\Root | Where-Object Subject -Match 'DigiCert Global Root G2|Microsoft RSA Root Certificate Authority 2017' | Select-Object Subject, NotAfter",
        'Install the missing ones through Windows Update\'s automatic root update (it needs outbound HTTP 80 to ctldl.windowsupdate.com) or your Group Policy or certificate deployment; Connect also needs HTTP 80 for certificate revocation lists.',
        `If the certificate Connect sees is issued by your firewall's or proxy's own CA, the connection is being intercepted: exclude ${WRITEBACK_HOSTS} from TLS inspection (SSL decryption), as Microsoft does not support breaking Connect's traffic.`,
        CLOCK,
        RESTART_ADSYNC + ' Then watch for a new event 31019 within 5 minutes.',
      ],
    },
  },
  {
    match: { code: 'event_31034' },
    remediation: {
      summary: "The writeback listener failed on the Connect server (event 31034): follow Microsoft's recovery order (connectivity, TLS 1.2, .NET 4.8, restart ADSync, re-enable writeback, latest Connect)",
      steps: MICROSOFT_ORDER,
    },
  },
  {
    // troubleshoot-sspr-writeback.md, 6800: "Review these event log errors and try to restart the
    // Microsoft Entra Connect if password writeback still isn't working. If the problem persists,
    // try to disable and then re-enable password writeback."
    match: { code: 'event_6800' },
    remediation: {
      summary: "The writeback endpoint failed to start (ADSync event 6800): read the PasswordResetService events beside it, then follow Microsoft's recovery order",
      steps: [
        'Read event 6800 and the PasswordResetService events logged with it in the Application log on the Connect server: they say why the endpoint did not start.',
        ...MICROSOFT_ORDER,
      ],
    },
  },
  {
    // 31016: writeback's own service stopped; the restart comes first, then Microsoft's order.
    match: { code: 'event_31016' },
    remediation: {
      summary: "The password writeback service stopped on the Connect server (event 31016): restart ADSync, then follow Microsoft's recovery order if it stops again",
      steps: [`${RESTART_ADSYNC} Then watch the Application log for a new event 31019 within 5 minutes.`, ...MICROSOFT_ORDER],
    },
  },
  {
    match: { code: 'event_32001' },
    remediation: {
      summary: 'Writeback could not reach the cloud password reset service (event 32001): check outbound 443 to *.passwordreset.microsoftonline.com',
      steps: PASSWORD_RESET_SERVICE_PATH,
    },
  },
  {
    // troubleshoot-sspr-writeback.md, 31044: "The Service Bus listens for requests on two
    // separate relays for redundancy. Each relay connection is managed by a unique Service Host.
    // The writeback client returns an error if either Service Host is not running."
    match: { code: 'event_31044' },
    remediation: {
      summary: 'One of writeback\'s two Service Bus listeners (service hosts) is not running on the Connect server (event 31044): restart ADSync first, then check outbound 443',
      steps: [
        'Writeback listens on two Service Bus relays, each held by its own service host inside ADSync; 31044 means one of them is not running.',
        RESTART_ADSYNC + ' Then watch the Application log: a new event 31019 within 5 minutes and no new 31044 mean both listeners are back.',
        'If 31044 comes back, one relay cannot be reached: follow the connectivity steps below.',
        ...SERVICE_BUS_CONNECTIVITY,
        THEN_IN_ORDER,
        TLS12,
        DOTNET48,
        REENABLE_WRITEBACK,
        LATEST_CONNECT,
      ],
    },
  },
  {
    match: { code: 'event_32002' },
    remediation: {
      summary: `Writeback hit a Service Bus error on the Connect server (event 32002): check outbound 443 to ${WRITEBACK_HOSTS}`,
      steps: SERVICE_BUS_PATH,
    },
  },
  {
    // troubleshoot-sspr-writeback.md, 32015 ReportServiceHealthError: "we send heartbeat data to
    // our password-reset web service every five minutes. This event indicates that there was an
    // error when sending this health information back to the cloud web service."
    match: { code: 'event_32015' },
    remediation: {
      summary: 'Writeback could not send its health heartbeat to the password reset web service (event 32015): check outbound 443 to *.passwordreset.microsoftonline.com',
      steps: [
        'Every five minutes writeback reports its health to the password reset web service (*.passwordreset.microsoftonline.com), not over Service Bus; 32015 means that report did not get through.',
        ...PASSWORD_RESET_SERVICE_PATH,
      ],
    },
  },
  {
    // troubleshoot-sspr-writeback.md, 32009 AuthTokenError: "This error can be caused by a bad
    // username or password specified for the Global Administrator account. This error can also
    // occur if the Global Administrator account specified is federated. To fix this problem,
    // rerun the configuration with the correct username and password and ensure that the
    // administrator is a managed (cloud-only or password-synchronized) account."
    // authenticate-application-id.md: Connect "version 2.5.3.0 or greater" can authenticate with
    // an application; with writeback it needs "PasswordWriteback.OffboardClient.All,
    // PasswordWriteback.RegisterClientVersion.All and PasswordWriteback.RefreshClient.All".
    match: { code: 'event_32009' },
    remediation: {
      summary: 'Writeback could not get an authentication token (event 32009): a wrong password, or a federated administrator named at setup; rerun the wizard with a managed account',
      steps: [
        'Microsoft names two causes: a wrong password for the administrator given in the Entra Connect wizard, or an administrator that is federated: it must be a managed (cloud-only or password-synchronized) account.',
        'Rerun the Entra Connect wizard (Configure, Customize synchronization options) and sign in with the correct password of a managed Hybrid Identity Administrator or Global Administrator, the role assigned to the user directly; then re-enable writeback as below if the event continues.',
        'On Connect 2.5.3.0 and later, Connect may authenticate as an application instead of the Sync_ account: the wizard\'s Tasks, View or export current configuration, shows its application (client) ID; in Enterprise applications, that application must hold the Microsoft password reset service app roles PasswordWriteback.OffboardClient.All, PasswordWriteback.RegisterClientVersion.All and PasswordWriteback.RefreshClient.All, and its certificate must be valid.',
        'On older builds, Connect\'s Entra ID connector account (Sync_<server>_… under Users) must be enabled and not blocked by Conditional Access or MFA.',
        CLOCK,
        'Check the Connect server reaches login.microsoftonline.com on 443: the tokens come from there.',
        REENABLE_WRITEBACK,
      ],
    },
  },
  {
    // troubleshoot-sspr-writeback.md, 33004 ADPermissionsError: "the Active Directory Management
    // Agent (ADMA) service account doesn't have the appropriate permissions on the account in
    // question to set a new password ... This error could also occur when the user's attribute
    // AdminCount is set to 1."
    match: { code: 'event_33004' },
    remediation: {
      summary: "On-prem Active Directory denied the AD DS connector account the password reset (event 33004): check its permissions, the SAM remote-call policy and the user's flags",
      steps: [
        'Read the event on the Connect server (Application log, source PasswordResetService): it names the user.',
        AD_PERMISSIONS,
        SDPROP,
        SAM_POLICY,
        'If the user has "User cannot change password" set (Active Directory Users and Computers, the user, Account), a password change cannot be written back: clear it if the user should be able to change the password.',
        PROTECTED_GROUPS,
        PDC,
      ],
    },
  },
  // ---- issue 17, relay side: Connect's credential and admin resets, Connect Sync's health, the
  // provisioning agent, reachability and the relay gateways (one block, to ease merging) ------
  {
    // authenticate-application-id.md, "On-demand certificate rotation": Connect "emits an error
    // if the certificate is already expired ... (Event ID 1012)"; "Run Get-ADSyncSchedulerSettings
    // to see if the scheduler is suspended"; Invoke-ADSyncApplicationCredentialRotation rotates it.
    match: { code: 'event_1012' },
    remediation: {
      summary: "Entra Connect's application certificate has expired (event 1012): Connect cannot sign in to Entra ID, so sync and writeback stop; rotate it now",
      steps: [
        'On the Connect server, as an ADSyncAdmins member, check the credential: Get-ADSyncEntraConnectorCredential (ConnectorIdentityType Application) and the certificate\'s Not valid after in the wizard (Tasks, View or export current configuration).',
        'Connect rotates a certificate it manages itself on its scheduler: check the scheduler is not suspended: Get-ADSyncSchedulerSettings, and Set-ADSyncScheduler -SyncCycleEnabled $true if someone paused it.',
        'Rotate now: Set-ADSyncScheduler -SyncCycleEnabled $false; Invoke-ADSyncApplicationCredentialRotation (with -CertificateSHA256Hash <hash> for your own certificate, BYOC); Set-ADSyncScheduler -SyncCycleEnabled $true; or the wizard\'s Additional tasks, Rotate application certificate.',
        'With your own application (BYOA), register the new certificate on that application: Add-EntraApplicationRegistration -CertificateSHA256Hash <hash>; the application must still hold PasswordWriteback.RefreshClient.All, PasswordWriteback.RegisterClientVersion.All and PasswordWriteback.OffboardClient.All on the Microsoft password reset service.',
        'Then watch the Application log for a new 31019 (writeback heartbeat) within 5 minutes and a successful sync cycle.',
      ],
    },
  },
  {
    // authenticate-application-id.md: "Microsoft Entra Connect warns if the certificate rotation
    // is due. That is, if expiration is less than or equal to 150 days ... (Event ID 1011)".
    match: { code: 'event_1011' },
    remediation: {
      summary: "Entra Connect's application certificate expires within 150 days (event 1011): make sure it is rotated before it does",
      steps: [
        'If Connect manages the certificate (the default since 2.5.3.0), it rotates it on its scheduler: check the scheduler is not suspended: Get-ADSyncSchedulerSettings.',
        'With your own certificate (BYOC) or application (BYOA), rotate it yourself: Invoke-ADSyncApplicationCredentialRotation -CertificateSHA256Hash <hash>, or Add-EntraApplicationRegistration -CertificateSHA256Hash <hash> for your own application.',
        'Once expired, Connect logs 1012 and stops signing in to Entra ID: sync and writeback stop with it.',
      ],
    },
  },
  {
    // troubleshoot-sspr-writeback.md, 31011 ResetUserPasswordByAdminFail: "The admin selected a
    // password on behalf of a user. The password arrived successfully to the on-premises
    // environment. But when we attempted to set the password in the local Active Directory
    // environment, a failure occurred."
    match: { code: 'event_31011' },
    remediation: {
      summary: "An administrator's password reset reached the Connect server but on-prem Active Directory refused it (event 31011): check the password rules, the connector account's rights and protected groups",
      steps: [
        'Read the event on the Connect server (Application log, source PasswordResetService): it names the user and the reason.',
        'A password that breaks the domain\'s age, history, complexity or filtering rules: the administrator must choose another one.',
        AD_PERMISSIONS,
        PROTECTED_GROUPS,
        PDC,
      ],
    },
  },
  {
    // troubleshoot-sspr-writeback.md, 32014 ServiceBusWarning: "we had to retry to connect to your
    // tenant's Service Bus instance. Under normal conditions, this should not be a concern, but if
    // you see this event many times, consider checking your network connection to Service Bus".
    match: { code: 'event_32014' },
    remediation: {
      summary: "Writeback had to retry its connection to the tenant's Service Bus relay (event 32014): harmless once, a sign of a flaky path when it repeats",
      steps: [
        'Count the 32014 events in the Application log: a few a day is normal; many an hour means the path to Service Bus drops connections.',
        ...SERVICE_BUS_CONNECTIVITY,
      ],
    },
  },
  {
    // ADSync 6329 that is not the policy refusal 0x80230619 (src/heartbeat/event-classes.ts): the
    // sync engine failed to set a password in AD; the event's hr code says why.
    match: { code: 'event_6329' },
    remediation: {
      summary: 'The sync engine could not set a password in on-prem Active Directory (ADSync event 6329): read the error code in the event',
      steps: [
        'Read event 6329 on the Connect server (Application log, source ADSync): its MMS(…) 0x8023… code names the error, and the PasswordResetService event at the same time names the user.',
        AD_PERMISSIONS,
        SDPROP,
        SAM_POLICY,
        PDC,
      ],
    },
  },
  {
    // src/monitor/sync-engine-checks.ts: the ADSync service holds writeback's listener.
    match: { code: 'adsync_not_running' },
    remediation: {
      summary: 'The ADSync service (Microsoft Azure AD Sync) is not running on relay {location}\'s Connect server: sync and password writeback are stopped',
      steps: [
        'On the Connect server: Get-Service ADSync; start it with Start-Service ADSync, and read the Application log (sources ADSync, Directory Synchronization, PasswordResetService) for why it stopped.',
        'If it stops again at once, its account may have lost the "Log on as a service" right or its password (a gMSA or the virtual account NT SERVICE\\ADSync): check the service\'s Log On tab and the System log (Service Control Manager events 7000, 7034, 7038).',
        'Within 5 minutes of a good start a new event 31019 (writeback heartbeat) appears in the Application log.',
      ],
    },
  },
  {
    // reference-connect-version-history.md: "Versions of Microsoft Entra Connect Sync 2.x retire
    // 12 months from the date that a newer version is released"; below the minimum version
    // "All synchronization services in Microsoft Entra Connect Sync will fail".
    match: { code: 'connect_unsupported' },
    remediation: {
      summary: "Entra Connect Sync on relay {location}'s server is past its end of support: upgrade it to the latest build now, before synchronization and writeback stop",
      steps: [
        'Download the latest Entra Connect Sync from the Microsoft Entra admin center (Entra Connect, Get started, Manage: new builds are no longer on the Download Center) and upgrade in place on the active server; back up customised sync rules first, and upgrade the staging server too.',
        'Check the prerequisites of the new build first: .NET Framework 4.7.2 or later, TLS 1.2 (reference-connect-tls-enforcement), Windows Server 2016 or later.',
        'After the upgrade, check the version: (Get-ItemProperty "HKLM:\\SOFTWARE\\Microsoft\\Azure AD Connect").Version; the relay reports it at its next heartbeat and this check clears.',
        'Since 2.5.3.0 Connect signs in as an application with a certificate: after upgrading, Get-ADSyncEntraConnectorCredential shows ConnectorIdentityType Application; with your own application, it needs the three PasswordWriteback app roles on the Microsoft password reset service.',
        'The relay dates builds from its own table (src/relay/connect-versions.json, with its source and the day it was checked): if Microsoft has published a newer build or date since, update that table.',
      ],
    },
  },
  {
    match: { code: 'connect_unreadable' },
    remediation: {
      summary: "Relay {location} cannot tell the state of Entra Connect Sync's ADSync service: check the relay account's rights to query services",
      steps: [
        'On the Connect server, as the relay\'s account: sc query ADSync must print a STATE line; the alert message quotes what it printed instead.',
        'A service account can query services by default; a hardened server may need the relay account given query rights on the ADSync service (sc sdshow ADSync, sc sdset).',
      ],
    },
  },
  {
    // Cloud Sync prerequisites and troubleshooting: the agent's services, "Microsoft Entra
    // Provisioning Agent" and "Microsoft Entra Connect Agent Updater", run as a gMSA.
    match: { code: 'cloudsync_agent_stopped' },
    remediation: {
      summary: "The Entra Cloud Sync provisioning agent is not running on relay {location}'s server: start it, or Cloud Sync neither syncs nor writes passwords back through it",
      steps: [
        'On the agent server: Get-Service AADConnectProvisioningAgent, AADConnectAgentUpdater; Start-Service AADConnectProvisioningAgent, and read the System log (Service Control Manager) and the trace folder C:\\ProgramData\\Microsoft\\Azure AD Connect Provisioning Agent\\Trace for why it stopped.',
        "If it cannot start, check its account (usually the gMSA provAgentgMSA$): the gMSA must still be retrievable by this server (Test-ADServiceAccount provAgentgMSA$) and hold \"Log on as a service\"; Group Policy may have removed the right.",
        'In the Microsoft Entra admin center, Entra Connect, Cloud Sync, Agents: the agent must show as active; with several agents per configuration, writeback goes through any active one.',
      ],
    },
  },
  {
    match: { code: 'cloudsync_agent_too_old' },
    remediation: {
      summary: "The Entra Cloud Sync provisioning agent on relay {location}'s server is older than 1.1.977.0: Cloud Sync's password writeback needs that build or later",
      steps: [
        'Download the current provisioning agent from the Microsoft Entra admin center (Entra Connect, Cloud Sync, Agents, Download on-premises agent) and run it on this server: it upgrades in place.',
        'Check the AADConnectAgentUpdater service runs, so the agent keeps itself up to date: Get-Service AADConnectAgentUpdater.',
        'Then enable writeback in the Cloud Sync configuration (Password writeback) and in Password reset, On-premises integration.',
      ],
    },
  },
  {
    // Cloud Sync prerequisites: outbound port 80 to the certificate revocation hosts; Connect
    // Sync needs HTTP 80 for revocation lists too.
    match: { code: 'revocation_unreachable' },
    remediation: {
      summary: 'Relay {location} cannot reach certificate revocation hosts on port 80: allow outbound HTTP to them, or TLS to Microsoft fails its revocation checks',
      steps: [
        'Allow outbound TCP 80 (plain HTTP, no TLS inspection, no authentication) from the sync server to crl.microsoft.com, mscrl.microsoft.com, ocsp.msocsp.com, oneocsp.microsoft.com, ocsp.digicert.com and crl3.digicert.com, by name, on every firewall and on the proxy.',
        'Test from the server, through its proxy: Invoke-WebRequest -Uri http://crl.microsoft.com/ -UseBasicParsing -Verbose; any HTTP answer, even 404, proves the path.',
        'The alert message names each host that failed and how (dns_, tcp_, proxy_): a proxy that answers 407 needs the sync service\'s account exempted from proxy authentication for these hosts.',
      ],
    },
  },
  {
    // Cloud Sync prerequisites: outbound 443 to *.msappproxy.net, *.servicebus.windows.net,
    // *.microsoftonline.com and login.windows.net; the proxy must allow HTTP/1.1 chunked encoding
    // and must not inspect TLS.
    match: { code: 'cloudsync_endpoint_unreachable' },
    remediation: {
      summary: "Relay {location} cannot reach an endpoint of the Entra Cloud Sync provisioning agent on 443: open *.msappproxy.net, *.servicebus.windows.net, *.microsoftonline.com and login.windows.net",
      steps: [
        'Allow outbound TCP 443 from the agent server to *.msappproxy.net, *.servicebus.windows.net, *.microsoftonline.com and login.windows.net on every firewall and on the proxy, by name.',
        'Exclude those names from TLS inspection, and let the proxy pass HTTP/1.1 chunked transfer encoding: the agent needs both (Cloud Sync troubleshooting).',
        'The agent takes its proxy from C:\\Program Files\\Microsoft Azure AD Connect Provisioning Agent\\AADConnectProvisioningAgent.exe.config (system.net defaultProxy); give the relay the same proxy (WBMON_PROXY_URL) so both take the same path.',
        'The alert message names each host that failed and how; the hosts taken from the agent\'s trace are the ones it really uses.',
      ],
    },
  },
  {
    // Azure Relay's GetNamespaceInfo.ps1 and Microsoft's 2024 notice on Relay gateway DNS names:
    // "configure your firewalls with the DNS names of all the Relay gateways ... Change any rules
    // that previously used the IP addresses to use the namespace DNS name for port 80/443 traffic
    // and the gateway DNS names where you previously were using IP addresses."
    match: { code: 'gateway_unreachable' },
    remediation: {
      summary: "Relay {location} reaches the tenant's relay namespace but not all of its gateways: allow the gateway names too, or writeback's listener breaks when it is sent to one",
      steps: [
        'A Service Bus relay sends its listeners to gateway hosts of its own deployment (g<N>-<deployment>-sb.servicebus.windows.net and gv<N>-…), not only to the namespace name: a firewall that allows the namespace alone fails writeback when a listener is moved to a blocked gateway.',
        'Allow outbound TCP 443 to *.servicebus.windows.net by wildcard name (Microsoft\'s advice for writeback); where only exact names are allowed, allow every gateway the alert names, and re-run Azure Relay\'s GetNamespaceInfo.ps1 <namespace> monthly, as the list changes.',
        'Never allow them by IP address: Microsoft changes the gateways\' addresses without notice.',
        'Test one gateway from the Connect server through its proxy: Invoke-WebRequest -Uri https://<gateway>/ -UseBasicParsing -Verbose (any HTTP answer proves the path).',
      ],
    },
  },
  // ---- end of issue 17, relay side ---------------------------------------------------------------
  {
    match: { codePrefix: 'event_33' },
    remediation: {
      summary: "On-prem Active Directory refused the password change ({code}): check the password policy and the AD DS connector account's permissions",
      steps: [
        'Read the event on the Connect server (Application log, source PasswordResetService): it names the user and the reason.',
        'A password policy refusal (length, complexity, history, minimum password age, a fine-grained policy) means the new password breaks the on-prem policy: the user must choose another one, or the policy needs review.',
        AD_PERMISSIONS,
        SDPROP,
        PROTECTED_GROUPS,
        PDC,
      ],
    },
  },
  {
    match: { codePrefix: 'event_' },
    remediation: {
      summary: 'Entra Connect logged a writeback failure ({code}): read the event on the Connect server',
      steps: [
        'Open the Application log on the Connect server (source PasswordResetService or ADSync) at the time of the alert and read the event\'s text: Microsoft\'s troubleshooting page lists what each event id means.',
        ...MICROSOFT_ORDER,
      ],
    },
  },

  // ---- domain controller ---------------------------------------------------------------------
  {
    match: { code: 'dc_unreachable' },
    remediation: {
      summary: "The Connect server cannot reach domain controller {host} on a port writeback needs: open the ports the alert names (Microsoft's list: 53, 88, 135, 389, 445, 636, 3268)",
      steps: [
        'From the Connect server, for each port the alert names as failed: Test-NetConnection {host} -Port <port> (TcpTestSucceeded must be True).',
        DC_PORTS,
        PDC,
        'If {host} itself is down, bring it back: if it holds the PDC emulator role, writeback stays broken until it is back or the role is moved to a healthy DC (Move-ADDirectoryServerOperationMasterRole). Point WBMON_DC_HOST at the PDC emulator, the DC writeback uses.',
      ],
    },
  },

  // ---- tenant (Microsoft Graph) --------------------------------------------------------------
  {
    match: { code: 'licence_missing' },
    remediation: {
      summary: 'The tenant has no licence that includes password writeback: assign Entra ID P1 or P2 (or EMS E3/E5, Microsoft 365 E3/E5, Business Premium)',
      steps: [
        'Microsoft 365 admin center, Billing, Your products: look for Entra ID P1 or P2, EMS E3/E5, Microsoft 365 E3/E5 or Microsoft 365 Business Premium, and check it has not expired.',
        'Buy or renew one if none is active: without it, self-service password reset with writeback is not available to on-prem users.',
        'Assign the licence to the synced users who reset passwords (directly or by group-based licensing), and to a test user.',
        'The check clears at the next tenant run (WBMON_TENANT_SCHEDULE).',
      ],
    },
  },
  {
    match: { code: 'sync_disabled' },
    remediation: {
      summary: 'Directory synchronisation is switched off in the tenant: writeback cannot work until it is on again',
      steps: [
        'Entra admin center, Identity, Hybrid management, Microsoft Entra Connect: check the sync status and the last sync time.',
        'Find out who switched it off and why: the Entra audit log around the time it changed.',
        'If it was not deliberate, switch it on again (Microsoft Graph: onPremisesSyncEnabled on the organization), then run a full sync on the Connect server: Start-ADSyncSyncCycle -PolicyType Initial.',
        'Check the ADSync service runs on the Connect server: Get-Service ADSync.',
      ],
    },
  },
  {
    match: { code: 'sync_stale' },
    remediation: {
      summary: 'Entra Connect has not synchronised for too long: check the sync service, then run a full import and full sync',
      steps: [
        'On the Connect server: Get-Service ADSync must be Running; start it if not.',
        'Get-ADSyncScheduler: SyncCycleEnabled must be True and StagingModeEnabled False on the active server; Set-ADSyncScheduler -SyncCycleEnabled $true if someone paused it.',
        'Synchronization Service Manager, Operations: look for failed runs (stopped-server, credential errors, exceptions) and fix the one named.',
        'Run a full import and full sync: Start-ADSyncSyncCycle -PolicyType Initial, and watch it finish in Synchronization Service Manager.',
        'Check Entra Connect Health in the Entra admin center for sync alerts.',
      ],
    },
  },
  // ---- tenant: Entra Cloud Sync (issue 17, tenant side) ----------------------------------------
  // Microsoft's Cloud Sync pages: troubleshooting (quarantine, agent problems), prerequisites
  // (outbound 443 to *.msappproxy.net and *.servicebus.windows.net, the gMSA), password writeback
  // with Cloud Sync (provisioning agent 1.1.977.0 or later).
  // One spread, so this block merges as one piece; its texts are its own.
  ...((): RemediationRule[] => {
    // Its on-premises part is the provisioning agent.
    const CLOUD_SYNC_AGENTS =
      'Entra admin center, Entra Connect, Cloud sync, Agents: every agent should be Active; on each agent server the services Microsoft Entra Provisioning Agent (Get-Service AADConnectProvisioningAgent) and Microsoft Entra Connect Agent Updater must be Running; restart them if not, and read the trace files under C:\\ProgramData\\Microsoft\\Azure AD Connect Provisioning Agent\\Trace.';
    const CLOUD_SYNC_NETWORK =
      'From each agent server: outbound TCP 443 to *.msappproxy.net, *.servicebus.windows.net, *.microsoftonline.com and login.windows.net, through a proxy that allows HTTP/1.1 chunked encoding and does no TLS inspection, and port 80 to the certificate revocation hosts (crl.microsoft.com, mscrl.microsoft.com, ocsp.msocsp.com, oneocsp.microsoft.com, ocsp.digicert.com, crl3.digicert.com).';
    return [
      {
        match: { code: 'writeback_failures', messageIncludes: 'agent Cloud Sync' },
        remediation: {
          summary: 'Password writeback failed for users in the tenant, through Entra Cloud Sync: check the provisioning agents, then the audit log',
          steps: [
            CLOUD_SYNC_AGENTS,
            'Entra admin center, Monitoring, Audit logs: filter Service = Self-service Password Management and Status = Failure around the time of the alert; each entry names the user, the reason and (Additional details, OnPremisesAgent) the engine that tried to write the password back.',
            CLOUD_SYNC_NETWORK,
            "Password writeback with Cloud Sync needs provisioning agent 1.1.977.0 or later and \"Enable password writeback\" in the Cloud Sync configuration's properties; the agent's gMSA (provAgentgMSA$) needs Reset password and Change password on the users' OUs.",
            "Entries naming Connect Sync (Microsoft Entra Connect) are the Connect server's: its Application log, source PasswordResetService, at the same time.",
          ],
        },
      },
      {
        match: { code: 'cloudsync_quarantined' },
        remediation: {
          summary: 'An Entra Cloud Sync configuration is in quarantine: it synchronises nothing until the error the alert quotes is fixed and it is restarted',
          steps: [
            'Entra admin center, Entra Connect, Cloud sync, Configurations: open the configuration the alert names; its status says Quarantine and why (the alert quotes the same text).',
            "Fix what it names: an agent that cannot be reached (see the agent step below), AD credentials or the gMSA's permissions, or the accidental-delete threshold (review the deletes, then allow them with Restart sync and \"Allow deletes\" if they are meant).",
            CLOUD_SYNC_AGENTS,
            'Then restart the configuration: Restart sync on its page (or POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/restart in Microsoft Graph); Microsoft retries a quarantined job by itself only at the next attempt, at ever longer intervals.',
          ],
        },
      },
      {
        match: { code: 'cloudsync_failed' },
        remediation: {
          summary: "An Entra Cloud Sync configuration's last run failed: read the error the alert quotes and the configuration's provisioning logs",
          steps: [
            'Entra admin center, Entra Connect, Cloud sync, Configurations: open the configuration the alert names and its provisioning logs (View provisioning logs) for the failed run.',
            CLOUD_SYNC_AGENTS,
            CLOUD_SYNC_NETWORK,
            'If the error names the on-premises directory (credentials, LDAP, the domain), check the gMSA provAgentgMSA$ and that the agent servers reach a domain controller of the configured domain.',
          ],
        },
      },
      {
        match: { code: 'cloudsync_paused' },
        remediation: {
          summary: 'An Entra Cloud Sync configuration is paused: start it again unless it was paused on purpose',
          steps: [
            'Entra admin center, Entra Connect, Cloud sync, Configurations: the configuration the alert names shows as disabled or paused; the audit log (Service: Core Directory or Account Provisioning) names who changed it.',
            'If it should run: open it and Enable it (or POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/start in Microsoft Graph).',
            'If it is being retired, delete the configuration: its check is then retired with it. For planned pauses, use a maintenance window (WBMON_MAINTENANCE) for this check.',
          ],
        },
      },
      {
        match: { code: 'cloudsync_not_running' },
        remediation: {
          summary: 'An Entra Cloud Sync configuration has never run: finish setting it up and enable it',
          steps: [
            'Entra admin center, Entra Connect, Cloud sync, Configurations: open the configuration the alert names, complete its scoping and properties, and Enable it.',
            CLOUD_SYNC_AGENTS,
            'If the configuration is left over from a test, delete it: its check is then retired with it.',
          ],
        },
      },
      {
        match: { code: 'cloudsync_stale' },
        remediation: {
          summary: 'An Entra Cloud Sync configuration has not synchronised for too long: check its provisioning agents first',
          steps: [
            CLOUD_SYNC_AGENTS,
            CLOUD_SYNC_NETWORK,
            "Entra admin center, Entra Connect, Cloud sync, Configurations: the configuration's status and its provisioning logs say whether runs start and why they stop.",
            'The limit is WBMON_SYNC_MAX_AGE_MINUTES (default 120); Cloud Sync runs every 2 minutes by default.',
          ],
        },
      },
    ];
  })(),
  // ---- end of tenant: Entra Cloud Sync ---------------------------------------------------------
  {
    match: { code: 'writeback_failures' },
    remediation: {
      summary: 'Password writeback failed for users in the tenant: open the Entra audit log for the SSPR writeback failures',
      steps: [
        'Entra admin center, Monitoring, Audit logs: filter Service = Self-service Password Management and Status = Failure around the time of the alert; each entry names the user and the reason.',
        'Match each failure on the Connect server: Application log, source PasswordResetService, at the same time (33xxx: on-prem AD refused it; 32xxx: Service Bus; 31034: the listener).',
        'Password policy refusals need another password from the user; permission refusals need the AD DS connector account to have Reset password, Change password and Write lockoutTime and pwdLastSet.',
        'Connectivity failures: see the relay-probe and keepalive checks of the relay on the Connect server.',
      ],
    },
  },
  {
    match: { code: 'writeback_disabled' },
    remediation: {
      summary: 'Password writeback was turned off for the directory: synced users cannot reset or change their passwords until it is back on',
      steps: [
        'Entra admin center, Protection, Password reset, On-premises integration: "Enable password write back for synced users" must be on; the audit log names who turned it off and when.',
        'On the Connect server: Entra Connect wizard, Customize synchronization options, Optional features: "Password writeback" must be ticked; re-run the wizard if it was unticked.',
        'Get-ADSyncAADPasswordResetConfiguration -Connector "<tenant>.onmicrosoft.com - AAD" must show Status: Enabled; Set-ADSyncAADPasswordResetConfiguration -Enable $true if not.',
        'The check clears when the audit log shows "Enable password writeback for directory".',
      ],
    },
  },
  {
    // The monitor's own storage refused part of a heartbeat (src/monitor/evaluate-heartbeats.ts):
    // nothing on the Connect server to fix.
    match: { code: 'results_unstored' },
    remediation: {
      summary: "The monitor could not store part of this relay's heartbeats: check the monitor's state store, not the Connect server",
      steps: [
        'The error names the first store failure. HTTP 403 or AuthorizationFailure: the Function App identity lost its Storage Table Data Contributor role; 5xx or timeouts: Table Storage itself (Azure status) or the Function App\'s network path to it.',
        "The monitor's log (Application Insights traces, or the serve output) has one 'not stored' line per failed report with the check it was for.",
        "The relay's other reports and every other relay are still evaluated; this check recovers once its heartbeats are stored whole again.",
      ],
    },
  },
  {
    // Under Functions a wrong WBMON_RELAYS entry disables that relay only (src/config/settings.ts
    // loadHostSettings): the fix is the monitor's own setting, never the Connect server.
    match: { code: 'relay_misconfigured' },
    remediation: {
      summary: "Fix this relay's entry in WBMON_RELAYS on the monitor: until then the monitor refuses its heartbeats (the relay keeps them in its buffer)",
      steps: [
        'The error names each problem of the entry (never the secret). Entries look like {"<relay id>": {"secret": "<32+ characters>", "periodSeconds": 300, "graceSeconds": 120}}; periodSeconds 30-86400, graceSeconds 0-86400, no other fields.',
        'In Azure WBMON_RELAYS is the Key Vault secret wbmon-relays: az keyvault secret show --vault-name <vault> -n wbmon-relays --query value -o tsv > relays.json, fix the entry, az keyvault secret set --vault-name <vault> -n wbmon-relays --file relays.json, then delete relays.json.',
        'Ask App Service to read the secret again now instead of within 24 hours: az rest --method post --url "$(az functionapp show -g <group> -n <app> --query id -o tsv)/config/configreferences/appsettings/refresh?api-version=2022-03-01".',
        'A new secret (openssl rand -hex 32) must also be given to the relay as WBMON_RELAY_SECRET. Once the entry is right, the relay\'s buffered heartbeats are accepted and this check recovers by itself.',
      ],
    },
  },
  // ---- the round trip (docs/roundtrip.md) -------------------------------------------------------
  {
    match: { kind: 'roundtrip', code: 'roundtrip_reauth' },
    remediation: {
      summary: 'The round trip can no longer sign in (its refresh token was revoked, expired or is missing): run writeback-monitor roundtrip login again',
      steps: [
        'On a machine with the monitor\'s settings (the same WBMON_ROUNDTRIP_CLIENT_ID, WBMON_TENANT_ID and token storage), run: writeback-monitor roundtrip login, and sign in at the address it prints with the account that holds Authentication Administrator over the test user.',
        'Then run writeback-monitor roundtrip test: it resets the test user once and prints the verdict.',
        'A token stops working when the account\'s password changes, an administrator revokes its sessions, a Conditional Access sign-in frequency policy applies to it, or it is unused for 90 days: exclude the round trip\'s app from sign-in frequency policies, or plan the sign-in.',
      ],
    },
  },
  {
    match: { kind: 'roundtrip', code: 'roundtrip_forbidden' },
    remediation: {
      summary: 'Microsoft Graph refused the reset: the signed-in account needs Authentication Administrator over the test user, and the app UserAuthenticationMethod.ReadWrite.All (delegated) with consent',
      steps: [
        'Entra admin center, Roles & admins, Administrative units: the test user\'s unit, Roles and administrators, Authentication Administrator: the account that ran roundtrip login must be assigned (active, not only eligible).',
        'Entra admin center, App registrations, the round trip\'s app, API permissions: Microsoft Graph UserAuthenticationMethod.ReadWrite.All (Delegated) must show Granted; grant admin consent, then run writeback-monitor roundtrip login again (a new consent needs a new token).',
        'The account cannot reset its own password this way, and an Authentication Administrator cannot reset an administrator\'s: the test user must hold no role.',
      ],
    },
  },
  {
    match: { kind: 'roundtrip', code: 'roundtrip_password_refused' },
    remediation: {
      summary: 'Entra ID refused the generated password in the cloud: nothing reached on-prem AD, so writeback was not tested',
      steps: [
        'Read the quoted reason. The monitor generates 24 random characters of four classes, so a refusal usually means a custom banned password list or a password protection policy that refuses it; the Entra admin center, Protection, Authentication methods, Password protection shows them.',
        'A refusal that names a licence means the tenant lacks Entra ID P1 for writeback: the tenant licence check says the same.',
      ],
    },
  },
  {
    match: { kind: 'roundtrip', code: 'roundtrip_onprem_refused' },
    remediation: {
      summary: 'The reset reached the Connect server, but Active Directory refused to write it (event 31011): check the connector account\'s rights on the test user and protected groups',
      steps: [
        'Read event 31011 on the Connect server (Application log, source PasswordResetService) at the time of the alert, and the ADSync 6329 beside it: its 0x8023… code names the reason.',
        'The AD DS connector account needs Reset password, Change password and write lockoutTime and pwdLastSet on the test user\'s OU (Microsoft\'s "Permissions for password writeback").',
        'The test user must not be in a protected group (adminCount = 1): AdminSDHolder removes the connector account\'s rights from those every hour.',
      ],
    },
  },
  {
    match: { kind: 'roundtrip', code: 'roundtrip_failed' },
    remediation: {
      summary: 'Password writeback failed for the test user: the cloud accepted the reset but could not write it on-prem',
      steps: [
        'Read the quoted statusDetail, then the PasswordResetService events on the Connect server at the same time (31011, 33xxx; 32xxx or a missing 31019 mean the listener is not connected).',
        'Check the other checks first: a relay\'s heartbeat, eventlog and reach checks, and the cloud probes, say whether the path is down or the Connect server\'s service stopped.',
        'Then follow Microsoft\'s "Troubleshoot self-service password reset writeback" in its order: restart the Azure AD Sync service, disable and re-enable password writeback in Connect, and as a last resort reinstall Connect.',
      ],
    },
  },
  {
    match: { kind: 'roundtrip', code: 'roundtrip_timeout' },
    remediation: {
      summary: 'The reset was accepted but never finished: writeback did not answer within the wait',
      steps: [
        'An operation that stays notStarted or running means the on-prem listener did not take the request: look at the relays\' heartbeat and eventlog checks and at event 31019 on the Connect server (one every 5 minutes while writeback listens).',
        'On the Connect server: Get-Service ADSync, and the Application log, source PasswordResetService, at the time of the alert.',
      ],
    },
  },
  {
    match: { kind: 'roundtrip', codePrefix: 'roundtrip_refused_' },
    remediation: {
      summary: 'The round trip refused to reset this user: it must be a dedicated, synced, enabled test user without any role',
      steps: [
        'Read the reason in the message: a cloud-only user (onPremisesSyncEnabled not true), an administrator (a directory role at any scope, directly or through a group), or a disabled account.',
        'Create the test user as docs/roundtrip.md says: in its own OU in on-prem AD, synced, in no protected group, with no role; set WBMON_ROUNDTRIP_USER to its object id.',
      ],
    },
  },
  {
    match: { kind: 'roundtrip', code: 'graph_permission' },
    remediation: {
      summary: "The monitor's identity cannot read the test user: grant it Directory.Read.All (application), which the guard rails read the user and its roles with",
      steps: [
        'Run infra/grant-graph-permissions.sh <principal id> (or the .ps1), as for the tenant checks: it grants Directory.Read.All among the others.',
        'For local runs the WBMON_GRAPH_TOKEN must carry Directory.Read.All.',
      ],
    },
  },
  {
    match: { kind: 'roundtrip' },
    remediation: {
      summary: 'The password round trip failed ({code}): read the message, then docs/roundtrip.md',
      steps: [
        'Run writeback-monitor roundtrip test to see the verdict now (it counts toward the 15-minute limit).',
        'Check the relays\' heartbeat and eventlog checks and the cloud probes: they say whether writeback\'s path is the problem.',
      ],
    },
  },

  {
    match: { code: 'graph_permission' },
    remediation: {
      summary: "The monitor's managed identity lacks Microsoft Graph permissions: grant Organization.Read.All, AuditLog.Read.All, Directory.Read.All and Synchronization.Read.All",
      steps: [
        "As a Privileged Role Administrator or Global Administrator, with the Azure CLI signed in to the tenant, run from the repository: infra/grant-graph-permissions.sh <principal id> (the principal id is the Function App's managed identity object id: az functionapp identity show -g <group> -n <app> --query principalId -o tsv).",
        'Or in PowerShell, with Microsoft Graph PowerShell (Install-Module Microsoft.Graph.Applications): ./infra/grant-graph-permissions.ps1 -PrincipalId <principal id>; it grants the same four app roles with New-MgServicePrincipalAppRoleAssignment (the audit log API names both AuditLog.Read.All and Directory.Read.All; Synchronization.Read.All reads the jobs of the Cloud Sync configurations).',
        'Check in the Entra admin center: Enterprise applications, filter Managed Identities, the Function App, Permissions: all four must show as granted.',
        'New roles only appear in a fresh token and the managed identity\'s token can be cached for up to 24 hours, so the check may fail for a while after the grant.',
        'For local runs with WBMON_GRAPH_TOKEN, the token must carry all four roles.',
      ],
    },
  },

  // ---- per kind --------------------------------------------------------------------------------
  {
    match: { kind: 'relay-probe' },
    remediation: {
      summary: "Relay {location} cannot reach {host} from the Connect server's network ({code}): check outbound 443 through the firewall and proxy",
      steps: [
        INVOKE_WEB_REQUEST,
        OPEN_443,
        EXCLUDE_FROM_INSPECTION,
        PROXY_MATCHES_ADSYNC,
        RELAY_RETEST,
      ],
    },
  },
  {
    match: { kind: 'probe' },
    remediation: {
      summary: "The monitor in Azure cannot reach {host} ({code}): Microsoft's side or our own Function App networking",
      steps: [COMPARE_WITH_RELAYS, FUNCTION_APP_EGRESS, AZURE_STATUS],
    },
    local: {
      summary: "The monitor's machine cannot reach {host} ({code}): that machine's network or Microsoft's side",
      steps: [LOCAL_COMPARE, LOCAL_EGRESS, AZURE_STATUS],
    },
  },
  {
    match: { kind: 'heartbeat' },
    remediation: {
      summary: 'The heartbeat check of relay {location} failed ({code}): check that the relay runs and can reach the monitor',
      steps: [
        'On the relay host, check the scheduled task or service that runs writeback-monitor relay, and read its latest log line.',
        'Run writeback-monitor relay --once there: it prints the heartbeat\'s fate.',
        HEARTBEAT_401,
      ],
    },
  },
  {
    match: { kind: 'keepalive' },
    remediation: {
      summary: 'The idle-keepalive test to {host} failed ({code}): raise idle timeouts on the Connect server\'s path to at least 3 minutes, 6 on proxies',
      steps: [IDLE_3_MIN, IDLE_6_MIN_PROXY, AZURE_LB_4_MIN, KEEPALIVE_RETEST],
    },
  },
  {
    match: { kind: 'eventlog' },
    remediation: {
      summary: "The event log check of relay {location} failed ({code}): read Entra Connect's events on the Connect server",
      steps: [
        'Open the Application log on the Connect server (source PasswordResetService or ADSync) at the time of the alert and read the events.',
        'Check the ADSync service runs (Get-Service ADSync) and password writeback is enabled in the Entra Connect wizard.',
        ...MICROSOFT_ORDER,
      ],
    },
  },
  {
    match: { kind: 'dc' },
    remediation: {
      summary: "The domain controller check of {host} failed ({code}): check Microsoft's writeback ports from the Connect server",
      steps: ['From the Connect server: Test-NetConnection {host} -Port 389, then the same for 53, 88, 135, 445, 636 and 3268.', DC_PORTS, PDC],
    },
  },
  {
    match: { kind: 'tenant' },
    remediation: {
      summary: "A tenant check failed ({code}): check the monitor's Microsoft Graph access and the tenant's writeback settings",
      steps: [
        'Read the alert message for what Microsoft Graph answered.',
        "Check the Function App's managed identity has Organization.Read.All, AuditLog.Read.All, Directory.Read.All and Synchronization.Read.All.",
        'Check in the Entra admin center: licences (Entra ID P1/P2), Password reset, On-premises integration (writeback enabled), the last directory sync, and Entra Connect, Cloud sync (configurations and agents) if the tenant uses Cloud Sync.',
      ],
    },
  },

  // ---- everything else -------------------------------------------------------------------------
  {
    match: {},
    remediation: {
      summary: 'Check failed ({code}) at {location} for {host}: work through the writeback checklist',
      steps: [
        'Read the alert message and GET /api/status for the phase that failed; docs/probe-codes.md explains each code.',
        'Licence: Entra ID P1/P2 (or EMS / Microsoft 365 E3/E5 / Business Premium) assigned to the on-prem users.',
        'A supported Entra Connect Sync 2.x (1.x is retired), with password writeback enabled and a recent full sync.',
        ...MICROSOFT_ORDER,
      ],
    },
  },
];

/** Whether `match` covers `input`: every field the match names agrees. */
function matches(match: RemediationMatch, input: RemediationInput): boolean {
  if (match.kind !== undefined && match.kind !== input.checkKind) return false;
  if (match.code !== undefined && match.code !== input.code) return false;
  if (match.codePrefix !== undefined && !(input.code ?? '').startsWith(match.codePrefix)) return false;
  if (match.phase !== undefined && match.phase !== input.phase) return false;
  if (match.messageIncludes !== undefined && !(input.message ?? '').toLowerCase().includes(match.messageIncludes.toLowerCase())) return false;
  return true;
}

export const HOST_PLACEHOLDER = '<host>';
export const LOCATION_PLACEHOLDER = '<location>';
export const CODE_PLACEHOLDER = '<code>';
/** What relay ids (RELAY_ID), Azure regions and failure codes are made of. */
const WORD = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The first rule that matches; the table ends with a catch-all, so there always is one. */
export function ruleFor(input: RemediationInput): RemediationRule {
  for (const rule of REMEDIATIONS) if (matches(rule.match, input)) return rule;
  return REMEDIATIONS[REMEDIATIONS.length - 1]!;
}

/** What to do about a failure, with the target's host and port, the location and the code filled in. */
export function remediationFor(input: RemediationInput): Remediation {
  const rule = ruleFor(input);
  const location = input.location.trim();
  const remediation = location === LOCAL_LOCATION && rule.local ? rule.local : rule.remediation;
  const { host, port } = hostOf(input.target);
  const code = input.code?.trim() ?? '';
  const safeHost = isHostName(host) ? host : HOST_PLACEHOLDER;
  const authority = safeHost.includes(':') ? `[${safeHost}]` : safeHost;
  const values: Record<string, string> = {
    host: safeHost,
    hostport: port !== undefined && safeHost !== HOST_PLACEHOLDER ? `${authority}:${port}` : authority,
    location: location === '' ? 'unknown location' : WORD.test(location) ? location : LOCATION_PLACEHOLDER,
    code: code === '' ? 'no code' : WORD.test(code) ? code : CODE_PLACEHOLDER,
  };
  const fill = (text: string): string => text.replace(/\{(host|hostport|location|code)\}/g, (_, name: string) => values[name] ?? '');
  return { summary: fill(remediation.summary), steps: remediation.steps.map(fill) };
}

/**
 * The host of a URL target, and its port when that is not 443 (the texts' commands use https;
 * an http URL without a port keeps its 80); any other target (a relay id, a DC host name, a log
 * name) as it is, minus anything that could carry a credential (user info, query, fragment).
 * Not yet checked to be a host name: the caller does that. A port from the URL parser is digits.
 */
function hostOf(target: string): { host: string; port?: string } {
  const trimmed = target.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    try {
      const url = new URL(trimmed);
      const port = url.port || (url.protocol === 'http:' ? '80' : '');
      if (url.hostname) return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), ...(/^\d{1,5}$/.test(port) && port !== '443' && { port }) };
    } catch {
      // not a parsable URL: fall through to the plain-text cleanup
    }
    return { host: trimmed.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^[^/?#]*@/, '').split(/[/?#]/)[0] ?? '' };
  }
  return { host: trimmed.replace(/^[^@]*@/, '').split(/[?#]/)[0] ?? '' };
}
