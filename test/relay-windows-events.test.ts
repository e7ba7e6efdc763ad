/**
 * The relay's own Windows events: which happenings become which event ids (pure), the exact
 * command lines spawned to write them (a recording spawn stands in for Windows), the service
 * loop's started/stopped around a clean stop, and the ids documented in docs/relay.md.
 */
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { CycleReport } from '../src/relay/agent.js';
import { parseRelaySettings } from '../src/relay/settings.js';
import { runRelay } from '../src/cli/relay-command.js';
import { relayCommand } from '../src/cli/relay-side.js';
import {
  createEventWriter,
  eventLogCommand,
  RELAY_EVENT_IDS,
  RelayEventTracker,
  REPEAT_REFUSED_MS,
  settingsErrorEvent,
  type EventWriter,
  type RelayEvent,
  type SpawnLike,
} from '../src/relay/windows-events.js';
import { SECRET_A } from './support/heartbeats.js';
import { startHttp } from './support/servers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Outcome = CycleReport['outcome'];

function report(outcome: Outcome, extra: Partial<CycleReport> = {}): CycleReport {
  return {
    sequence: 7,
    outcome,
    delivered: outcome.kind === 'accepted' ? 1 : 0,
    pending: 0,
    dropped: 0,
    dcs: [],
    discoveredTargets: [],
    heartbeat: { results: [] } as unknown as CycleReport['heartbeat'],
    ...extra,
  };
}

const accepted: Outcome = { kind: 'accepted', status: 202 };
const unauthorized = { kind: 'unauthorized', status: 401, message: 'bad signature' } as const;
const retry = { kind: 'retry', message: 'https://wbmon.example.net: ECONNREFUSED' } as const;
const buffered: Outcome = { kind: 'buffered', message: 'kept in the buffer' };
const t0 = new Date('2026-12-01T10:00:00Z');
const at = (minutes: number): Date => new Date(t0.getTime() + minutes * 60_000);
const ids = (events: RelayEvent[]): number[] => events.map((e) => e.id);

function tracker(): RelayEventTracker {
  return new RelayEventTracker('connect01', 'https://wbmon.example.net', 2016);
}

describe('which relay happenings become which events', () => {
  it('a heartbeat refused by the monitor is event 1100 (Error) once, again hourly while it lasts, and 1002 when delivery resumes', () => {
    const t = tracker();
    const first = t.observe(report(unauthorized, { pending: 1 }), at(0));
    expect(ids(first)).toEqual([1100]);
    expect(first[0]).toMatchObject({ level: 'Error' });
    expect(first[0]!.message).toContain('HTTP 401: bad signature');
    expect(first[0]!.message).toContain('WBMON_RELAY_SECRET');
    // Behind the refused one, later heartbeats are buffered: the blocked outcome says why.
    expect(ids(t.observe(report(buffered, { blocked: unauthorized, pending: 1 }), at(5)))).toEqual([]);
    expect(ids(t.observe(report(buffered, { blocked: unauthorized, pending: 1 }), at(5 + REPEAT_REFUSED_MS / 60_000)))).toEqual([1100]);
    const back = t.observe(report(accepted, { delivered: 3 }), at(70));
    expect(ids(back)).toEqual([1002]);
    expect(back[0]!.message).toContain('3 delivered');
    expect(ids(t.observe(report(accepted), at(75)))).toEqual([]);
  });

  it('a growing buffer is event 1200 at 2, 4, 8, ... waiting heartbeats, and starts over once it has drained', () => {
    const t = tracker();
    const seen = [1, 2, 3, 4, 5, 7, 8, 9, 16].map((pending, i) => ids(t.observe(report(retry, { pending }), at(i * 5))));
    expect(seen).toEqual([[], [1200], [], [1200], [], [], [1200], [], [1200]]);
    const growing = t.observe(report(retry, { pending: 32 }), at(60));
    expect(growing[0]).toMatchObject({ id: 1200, level: 'Warning' });
    expect(growing[0]!.message).toContain('32 heartbeats');
    expect(growing[0]!.message).toContain('ECONNREFUSED');
    expect(growing[0]!.message).toContain('outbound HTTPS (443)');
    expect(ids(t.observe(report(accepted, { pending: 0, delivered: 33 }), at(65)))).toEqual([1002]);
    expect(ids(t.observe(report(retry, { pending: 2 }), at(70)))).toEqual([1200]);
  });

  it('a full buffer that drops the oldest is event 1201 once per outage; drops from before the start are not news', () => {
    const t = tracker();
    expect(ids(t.observe(report(retry, { pending: 1, dropped: 50 }), at(0)))).toEqual([]);
    expect(ids(t.observe(report(retry, { pending: 2016, dropped: 51 }), at(5)))).toEqual([1200, 1201]);
    expect(ids(t.observe(report(retry, { pending: 2016, dropped: 52 }), at(10)))).toEqual([]);
  });

  it('a heartbeat refused for good (dropped) is event 1101', () => {
    const events = tracker().observe(report({ kind: 'rejected', status: 400, message: 'schema' }), at(0));
    expect(events).toEqual([expect.objectContaining({ id: 1101, level: 'Warning' })]);
  });

  it('a failed keepalive test is event 1300, and 1301 when it passes again', () => {
    const t = tracker();
    const keepalive = (passed: boolean) =>
      ({
        target: 'https://ssprdedicatedsbprodscu.servicebus.windows.net/',
        requiredSeconds: 180,
        passed,
        finishedAt: t0.toISOString(),
        results: [{ idleSeconds: 180, survived: passed }],
      }) as unknown as NonNullable<CycleReport['heartbeat']['keepalive']>;
    const withKeepalive = (passed: boolean) => report(accepted, { heartbeat: { results: [], keepalive: keepalive(passed) } as unknown as CycleReport['heartbeat'] });
    expect(ids(t.observe(withKeepalive(true), at(0)))).toEqual([]);
    const failed = t.observe(withKeepalive(false), at(5));
    expect(failed).toEqual([expect.objectContaining({ id: 1300, level: 'Warning' })]);
    expect(failed[0]!.message).toContain('did not survive 180 s of idle (died at: 180 s)');
    expect(ids(t.observe(withKeepalive(true), at(10)))).toEqual([1301]);
  });

  it('a settings error is event 1900 with every problem', () => {
    const e = settingsErrorEvent(['WBMON_RELAY_ID: required', 'WBMON_RELAY_SECRET: required']);
    expect(e).toMatchObject({ id: 1900, level: 'Error' });
    expect(e.message.split('\n').slice(1)).toEqual(['WBMON_RELAY_ID: required', 'WBMON_RELAY_SECRET: required']);
  });
});

interface Spawned {
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv | undefined;
}

function recordingSpawn(exitCode: number | 'error' = 0): { spawn: SpawnLike; calls: Spawned[] } {
  const calls: Spawned[] = [];
  const spawn: SpawnLike = (command, args, options) => {
    calls.push({ command, args, env: options.env });
    const child = Object.assign(new EventEmitter(), { kill: () => undefined });
    setImmediate(() => (exitCode === 'error' ? child.emit('error', new Error('spawn ENOENT')) : child.emit('exit', exitCode)));
    return child;
  };
  return { spawn, calls };
}

describe('writing an event on Windows', () => {
  it('spawns Windows PowerShell by its full path with WriteEntry, the message only in the environment', async () => {
    const { spawn, calls } = recordingSpawn();
    const writer = createEventWriter({ platform: 'win32', spawn, env: { SystemRoot: 'C:\\Windows', PATH: 'C:\\evil' } });
    await writer.write({ id: 1100, level: 'Error', message: "refused'; Remove-Item C:\\ -Recurse; '\r\nsecond line\u0007" });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.command).toBe('C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe');
    expect(calls[0]!.args).toEqual([
      '-NoLogo',
      '-NoProfile',
      '-NonInteractive',
      '-ExecutionPolicy',
      'Bypass',
      '-Command',
      "[System.Diagnostics.EventLog]::WriteEntry('WritebackMonitorRelay', $env:WBMON_EVENT_MESSAGE, 'Error', 1100)",
    ]);
    expect(calls[0]!.env?.WBMON_EVENT_MESSAGE).toBe("refused'; Remove-Item C:\\ -Recurse; '\nsecond line ");
  });

  it('writes every kind of event with its own id and level', () => {
    for (const { id, level } of Object.values(RELAY_EVENT_IDS)) {
      expect(eventLogCommand({ id, level, message: 'x' }).args.at(-1)).toBe(`[System.Diagnostics.EventLog]::WriteEntry('WritebackMonitorRelay', $env:WBMON_EVENT_MESSAGE, '${level}', ${id})`);
    }
  });

  it('writes in order, and a failure is told once and never thrown', async () => {
    const { spawn, calls } = recordingSpawn('error');
    const told: string[] = [];
    const writer = createEventWriter({ platform: 'win32', spawn, env: {}, onError: (m) => told.push(m) });
    void writer.write({ id: 1000, level: 'Information', message: 'a' });
    void writer.write({ id: 1001, level: 'Information', message: 'b' });
    await writer.flush();
    expect(calls.map((c) => c.args.at(-1))).toEqual([expect.stringContaining(', 1000)'), expect.stringContaining(', 1001)')]);
    expect(told).toEqual([expect.stringContaining('could not write to the Windows Application log (source WritebackMonitorRelay')]);
  });

  it('spawns nothing off Windows', async () => {
    const { spawn, calls } = recordingSpawn();
    await createEventWriter({ platform: 'linux', spawn }).write({ id: 1000, level: 'Information', message: 'a' });
    expect(calls).toEqual([]);
  });
});

function recordingWriter(): EventWriter & { events: RelayEvent[] } {
  const events: RelayEvent[] = [];
  return { events, write: async (e) => void events.push(e), flush: async () => undefined };
}

describe('the relay loop and its events', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('a stop during a cycle (the service stopping) ends after that cycle: started, stopped, and a whole buffer', async () => {
    let stopNow: () => void = () => undefined;
    const requested = new Promise<void>((resolve) => (stopNow = resolve));
    // A monitor that answers slowly with 503: the stop arrives while the heartbeat is in flight.
    const monitor = await startHttp((_req, res) => {
      stopNow();
      setTimeout(() => res.writeHead(503).end('busy'), 300);
    });
    const target = await startHttp();
    const state = mkdtempSync(join(tmpdir(), 'wbmon-events-'));
    dirs.push(state);
    try {
      const settings = parseRelaySettings({
        WBMON_MONITOR_URL: monitor.url,
        WBMON_RELAY_ID: 'connect01',
        WBMON_RELAY_SECRET: SECRET_A,
        WBMON_RELAY_TARGETS: target.url,
        WBMON_RELAY_STATE_DIR: state,
        WBMON_KEEPALIVE_TARGET: target.url,
        WBMON_KEEPALIVE_IDLE: '1',
        WBMON_KEEPALIVE_MIN: '1',
      });
      const writer = recordingWriter();
      const lines: string[] = [];
      const running = runRelay(settings, false, (l) => lines.push(l), {}, writer);
      await requested;
      process.emit('SIGINT', 'SIGINT');
      await expect(running).resolves.toBe(0);
      expect(writer.events.map((e) => e.id)).toEqual([1000, 1001]);
      expect(writer.events[1]!.message).toContain('stopped (SIGINT)');
      expect(lines.some((l) => l.includes('SIGINT: stopping after the current cycle'))).toBe(true);
      // The cycle finished: its heartbeat is in the buffer, whole, and the sequence file is there.
      const outbox = readdirSync(join(state, 'outbox'));
      expect(outbox).toHaveLength(1);
      expect(JSON.parse(readFileSync(join(state, 'outbox', outbox[0]!), 'utf8'))).toMatchObject({ relayId: 'connect01' });
      expect(existsSync(join(state, 'sequence'))).toBe(true);
      expect(readdirSync(state).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    } finally {
      await monitor.close();
      await target.close();
    }
  });

  it('a settings error of the service is event 1900; relay --once (the pre-flight) writes no events', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'wbmon-events-cwd-'));
    dirs.push(cwd);
    const previous = process.cwd();
    process.chdir(cwd);
    try {
      for (const name of Object.keys(process.env).filter((k) => k.startsWith('WBMON_'))) vi.stubEnv(name, undefined);
      vi.stubEnv('WBMON_MONITOR_URL', 'ftp://x');
      const service = recordingWriter();
      await expect(relayCommand([], service)).rejects.toThrow();
      expect(service.events.map((e) => e.id)).toEqual([1900]);
      expect(service.events[0]!.message).toContain('WBMON_MONITOR_URL: must be https');
      const once = recordingWriter();
      await expect(relayCommand(['--once'], once)).rejects.toThrow();
      expect(once.events).toEqual([]);
    } finally {
      process.chdir(previous);
    }
  });
});

describe('docs/relay.md', () => {
  it('lists every event id with its level, and no other', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'relay.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| (\d{4}) \| (Information|Warning|Error) \|/gm)].map((m) => [Number(m[1]), m[2]]);
    const expected = Object.values(RELAY_EVENT_IDS).map((e) => [e.id, e.level]);
    expect(rows.sort()).toEqual(expected.sort());
  });
});
