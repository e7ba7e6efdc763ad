/**
 * The relay's reports of the sync engines on its server, as check results (pure; the time of
 * a verdict is the report's own `checkedAt`, so a heartbeat always says the same thing):
 *
 *  - `connect:<relayId>` (kind `connect`): Entra Connect Sync's build and the ADSync service.
 *    Down when ADSync is not running (writeback runs inside it) or the build is past its end of
 *    support (or below a minimum Microsoft requires: synchronization stops); a warning from 90
 *    days before that day, when the build is not in the relay's table, and in staging mode.
 */
import type { CheckIdentity, CheckResult } from '../checks/state.js';
import type { ConnectSyncReportBody } from '../heartbeat/schema.js';
import { SUPPORT_WARNING_DAYS, supportVerdict } from '../relay/connect-versions.js';

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
