/**
 * The relay's reports of the sync engines on its server, as check results (pure; the time of
 * a verdict is the report's own `checkedAt`, so a heartbeat always says the same thing):
 *
 *  - `connect:<relayId>` (kind `connect`): Entra Connect Sync's build and the ADSync service.
 *    Down when ADSync is not running (writeback runs inside it) or the build is past its end of
 *    support (or below a minimum Microsoft requires: synchronization stops); a warning from 90
 *    days before that day, when the build is not in the relay's table, and in staging mode.
 *  - `agent:<relayId>` (kind `provisioning-agent`): Entra Cloud Sync's provisioning agent. Down
 *    when its service does not run or its build is older than writeback needs (1.1.977.0); a
 *    warning when its updater does not run, its trace logged errors in the last hour, or
 *    something could not be read.
 *  - `reach:<relayId>:<group>` (kind `reach`): one per group of reach probes (the revocation
 *    hosts, the agent's endpoints, one relay namespace's gateways): down when any host of the
 *    group cannot be reached, naming each.
 */
import type { CheckIdentity, CheckResult } from '../checks/state.js';
import type { ConnectSyncReportBody, GatewayDiscoveryBody, ProvisioningAgentReportBody, ReachResultBody } from '../heartbeat/schema.js';
import { AGENT_SERVICE, compareVersions, SUPPORT_WARNING_DAYS, supportVerdict, UPDATER_SERVICE, WRITEBACK_MIN_AGENT } from '../heartbeat/sync-engines.js';


export function connectCheck(relayId: string): CheckIdentity {
  return { id: `connect:${relayId}`, kind: 'connect', target: 'Entra Connect Sync', location: relayId };
}

type Warning = { code: string; message: string };

export function connectResult(report: ConnectSyncReportBody): CheckResult | undefined {
  if (!report.installed) return undefined;
  const at = report.checkedAt;
  const failures: Warning[] = [];
  const warnings: Warning[] = [];
  const build = report.version ? `Entra Connect Sync ${report.version}` : 'Entra Connect Sync (version unknown)';

  if (report.service !== 'running') {
    const state = report.service === 'missing' ? 'is not installed' : report.service === 'unknown' ? 'is in an unknown state' : `is ${report.service}`;
    failures.push({ code: report.service === 'unknown' ? 'connect_unreadable' : 'adsync_not_running', message: `the ADSync service (Microsoft Azure AD Sync) ${state}: password writeback runs inside it` });
  }
  const support = report.support;
  if (support) {
    const table = `the relay's table of Microsoft's supported builds, checked ${support.tableChecked}`;
    const verdict = supportVerdict(support.endOfSupport, new Date(at));
    if (verdict.state === 'ended') {
      failures.push({ code: 'connect_unsupported', message: `${build} is not supported since ${support.endOfSupport} (${support.basis}; ${table})` });
    } else if (verdict.state === 'ending') {
      warnings.push({
        code: 'connect_support_ending',
        message: `${build} is supported until ${support.endOfSupport}, ${verdict.daysLeft} day${verdict.daysLeft === 1 ? '' : 's'} from now (${support.basis}; ${table}); upgrade before then (warned from ${SUPPORT_WARNING_DAYS} days before)`,
      });
    }
    if (support.match === 'unlisted') warnings.push({ code: 'connect_version_unlisted', message: `${build} is not a build of ${table}: ${support.basis}` });
  } else if (!report.version) {
    warnings.push({ code: 'connect_version_unknown', message: 'the Connect Sync version could not be read, so its support cannot be judged' });
  }
  if (report.stagingMode === true) {
    warnings.push({ code: 'connect_staging', message: 'this Connect server is in staging mode: it writes no passwords back; the active server does, and its relay is the one that watches writeback' });
  }
  for (const problem of report.problems ?? []) warnings.push({ code: 'connect_read_problem', message: problem });

  const withWarnings = (r: CheckResult): CheckResult => (warnings.length > 0 ? { ...r, warnings: warnings.slice(0, 10) } : r);
  const [first, ...more] = failures;
  if (!first) return withWarnings({ ok: true, startedAt: at });
  const message = [first.message, ...more.map((m) => m.message)].join('; and ');
  return withWarnings({ ok: false, startedAt: at, failure: { code: first.code, phase: 'connect', message: message.slice(0, 1000) } });
}

export function agentCheck(relayId: string): CheckIdentity {
  return { id: `agent:${relayId}`, kind: 'provisioning-agent', target: 'Entra Cloud Sync provisioning agent', location: relayId };
}

export function agentResult(report: ProvisioningAgentReportBody): CheckResult | undefined {
  if (!report.installed) return undefined;
  const at = report.checkedAt;
  const failures: Warning[] = [];
  const warnings: Warning[] = [];
  const state = (name: string) => report.services.find((s) => s.name === name)?.state ?? 'unknown';
  const agent = state(AGENT_SERVICE);
  if (agent !== 'running') {
    failures.push({ code: 'cloudsync_agent_stopped', message: `the provisioning agent's service (${AGENT_SERVICE}, Microsoft Entra Provisioning Agent) is ${agent}: Cloud Sync neither syncs nor writes passwords back through this server` });
  }
  if (report.version && compareVersions(report.version, WRITEBACK_MIN_AGENT) < 0) {
    failures.push({ code: 'cloudsync_agent_too_old', message: `the provisioning agent is ${report.version}: Cloud Sync's password writeback needs ${WRITEBACK_MIN_AGENT} or later` });
  }
  const updater = state(UPDATER_SERVICE);
  if (updater !== 'running') warnings.push({ code: 'cloudsync_updater_stopped', message: `the agent's updater (${UPDATER_SERVICE}, Microsoft Entra Connect Agent Updater) is ${updater}: the agent is not kept up to date` });
  if (report.trace && report.trace.errors > 0) {
    const [newest] = report.trace.recent;
    warnings.push({
      code: 'cloudsync_trace_errors',
      message: `the agent's trace logged ${report.trace.errors} error line${report.trace.errors === 1 ? '' : 's'} in the last hour${newest ? `; the newest (${newest.file}, trace text, not verified): "${newest.line.replace(/"/g, "'").slice(0, 200)}"` : ''}`,
    });
  }
  for (const problem of report.problems ?? []) warnings.push({ code: 'cloudsync_read_problem', message: problem });
  const withWarnings = (r: CheckResult): CheckResult => (warnings.length > 0 ? { ...r, warnings: warnings.slice(0, 10) } : r);
  const [first, ...more] = failures;
  if (!first) return withWarnings({ ok: true, startedAt: at });
  return withWarnings({ ok: false, startedAt: at, failure: { code: first.code, phase: 'agent', message: [first.message, ...more.map((m) => m.message)].join('; and ').slice(0, 1000) } });
}

/** What each group is, in words: the check's target. */
function groupTarget(group: string): string {
  if (group === 'revocation') return 'certificate revocation hosts (HTTP 80)';
  if (group === 'cloudsync') return 'Entra Cloud Sync agent endpoints (HTTPS 443)';
  return `relay gateways of ${group.slice('gateways:'.length)}`;
}

export function reachCheck(relayId: string, group: string): CheckIdentity {
  return { id: `reach:${relayId}:${group}`, kind: 'reach', target: groupTarget(group), location: relayId };
}

const GROUP_CODES: Readonly<Record<string, string>> = { revocation: 'revocation_unreachable', cloudsync: 'cloudsync_endpoint_unreachable' };

/**
 * One result per group of a heartbeat's reach probes, in the order the groups first appear.
 * `discovery` (the gateways' discovery) adds a warning to its namespace's group when not all
 * the gateways found were probed.
 */
export function reachResults(results: readonly ReachResultBody[], at: string, discovery: readonly GatewayDiscoveryBody[] = []): { group: string; result: CheckResult }[] {
  const groups = new Map<string, ReachResultBody[]>();
  for (const r of results) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
  const judged = [...groups].map(([group, rs]) => {
    const failed = rs.filter((r) => !r.ok);
    const skipped = discovery.find((d) => `gateways:${d.namespace}` === group)?.skipped;
    const warnings = skipped ? [{ code: 'gateways_skipped', message: `${skipped} more gateways were found than the relay probes per namespace` }] : [];
    const base = { startedAt: at, ...(warnings.length > 0 && { warnings }) };
    if (failed.length === 0) return { group, result: { ok: true, ...base } };
    const code = GROUP_CODES[group] ?? 'gateway_unreachable';
    const hostOf = (t: string): string => t.replace(/^[a-z]+:\/\//, '').replace(/\/$/, '');
    const listed = failed.map((r) => `${hostOf(r.target)} (${r.failure?.code ?? 'failed'}${r.failure ? `: ${r.failure.message}` : ''})`);
    const message = `${failed.length} of ${rs.length} ${groupTarget(group)} unreachable from here: ${listed.join('; ')}`;
    return { group, result: { ok: false, ...base, failure: { code, phase: failed[0]!.failure?.phase ?? 'tcp', message: message.slice(0, 1000) } } };
  });
  // A namespace whose DNS answered but whose gateways could not be found: say so, on an up check
  // (its own relay-probe check already fails when the namespace itself does not resolve).
  for (const d of discovery) {
    const group = `gateways:${d.namespace}`;
    if (!d.error || d.cnames.length === 0 || groups.has(group)) continue;
    judged.push({ group, result: { ok: true, startedAt: at, warnings: [{ code: 'gateways_unknown', message: d.error }] } });
  }
  return judged;
}
