/**
 * Entra Connect's own view of writeback, from the Windows Application log: PasswordResetService,
 * ADSync and Directory Synchronization events (the last two for Connect's application
 * credential, 1011 and 1012), read with `wevtutil` as rendered XML.
 *
 *  - 31019 is writeback's heartbeat, sent every 5 minutes: none in the last 10 minutes means the
 *    writeback listener is not talking to the cloud;
 *  - src/heartbeat/event-classes.ts says what every other event means: outages (31016, 31034,
 *    31044, 32001, 32002, 32009, ADSync 6800, an expired application credential 1012) inside
 *    the window are `failures`; warnings (32004, 32005, 32008, 32010, 32014, 32015, a credential
 *    to rotate 1011) and per-user administrator work (33001-33004, 33009, a failed admin reset
 *    31011, ADSync 6329 but for a policy refusal) are `notices`; a user's own refusals
 *    (33005-33008, a 6329 policy refusal) and admin resets that started or worked (31009,
 *    31010) are not reported: writeback worked.
 *  - Users named in the events' text are masked before anything leaves this machine. The one
 *    exception is the round trip's test user: given its names (the monitor's answer), the
 *    31009/31010/31011 naming it are reported as `adminResets` (src/relay/admin-resets.ts),
 *    with the name as the monitor gave it.
 *  - Writeback's connection events (31019, 31034, 31044) name the tenant's SSPR relay
 *    (ssprdedicatedsbprod....servicebus.windows.net); reporting it lets the cloud probe that
 *    exact relay too. Only those events count: the log is writable by any local process.
 *
 * Pure evaluation apart from the read, which spawns `wevtutil` (found on PATH, so tests put a
 * stand-in there). On systems other than Windows the check is `unsupported`, not a failure.
 */
import { execFile } from 'node:child_process';
import { stripControls } from '../text/safe-text.js';
import { maskNames } from '../checks/mask.js';
import { classifyEvent, HEARTBEAT_EVENT, isReported, namespacesIn } from '../heartbeat/event-classes.js';
import type { AdminReset } from '../heartbeat/schema.js';
import { findAdminResets } from './admin-resets.js';

export interface LogEvent {
  readonly provider: string;
  readonly eventId: number;
  readonly time: string;
  readonly message: string;
}

export interface EventLogReport {
  readonly supported: boolean;
  readonly checkedAt: string;
  /** Newest 31019 heartbeat inside the look-back, if any. */
  readonly lastHeartbeatAt: string | null;
  readonly heartbeatFresh: boolean;
  /** Outage events inside the window, newest first (at most 20). */
  readonly failures: LogEvent[];
  /** Warnings and per-user administrator work inside the window, newest first (at most 20). */
  readonly notices: LogEvent[];
  /** SSPR relay hosts named in writeback's connection events. */
  readonly relayNamespaces: string[];
  /** wevtutil could not be run or read (permissions, missing log). */
  readonly error?: string;
  /** The Connect server is in staging mode (src/relay/connect-sync.ts): no writeback, no 31019. */
  readonly stagingMode?: boolean;
  /** WBMON_EVENTLOG=off: not read, by setting. */
  readonly disabled?: true;
  /** The round trip's 31009/31010/31011 of the users asked about, newest first (at most 10); only when some were asked about. */
  readonly adminResets?: AdminReset[];
}

/** WBMON_EVENTLOG=off: nothing read, and the monitor told why (no eventlog check). */
export function disabledEventLog(now: Date): EventLogReport {
  return { supported: false, disabled: true, checkedAt: now.toISOString(), lastHeartbeatAt: null, heartbeatFresh: false, failures: [], notices: [], relayNamespaces: [] };
}

export { HEARTBEAT_EVENT };
export const HEARTBEAT_MAX_AGE_MINUTES = 10;
export const FAILURE_WINDOW_MINUTES = 15;
const LOOKBACK_MS = 60 * 60 * 1000;

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return XML_ENTITIES[e.toLowerCase()] ?? '';
  });
}

/** wevtutil prints one `<Event>` element after another, with no root element. */
export function parseEvents(xml: string): LogEvent[] {
  const events: LogEvent[] = [];
  for (const [block] of xml.matchAll(/<Event[\s>][\s\S]*?<\/Event>/g)) {
    const provider = /<Provider\s[^>]*Name=(['"])(.*?)\1/.exec(block)?.[2] ?? '';
    const eventId = Number(/<EventID[^>]*>\s*(\d+)\s*<\/EventID>/.exec(block)?.[1]);
    const time = /<TimeCreated\s[^>]*SystemTime=(['"])(.*?)\1/.exec(block)?.[2];
    if (!Number.isFinite(eventId) || !time || Number.isNaN(Date.parse(time))) continue;
    const rendered = /<Message>([\s\S]*?)<\/Message>/.exec(block)?.[1];
    const data = [...block.matchAll(/<Data(?:\s[^>]*)?>([\s\S]*?)<\/Data>/g)].map((m) => m[1]).join(' ');
    // Stripped at source: the text travels to logs, alerts and /api/status, and an escape such as
    // &#x1b; unescapes to a terminal control, &#x202e; to a bidi override.
    const message = stripControls(unescapeXml(rendered ?? data)).replace(/\s+/g, ' ').trim().slice(0, 1000);
    events.push({ provider: stripControls(unescapeXml(provider)).trim(), eventId, time: new Date(time).toISOString(), message });
  }
  return events;
}

/** `users`: the round trip's test user names, from the monitor; none, no adminResets. */
export function evaluateEvents(events: readonly LogEvent[], now: Date, users: readonly string[] = []): EventLogReport {
  const age = (e: LogEvent): number => now.getTime() - Date.parse(e.time);
  const newestFirst = (a: LogEvent, b: LogEvent): number => age(a) - age(b);
  const heartbeats = events.filter((e) => classifyEvent(e) === 'heartbeat').sort(newestFirst);
  const lastHeartbeatAt = heartbeats[0]?.time ?? null;
  const inWindow = (kinds: (c: ReturnType<typeof classifyEvent>) => boolean): LogEvent[] =>
    events
      .filter((e) => kinds(classifyEvent(e)) && age(e) <= FAILURE_WINDOW_MINUTES * 60_000)
      .sort(newestFirst)
      .slice(0, 20)
      // Masking can lengthen a name (`j@x.com` → `j***@x.com`): the schema's 1,000 still holds.
      .map((e) => ({ ...e, message: maskNames(e.message).slice(0, 1000) }));
  const relayNamespaces = [...new Set(events.flatMap(namespacesIn))].sort().slice(0, 10);
  return {
    supported: true,
    checkedAt: now.toISOString(),
    lastHeartbeatAt,
    heartbeatFresh: heartbeats[0] !== undefined && age(heartbeats[0]) <= HEARTBEAT_MAX_AGE_MINUTES * 60_000,
    failures: inWindow((c) => c === 'outage'),
    notices: inWindow((c) => c !== 'outage' && isReported(c)),
    relayNamespaces,
    ...(users.length > 0 && { adminResets: findAdminResets(events.filter((e) => age(e) <= LOOKBACK_MS), users) }),
  };
}

export interface EventLogIo {
  readonly platform?: NodeJS.Platform;
  readonly now?: () => Date;
  /** Runs a program and gives its standard output; execFile by default (PATH lookup). */
  readonly run?: (file: string, args: string[]) => Promise<string>;
}

const runProgram = (file: string, args: string[]): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 32 * 1024 * 1024, timeout: 60_000, windowsHide: true }, (err, stdout, stderr) =>
      err ? reject(Object.assign(err, { stderr })) : resolve(stdout),
    );
  });

export interface EventLogQuestion {
  /** The round trip's test user names the monitor last answered with. */
  readonly users?: readonly string[];
}

export async function readEventLog(io: EventLogIo = {}, question: EventLogQuestion = {}): Promise<EventLogReport> {
  const now = (io.now ?? (() => new Date()))();
  if ((io.platform ?? process.platform) !== 'win32') {
    return { supported: false, checkedAt: now.toISOString(), lastHeartbeatAt: null, heartbeatFresh: false, failures: [], notices: [], relayNamespaces: [] };
  }
  const query = `*[System[Provider[@Name='PasswordResetService' or @Name='ADSync' or @Name='Directory Synchronization'] and TimeCreated[timediff(@SystemTime) <= ${LOOKBACK_MS}]]]`;
  try {
    const xml = await (io.run ?? runProgram)('wevtutil', ['qe', 'Application', `/q:${query}`, '/f:RenderedXml', '/rd:true', '/c:500']);
    return evaluateEvents(parseEvents(xml), now, question.users);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    return {
      supported: true,
      checkedAt: now.toISOString(),
      lastHeartbeatAt: null,
      heartbeatFresh: false,
      failures: [],
      notices: [],
      relayNamespaces: [],
      error: `wevtutil failed: ${e.code ?? ''} ${(e.stderr || e.message).split('\n')[0]}`.trim().slice(0, 500),
    };
  }
}
