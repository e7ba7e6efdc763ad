/**
 * The routes that show one check or all of them from stored state: `/api/history`,
 * `/api/badge/<id>.svg` and `/api/metrics`. Any instance answers the same, because everything
 * comes from the store: the checks, the history rows, the alert counters.
 *
 * Check ids come from the client here (a query, a path): hostile until checked. Too long, not
 * decodable, or holding control characters is a 400; an id no check has is a 404; the id is
 * never echoed back, so no route reflects client text.
 */
import type { Settings } from '../config/settings.js';
import { readHistory } from '../history/history-repository.js';
import { viewDays, type HistoryRow } from '../history/history.js';
import { historyView, summarize } from '../history/view.js';
import { readSentCounts } from '../alerting/sent-counter.js';
import type { Store } from '../store/store.js';
import { renderBadge } from '../web/badge.js';
import { renderMetrics } from '../web/metrics.js';
import { status, unavailable, type ApiResponse, type RelayStatus, type StatusEntry } from './handlers.js';

/** What these routes read of the settings. */
export type ViewSettings = Pick<Settings, 'targets' | 'relays' | 'alerting' | 'relayProblems' | 'historyDays'>;

/**
 * The longest check id there can be: a relay-probe id holds a relay id and a target of up to
 * 2,048 characters. Longer is refused before anything is read.
 */
export const MAX_CHECK_ID_CHARS = 4_096;
export const BADGE_PREFIX = '/api/badge/';
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const BADGE_DAYS = 30;

interface StatusBody {
  generatedAt: string;
  checks: StatusEntry[];
  relays: (RelayStatus | { id: string; relayId: string; state: 'down' })[];
}

/** `/api/status`'s reading, for the routes that show the same states. */
export async function readStatus(store: Store, settings: ViewSettings, now: Date): Promise<StatusBody | ApiResponse> {
  const answer = await status(store, settings.targets, settings.relays, now, settings.alerting.maintenance, settings.relayProblems);
  return answer.status === 200 ? (answer.body as StatusBody) : answer;
}

/** What is wrong with a check id a client sent, or undefined when it may be looked up. */
export function checkIdProblem(id: string | null): string | undefined {
  if (id === null || id === '') return 'check: required, the id of a check as /api/status lists it';
  if (id.length > MAX_CHECK_ID_CHARS) return `check: longer than ${MAX_CHECK_ID_CHARS} characters; no check has such an id`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(id)) return 'check: holds control characters; no check has such an id';
  return undefined;
}

function badRequest(error: string): ApiResponse {
  return { status: 400, body: { error } };
}

const NOT_FOUND: ApiResponse = { status: 404, body: { error: 'no such check (see /api/status for the ids)' } };

/** A store read, or the 503 the other routes answer when the store cannot be reached. */
export async function storeRead<T>(read: () => Promise<T>): Promise<T | ApiResponse> {
  try {
    return await read();
  } catch (err) {
    return unavailable(`AzureWebJobsStorage: state store not reachable (${(err as Error).message})`);
  }
}

export const isAnswer = (v: unknown): v is ApiResponse => typeof v === 'object' && v !== null && 'status' in v && typeof (v as ApiResponse).status === 'number';

/** The check as `/api/status` shows it, and its history rows; 404 for an id no check has. */
async function checkWithHistory(store: Store, settings: ViewSettings, id: string, now: Date): Promise<{ check: StatusEntry; rows: HistoryRow[] } | ApiResponse> {
  const found = await storeRead(() => readStatus(store, settings, now));
  if (isAnswer(found)) return found;
  const check = found.checks.find((c) => c.id === id);
  if (!check) return NOT_FOUND;
  const rows = await storeRead(() => readHistory(store, check.id));
  return isAnswer(rows) ? rows : { check, rows };
}

/** `GET /api/history?check=<id>[&days=N]`. */
export async function history(store: Store, settings: ViewSettings, query: URLSearchParams, now: Date): Promise<ApiResponse> {
  const id = query.get('check');
  const problem = checkIdProblem(id);
  if (problem) return badRequest(problem);
  const days = viewDays(query.get('days'), settings.historyDays);
  if ('problem' in days) return badRequest(days.problem);
  const found = await checkWithHistory(store, settings, id!, now);
  if (isAnswer(found)) return found;
  const { check, rows } = found;
  return { status: 200, body: { check: check.id, generatedAt: now.toISOString(), days: days.days, ...historyView(rows, now, days.days) } };
}

/**
 * `GET /api/badge/<url-encoded check id>.svg`. `path` is the request path as sent, still
 * percent-encoded (an id holds `/` and `:`, which the client encodes).
 */
export async function badge(store: Store, settings: ViewSettings, path: string, now: Date): Promise<ApiResponse> {
  if (!path.startsWith(BADGE_PREFIX) || !path.endsWith('.svg')) return NOT_FOUND;
  const encoded = path.slice(BADGE_PREFIX.length, -'.svg'.length);
  if (encoded.length > MAX_CHECK_ID_CHARS * 3) return badRequest(`check: longer than ${MAX_CHECK_ID_CHARS} characters; no check has such an id`);
  let id: string;
  try {
    id = decodeURIComponent(encoded);
  } catch {
    return badRequest('check: not a percent-encoded check id');
  }
  const problem = checkIdProblem(id);
  if (problem) return badRequest(problem);
  const found = await checkWithHistory(store, settings, id, now);
  if (isAnswer(found)) return found;
  const { check, rows } = found;
  const { uptime } = summarize(rows, now, BADGE_DAYS);
  return {
    status: 200,
    contentType: 'image/svg+xml; charset=utf-8',
    // A README shows the badge through a camo proxy: a minute of caching is what it honours.
    headers: { 'cache-control': 'max-age=60' },
    body: renderBadge({ label: check.id, state: check.state, uptime30d: uptime }),
  };
}

/** `GET /api/metrics`: the Prometheus text exposition of every check and relay. */
export async function metrics(store: Store, settings: ViewSettings, now: Date): Promise<ApiResponse> {
  const found = await storeRead(() => Promise.all([readStatus(store, settings, now), readSentCounts(store)]));
  if (isAnswer(found)) return found;
  const [state, sent] = found;
  if (isAnswer(state)) return state;
  return { status: 200, contentType: METRICS_CONTENT_TYPE, body: renderMetrics(state.checks, state.relays, sent, now) };
}
