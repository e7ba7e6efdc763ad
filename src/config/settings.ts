import { parseRoundtrip, roundtripProblems, type RoundtripSettings } from './roundtrip-settings.js';
import { DEFAULT_HISTORY_DAYS, MAX_HISTORY_DAYS } from '../history/history.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { parseSchedule, type Schedule } from '../schedule/ncrontab.js';
import { ConfigError } from './errors.js';
import { isLoopback } from './loopback.js';
import { MIN_SECRET_LENGTH, parseRelays, type RelayMap } from './relays.js';
import { parseMaintenance, type MaintenanceWindow } from '../alerting/maintenance.js';

/** The writeback endpoints every deployment needs to reach (Microsoft's SSPR network requirements). */
export const WRITEBACK_ENDPOINTS = [
  'https://passwordreset.microsoftonline.com/',
  'https://ssprdedicatedsbprodscu.servicebus.windows.net/',
  'https://ssprdedicatedsbprodncu.servicebus.windows.net/',
];

export type Env = Readonly<Record<string, string | undefined>>;

const schedule = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx): Schedule => {
      try {
        return parseSchedule(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a valid NCRONTAB schedule: ${(err as Error).message}` });
        return z.NEVER;
      }
    });

export const count = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((text, ctx) => {
      const n = Number(text);
      if (!/^\s*\d+\s*$/.test(text) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `"${text}" must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

/** A probe target: an absolute http(s) URL with a valid port and no credentials. */
function targetProblem(raw: string): string | undefined {
  const text = raw.replace(/\/\/[^/?#@]*@/, '//***@'); // never echo credentials

  const port = /^[a-z][a-z0-9+.-]*:\/\/(?:[^/?#@]*@)?(?:\[[^\]]*\]|[^/:?#]*)(?::([^/?#]*))?/i.exec(text)?.[1];
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535)) {
    return `"${text}" has port "${port}"; a port is a number from 1 to 65535`;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `"${text}" is not a valid URL`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return `"${text}" uses scheme ${url.protocol.replace(':', '')}; only https and http can be probed`;
  }
  if (url.username || url.password) return `"${text}" carries credentials; targets must not`;
  return undefined;
}

export const targetList = (fallback: string[]) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return fallback;
      const items = text.split(',').map((t) => t.trim());
      const problems = items.map((t) => (t === '' ? 'an empty entry (two commas?)' : targetProblem(t)));
      for (const p of problems) if (p) ctx.addIssue({ code: 'custom', message: p });
      return problems.some(Boolean) ? z.NEVER : [...new Set(items.map((t) => new URL(t).href))];
    });

export const proxyUrl = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (!text) return undefined;
    try {
      const url = new URL(text);
      if (url.protocol === 'http:') return url.href;
      ctx.addIssue({ code: 'custom', message: `must be an http:// proxy URL (HTTPS is tunnelled through it with CONNECT), got scheme ${url.protocol.replace(':', '')}` });
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a valid URL' });
    }
    return z.NEVER;
  });

/**
 * A URL that is itself a secret (a webhook URL carries its key): checked for scheme, never
 * echoed in a message. `secure` schemes always; `plain` ones only to a loopback host.
 */
const secretUrl = (secure: readonly string[], plain: string | null, what: string) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (!text) return undefined;
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        ctx.addIssue({ code: 'custom', message: `is not a valid URL (value not shown: it is a secret)` });
        return z.NEVER;
      }
      if (secure.includes(url.protocol) || (url.protocol === plain && isLoopback(url.hostname))) return text;
      ctx.addIssue({ code: 'custom', message: `must be ${what}${plain ? ` (plain ${plain.replace(':', '')} only to a loopback host)` : ''}` });
      return z.NEVER;
    });

/**
 * An address people open from an alert (WBMON_PUBLIC_URL, WBMON_WORKBOOK_URL): absolute
 * http(s), https unless the host is loopback, and nothing in it that could be a secret or
 * change what the alert builds from it (no user, password or query; a base URL no fragment
 * either). The value is echoed only when it carries neither credentials nor a query.
 */
export function linkUrlProblem(text: string, what: 'base' | 'page'): string | undefined {
  // A user, a password or a query (`?code=` is how a function key travels) may be secret: not echoed.
  const shown = /\/\/[^/?#]*@/.test(text) ? 'the value (not shown: it carries credentials)' : text.includes('?') ? 'the value (not shown: its query may hold a key)' : `"${text}"`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${shown} is not a valid absolute URL (such as https://wbmon.contoso.com)`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return `${shown} must be an https URL (http only to a loopback host)`;
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) return `${shown} must be https (plain http only to a loopback host)`;
  if (url.username || url.password) return `${shown} must not carry a user or password: alerts show this address to everyone they reach`;
  if (url.search || text.includes('?')) {
    return `${shown} must not have a query${what === 'base' ? ' (never put the function key here: alerts show this address to everyone they reach)' : ''}`;
  }
  if (what === 'base') {
    if (url.hash || text.includes('#')) return `${shown} must not have a fragment: the alert adds the check's place on the page`;
    // `serve` prints its address with /api; the base is what comes before it.
    if (/\/api\/*$/i.test(url.pathname)) return `${shown} ends in /api: give the base URL without it (alerts add /api/dashboard)`;
  }
  return undefined;
}

const linkUrl = (what: 'base' | 'page') =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      const trimmed = text.trim();
      const problem = linkUrlProblem(trimmed, what);
      if (problem) {
        ctx.addIssue({ code: 'custom', message: problem });
        return z.NEVER;
      }
      // The base is joined with /api/dashboard: no trailing slash, so the path does not double one.
      return what === 'base' ? new URL(trimmed).href.replace(/\/+$/, '') : new URL(trimmed).href;
    });

/**
 * `https://<WEBSITE_HOSTNAME>`: the app's default host name, which App Service and Azure
 * Functions set for every app (custom domains are not in it: WBMON_PUBLIC_URL is for those).
 * A loopback name (a local host that sets it) is taken as http. Anything that is not a plain
 * host with an optional port is ignored rather than trusted.
 */
export function platformBaseUrl(env: Env): string | undefined {
  const host = env.WEBSITE_HOSTNAME?.trim();
  if (!host || !/^[A-Za-z0-9.-]+(?::\d{1,5})?$/.test(host)) return undefined;
  const name = host.replace(/:\d+$/, '');
  try {
    const url = new URL(`${isLoopback(name) ? 'http' : 'https'}://${host}`);
    // A name the URL parser rewrites (`1.2.3` read as an IPv4 address) is not what was given.
    return url.hostname === name.toLowerCase() ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

const EMAIL = /^[^\s@<>,;]+@[^\s@<>,;]+$/;

/** How email alerts are sent: over SMTP (WBMON_SMTP_URL) or through Microsoft Graph sendMail. */
export type EmailVia = 'smtp' | 'graph';

const schema = z.object({
  WBMON_TARGETS: targetList(WRITEBACK_ENDPOINTS),
  WBMON_PROBE_SCHEDULE: schedule('0 */5 * * * *'),
  WBMON_FAILURE_THRESHOLD: count(2, 1, 100),
  WBMON_SUCCESS_THRESHOLD: count(2, 1, 100),
  WBMON_PROBE_TIMEOUT_MS: count(10_000, 100, 120_000),
  WBMON_PROXY_URL: proxyUrl,
  WBMON_RELAYS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      const { relays, problems } = parseRelays(text);
      for (const message of problems) ctx.addIssue({ code: 'custom', message });
      return relays;
    }),
  WBMON_EVALUATE_SCHEDULE: schedule('0 * * * * *'),
  WBMON_REMIND_MINUTES: count(60, 0, 10_080),
  WBMON_TENANT_SCHEDULE: schedule('0 0 * * * *'),
  WBMON_GRAPH_URL: z
    .string()
    .default('https://graph.microsoft.com')
    .refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname));
      } catch {
        return false;
      }
    }, 'must be an https URL such as https://graph.microsoft.com (national clouds: https://graph.microsoft.us, https://microsoftgraph.chinacloudapi.cn)'),
  WBMON_GRAPH_TOKEN: z.string().optional(),
  WBMON_SYNC_MAX_AGE_MINUTES: count(120, 5, 10_080),
  WBMON_HISTORY_DAYS: count(DEFAULT_HISTORY_DAYS, 1, MAX_HISTORY_DAYS),
  WBMON_MAINTENANCE: z
    .string()
    .optional()
    .transform((text, ctx) => {
      const { windows, problems } = parseMaintenance(text);
      for (const message of problems) ctx.addIssue({ code: 'custom', message });
      return windows;
    }),
  WBMON_TEAMS_WEBHOOK_URL: secretUrl(['https:'], 'http:', 'an https URL'),
  WBMON_WEBHOOK_URL: secretUrl(['https:'], 'http:', 'an https URL'),
  // The HMAC key receivers check webhook requests with: as long as a relay secret, since a
  // short one can be guessed offline from a single signed request.
  WBMON_WEBHOOK_SECRET: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.length >= MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -hex 32)`),
  // smtp:// is allowed anywhere: the email channel then requires STARTTLS except to loopback.
  WBMON_SMTP_URL: secretUrl(['smtps:', 'smtp:'], null, 'an smtps:// (implicit TLS) or smtp:// (STARTTLS) URL'),
  WBMON_EMAIL_FROM: z
    .string()
    .optional()
    .refine((v) => v === undefined || EMAIL.test(v.replace(/^.*<(.+)>\s*$/, '$1')), 'must be an email address'),
  // How email alerts leave: smtp (WBMON_SMTP_URL, the default) or graph (Microsoft Graph
  // sendMail as the WBMON_EMAIL_FROM mailbox, with the managed identity: no password).
  WBMON_EMAIL_VIA: z
    .string()
    .default('smtp')
    .transform((text, ctx): EmailVia => {
      const via = text.trim().toLowerCase();
      if (via === 'smtp' || via === 'graph') return via;
      ctx.addIssue({ code: 'custom', message: `"${text}" must be graph (Microsoft Graph with the managed identity) or smtp (WBMON_SMTP_URL)` });
      return z.NEVER;
    }),
  WBMON_EMAIL_TO: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (!text) return [];
      const list = text.split(/[,;]/).map((t) => t.trim()).filter(Boolean);
      const bad = list.filter((a) => !EMAIL.test(a));
      if (bad.length) ctx.addIssue({ code: 'custom', message: `not email addresses: ${bad.map((b) => `"${b}"`).join(', ')}` });
      return list;
    }),
  // Where alerts link to (docs/alerts.md, "Links in alerts"): the monitor's base URL as people
  // open it, and the Azure Monitor workbook (infra/ sets that one).
  WBMON_PUBLIC_URL: linkUrl('base'),
  WBMON_WORKBOOK_URL: linkUrl('page'),
  AzureWebJobsStorage: z.string().optional(),
  APPLICATIONINSIGHTS_CONNECTION_STRING: z.string().optional(),
  // Under Functions: the vault whose references the app reads itself when the platform left them
  // unresolved (src/config/keyvault-references.ts; infra/ sets it with privateNetworking).
  WBMON_KEY_VAULT_URL: z.string().optional(),
  // The round trip (src/config/roundtrip-settings.ts checks them together).
  WBMON_ROUNDTRIP_USER: z.string().optional(),
  WBMON_ROUNDTRIP_SCHEDULE: z.string().optional(),
  WBMON_ROUNDTRIP_CLIENT_ID: z.string().optional(),
  WBMON_TENANT_ID: z.string().optional(),
  WBMON_LOGIN_URL: z.string().optional(),
  WBMON_ROUNDTRIP_TOKEN_KEY: z.string().optional(),
});

export interface AlertSettings {
  readonly remindMinutes: number;
  readonly maintenance: readonly MaintenanceWindow[];
  /** Secrets: never logged. */
  readonly teamsWebhookUrl: string | undefined;
  readonly webhookUrl: string | undefined;
  readonly webhookSecret: string | undefined;
  readonly smtpUrl: string | undefined;
  readonly emailFrom: string | undefined;
  readonly emailTo: readonly string[];
  /** WBMON_EMAIL_VIA: `graph` sends email as the WBMON_EMAIL_FROM mailbox through Microsoft Graph. */
  readonly emailVia: EmailVia;
  /** WBMON_GRAPH_URL and WBMON_GRAPH_TOKEN (a secret), shared with the tenant checks. */
  readonly graphUrl: string;
  readonly graphToken: string | undefined;
  /**
   * Where alerts link to. `publicUrl`: WBMON_PUBLIC_URL, the base URL without a trailing slash;
   * `platformUrl`: the one the platform names (`https://<WEBSITE_HOSTNAME>`); `workbookUrl`:
   * WBMON_WORKBOOK_URL. src/alerting/links.ts decides which base wins.
   */
  readonly publicUrl: string | undefined;
  readonly platformUrl: string | undefined;
  readonly workbookUrl: string | undefined;
}

export interface TenantSettings {
  readonly schedule: Schedule;
  readonly graphUrl: string;
  /** A pre-acquired token for local runs (a secret); without it the managed identity is used. */
  readonly graphToken: string | undefined;
  readonly syncMaxAgeMinutes: number;
}

export interface Settings {
  readonly targets: readonly string[];
  readonly probeSchedule: Schedule;
  readonly failureThreshold: number;
  readonly successThreshold: number;
  readonly probeTimeoutMs: number;
  /** WBMON_PROXY_URL: wins over HTTPS_PROXY. */
  readonly proxyUrl: string | undefined;
  /** APPLICATIONINSIGHTS_CONNECTION_STRING: telemetry goes to Application Insights when set. */
  readonly telemetryConnection: string | undefined;
  /** AzureWebJobsStorage: a connection string (it holds a key: never log it). */
  readonly storageConnection: string | undefined;
  readonly alerting: AlertSettings;
  readonly tenant: TenantSettings;
  /** The round trip (docs/roundtrip.md); undefined = off (WBMON_ROUNDTRIP_USER unset). */
  readonly roundtrip: RoundtripSettings | undefined;
  /** WBMON_RELAYS: the relays allowed to post heartbeats, with their secrets. */
  readonly relays: RelayMap;
  readonly evaluateSchedule: Schedule;
  /** WBMON_HISTORY_DAYS: days of daily history and incidents kept (hourly buckets: 48 h). */
  readonly historyDays: number;
  /** The environment the settings came from, for HTTPS_PROXY / NO_PROXY. */
  readonly env: Env;
  /**
   * Settings holding a Key Vault reference the platform did not resolve (the secret does not
   * exist yet, or the identity cannot read it), treated as unset; worth a line in the log.
   */
  readonly unresolvedSecrets: readonly string[];
  /**
   * Under Functions only (see loadHostSettings): WBMON_RELAYS entries left out because they
   * are wrong, by relay id, and whether the whole value was unusable. Empty elsewhere: serve
   * and the CLI refuse bad settings at start.
   */
  readonly relayProblems: RelayProblems;
}

export interface RelayProblems {
  readonly invalid: ReadonlyMap<string, readonly string[]>;
  /** WBMON_RELAYS is not a JSON object at all: no relay is known, none may be judged. */
  readonly unusable?: string;
}

/**
 * App Service leaves a Key Vault reference it cannot resolve in place, as the literal
 * `@Microsoft.KeyVault(...)` text. infra/ references every secret setting whether or not the
 * secret has been created, so such a value means "not configured yet", not a bad value.
 */
export function isUnresolvedKeyVaultReference(value: string | undefined): boolean {
  return value !== undefined && /^\s*@Microsoft\.KeyVault\(/i.test(value);
}

/** The environment with unresolved references removed; email is off while its server is one. */
function withoutUnresolvedReferences(env: Env): { env: Env; unresolved: string[] } {
  const unresolved = Object.keys(env).filter((name) => isUnresolvedKeyVaultReference(env[name])).sort();
  if (unresolved.length === 0) return { env, unresolved };
  const cleaned: Record<string, string | undefined> = { ...env };
  for (const name of unresolved) cleaned[name] = undefined;
  // Email over Graph needs no SMTP URL: infra/ references the SMTP secret whether or not it exists.
  if (unresolved.includes('WBMON_SMTP_URL') && !viaGraph(env)) {
    cleaned.WBMON_EMAIL_FROM = undefined;
    cleaned.WBMON_EMAIL_TO = undefined;
  }
  return { env: cleaned, unresolved };
}

/** Every setting the monitor reads (the infra check holds the Bicep's app settings to this list). */
export const SETTING_NAMES: readonly string[] = Object.keys(schema.shape);

/**
 * Validates every setting and reports every problem at once (ConfigError). `labels` renames a
 * setting in messages when its value came from somewhere else (a command-line flag).
 */
export function parseSettings(given: Env, labels: Readonly<Record<string, string>> = {}, options: { tolerateRelayProblems?: boolean } = {}): Settings {
  const { env: checked, unresolved } = withoutUnresolvedReferences(given);
  let env = checked;
  let relayProblems: RelayProblems = { invalid: new Map() };
  let tolerated: RelayMap | undefined;
  if (options.tolerateRelayProblems) {
    const parsed = parseRelays(env.WBMON_RELAYS);
    relayProblems = { invalid: parsed.invalid, ...(parsed.unusable && { unusable: parsed.unusable }) };
    tolerated = parsed.relays;
    env = { ...env, WBMON_RELAYS: undefined };
  }
  const s = validate(schema, env, labels, (e) => [...emailNeedsAll(e), ...roundtripProblems(e)]);
  return {
    targets: s.WBMON_TARGETS,
    probeSchedule: s.WBMON_PROBE_SCHEDULE,
    failureThreshold: s.WBMON_FAILURE_THRESHOLD,
    successThreshold: s.WBMON_SUCCESS_THRESHOLD,
    probeTimeoutMs: s.WBMON_PROBE_TIMEOUT_MS,
    proxyUrl: s.WBMON_PROXY_URL,
    storageConnection: s.AzureWebJobsStorage,
    telemetryConnection: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
    relays: tolerated ?? s.WBMON_RELAYS,
    evaluateSchedule: s.WBMON_EVALUATE_SCHEDULE,
    historyDays: s.WBMON_HISTORY_DAYS,
    tenant: {
      schedule: s.WBMON_TENANT_SCHEDULE,
      graphUrl: s.WBMON_GRAPH_URL,
      graphToken: s.WBMON_GRAPH_TOKEN,
      syncMaxAgeMinutes: s.WBMON_SYNC_MAX_AGE_MINUTES,
    },
    roundtrip: parseRoundtrip(blankAsUnset(env)),
    alerting: {
      remindMinutes: s.WBMON_REMIND_MINUTES,
      maintenance: s.WBMON_MAINTENANCE,
      teamsWebhookUrl: s.WBMON_TEAMS_WEBHOOK_URL,
      webhookUrl: s.WBMON_WEBHOOK_URL,
      webhookSecret: s.WBMON_WEBHOOK_SECRET,
      smtpUrl: s.WBMON_SMTP_URL,
      emailFrom: s.WBMON_EMAIL_FROM,
      emailTo: s.WBMON_EMAIL_TO,
      emailVia: s.WBMON_EMAIL_VIA,
      graphUrl: s.WBMON_GRAPH_URL,
      graphToken: s.WBMON_GRAPH_TOKEN,
      publicUrl: s.WBMON_PUBLIC_URL,
      platformUrl: platformBaseUrl(env),
      workbookUrl: s.WBMON_WORKBOOK_URL,
    },
    env,
    unresolvedSecrets: unresolved,
    relayProblems,
  };
}

/**
 * Checks an environment against a settings schema: blank values count as unset, and every
 * problem is reported at once, one line each, naming the setting (or the flag in `labels`).
 */
export function validate<T extends z.ZodType>(
  settingsSchema: T,
  env: Env,
  labels: Readonly<Record<string, string>> = {},
  together: (env: Readonly<Record<string, string | undefined>>) => string[] = () => [],
): z.output<T> {
  const unsetBlanks = blankAsUnset(env);
  const parsed = settingsSchema.safeParse(unsetBlanks);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'settings');
        return `${labels[name] ?? name}: ${issue.message}`;
      });
  // Settings that only make sense together, checked whether or not each is valid alone.
  problems.push(...together(unsetBlanks));
  if (parsed.success && problems.length === 0) return parsed.data;
  throw new ConfigError(problems);
}

function blankAsUnset(env: Env): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === undefined || v.trim() === '' ? undefined : v]));
}

function viaGraph(env: Env): boolean {
  return env.WBMON_EMAIL_VIA?.trim().toLowerCase() === 'graph';
}

/**
 * Email needs a server, a sender and recipients: any one alone is a mistake worth saying.
 * Through Graph the server is Microsoft Graph itself: a sender mailbox and recipients are
 * needed, and an SMTP URL would be a second, unused way of sending.
 */
function emailNeedsAll(env: Readonly<Record<string, string | undefined>>): string[] {
  if (viaGraph(env)) {
    return [
      ...(env.WBMON_EMAIL_FROM === undefined ? ['WBMON_EMAIL_FROM: required when WBMON_EMAIL_VIA is graph: the mailbox the alerts are sent as (its user principal name)'] : []),
      ...(env.WBMON_EMAIL_TO === undefined ? ['WBMON_EMAIL_TO: required when WBMON_EMAIL_VIA is graph: who gets the alert emails'] : []),
      ...(env.WBMON_SMTP_URL !== undefined ? ['WBMON_SMTP_URL: not used when WBMON_EMAIL_VIA is graph; remove it (in Azure: delete the Key Vault secret wbmon-smtp-url), or set WBMON_EMAIL_VIA=smtp'] : []),
    ];
  }
  const names = ['WBMON_SMTP_URL', 'WBMON_EMAIL_FROM', 'WBMON_EMAIL_TO'] as const;
  const set = names.filter((n) => env[n] !== undefined);
  if (set.length === 0 || set.length === names.length) return [];
  return names.filter((n) => env[n] === undefined).map((n) => `${n}: required for email alerts when ${set.join(' and ')} ${set.length > 1 ? 'are' : 'is'} set`);
}

/**
 * The process environment over local.settings.json `Values` (as `func start` does: a variable
 * already set in the environment wins). A missing file is fine; a broken one is a problem.
 */
export function readEnvironment(env: Env = process.env, directory = process.cwd()): Env {
  const path = resolve(directory, 'local.settings.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return env;
  }
  let values: unknown;
  try {
    values = (JSON.parse(text) as { Values?: unknown }).Values;
  } catch (err) {
    throw new ConfigError([`local.settings.json: not valid JSON (${(err as Error).message})`]);
  }
  if (values === undefined) return env;
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new ConfigError(['local.settings.json: "Values" must be an object of setting names to strings']);
  }
  const fromFile = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v === null || v === undefined ? undefined : String(v)]));
  return { ...fromFile, ...env };
}

export function loadSettings(env: Env = process.env, directory = process.cwd()): Settings {
  return parseSettings(readEnvironment(env, directory));
}

/**
 * The settings under the Functions host. One typo in WBMON_RELAYS must not stop every
 * function, heartbeat ingestion for the other relays included: a wrong entry disables that
 * relay only (its heartbeat check says MISCONFIGURED, /api/status lists the problems). Every
 * other setting is still refused as a whole.
 */
export function loadHostSettings(env: Env = process.env, directory = process.cwd()): Settings {
  return parseSettings(readEnvironment(env, directory), {}, { tolerateRelayProblems: true });
}
