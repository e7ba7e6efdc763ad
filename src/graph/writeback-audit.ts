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
 * Still unverified against a live tenant: whether the reason sometimes arrives as free text
 * instead of those names, hence the word matching below.
 */
import type { CheckResult } from '../checks/state.js';
import { maskUser } from '../checks/mask.js';
import { fail, ok } from './result.js';

export const WRITEBACK_ACTIVITIES: readonly string[] = [
  'Reset password (self-service)',
  'Change password (self-service)',
  'Unlock user account (self-service)',
  'Self-serve password reset flow activity progress',
  'Self-service password reset flow activity progress',
];
const DISABLE_WRITEBACK = 'Disable password writeback for directory';
const ENABLE_WRITEBACK = 'Enable password writeback for directory';

/** Casing differs between the reference and what the portal shows: compare without it. */
const isActivity = (name: string | undefined, wanted: string): boolean => (name ?? '').toLowerCase() === wanted.toLowerCase();
const isWritebackActivity = (name: string | undefined): boolean => WRITEBACK_ACTIVITIES.some((a) => isActivity(name, a));

/**
 * Refusals that are the user's or the policy's business, never writeback's: the on-premises
 * password policy, complexity, the banned-password list, a locked or disabled account.
 */
const USER_CAUSED = /polic(y|ies)\s*violation|PolicyViolation|complexity|fuzzy|banned|LockedOut|locked out|AccountDisabled|UserAccount\w*Disabled/i;

// Admin first: free text such as "access denied for the connector account" names both.
const REASONS: ReadonlyArray<{ label: string; code: RegExp; words?: RegExp }> = [
  {
    label: 'on-premises admin action required',
    code: /OnPrem\w*AdminActionRequired|ADAdminActionRequired/i,
    words: /\b(admin\w*|permission\w*|access (is )?denied)\b/i,
  },
  {
    label: 'on-premises connectivity',
    code: /OnPrem\w*Connecti?vi?ty/i, // ...ConnectivityError, ...ConnectivityFailure, the misspelt "Connectivty"
    words: /\b(connect\w*|reach\w*|unreachable|unavailable|respond\w*|timed? ?out|offline)\b/i,
  },
  {
    label: 'password writeback not enabled',
    code: /WritebackNotEnabled|NeedsToHappenOnPrem/i,
  },
];
const ON_PREM_WORDS = /on-?prem|writeback/i;

/** The label of a writeback reason, or undefined for reasons that are not writeback's. */
export function classifyReason(reason: string | undefined): string | undefined {
  if (!reason || USER_CAUSED.test(reason)) return undefined;
  const byCode = REASONS.find((r) => r.code.test(reason));
  if (byCode) return byCode.label;
  if (!ON_PREM_WORDS.test(reason)) return undefined;
  return REASONS.find((r) => r.words?.test(reason))?.label;
}

/** Where the last run stopped reading, and what it knew that outlives one run. */
export interface AuditCursor {
  /** The newest activityDateTime seen; the next run reads from here. */
  readonly at: string;
  /** Writeback was turned off for the directory (and not yet back on), by whom (masked). */
  readonly writebackDisabled?: { readonly at: string; readonly by: string };
}

interface DirectoryAudit {
  activityDateTime?: string;
  activityDisplayName?: string;
  result?: string;
  resultReason?: string;
  initiatedBy?: { user?: { userPrincipalName?: string | null } | null };
  targetResources?: Array<{ userPrincipalName?: string | null }>;
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
  const byReason = new Map<string, string[]>();
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
    if (a.result !== 'failure' || !isWritebackActivity(a.activityDisplayName)) continue;
    const label = classifyReason(a.resultReason);
    if (!label) continue;
    const user = a.targetResources?.find((t) => t.userPrincipalName)?.userPrincipalName ?? a.initiatedBy?.user?.userPrincipalName;
    byReason.set(label, [...(byReason.get(label) ?? []), maskUser(user)]);
  }
  const nextAt = Number.isNaN(newest) || newest < cursorMs ? (audits.length ? cursor.at : now.toISOString()) : new Date(newest).toISOString();
  const next: AuditCursor = disabled ? { at: nextAt, writebackDisabled: disabled } : { at: nextAt };

  const total = [...byReason.values()].reduce((n, users) => n + users.length, 0);
  const parts = [...byReason].map(([label, users]) => {
    const distinct = [...new Set(users)];
    const shown = distinct.slice(0, 3).join(', ') + (distinct.length > 3 ? `, +${distinct.length - 3} more` : '');
    return `${label}: ${users.length} (${shown})`;
  });
  const failures = total > 0 ? `${total} password writeback failure${total === 1 ? '' : 's'} since ${cursor.at}; ${parts.join('; ')}` : '';
  if (disabled) {
    const message = `password writeback was disabled for the directory at ${disabled.at} by ${disabled.by}${failures ? `; ${failures}` : ''}`;
    return { result: fail(startedAt, 'writeback_disabled', message), next };
  }
  if (total === 0) return { result: ok(startedAt), next };
  return { result: fail(startedAt, 'writeback_failures', failures), next };
}
