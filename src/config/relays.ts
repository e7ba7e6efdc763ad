/**
 * WBMON_RELAYS: `{"<relayId>": {"secret": "...", "periodSeconds": 300, "graceSeconds": 120}}`.
 * Problems name the relay and the field, never the secret's value, and JSON errors give only
 * a position (V8's messages can quote the text, which holds the secrets).
 */
export interface RelayConfig {
  readonly secret: string;
  /** How often the relay sends a heartbeat. */
  readonly periodSeconds: number;
  /** How much later than the period a heartbeat may be before the relay is down. */
  readonly graceSeconds: number;
}

export type RelayMap = ReadonlyMap<string, RelayConfig>;

/** Relay ids travel in a header and in storage keys: keep them to a safe alphabet. */
export const RELAY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** 32 characters: `openssl rand -hex 16` at the least; `-hex 32` recommended. */
export const MIN_SECRET_LENGTH = 32;

export function parseRelays(text: string | undefined): { relays: RelayMap; problems: string[] } {
  const relays = new Map<string, RelayConfig>();
  if (text === undefined || text.trim() === '') return { relays, problems: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    return { relays, problems: [`not valid JSON${at ? ` (at character ${Number(at) + 1})` : ''}`] };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { relays, problems: ['must be a JSON object of relay ids to {"secret": ..., "periodSeconds": ..., "graceSeconds": ...}'] };
  }
  const problems: string[] = [];
  for (const [id, value] of Object.entries(raw)) {
    const where = `relay "${RELAY_ID.test(id) ? id : id.slice(0, 64).replace(/[^\x20-\x7e]/g, '?')}"`;
    if (!RELAY_ID.test(id)) problems.push(`${where}: ids are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`${where}: must be an object with "secret"`);
      continue;
    }
    const v = value as Record<string, unknown>;
    const secret = v.secret;
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
      problems.push(`${where}: "secret" must be a string of at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -hex 32)`);
    }
    const period = seconds(v.periodSeconds, 300, 30, 86_400, `${where}: "periodSeconds"`, problems);
    const grace = seconds(v.graceSeconds, 120, 0, 86_400, `${where}: "graceSeconds"`, problems);
    for (const key of Object.keys(v)) {
      if (!['secret', 'periodSeconds', 'graceSeconds'].includes(key)) problems.push(`${where}: unknown field "${key.slice(0, 40)}"`);
    }
    if (typeof secret === 'string') relays.set(id, { secret, periodSeconds: period, graceSeconds: grace });
  }
  return { relays, problems };
}

function seconds(value: unknown, fallback: number, min: number, max: number, label: string, problems: string[]): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  problems.push(`${label} must be a whole number of seconds from ${min} to ${max}`);
  return fallback;
}
