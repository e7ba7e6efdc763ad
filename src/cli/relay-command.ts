/** `writeback-monitor relay [--once [--keepalive]]`: the on-prem agent, in a loop or for one heartbeat. */
import { RelayAgent, type CycleReport } from '../relay/agent.js';
import type { RelaySettings } from '../relay/settings.js';
import type { ConnectSyncReportBody, DcReport, EventLogReport, KeepaliveReport, ProvisioningAgentReportBody } from '../heartbeat/schema.js';
import { agentResult, connectResult, reachCheck, reachResults } from '../monitor/sync-engine-checks.js';
import type { ProbeResult } from '../probes/result.js';

/**
 * What to check, in order, when the monitor refuses a heartbeat: the function key first, as the
 * Functions host answers 401 before the monitor sees the request; then what the monitor checks.
 */
export const UNAUTHORIZED_HINT =
  'check WBMON_MONITOR_KEY first: a missing or wrong function key is refused by the Functions host before the monitor sees the heartbeat; then WBMON_RELAY_ID, WBMON_RELAY_SECRET against WBMON_RELAYS on the monitor, and the clock (within 300 s)';
import { VERSION } from '../version.js';
import {
  createEventWriter,
  cycleFailedEvent,
  RelayEventTracker,
  startedEvent,
  stoppedEvent,
  type EventWriter,
} from '../relay/windows-events.js';

export function describeCycle(relayId: string, r: CycleReport): string {
  const up = r.heartbeat.results.filter((x) => x.ok).length;
  const down = r.heartbeat.results.filter((x) => !x.ok).map((x) => `${x.target} ${x.failure?.code}`);
  const o = r.outcome;
  const outcome =
    o.kind === 'accepted'
      ? `accepted (HTTP ${o.status})`
      : `not accepted (${o.kind}${'status' in o && o.status ? `, HTTP ${o.status}` : ''}): ${o.message}${o.kind === 'unauthorized' ? ` (${UNAUTHORIZED_HINT})` : ''}`;
  return [
    `relay ${relayId}: heartbeat ${r.sequence} ${outcome}`,
    `${up}/${r.heartbeat.results.length} targets up${down.length ? ` (down: ${down.join(', ')})` : ''}`,
    `delivered ${r.delivered}, buffered ${r.pending}, dropped ${r.dropped}`,
  ].join('; ');
}

/**
 * One line per part of the cycle, for a person reading a pre-flight: the proxy, each target, the
 * event log, each domain controller, the keepalive test when one ran. describeCycle's verdict follows.
 */
export function describeParts(r: CycleReport): string[] {
  const hb = r.heartbeat;
  const proxy = hb.proxy;
  const lines = [proxy ? `proxy: ${proxy.url ?? 'none (direct)'}, from ${proxy.source}${proxy.problems?.length ? ` (${proxy.problems.join('; ')})` : ''}` : 'proxy: none (direct)'];
  for (const result of hb.results) lines.push(describeTarget(result, r.discoveredTargets.includes(result.target)));
  lines.push(describeEventLog(hb.eventLog));
  if (hb.connectSync?.installed) lines.push(describeConnectSync(hb.connectSync));
  if (hb.provisioningAgent?.installed) lines.push(describeAgent(hb.provisioningAgent));
  for (const { group, result } of reachResults(hb.reach ?? [], hb.sentAt, hb.gateways)) {
    const count = (hb.reach ?? []).filter((r) => r.group === group).length;
    const what = reachCheck('', group).target;
    lines.push(result.ok ? `reach ${what}: up (${count} hosts)` : `reach ${what}: DOWN ${result.failure?.code}: ${result.failure?.message}`);
  }
  if (r.dcs.length === 0) lines.push('domain controller: not checked (set WBMON_DC_HOST, or WBMON_AD_DOMAINS to find the PDC emulator in DNS)');
  for (const dc of r.dcs) lines.push(describeDc(dc));
  if (hb.keepalive) lines.push(describeKeepalive(hb.keepalive));
  return lines;
}

function describeTarget(r: ProbeResult, discovered: boolean): string {
  const origin = discovered ? ' (the tenant relay named in the event log)' : '';
  const via = r.proxy ? ` through ${r.proxy}` : ' direct';
  if (!r.ok) return `target ${r.target}${origin}: DOWN ${r.failure?.code} in ${r.failure?.phase}: ${r.failure?.message}${via}`;
  const trust = r.tls?.trust ? `, certificate trusted by the ${r.tls.trust} store` : '';
  const warn = r.warnings.length ? `; warning: ${r.warnings.map((w) => w.message).join('; ')}` : '';
  return `target ${r.target}${origin}: up in ${Math.round(r.timings.total)} ms${via}${r.http ? `, HTTP ${r.http.status}` : ''}${trust}${warn}`;
}

function describeEventLog(e: EventLogReport | undefined): string {
  if (e?.disabled) return 'event log: not read (WBMON_EVENTLOG=off: this relay runs next to, not on, the Connect server)';
  if (!e || !e.supported) return 'event log: not read (not Windows)';
  if (e.stagingMode && !e.heartbeatFresh && e.failures.length === 0) return 'event log: ok: this Connect server is in staging mode, so it writes no passwords back and logs no writeback heartbeat (31019)';
  if (e.error) return `event log: cannot be read: ${e.error} (is the account in Event Log Readers?)`;
  const heartbeat = e.lastHeartbeatAt ? `writeback heartbeat (31019) last at ${e.lastHeartbeatAt}${e.heartbeatFresh ? '' : ', too old'}` : 'no writeback heartbeat (31019) in the last hour';
  const failures = e.failures.length ? `; outage events: ${[...new Set(e.failures.map((f) => f.eventId))].join(', ')}` : '';
  const state = e.heartbeatFresh && e.failures.length === 0 ? 'ok' : 'PROBLEM';
  return `event log: ${state}: ${heartbeat}${failures}${e.relayNamespaces.length ? `; tenant relay ${e.relayNamespaces.join(', ')}` : ''}`;
}

function describeConnectSync(c: ConnectSyncReportBody): string {
  const result = connectResult(c);
  const what = `${c.version ?? 'version unknown'}, ADSync ${c.service}${c.support ? `, ${c.support.endOfSupport ? `supported until ${c.support.endOfSupport}` : 'no end of support known'}` : ''}${c.stagingMode ? ', staging mode' : ''}`;
  const warnings = result?.warnings?.length ? `; warning: ${result.warnings.map((w) => w.message).join('; ')}` : '';
  if (result && !result.ok) return `Entra Connect Sync: PROBLEM ${result.failure?.code}: ${result.failure?.message}${warnings}`;
  return `Entra Connect Sync: ok: ${what}${warnings}`;
}

function describeAgent(a: ProvisioningAgentReportBody): string {
  const result = agentResult(a);
  const warnings = result?.warnings?.length ? `; warning: ${result.warnings.map((w) => w.message).join('; ')}` : '';
  if (result && !result.ok) return `Cloud Sync provisioning agent: PROBLEM ${result.failure?.code}: ${result.failure?.message}${warnings}`;
  return `Cloud Sync provisioning agent: ok: ${a.version ?? 'version unknown'}, ${a.services.map((s) => `${s.name} ${s.state}`).join(', ')}${warnings}`;
}

function describeDc(dc: DcReport): string {
  const how = dc.found === 'dns' ? ` (PDC emulator of ${dc.domain}, from DNS)` : dc.found === 'setting' ? ' (WBMON_DC_HOST)' : '';
  if (dc.error) return `domain controller of ${dc.domain ?? dc.host}: NOT FOUND: ${dc.error}`;
  const down = dc.ports.filter((p) => !p.ok);
  const ports = dc.ports.map((p) => p.port).join(', ');
  if (down.length === 0) return `domain controller ${dc.host}${how}: up on ${ports}`;
  return `domain controller ${dc.host}${how}: DOWN on ${down.map((p) => `${p.port} (${p.error ?? 'unreachable'})`).join(', ')}; up on ${dc.ports.filter((p) => p.ok).map((p) => p.port).join(', ') || 'none'}`;
}

function describeKeepalive(k: KeepaliveReport): string {
  const lengths = k.results.map((r) => {
    if (r.failure) return `${r.idleSeconds} s: ${r.failure.code}`;
    if (r.survived) return `${r.idleSeconds} s survived`;
    return `${r.idleSeconds} s died (${r.died?.how} after ${r.died?.afterSeconds} s${r.blame === 'server' ? ', the server\'s own limit' : ''})`;
  });
  const via = k.results[0]?.proxy ? ` through ${k.results[0].proxy}` : ' direct';
  return `keepalive ${k.target}${via}: ${k.passed ? 'passed' : 'FAILED'} (must survive ${k.requiredSeconds} s idle): ${lengths.join(', ')}`;
}

/**
 * `events` is the Windows Application log (a no-op elsewhere): started, stopped, and what the
 * tracker makes of each cycle. A service stop reaches the loop as SIGINT (WinSW sends Ctrl+C)
 * or SIGBREAK: the cycle in flight finishes, so the buffer and the sequence file stay whole.
 */
export async function runRelay(
  settings: RelaySettings,
  once: boolean,
  log: (line: string) => void,
  options: { keepalive?: boolean } = {},
  events: EventWriter = createEventWriter({ onError: log }),
): Promise<number> {
  const agent = new RelayAgent(settings, { log });
  const tracker = new RelayEventTracker(settings.relayId, settings.monitorUrl.origin, settings.bufferMax);
  const observe = (report: CycleReport): void => {
    for (const e of tracker.observe(report, new Date())) void events.write(e);
  };
  try {
    if (once) {
      // The test takes its longest idle length (minutes): run it first, so this heartbeat carries it.
      if (options.keepalive) await agent.keepaliveNow();
      const report = await agent.cycle();
      for (const line of describeParts(report)) log(line);
      log(describeCycle(settings.relayId, report));
      return report.outcome.kind === 'accepted' ? 0 : 1;
    }
    let stopping: string | undefined;
    let wake: () => void = () => undefined;
    const stop = (signal: string): void => {
      if (stopping) return;
      log(`${signal}: stopping after the current cycle`);
      stopping = signal;
      wake();
    };
    const signals = ['SIGINT', 'SIGTERM', ...(process.platform === 'win32' ? ['SIGBREAK'] : [])] as NodeJS.Signals[];
    for (const signal of signals) process.once(signal, () => stop(signal));
    log(`relay ${settings.relayId}: heartbeat every ${settings.periodSeconds} s to ${settings.monitorUrl.origin}, state in ${settings.stateDir}`);
    const route = await agent.proxyRoute();
    log(`relay ${settings.relayId}: proxy ${route.proxy ?? 'none (direct)'}, from ${route.source}`);
    void events.write(startedEvent(settings.relayId, VERSION, settings.periodSeconds, settings.monitorUrl.origin, settings.stateDir));
    while (!stopping) {
      const started = Date.now();
      try {
        const report = await agent.cycle({ keepalive: true });
        log(describeCycle(settings.relayId, report));
        observe(report);
      } catch (err) {
        log(`relay ${settings.relayId}: cycle failed: ${(err as Error).message}`);
        void events.write(cycleFailedEvent(settings.relayId, (err as Error).message));
      }
      if (stopping) break;
      const wait = Math.max(0, settings.periodSeconds * 1000 - (Date.now() - started));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    void events.write(stoppedEvent(settings.relayId, stopping ?? 'stopped'));
    return 0;
  } finally {
    await agent.close();
    await events.flush();
  }
}
