/**
 * The heartbeat document, version 1: what a relay posts to /api/heartbeat. The JSON Schema in
 * schemas/heartbeat.v1.schema.json is generated from this (a test keeps the two identical) and
 * docs/heartbeat.md explains each field.
 *
 * Bounds are deliberate: every string and array has a maximum, so a document that passes is
 * safe to store and to show.
 */
import { z } from 'zod';
import { HOST_NAME_PATTERN, HOST_NAME_RULE, isHostName, MAX_HOST_NAME } from '../config/hostname.js';
import { FAILURE_CODES, WARNING_CODES } from '../probes/result.js';
import { TRUST_STORES } from '../probes/trust.js';
import { PROXY_SOURCES } from '../probes/proxy.js';

const ms = z.number().min(0).max(3_600_000);
const text = (max: number) => z.string().max(max);
// Relays send targets as URL.href, which is printable ASCII; a target with controls or spaces
// in it would carry them into check ids, log lines and alert titles.
const target = () =>
  z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .regex(/^[!-~]+$/, 'must be a URL in printable ASCII, as URL.href gives it (no spaces or control characters)')
    .meta({ format: 'uri' }); // the pattern would otherwise replace the format in the JSON Schema

export const probeResultSchema = z.object({
  target: target(),
  ok: z.boolean(),
  startedAt: z.iso.datetime({ offset: true }),
  failure: z
    .object({
      code: z.enum(FAILURE_CODES),
      phase: z.enum(['dns', 'proxy', 'tcp', 'tls', 'http']),
      message: text(1024),
    })
    .optional(),
  warnings: z.array(z.object({ code: z.enum(WARNING_CODES), message: text(1024) })).max(10),
  timings: z.object({
    dns: ms.optional(),
    proxy: ms.optional(),
    tcp: ms.optional(),
    tls: ms.optional(),
    ttfb: ms.optional(),
    total: ms,
  }),
  address: text(64).optional(),
  proxy: text(512).nullable(),
  tls: z
    .object({
      protocol: text(32).nullable(),
      subject: text(1024),
      issuer: text(1024),
      validTo: z.iso.datetime({ offset: true }),
      daysToExpiry: z.number().int(),
      authorized: z.boolean(),
      hostnameValid: z.boolean(),
      /** Which store held the root: `system` (the machine's, Windows relays), `bundled` (Node's), `extra`. Absent from older agents. */
      trust: z.enum(TRUST_STORES).optional(),
    })
    .optional(),
  http: z.object({ status: z.number().int().min(100).max(999) }).optional(),
});

export const keepaliveResultSchema = z.object({
  target: target(),
  idleSeconds: z.number().int().min(1).max(3600),
  startedAt: z.iso.datetime({ offset: true }),
  survived: z.boolean(),
  died: z
    .object({
      how: z.enum(['fin', 'rst', 'timeout']),
      afterSeconds: z.number().min(0).max(3600),
      during: z.enum(['idle', 'second-request']),
    })
    .optional(),
  serverKeepAliveSeconds: z.number().int().min(0).nullable(),
  blame: z.enum(['server', 'network']).optional(),
  failure: probeResultSchema.shape.failure,
  proxy: text(512).nullable(),
});

/** One completed idle-keepalive test; it takes minutes, so it travels with the next heartbeat. */
export const keepaliveReportSchema = z.object({
  target: target(),
  /** The idle length the connection must survive for the check to pass (WBMON_KEEPALIVE_MIN). */
  requiredSeconds: z.number().int().min(1).max(3600),
  passed: z.boolean(),
  finishedAt: z.iso.datetime({ offset: true }),
  results: z.array(keepaliveResultSchema).min(1).max(10),
});

export type KeepaliveReport = z.infer<typeof keepaliveReportSchema>;

const logEventSchema = z.object({
  provider: text(128),
  eventId: z.number().int().min(0).max(65_535),
  time: z.iso.datetime({ offset: true }),
  message: text(1000),
});

/**
 * PasswordResetService's events of an administrator's password reset, the round trip's proof
 * from the Connect server: 31009 ResetUserPasswordByAdminStart, 31010
 * ResetUserPasswordByAdminSuccess, 31011 ResetUserPasswordByAdminFail.
 */
export const ADMIN_RESET_EVENTS = [31009, 31010, 31011] as const;
export type AdminResetEventId = (typeof ADMIN_RESET_EVENTS)[number];

/** One of those events naming a user the monitor asked about (its answer's roundtrip.users). */
export const adminResetSchema = z.object({
  eventId: z.literal(ADMIN_RESET_EVENTS),
  time: z.iso.datetime({ offset: true }),
  /** The name exactly as the monitor gave it (the relay matched it in the event's text). */
  user: z.string().min(1).max(256),
  /** 31011 only: the event's text, users masked, so the monitor can tell a password policy refusal. */
  excerpt: text(300).optional(),
});

export type AdminReset = z.infer<typeof adminResetSchema>;

/** A Service Bus namespace host, as a relay may report one (and probes it). */
export const RELAY_NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9-]{2,62}\.servicebus\.(?:windows\.net|usgovcloudapi\.net|chinacloudapi\.cn)$/;

/** What the Connect server's Application log says of writeback (Windows only). */
export const eventLogReportSchema = z.object({
  supported: z.boolean(),
  checkedAt: z.iso.datetime({ offset: true }),
  lastHeartbeatAt: z.iso.datetime({ offset: true }).nullable(),
  heartbeatFresh: z.boolean(),
  /** Outage events (older relays: every event they counted as a failure; the monitor sorts again). */
  failures: z.array(logEventSchema).max(20),
  /** Warnings and per-user administrator work; absent from older relays. */
  notices: z.array(logEventSchema).max(20).optional(),
  // Only Service Bus hosts: the cloud probes these, so a relay must not name arbitrary hosts.
  relayNamespaces: z.array(z.string().regex(RELAY_NAMESPACE_PATTERN)).max(10),
  error: text(500).optional(),
  /** The Connect server is in staging mode: it handles no writeback, so no 31019 is expected. Absent from older relays. */
  stagingMode: z.boolean().optional(),
  /** WBMON_EVENTLOG=off: the relay does not read the log (it runs next to, not on, the Connect server); `supported` is false. */
  disabled: z.literal(true).optional(),
  /**
   * The round trip's admin resets in the look-back, newest first: present when the monitor told
   * the relay whom to look for; absent from older relays and from one not told yet.
   */
  adminResets: z.array(adminResetSchema).max(10).optional(),
});

export type EventLogReport = z.infer<typeof eventLogReportSchema>;

const hostName = () =>
  z
    .string()
    .max(MAX_HOST_NAME)
    .regex(HOST_NAME_PATTERN, { message: HOST_NAME_RULE, abort: true })
    .refine(isHostName, HOST_NAME_RULE);

/**
 * TCP reachability of a domain controller writeback talks to: older relays check LDAP 389 and
 * Kerberos 88; newer ones the ports of Microsoft's Connect ports reference (53, 88, 135, 389,
 * 445, 636, 3268), and say how they found the DC.
 */
export const dcReportSchema = z.object({
  // Filled into the PowerShell of the remediation: a host name, never free text. The pattern is
  // what the JSON Schema publishes; the refinement only adds that an IPv6 literal must be one.
  host: hostName(),
  ports: z
    .array(z.object({ port: z.number().int().min(1).max(65_535), ok: z.boolean(), ms: ms, error: text(200).optional() }))
    .max(16),
  /** The AD domain whose PDC emulator this is (found through DNS); absent from older relays. */
  domain: hostName().optional(),
  /** `setting`: WBMON_DC_HOST; `dns`: the domain's `_ldap._tcp.pdc._msdcs` SRV record. */
  found: z.enum(['setting', 'dns']).optional(),
  /** The DC could not be found (no SRV answer): no port was checked. */
  error: text(300).optional(),
});

export type DcReport = z.infer<typeof dcReportSchema>;

/** A Windows service's state, as `sc query` gives it (`missing`: not installed). */
export const SERVICE_STATES = ['running', 'stopped', 'start-pending', 'stop-pending', 'continue-pending', 'pause-pending', 'paused', 'missing', 'unknown'] as const;
const version = () => z.string().max(32).regex(/^\d{1,5}(?:\.\d{1,6}){1,3}$/, 'a dotted version number such as 2.5.79.0');
const day = () => z.iso.date();

/**
 * Entra Connect Sync on the relay's server (Windows only): its version and that build's end of
 * support from the relay's dated table, the ADSync service, staging mode. Absent from older
 * relays and from relays elsewhere than Windows.
 */
export const connectSyncReportSchema = z.object({
  checkedAt: z.iso.datetime({ offset: true }),
  installed: z.boolean(),
  version: version().nullable(),
  service: z.enum(SERVICE_STATES),
  support: z
    .object({
      /** From this day (UTC) the build is not supported; null: no end known yet. */
      endOfSupport: day().nullable(),
      basis: text(300),
      match: z.enum(['listed', 'unlisted', 'older', 'newer']),
      /** When the relay's table was checked against Microsoft's page. */
      tableChecked: day(),
    })
    .optional(),
  /** Get-ADSyncScheduler's StagingModeEnabled; null when it could not be read. */
  stagingMode: z.boolean().nullable().optional(),
  problems: z.array(text(300)).max(5).optional(),
});

export type ConnectSyncReportBody = z.infer<typeof connectSyncReportSchema>;

/** The provisioning agent's endpoint hosts a relay may name (and probe): Service Bus and application proxy hosts only. */
export const AGENT_ENDPOINT_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}(?:\.[a-z0-9][a-z0-9-]{0,62}){0,4}\.(?:msappproxy\.net|servicebus\.windows\.net)$/;

/**
 * Entra Cloud Sync's provisioning agent on the relay's server (Windows only): its services, its
 * build, the errors of its trace files in the last hour. Absent from older relays.
 */
export const provisioningAgentReportSchema = z.object({
  checkedAt: z.iso.datetime({ offset: true }),
  installed: z.boolean(),
  version: version().nullable(),
  services: z.array(z.object({ name: text(64), state: z.enum(SERVICE_STATES) })).max(4),
  trace: z
    .object({
      files: z.number().int().min(0),
      errors: z.number().int().min(0),
      recent: z.array(z.object({ file: text(100), line: text(300) })).max(5),
    })
    .optional(),
  endpoints: z.array(z.string().max(253).regex(AGENT_ENDPOINT_PATTERN)).max(5).optional(),
  problems: z.array(text(300)).max(5).optional(),
});

export type ProvisioningAgentReportBody = z.infer<typeof provisioningAgentReportSchema>;

/** What a reach result belongs to: the revocation hosts, the agent's endpoints, or one relay namespace's gateways. */
export const REACH_GROUP_PATTERN = /^(?:revocation|cloudsync|gateways:[a-z0-9][a-z0-9-]{2,62}\.servicebus\.(?:windows\.net|usgovcloudapi\.net|chinacloudapi\.cn))$/;

/** One reach probe (src/probes/reach.ts): plain HTTP, TCP connect, or TLS handshake. */
export const reachResultSchema = z.object({
  group: z.string().max(100).regex(REACH_GROUP_PATTERN),
  target: z.string().max(300).regex(/^(?:https?|tcp):\/\/[!-~]+$/, 'an http, https or tcp URL in printable ASCII'),
  ok: z.boolean(),
  ms: ms,
  status: z.number().int().min(100).max(999).optional(),
  failure: probeResultSchema.shape.failure,
});

export type ReachResultBody = z.infer<typeof reachResultSchema>;

/** How a relay namespace's gateways were found (its DNS, Microsoft's naming); see src/relay/gateways.ts. */
export const gatewayDiscoverySchema = z.object({
  namespace: z.string().regex(RELAY_NAMESPACE_PATTERN),
  /** The namespace's CNAME chain, first hop first. */
  cnames: z.array(z.string().max(253)).max(5),
  /** The deployment the chain names (e.g. prod-sn3-010); null when the chain is not shaped as Microsoft names them. */
  deployment: z.string().max(63).nullable(),
  /** Gateway names that resolved (g<N>-<deployment>-sb, gv<N>-<deployment>-sb). */
  found: z.number().int().min(0).max(256),
  /** Found but not probed: more than the relay probes per namespace. */
  skipped: z.number().int().min(0).max(256).optional(),
  error: text(300).optional(),
});

export type GatewayDiscoveryBody = z.infer<typeof gatewayDiscoverySchema>;

export const heartbeatSchema = z.object({
  version: z.literal(1),
  relayId: text(64),
  /** Strictly increasing per relay, kept across restarts; the monitor refuses replays. */
  sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  sentAt: z.iso.datetime({ offset: true }),
  host: text(255),
  agentVersion: text(64),
  results: z.array(probeResultSchema).max(50),
  keepalive: keepaliveReportSchema.optional(),
  eventLog: eventLogReportSchema.optional(),
  /** The first (or only) domain controller; older monitors read this one. */
  dc: dcReportSchema.optional(),
  /** Every domain controller checked, one per domain (WBMON_AD_DOMAINS); absent from older relays. */
  dcs: z.array(dcReportSchema).min(1).max(10).optional(),
  /** The proxy the relay used and where it came from (WBMON_PROXY_URL, HTTPS_PROXY, machine.config, winhttp, none). */
  proxy: z
    .object({
      source: z.enum(PROXY_SOURCES),
      /** Without credentials; null when direct. */
      url: text(512).nullable(),
      /** What could not be read or followed (a broken machine.config, netsh failing). */
      problems: z.array(text(500)).max(5).optional(),
    })
    .optional(),
  connectSync: connectSyncReportSchema.optional(),
  provisioningAgent: provisioningAgentReportSchema.optional(),
  /** Reach probes: the certificate revocation hosts (port 80), the agent's endpoints, the tenant relay's gateways. */
  reach: z.array(reachResultSchema).max(120).optional(),
  gateways: z.array(gatewayDiscoverySchema).max(10).optional(),
  /** The relay's on-disk buffer when this was sent. */
  buffer: z.object({ pending: z.number().int().min(0), dropped: z.number().int().min(0) }).optional(),
});

export type Heartbeat = z.infer<typeof heartbeatSchema>;
