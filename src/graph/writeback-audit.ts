/**
 * Password writeback as the directory audit log tells it: users' resets and changes that failed
 * for an on-premises reason, and an administrator turning writeback off for the directory. Pure:
 * audit entries and the previous cursor in, a check result and the next cursor out.
 *
 * Names, as Microsoft documents them (checked 2026-11-25):
 * - activities of the service "Self-service Password Management" (Entra audit activity
 *   reference): "Reset password (self-service)", "Change password (self-service)", "Unlock user
 *   account (self-service)", the flow's progress entries (logged under two spellings, "Self-serve
 *   ..." and "Self-service password reset flow activity progress"), and "Disable" / "Enable
 *   password writeback for directory";
 * - failure reasons of SSPR (Troubleshoot self-service password reset, "SSPR errors that a user
 *   might see"): OnPremisesAdminActionRequired = 29, OnPremisesConnectivityError = 30,
 *   WritebackNotEnabled = 10; and of password change (AADSTS120013
 *   PasswordChangeOnPremisesConnectivityFailure, AADSTS120015 PasswordChangeADAdminActionRequired,
 *   AADSTS120012 PasswordChangeNeedsToHappenOnPrem). Administrators report the audit log's
 *   reason as "OnPremisesConnectivityError" (and "...Failure") for a stopped Connect service.
 * - administrators' resets, "Reset password (by admin)", logged by the same service, which name
 *   the engine that wrote the password back in the additional detail `OnPremisesAgent`:
 *   "Microsoft Entra Connect" (Connect Sync) or "CloudSync" (Entra Cloud Sync's provisioning
 *   agent) (Entra SSPR reporting page);
 * - the reason as a sentence instead of a name, as older entries and the flow's progress entries
 *   log it: "We could not reach your on-premises password reset service" (connectivity), "We
 *   encountered a problem while resetting the user's on-premises password" (an on-premises
 *   failure the entry does not explain), and the user-facing texts of the SSPR error table
 *   (SSPR_0010 writeback not enabled, SSPR_0029 on-premises configuration, SSPR_0030 poor
 *   connection with the on-premises environment); OnPremisesSuccessCloudFailure = the password
 *   was set on-premises but the cloud could not be updated ("...successful on-premises, but
 *   there was an error while writing to the cloud").
 * The sentences end with "contact your admin(istrator)"; that advice is cut before the words are
 * read, so it never makes a connectivity failure look like an admin one.
 */
import type { CheckResult } from '../checks/state.js';
import { maskUser } from '../checks/mask.js';
import { fail, ok } from './result.js';
import { tenantText } from './tenant-text.js';

/** An administrator's reset of a user's password, in the admin center or My Staff. */
export const ADMIN_RESET = 'Reset password (by admin)';

export const WRITEBACK_ACTIVITIES: readonly string[] = [
  'Reset password (self-service)',
  'Change password (self-service)',
  'Unlock user account (self-service)',
  'Self-serve password reset flow activity progress',
  'Self-service password reset flow activity progress',
  ADMIN_RESET,
];
const DISABLE_WRITEBACK = 'Disable password writeback for directory';
const ENABLE_WRITEBACK = 'Enable password writeback for directory';

/** Casing differs between the reference and what the portal shows: compare without it. */
const isActivity = (name: string | undefined, wanted: string): boolean => (name ?? '').toLowerCase() === wanted.toLowerCase();
const isWritebackActivity = (name: string | undefined): boolean => WRITEBACK_ACTIVITIES.some((a) => isActivity(name, a));

/**
 * Refusals that are the user's or the policy's business, never writeback's: the on-premises
 * password policy, complexity, history or age, the banned-password list, a wrong old password,
 * a locked or disabled account.
 */
const USER_CAUSED = new RegExp(
  [
    /polic(y|ies)\s*violation|PolicyViolation|complexity|fuzzy|banned|LockedOut|locked out|AccountDisabled|UserAccount\w*Disabled/.source,
    /\b(does not|doesn't|did not|didn't) (meet|comply|satisfy)\b|password (policy|requirements|history)\b|minimum password age|too (short|recent)\b/.source,
    /Incorrect\w*Password|InvalidOldPassword|WrongPassword|\b(incorrect|wrong|invalid) (old|current) password/.source,
  ].join('|'),
  'i',
);

// Codes first, for every reason; then words, in this order: admin before connectivity, since
// free text such as "access denied for the connector account" names both.
const REASONS: ReadonlyArray<{ label: string; code?: RegExp; words?: RegExp }> = [
  {
    label: 'reset on-premises, cloud update failed',
    code: /OnPremisesSuccessCloudFailure/i,
    words: /\bsuccess\w*\b.*\b(error|fail\w*)\b.*\bcloud\b|\bcommitted to the cloud\b/i,
  },
  {
    label: 'on-premises admin action required',
    code: /OnPrem\w*AdminActionRequired|ADAdminActionRequired|SSPR_0029/i,
    words: /\b(admin\w*|permission\w*|access (is )?denied|configuration)\b/i,
  },
  {
    label: 'on-premises connectivity',
    code: /OnPrem\w*Connecti?vi?ty|SSPR_0030/i, // ...ConnectivityError, ...ConnectivityFailure, the misspelt "Connectivty"
    words: /\b(connect\w*|reach\w*|unreachable|unavailable|respond\w*|timed? ?out|offline)\b/i,
  },
  {
    label: 'password writeback not enabled',
    code: /WritebackNotEnabled|NeedsToHappenOnPrem|SSPR_0010/i,
    words: /\bwrite ?back (has |is )?(not|n't) (been )?enabled\b|\bnot enabled (password )?write ?back\b/i,
  },
  {
    // No code of its own: the sentence of entries that do not say why.
    label: 'on-premises reset failed',
    words: /\b(problem|error)\b.*\b(resetting|setting|writing|updating)\b.*\bon-?prem\w*\b|\bcould(n't| not) (reset|set|write)\b.*\bon-?prem/i,
  },
];
const ON_PREM_WORDS = /on-?prem|writeback|write back/i;
/** "Please contact your admin and ask them to investigate.": advice to the user, not a reason. */
const CONTACT_ADMIN = /\b(please )?contact your (admin|administrator|helpdesk|help desk)s?\b[^.]*\.?/gi;

/** The label of a writeback reason, or undefined for reasons that are not writeback's. */
export function classifyReason(reason: string | undefined): string | undefined {
  if (!reason || USER_CAUSED.test(reason)) return undefined;
  const byCode = REASONS.find((r) => r.code?.test(reason));
  if (byCode) return byCode.label;
  if (!ON_PREM_WORDS.test(reason)) return undefined;
  const words = reason.replace(CONTACT_ADMIN, ' ');
  return REASONS.find((r) => r.words?.test(words))?.label;
}

/** The engines that write passwords back, as audit entries name them in `OnPremisesAgent`. */
export type WritebackAgent = 'connectSync' | 'cloudSync';
export const AGENT_LABELS: Readonly<Record<WritebackAgent, string>> = { connectSync: 'Connect Sync', cloudSync: 'Cloud Sync' };

/**
 * The engine an `OnPremisesAgent` value names: "Microsoft Entra Connect" (and the older "Azure
 * AD Connect") is Connect Sync, "CloudSync" is Cloud Sync; anything else is undefined.
 */
export function agentOf(value: string | undefined): WritebackAgent | undefined {
  const v = (value ?? '').toLowerCase().replace(/[^a-z]/g, '');
  if (v === '') return undefined;
  if (v.includes('cloudsync') || v.includes('provisioningagent')) return 'cloudSync';
  if (/^(microsoftentra|azuread|aad|entra)?(connect|connectsync)$/.test(v)) return 'connectSync';
  return undefined;
}

/** Where the last run stopped reading, and what it knew that outlives one run. */
export interface AuditCursor {
  /** The newest activityDateTime seen; the next run reads from here. */
  readonly at: string;
  /** Writeback was turned off for the directory (and not yet back on), by whom (masked). */
  readonly writebackDisabled?: { readonly at: string; readonly by: string };
  /** The newest audit entry that named each engine as its `OnPremisesAgent` (evidence of which engines write back). */
  readonly agentsSeen?: { readonly connectSync?: string; readonly cloudSync?: string };
}

interface DirectoryAudit {
  activityDateTime?: string;
  activityDisplayName?: string;
  result?: string;
  resultReason?: string;
  initiatedBy?: { user?: { userPrincipalName?: string | null } | null };
  targetResources?: Array<{ userPrincipalName?: string | null }>;
  additionalDetails?: Array<{ key?: string | null; value?: string | null }> | null;
}

/** The `OnPremisesAgent` detail of an entry, as given. */
function agentDetail(a: DirectoryAudit): string | undefined {
  const detail = (Array.isArray(a.additionalDetails) ? a.additionalDetails : []).find((d) => (d?.key ?? '').toLowerCase() === 'onpremisesagent');
  return typeof detail?.value === 'string' ? detail.value : undefined;
}

interface Failure {
  readonly user: string;
  readonly admin: boolean;
  /** Connect Sync or Cloud Sync, another agent's name as the log gives it (cleaned), or none. */
  readonly agent?: string;
}

/**
 * Evaluates the audits since `cursor.at`. Entries exactly at the cursor were seen by the run that
 * set it, so they are skipped. The check fails when users' writebacks failed for an on-premises
 * reason in this window, or while writeback stays disabled for the directory.
 */
export function evaluateWritebackAudit(
  audits: readonly unknown[],
  cursor: AuditCursor,
  now: Date,
  startedAt: string,
): { result: CheckResult; next: AuditCursor } {
  const cursorMs = Date.parse(cursor.at);
  let newest = Number.NaN;
  let disabled = cursor.writebackDisabled;
  let toggledAt = disabled ? Date.parse(disabled.at) : Number.NEGATIVE_INFINITY;
  const byReason = new Map<string, Failure[]>();
  const seen: { connectSync?: string; cloudSync?: string } = { ...cursor.agentsSeen };
  for (const a of audits as readonly DirectoryAudit[]) {
    const at = Date.parse(a.activityDateTime ?? '');
    if (Number.isNaN(at)) continue;
    if (!(newest >= at)) newest = at;
    if (at <= cursorMs) continue;
    const admin = () => maskUser(a.initiatedBy?.user?.userPrincipalName);
    // Audits may arrive in any order: the newest toggle decides.
    if (a.result === 'success' && at >= toggledAt && isActivity(a.activityDisplayName, DISABLE_WRITEBACK)) {
      disabled = { at: new Date(at).toISOString(), by: admin() };
      toggledAt = at;
      continue;
    }
    if (a.result === 'success' && at >= toggledAt && isActivity(a.activityDisplayName, ENABLE_WRITEBACK)) {
      disabled = undefined;
      toggledAt = at;
      continue;
    }
    if (!isWritebackActivity(a.activityDisplayName)) continue;
    const detail = agentDetail(a);
    const agent = agentOf(detail);
    if (agent && !(Date.parse(seen[agent] ?? '') >= at)) seen[agent] = new Date(at).toISOString();
    if (a.result !== 'failure') continue;
    const label = classifyReason(a.resultReason);
    if (!label) continue;
    const user = a.targetResources?.find((t) => t.userPrincipalName)?.userPrincipalName ?? a.initiatedBy?.user?.userPrincipalName;
    const shownAgent = agent ? AGENT_LABELS[agent] : tenantText(detail, 40);
    const failure: Failure = { user: maskUser(user), admin: isActivity(a.activityDisplayName, ADMIN_RESET), ...(shownAgent && { agent: shownAgent }) };
    byReason.set(label, [...(byReason.get(label) ?? []), failure]);
  }
  const nextAt = Number.isNaN(newest) || newest < cursorMs ? (audits.length ? cursor.at : now.toISOString()) : new Date(newest).toISOString();
  const next: AuditCursor = {
    at: nextAt,
    ...(disabled && { writebackDisabled: disabled }),
    ...((seen.connectSync || seen.cloudSync) && { agentsSeen: seen }),
  };

  const total = [...byReason.values()].reduce((n, failures) => n + failures.length, 0);
  const parts = [...byReason].map(([label, failures]) => {
    const distinct = [...new Set(failures.map((f) => f.user))];
    const shown = distinct.slice(0, 3).join(', ') + (distinct.length > 3 ? `, +${distinct.length - 3} more` : '');
    const admins = failures.filter((f) => f.admin).length;
    const agents = new Map<string, number>();
    for (const f of failures) if (f.agent) agents.set(f.agent, (agents.get(f.agent) ?? 0) + 1);
    const extra = [
      ...(admins ? [`${admins} by an administrator`] : []),
      ...(agents.size ? [`agent ${[...agents].map(([name, n]) => `${name} ${n}`).join(', ')}`] : []),
    ];
    return `${label}: ${failures.length} (${[shown, ...extra].join('; ')})`;
  });
  const failures = total > 0 ? `${total} password writeback failure${total === 1 ? '' : 's'} since ${cursor.at}; ${parts.join('; ')}` : '';
  if (disabled) {
    const message = `password writeback was disabled for the directory at ${disabled.at} by ${disabled.by}${failures ? `; ${failures}` : ''}`;
    return { result: fail(startedAt, 'writeback_disabled', message), next };
  }
  if (total === 0) return { result: ok(startedAt), next };
  return { result: fail(startedAt, 'writeback_failures', failures), next };
}
