/**
 * Entra Connect's own view of writeback, from the Windows Application log: PasswordResetService
 * events (and ADSync 6800), read with `wevtutil` as rendered XML.
 *
 *  - 31019 is writeback's heartbeat, sent every 5 minutes: none in the last 10 minutes means the
 *    writeback listener is not talking to the cloud;
 *  - 31034 (listener error), 31044 (a relay host down), 32002 (Service Bus error), 32009 (auth
 *    token), 32015 (heartbeat send failure), any 33xxx (on-prem AD refused the operation) and
 *    ADSync 6800 (the endpoint failed to start) inside the window are failures.
 *  - The events name the tenant's own relay namespace (ssprdedicatedsbprod....servicebus.windows.net);
 *    reporting it lets the cloud probe that exact relay too.
 *
 * Pure evaluation apart from the read, which spawns `wevtutil` (found on PATH, so tests put a
 * stand-in there). On systems other than Windows the check is `unsupported`, not a failure.
 */
import { execFile } from 'node:child_process';
import { stripControls } from '../text/safe-text.js';

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
  /** Failure events inside the window, newest first (at most 20). */
  readonly failures: LogEvent[];
  /** Service Bus relay hosts named in the events. */
  readonly relayNamespaces: string[];
  /** wevtutil could not be run or read (permissions, missing log). */
  readonly error?: string;
}

export const HEARTBEAT_EVENT = 31019;
export const HEARTBEAT_MAX_AGE_MINUTES = 10;
export const FAILURE_WINDOW_MINUTES = 15;
const FAILURE_EVENTS = new Set([31034, 31044, 32002, 32009, 32015]);
const LOOKBACK_MS = 60 * 60 * 1000;

export function isFailureEvent(e: Pick<LogEvent, 'provider' | 'eventId'>): boolean {
  if (/^ADSync$/i.test(e.provider)) return e.eventId === 6800;
  return FAILURE_EVENTS.has(e.eventId) || (e.eventId >= 33000 && e.eventId <= 33999);
}

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

/** Service Bus hosts in the public, US Government and China clouds. */
const NAMESPACE = /\b([a-z0-9][a-z0-9-]{2,62}\.servicebus\.(?:windows\.net|usgovcloudapi\.net|chinacloudapi\.cn))\b/gi;

export function evaluateEvents(events: readonly LogEvent[], now: Date): EventLogReport {
  const age = (e: LogEvent): number => now.getTime() - Date.parse(e.time);
  const heartbeats = events.filter((e) => e.eventId === HEARTBEAT_EVENT && !/^ADSync$/i.test(e.provider)).sort((a, b) => age(a) - age(b));
  const lastHeartbeatAt = heartbeats[0]?.time ?? null;
  const failures = events
    .filter((e) => isFailureEvent(e) && age(e) <= FAILURE_WINDOW_MINUTES * 60_000)
    .sort((a, b) => age(a) - age(b))
    .slice(0, 20);
  const relayNamespaces = [...new Set(events.flatMap((e) => [...e.message.matchAll(NAMESPACE)].map((m) => m[1]!.toLowerCase())))].sort();
  return {
    supported: true,
    checkedAt: now.toISOString(),
    lastHeartbeatAt,
    heartbeatFresh: heartbeats[0] !== undefined && age(heartbeats[0]) <= HEARTBEAT_MAX_AGE_MINUTES * 60_000,
    failures,
    relayNamespaces,
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

export async function readEventLog(io: EventLogIo = {}): Promise<EventLogReport> {
  const now = (io.now ?? (() => new Date()))();
  if ((io.platform ?? process.platform) !== 'win32') {
    return { supported: false, checkedAt: now.toISOString(), lastHeartbeatAt: null, heartbeatFresh: false, failures: [], relayNamespaces: [] };
  }
  const query = `*[System[Provider[@Name='PasswordResetService' or @Name='ADSync'] and TimeCreated[timediff(@SystemTime) <= ${LOOKBACK_MS}]]]`;
  try {
    const xml = await (io.run ?? runProgram)('wevtutil', ['qe', 'Application', `/q:${query}`, '/f:RenderedXml', '/rd:true', '/c:500']);
    return evaluateEvents(parseEvents(xml), now);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    return {
      supported: true,
      checkedAt: now.toISOString(),
      lastHeartbeatAt: null,
      heartbeatFresh: false,
      failures: [],
      relayNamespaces: [],
      error: `wevtutil failed: ${e.code ?? ''} ${(e.stderr || e.message).split('\n')[0]}`.trim().slice(0, 500),
    };
  }
}
