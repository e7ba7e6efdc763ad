/**
 * The relay agent's cycle: probe the targets from this side of the firewall, write the
 * heartbeat to the buffer, then send everything buffered, oldest first. Sending stops at the
 * first heartbeat that cannot be delivered now, so heartbeats always arrive in order.
 */
import { hostname } from 'node:os';
import { getCACertificates } from 'node:tls';
import { RELAY_NAMESPACE_PATTERN, type DcReport, type EventLogReport, type Heartbeat, type KeepaliveReport } from '../heartbeat/schema.js';
import { isWritebackNamespace } from '../heartbeat/event-classes.js';
import { probeAll, type ProbeEnvironment } from '../monitor/probe-cycle.js';
import { keepaliveTest } from '../probes/keepalive.js';
import { checkDomainControllers, type ResolveSrv } from './dc.js';
import { disabledEventLog, readEventLog, type EventLogIo } from './eventlog.js';
import { readConnectSync } from './connect-sync.js';
import { readProvisioningAgent, type TraceFs } from './cloud-sync.js';
import { CLOUD_SYNC_TARGETS, reachAll, REVOCATION_TARGETS, type ReachItem } from './reach-groups.js';
import { discoverGateways, systemGatewayDns, type GatewayDiscovery, type GatewayDns } from './gateways.js';
import type { GatewayDiscoveryBody } from '../heartbeat/schema.js';
import type { RunProgram } from './windows-reads.js';
import { discoverProxy, type ProxyDiscoveryIo, type ProxyRoute } from './proxy-discovery.js';
import { VERSION } from '../version.js';
import { Outbox } from './outbox.js';
import { createSender, type SendOutcome, type Sender } from './sender.js';
import { SequenceFile } from './sequence.js';
import { keepalivePassMark, type RelaySettings } from './settings.js';
import { safeLog } from '../text/safe-text.js';

export interface RelayIo extends Omit<ProbeEnvironment, 'systemCa' | 'proxyFor'> {
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
  /** The platform the relay runs on: on Windows it trusts the machine's store and takes Connect's proxy. */
  readonly platform?: NodeJS.Platform;
  /** The machine's trusted roots (PEM), read once, on Windows only: tls.getCACertificates('system') by default. */
  readonly systemCertificates?: () => readonly string[];
  /** How machine.config and WinHTTP are read; tests stand in for Windows. */
  readonly proxyDiscovery?: Omit<ProxyDiscoveryIo, 'platform'>;
  /** SRV lookups for the PDC emulator; the system's DNS by default. */
  readonly resolveSrv?: ResolveSrv;
  /** How the Connect event log is read (platform, program runner); tests stand in for Windows. */
  readonly eventLog?: EventLogIo;
  /** How the sync engines are read on Windows (reg, sc, powershell.exe, the trace folder); tests stand in for Windows. */
  readonly windows?: WindowsIo;
  /** The DNS the relay namespaces' gateways are found in (src/relay/gateways.ts); the system's by default. */
  readonly gatewayDns?: GatewayDns;
}

export interface WindowsIo {
  /** Runs reg, sc and powershell.exe; execFile by default (reg and sc found on PATH, PowerShell by its full path). */
  readonly run?: RunProgram;
  /** The environment the paths come from (SystemRoot, ProgramFiles, ProgramData); process.env by default. */
  readonly env?: NodeJS.ProcessEnv;
  /** How the provisioning agent's trace folder is read; node:fs by default. */
  readonly fs?: TraceFs;
  /** The reach targets (tests point them at loopback servers); src/relay/reach-groups.ts by default. */
  readonly revocationTargets?: readonly string[];
  readonly cloudSyncTargets?: readonly string[];
}

/** At most this many probe results per heartbeat (the schema's bound). */
const MAX_TARGETS = 50;
/** At most this many reach results per heartbeat (the schema's bound). */
const MAX_REACH = 120;
/** Relay namespaces whose gateways are found and probed, and gateways probed per namespace. */
const MAX_GATEWAY_NAMESPACES = 4;
export const MAX_GATEWAYS_PER_NAMESPACE = 40;
/** How long a namespace's gateways, once found, are kept before DNS is asked again (256 names each time). */
export const GATEWAY_REFRESH_MS = 60 * 60 * 1000;

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
  /** Every domain controller checked (heartbeat.dc is the first). */
  readonly dcs: readonly DcReport[];
  /** The targets that came from the event log (the tenant's own relay namespaces). */
  readonly discoveredTargets: readonly string[];
}

/** The outcomes that stop a flush: the heartbeat stays and everything after it waits. */
type Blocked = Extract<SendOutcome, { kind: 'retry' | 'unauthorized' }>;

export class RelayAgent {
  private readonly sequence: SequenceFile;
  private readonly outbox: Outbox;
  private readonly now: () => Date;
  private readonly log: (line: string) => void;
  private keepaliveRun: Promise<void> | undefined;
  private keepaliveReport: KeepaliveReport | undefined;
  private readonly stopping = new AbortController();
  private route: Promise<ProxyRoute> | undefined;
  private systemCa: readonly string[] | undefined | null = null;
  private sender_: Sender | undefined;
  private readonly gatewayCache = new Map<string, { at: number; discovery: GatewayDiscovery }>();
  /**
   * The round trip's test user names from the monitor's last 202, looked for in the next read of
   * Connect's log. In memory only: after a restart the first heartbeat reports no adminResets,
   * and its answer brings the names for the next one, a heartbeat period later; the round trip's
   * confirmation window allows for that (src/roundtrip/confirmation.ts).
   */
  private roundtripUsers: readonly string[] = [];

  constructor(
    private readonly settings: RelaySettings,
    private readonly io: RelayIo = {},
  ) {
    this.sequence = new SequenceFile(settings.stateDir);
    this.outbox = new Outbox(settings.stateDir, settings.bufferMax);
    this.now = io.now ?? (() => new Date());
    // The monitor's answers and probe errors reach these lines: one safe line each, whoever logs.
    this.log = safeLog(io.log ?? (() => undefined));
  }

  /** The proxy route, found once (ADSync, too, reads machine.config when it starts); its problems logged once. */
  proxyRoute(): Promise<ProxyRoute> {
    this.route ??= discoverProxy(this.settings, { platform: this.platform(), ...this.io.proxyDiscovery }).then((route) => {
      for (const problem of route.problems) this.log(`proxy: ${problem}`);
      return route;
    });
    return this.route;
  }

  private platform(): NodeJS.Platform {
    return this.io.platform ?? process.platform;
  }

  /** Windows: the machine's certificate store, read once; elsewhere none (Node's trust is unchanged). */
  private machineCa(): readonly string[] | undefined {
    if (this.systemCa === null) {
      this.systemCa = undefined;
      if (this.platform() === 'win32') {
        try {
          this.systemCa = (this.io.systemCertificates ?? (() => getCACertificates('system')))();
        } catch (err) {
          this.log(`trust: the Windows certificate store could not be read (${(err as Error).message}); Node's roots only`);
        }
      }
    }
    return this.systemCa;
  }

  private async getSender(): Promise<Sender> {
    if (!this.sender_) {
      const route = await this.proxyRoute();
      const systemCa = this.machineCa();
      this.sender_ ??= createSender(this.settings, 30_000, { proxyFor: route.proxyFor, ...(systemCa && { systemCa }) });
    }
    return this.sender_;
  }

  /**
   * One heartbeat. With `keepalive`, an idle-keepalive test is started when none is running;
   * it lasts minutes, so its report rides on the first heartbeat after it finishes.
   */
  async cycle(options: { keepalive?: boolean } = {}): Promise<CycleReport> {
    const route = await this.proxyRoute();
    const systemCa = this.machineCa();
    if (options.keepalive) this.startKeepalive(route);
    const { probeTimeoutMs } = this.settings;
    const windows = { platform: this.platform(), now: this.now, ...this.io.windows };
    const [connectSync, provisioningAgent] = await Promise.all([readConnectSync(windows), readProvisioningAgent(windows)]);
    // The event log first: the tenant's own relay namespaces it names are probed too.
    // WBMON_EVENTLOG=off: a relay next to, not on, the Connect server cannot read its log.
    const read = this.settings.eventLog
      ? await readEventLog({ now: this.now, ...(this.io.platform && { platform: this.io.platform }), ...this.io.eventLog }, { users: this.roundtripUsers })
      : disabledEventLog(this.now());
    // A Connect server in staging mode writes no passwords back: its log has no 31019 to miss.
    const eventLog = read.supported && connectSync?.stagingMode === true ? { ...read, stagingMode: true } : read;
    const discoveredTargets = namespaceTargets(eventLog).filter((t) => !this.settings.targets.includes(t));
    const targets = [...this.settings.targets, ...discoveredTargets].slice(0, MAX_TARGETS);
    const reachItems: ReachItem[] = [];
    if (connectSync?.installed || provisioningAgent?.installed) {
      for (const target of this.io.windows?.revocationTargets ?? REVOCATION_TARGETS) reachItems.push({ group: 'revocation', target });
    }
    if (provisioningAgent?.installed) {
      const fromTrace = (provisioningAgent.endpoints ?? []).map((host) => `https://${host}/`);
      for (const target of new Set([...(this.io.windows?.cloudSyncTargets ?? CLOUD_SYNC_TARGETS), ...fromTrace])) reachItems.push({ group: 'cloudsync', target });
    }
    // The gateways of the relay namespaces probed (the tenant's, from the event log, first).
    const namespaces = [...new Set([...discoveredTargets, ...this.settings.targets].map((t) => new URL(t).hostname).filter((h) => RELAY_NAMESPACE_PATTERN.test(h)))].slice(0, MAX_GATEWAY_NAMESPACES);
    const discoveries = await Promise.all(namespaces.map((ns) => this.gateways(ns)));
    for (const d of discoveries) for (const host of d.gateways.slice(0, MAX_GATEWAYS_PER_NAMESPACE)) reachItems.push({ group: `gateways:${d.namespace}`, target: `https://${host}/` });
    const gateways: GatewayDiscoveryBody[] = discoveries.map((d) => ({
      namespace: d.namespace,
      cnames: d.cnames.slice(0, 5).map((c) => c.slice(0, 253)),
      deployment: d.deployment,
      found: d.gateways.length,
      ...(d.gateways.length > MAX_GATEWAYS_PER_NAMESPACE && { skipped: d.gateways.length - MAX_GATEWAYS_PER_NAMESPACE }),
      ...(d.error && { error: d.error.slice(0, 300) }),
    }));
    const reachOptions = {
      timeoutMs: probeTimeoutMs,
      proxyFor: route.proxyFor,
      ...(systemCa && { systemCa }),
      ...(this.io.extraCa && { extraCa: this.io.extraCa }),
      ...(this.io.lookup && { lookup: this.io.lookup }),
      now: this.now,
    };
    const [results, dcs, reach] = await Promise.all([
      probeAll(targets, this.settings, { ...this.io, proxyFor: route.proxyFor, ...(systemCa && { systemCa }) }),
      checkDomainControllers(this.settings, probeTimeoutMs, { resolveSrv: this.io.resolveSrv }),
      reachAll(reachItems.slice(0, MAX_REACH), reachOptions),
    ]);
    const keepalive = this.keepaliveReport;
    this.keepaliveReport = undefined;
    const sequence = await this.sequence.next(this.now());
    const buffer = await this.outbox.stats();
    const [dc] = dcs;
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
      ...(connectSync && { connectSync }),
      ...(provisioningAgent && { provisioningAgent }),
      ...(reach.length > 0 && { reach }),
      ...(gateways.length > 0 && { gateways }),
      ...(dc && { dc }),
      ...(dcs.length > 1 && { dcs: dcs.slice(0, 10) }),
      proxy: {
        source: route.source,
        url: route.proxy,
        ...(route.problems.length > 0 && { problems: route.problems.slice(0, 5).map((p) => p.slice(0, 500)) }),
      },
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
      dcs,
      discoveredTargets: discoveredTargets.filter((t) => targets.includes(t)),
    };
  }

  /** A namespace's gateways, found at most hourly; a failed discovery is tried again next cycle. */
  private async gateways(namespace: string): Promise<GatewayDiscovery> {
    const cached = this.gatewayCache.get(namespace);
    if (cached && this.now().getTime() - cached.at < GATEWAY_REFRESH_MS) return cached.discovery;
    const discovery = await discoverGateways(namespace, this.io.gatewayDns ?? systemGatewayDns());
    if (discovery.gateways.length > 0) this.gatewayCache.set(namespace, { at: this.now().getTime(), discovery });
    else this.gatewayCache.delete(namespace);
    return discovery;
  }

  /** Runs the idle-keepalive test now and waits for it (`relay --once --keepalive`): the next heartbeat carries it. */
  async keepaliveNow(): Promise<void> {
    this.startKeepalive(await this.proxyRoute());
    await this.keepaliveRun;
  }

  /** Sends the buffer in order; returns how many went and what became of heartbeat `own`. */
  private async flush(ownSequence: number): Promise<{ delivered: number; own?: SendOutcome; blocked?: Blocked }> {
    let delivered = 0;
    let own: SendOutcome | undefined;
    for (const item of await this.outbox.pending()) {
      const outcome = await (await this.getSender()).send(item.body, this.now());
      if (item.sequence === ownSequence) own = outcome;
      // Every 202 says whom the monitor wants looked for now: no names, nobody.
      if (outcome.kind === 'accepted') this.roundtripUsers = outcome.roundtripUsers ?? [];
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

  private startKeepalive(route: ProxyRoute): void {
    if (this.keepaliveRun) return;
    const { keepaliveTarget: target } = this.settings;
    const proxy = route.proxyFor(new URL(target));
    // Through a proxy the connection must outlive the proxy's idle timeout: 6 minutes, by Connect's prerequisites.
    const required = keepalivePassMark(this.settings, proxy !== null);
    const idle = [...new Set([...this.settings.keepaliveIdle, required])].sort((a, b) => a - b);
    const systemCa = this.machineCa();
    this.keepaliveRun = keepaliveTest(target, idle, {
      timeoutMs: this.settings.probeTimeoutMs,
      proxy,
      signal: this.stopping.signal,
      ...(this.io.extraCa && { extraCa: this.io.extraCa }),
      ...(systemCa && { systemCa }),
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
    await this.sender_?.close();
  }
}

/** The tenant's relay namespaces from this read of the event log, as probe targets: only hosts shaped as the schema and the monitor accept them. */
function namespaceTargets(eventLog: EventLogReport): string[] {
  return eventLog.relayNamespaces.filter((host) => RELAY_NAMESPACE_PATTERN.test(host) && isWritebackNamespace(host)).map((host) => new URL(`https://${host}/`).href);
}
