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
  /** Idle lengths for the keepalive test, seconds (always including keepaliveMin). */
  readonly keepaliveIdle: readonly number[];
  /** The idle length the connection must survive for the keepalive check to pass. */
  readonly keepaliveMin: number;
  /** Where the keepalive test holds its idle connection: the Service Bus relay by default. */
  readonly keepaliveTarget: string;
  readonly dcHost: string | undefined;
  readonly periodSeconds: number;
  readonly probeTimeoutMs: number;
  /** Where the sequence number and the heartbeat buffer live. */
  readonly stateDir: string;
  /** Heartbeats kept while the monitor cannot be reached; the oldest go first. */
  readonly bufferMax: number;
  readonly proxyUrl: string | undefined;
  readonly env: Env;
}

function defaultStateDir(env: Env): string {
  if (process.platform === 'win32' && env.ProgramData) return join(env.ProgramData, 'writeback-monitor', 'relay');
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
  WBMON_KEEPALIVE_MIN: count(180, 1, 3600),
  WBMON_KEEPALIVE_TARGET: targetList([]),
  // Reported in heartbeats and filled into the remediation's commands: a host name only.
  WBMON_DC_HOST: z
    .string()
    .refine(isHostName, { error: (issue) => `"${escapeControls(String(issue.input))}" is not a host name: it ${HOST_NAME_RULE}` })
    .optional(),
  WBMON_RELAY_PERIOD_SECONDS: count(300, 10, 86_400),
  WBMON_PROBE_TIMEOUT_MS: count(10_000, 100, 120_000),
  WBMON_RELAY_STATE_DIR: z.string().optional(),
  WBMON_RELAY_BUFFER_MAX: count(2016, 1, 1_000_000),
  WBMON_PROXY_URL: proxyUrl,
});

export function parseRelaySettings(env: Env, labels: Readonly<Record<string, string>> = {}): RelaySettings {
  const s = validate(schema, env, labels);
  return {
    monitorUrl: s.WBMON_MONITOR_URL,
    monitorKey: s.WBMON_MONITOR_KEY,
    relayId: s.WBMON_RELAY_ID,
    secret: s.WBMON_RELAY_SECRET,
    targets: s.WBMON_RELAY_TARGETS,
    keepaliveIdle: [...new Set([...s.WBMON_KEEPALIVE_IDLE, s.WBMON_KEEPALIVE_MIN])].sort((a, b) => a - b),
    keepaliveMin: s.WBMON_KEEPALIVE_MIN,
    keepaliveTarget: s.WBMON_KEEPALIVE_TARGET[0] ?? s.WBMON_RELAY_TARGETS.find((t) => /\.servicebus\.windows\.net$/i.test(new URL(t).hostname)) ?? s.WBMON_RELAY_TARGETS[0]!,
    dcHost: s.WBMON_DC_HOST,
    periodSeconds: s.WBMON_RELAY_PERIOD_SECONDS,
    probeTimeoutMs: s.WBMON_PROBE_TIMEOUT_MS,
    stateDir: s.WBMON_RELAY_STATE_DIR ?? defaultStateDir(env),
    bufferMax: s.WBMON_RELAY_BUFFER_MAX,
    proxyUrl: s.WBMON_PROXY_URL,
    env,
  };
}
