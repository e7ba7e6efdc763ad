/**
 * The relay agent's settings (environment, or local.settings.json Values like the monitor).
 * Checked all at once like the monitor's: one line per problem, naming the setting.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { MIN_SECRET_LENGTH, RELAY_ID } from '../config/relays.js';
import { HOST_NAME_RULE, isHostName } from '../config/hostname.js';
import { isLoopback } from '../config/loopback.js';
import { escapeControls } from '../text/safe-text.js';
import { count, proxyUrl, targetList, validate, WRITEBACK_ENDPOINTS, type Env } from '../config/settings.js';

export interface RelaySettings {
  /** Base URL of the monitor; heartbeats go to `<base>/api/heartbeat`. */
  readonly monitorUrl: URL;
  /** Function key for the heartbeat endpoint under Azure Functions. A secret. */
  readonly monitorKey: string | undefined;
  readonly relayId: string;
  /** HMAC secret shared with WBMON_RELAYS on the monitor. A secret. */
  readonly secret: string;
  readonly targets: readonly string[];
  /** Idle lengths for the keepalive test, seconds (the pass mark is added when the test runs). */
  readonly keepaliveIdle: readonly number[];
  /**
   * WBMON_KEEPALIVE_MIN: the idle length the connection must survive for the keepalive check to
   * pass. Unset: 360 s when a proxy is in the path (Connect's prerequisites ask proxies for an
   * idle timeout of at least 6 minutes), 180 s otherwise (keepalivePassMark).
   */
  readonly keepaliveMin: number | undefined;
  /** Where the keepalive test holds its idle connection: the Service Bus relay by default. */
  readonly keepaliveTarget: string;
  readonly dcHost: string | undefined;
  /** AD domains whose PDC emulator is found in DNS when dcHost is unset (WBMON_AD_DOMAINS). */
  readonly adDomains: readonly string[];
  readonly periodSeconds: number;
  readonly probeTimeoutMs: number;
  /** Where the sequence number and the heartbeat buffer live. */
  readonly stateDir: string;
  /** Heartbeats kept while the monitor cannot be reached; the oldest go first. */
  readonly bufferMax: number;
  readonly proxyUrl: string | undefined;
  /** WBMON_PROXY_DISCOVERY: on Windows, take Connect's proxy from machine.config (and WinHTTP). */
  readonly proxyDiscovery: boolean;
  /**
   * WBMON_EVENTLOG: read Connect's Application log (on), or not (off: a relay placed next to,
   * not on, the Connect server, which cannot read another server's log).
   */
  readonly eventLog: boolean;
  readonly env: Env;
}

/** The keepalive pass mark: WBMON_KEEPALIVE_MIN, else 360 s through a proxy and 180 s direct. */
export function keepalivePassMark(settings: Pick<RelaySettings, 'keepaliveMin'>, throughProxy: boolean): number {
  return settings.keepaliveMin ?? (throughProxy ? 360 : 180);
}

function defaultStateDir(env: Env, platform: NodeJS.Platform): string {
  if (platform === 'win32' && env.ProgramData) return join(env.ProgramData, 'writeback-monitor', 'relay');
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'writeback-monitor', 'relay');
}

const schema = z.object({
  WBMON_MONITOR_URL: z
    .string({ error: 'required: the monitor\'s base URL, e.g. https://<app>.azurewebsites.net' })
    .transform((text, ctx) => {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a valid URL` });
        return z.NEVER;
      }
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
        ctx.addIssue({ code: 'custom', message: 'must be https (plain http only to a loopback host)' });
        return z.NEVER;
      }
      return url;
    }),
  WBMON_MONITOR_KEY: z.string().optional(),
  WBMON_RELAY_ID: z
    .string({ error: 'required: this relay\'s id, a key of WBMON_RELAYS on the monitor' })
    .refine((id) => RELAY_ID.test(id), 'ids are 1-64 letters, digits, \'.\', \'_\' or \'-\', starting with a letter or digit'),
  WBMON_RELAY_SECRET: z
    .string({ error: 'required: the secret given to this relay in WBMON_RELAYS on the monitor' })
    .refine((s) => s.length >= MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`),
  WBMON_RELAY_TARGETS: targetList(WRITEBACK_ENDPOINTS),
  WBMON_KEEPALIVE_IDLE: z
    .string()
    .default('180')
    .transform((text, ctx) => {
      const items = text.split(',').map((t) => t.trim());
      const bad = items.filter((t) => !/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 3600);
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `${bad.map((b) => `"${b}"`).join(', ')}: idle lengths are whole seconds from 1 to 3600` });
        return z.NEVER;
      }
      return [...new Set(items.map(Number))].sort((a, b) => a - b);
    }),
  WBMON_KEEPALIVE_MIN: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      if (!/^\s*\d+\s*$/.test(text) || Number(text) < 1 || Number(text) > 3600) {
        ctx.addIssue({ code: 'custom', message: `"${escapeControls(text)}" must be a whole number from 1 to 3600` });
        return z.NEVER;
      }
      return Number(text);
    }),
  WBMON_KEEPALIVE_TARGET: targetList([]),
  // Reported in heartbeats and filled into the remediation's commands: a host name only.
  WBMON_DC_HOST: z
    .string()
    .refine(isHostName, { error: (issue) => `"${escapeControls(String(issue.input))}" is not a host name: it ${HOST_NAME_RULE}` })
    .optional(),
  WBMON_AD_DOMAINS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      const items = (text ?? '').split(',').map((t) => t.trim().replace(/\.$/, '').toLowerCase()).filter(Boolean);
      const bad = items.filter((d) => !isHostName(d) || !d.includes('.') || d.includes(':'));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `${bad.map((b) => `"${escapeControls(b)}"`).join(', ')}: AD domains are DNS names such as corp.example, comma-separated` });
        return z.NEVER;
      }
      if (items.length > 10) {
        ctx.addIssue({ code: 'custom', message: `${items.length} domains: at most 10` });
        return z.NEVER;
      }
      return [...new Set(items)];
    }),
  WBMON_PROXY_DISCOVERY: z
    .enum(['auto', 'off'], { error: 'must be "auto" (take Connect\'s proxy from machine.config on Windows) or "off"' })
    .default('auto'),
  WBMON_EVENTLOG: z
    .enum(['on', 'off'], { error: 'must be "on" (read Connect\'s Application log on this server) or "off" (the relay runs next to, not on, the Connect server)' })
    .default('on'),
  WBMON_RELAY_PERIOD_SECONDS: count(300, 10, 86_400),
  WBMON_PROBE_TIMEOUT_MS: count(10_000, 100, 120_000),
  WBMON_RELAY_STATE_DIR: z.string().optional(),
  WBMON_RELAY_BUFFER_MAX: count(2016, 1, 1_000_000),
  WBMON_PROXY_URL: proxyUrl,
});

/**
 * `platform` decides the Windows defaults: the state directory, and WBMON_AD_DOMAINS taken from
 * USERDNSDOMAIN (the DNS name of the domain the account logged on to).
 */
export function parseRelaySettings(env: Env, labels: Readonly<Record<string, string>> = {}, platform: NodeJS.Platform = process.platform): RelaySettings {
  const domainDefault = platform === 'win32' && env.USERDNSDOMAIN && env.WBMON_AD_DOMAINS === undefined ? { WBMON_AD_DOMAINS: env.USERDNSDOMAIN } : {};
  const s = validate(schema, { ...env, ...domainDefault }, { ...(domainDefault.WBMON_AD_DOMAINS && { WBMON_AD_DOMAINS: 'USERDNSDOMAIN (the default of WBMON_AD_DOMAINS)' }), ...labels });
  return {
    monitorUrl: s.WBMON_MONITOR_URL,
    monitorKey: s.WBMON_MONITOR_KEY,
    relayId: s.WBMON_RELAY_ID,
    secret: s.WBMON_RELAY_SECRET,
    targets: s.WBMON_RELAY_TARGETS,
    keepaliveIdle: s.WBMON_KEEPALIVE_IDLE,
    keepaliveMin: s.WBMON_KEEPALIVE_MIN,
    keepaliveTarget: s.WBMON_KEEPALIVE_TARGET[0] ?? s.WBMON_RELAY_TARGETS.find((t) => /\.servicebus\.windows\.net$/i.test(new URL(t).hostname)) ?? s.WBMON_RELAY_TARGETS[0]!,
    dcHost: s.WBMON_DC_HOST,
    adDomains: s.WBMON_AD_DOMAINS,
    periodSeconds: s.WBMON_RELAY_PERIOD_SECONDS,
    probeTimeoutMs: s.WBMON_PROBE_TIMEOUT_MS,
    stateDir: s.WBMON_RELAY_STATE_DIR ?? defaultStateDir(env, platform),
    bufferMax: s.WBMON_RELAY_BUFFER_MAX,
    proxyUrl: s.WBMON_PROXY_URL,
    proxyDiscovery: s.WBMON_PROXY_DISCOVERY === 'auto',
    eventLog: s.WBMON_EVENTLOG === 'on',
    env,
  };
}
