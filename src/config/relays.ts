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

export interface ParsedRelays {
  /** The relays without a problem. */
  relays: RelayMap;
  /** Every problem, one line each, naming the relay. */
  problems: string[];
  /** The problems of each relay that has some (by the id as written, made printable). */
  invalid: Map<string, string[]>;
  /** Set when the whole value is unusable (not JSON, not an object): no relay is known. */
  unusable?: string;
}

export function parseRelays(text: string | undefined): ParsedRelays {
  const relays = new Map<string, RelayConfig>();
  const invalid = new Map<string, string[]>();
  if (text === undefined || text.trim() === '') return { relays, problems: [], invalid };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    const unusable = `not valid JSON${at ? ` (at character ${Number(at) + 1})` : ''}`;
    return { relays, problems: [unusable], invalid, unusable };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const unusable = 'must be a JSON object of relay ids to {"secret": ..., "periodSeconds": ..., "graceSeconds": ...}';
    return { relays, problems: [unusable], invalid, unusable };
  }
  const problems: string[] = [];
  for (const [id, value] of Object.entries(raw)) {
    const printable = RELAY_ID.test(id) ? id : id.slice(0, 64).replace(/[^\x20-\x7e]/g, '?');
    const before = problems.length;
    collectRelay(id, printable, value, relays, problems);
    if (problems.length > before) {
      relays.delete(id);
      invalid.set(printable, problems.slice(before));
    }
  }
  return { relays, problems, invalid };
}

/** One relay's entry: added to `relays` when it has a secret, its problems to `problems`. */
function collectRelay(id: string, printable: string, value: unknown, relays: Map<string, RelayConfig>, problems: string[]): void {
  const where = `relay "${printable}"`;
  if (!RELAY_ID.test(id)) problems.push(`${where}: ids are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push(`${where}: must be an object with "secret"`);
    return;
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

function seconds(value: unknown, fallback: number, min: number, max: number, label: string, problems: string[]): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  problems.push(`${label} must be a whole number of seconds from ${min} to ${max}`);
  return fallback;
}
