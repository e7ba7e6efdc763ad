/**
 * The relay agent's cycle: probe the targets from this side of the firewall, write the
 * heartbeat to the buffer, then send everything buffered, oldest first. Sending stops at the
 * first heartbeat that cannot be delivered now, so heartbeats always arrive in order.
 */
import { hostname } from 'node:os';
import type { Heartbeat, KeepaliveReport } from '../heartbeat/schema.js';
import { probeAll, type ProbeEnvironment } from '../monitor/probe-cycle.js';
import { keepaliveTest } from '../probes/keepalive.js';
import { checkDomainController } from './dc.js';
import { readEventLog, type EventLogIo } from './eventlog.js';
import { proxyFor, proxyFromEnvironment } from '../probes/proxy.js';
import { VERSION } from '../version.js';
import { Outbox } from './outbox.js';
import { createSender, type SendOutcome, type Sender } from './sender.js';
import { SequenceFile } from './sequence.js';
import type { RelaySettings } from './settings.js';
import { safeLog } from '../text/safe-text.js';

export interface RelayIo extends ProbeEnvironment {
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
  /** How the Connect event log is read (platform, program runner); tests stand in for Windows. */
  readonly eventLog?: EventLogIo;
}

export interface CycleReport {
  readonly sequence: number;
  /** What became of this cycle's own heartbeat. */
  readonly outcome: SendOutcome | { kind: 'buffered'; message: string };
  /** What stopped the flush this cycle, when something did (the Windows event log reports it). */
  readonly blocked?: SendOutcome;
  /** Heartbeats delivered this cycle, this one included. */
  readonly delivered: number;
  readonly pending: number;
  readonly dropped: number;
  readonly heartbeat: Heartbeat;
}

/** The outcomes that stop a flush: the heartbeat stays and everything after it waits. */
type Blocked = Extract<SendOutcome, { kind: 'retry' | 'unauthorized' }>;

export class RelayAgent {
  private readonly sequence: SequenceFile;
  private readonly outbox: Outbox;
  private readonly sender: Sender;
  private readonly now: () => Date;
  private readonly log: (line: string) => void;
  private keepaliveRun: Promise<void> | undefined;
  private keepaliveReport: KeepaliveReport | undefined;
  private readonly stopping = new AbortController();

  constructor(
    private readonly settings: RelaySettings,
    private readonly io: RelayIo = {},
  ) {
    this.sequence = new SequenceFile(settings.stateDir);
    this.outbox = new Outbox(settings.stateDir, settings.bufferMax);
    this.sender = createSender(settings);
    this.now = io.now ?? (() => new Date());
    // The monitor's answers and probe errors reach these lines: one safe line each, whoever logs.
    this.log = safeLog(io.log ?? (() => undefined));
  }

  /**
   * One heartbeat. With `keepalive`, an idle-keepalive test is started when none is running;
   * it lasts minutes, so its report rides on the first heartbeat after it finishes.
   */
  async cycle(options: { keepalive?: boolean } = {}): Promise<CycleReport> {
    if (options.keepalive) this.startKeepalive();
    const { dcHost, probeTimeoutMs } = this.settings;
    const [results, eventLog, dc] = await Promise.all([
      probeAll(this.settings.targets, this.settings, this.io),
      readEventLog({ now: this.now, ...this.io.eventLog }),
      dcHost ? checkDomainController(dcHost, probeTimeoutMs) : undefined,
    ]);
    const keepalive = this.keepaliveReport;
    this.keepaliveReport = undefined;
    const sequence = await this.sequence.next(this.now());
    const buffer = await this.outbox.stats();
    const heartbeat: Heartbeat = {
      version: 1,
      relayId: this.settings.relayId,
      sequence,
      sentAt: this.now().toISOString(),
      host: hostname().slice(0, 255),
      agentVersion: VERSION,
      results,
      ...(keepalive && { keepalive }),
      eventLog,
      ...(dc && { dc }),
      buffer,
    };
    await this.outbox.add(sequence, JSON.stringify(heartbeat));
    const { delivered, own, blocked } = await this.flush(sequence);
    const after = await this.outbox.stats();
    return {
      sequence,
      outcome: own ?? { kind: 'buffered', message: `kept in the buffer behind older heartbeats (${blocked?.kind}: ${blocked?.message})` },
      delivered,
      ...(blocked && { blocked }),
      ...after,
      heartbeat,
    };
  }

  /** Sends the buffer in order; returns how many went and what became of heartbeat `own`. */
  private async flush(ownSequence: number): Promise<{ delivered: number; own?: SendOutcome; blocked?: Blocked }> {
    let delivered = 0;
    let own: SendOutcome | undefined;
    for (const item of await this.outbox.pending()) {
      const outcome = await this.sender.send(item.body, this.now());
      if (item.sequence === ownSequence) own = outcome;
      if (outcome.kind === 'retry' || outcome.kind === 'unauthorized') {
        this.log(`heartbeat ${item.sequence}: not delivered (${outcome.kind}): ${outcome.message}`);
        return { delivered, ...(own && { own }), blocked: outcome };
      }
      if (outcome.kind === 'rejected') this.log(`heartbeat ${item.sequence}: refused for good (HTTP ${outcome.status}: ${outcome.message}); dropped`);
      if (outcome.kind !== 'rejected') delivered++;
      await this.outbox.remove(item.sequence);
    }
    return { delivered, ...(own && { own }) };
  }

  private startKeepalive(): void {
    if (this.keepaliveRun) return;
    const { keepaliveTarget: target, keepaliveIdle: idle, keepaliveMin: required } = this.settings;
    const proxy = proxyFor(new URL(target), proxyFromEnvironment(this.settings.env, this.settings.proxyUrl));
    this.keepaliveRun = keepaliveTest(target, idle, {
      timeoutMs: this.settings.probeTimeoutMs,
      proxy,
      signal: this.stopping.signal,
      ...(this.io.extraCa && { extraCa: this.io.extraCa }),
      ...(this.io.lookup && { lookup: this.io.lookup }),
      now: this.now,
    })
      .then((results) => {
        if (this.stopping.signal.aborted) return;
        // Passing means surviving the required idle; longer lengths only tell how far it goes.
        const passed = results.filter((r) => r.idleSeconds <= required).every((r) => r.survived);
        this.keepaliveReport = { target, requiredSeconds: required, passed, finishedAt: this.now().toISOString(), results };
      })
      .catch((err: unknown) => this.log(`keepalive test failed to run: ${(err as Error).message}`))
      .finally(() => {
        this.keepaliveRun = undefined;
      });
  }

  /** Resolves when the keepalive test in flight (if any) has finished. */
  async keepaliveSettled(): Promise<void> {
    await this.keepaliveRun;
  }

  async close(): Promise<void> {
    this.stopping.abort();
    await this.keepaliveRun;
    await this.sender.close();
  }
}
