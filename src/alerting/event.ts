/**
 * An alert event: one decision of the policy that people must hear about. Channels only
 * format and send these; whether to send at all is the policy's business.
 */
import type { CheckKind, CheckState } from '../checks/state.js';

/** `retired`: the check is gone (no configuration or relay reports it); said once, then it is removed. */
/** `test`: sent by `writeback-monitor alert test` only, through every channel, and marked as such. */
export type AlertKind = 'triggered' | 'resolved' | 'reminder' | 'flapping' | 'retired' | 'test';

/** What to do about it, from the checklist in Microsoft's writeback troubleshooting guide. */
export interface Remediation {
  /** One line: the most likely fix. */
  readonly summary: string;
  /** Concrete steps, in the order to try them. */
  readonly steps: readonly string[];
}

export interface AlertEvent {
  /** Idempotency key: the same decision is never recorded or delivered twice. */
  readonly id: string;
  readonly kind: AlertKind;
  readonly checkId: string;
  readonly checkKind: CheckKind;
  readonly target: string;
  /** Where the failure was seen: an Azure region, `local`, `tenant`, or a relay id. */
  readonly location: string;
  readonly state: CheckState;
  /** Since when the check has been in `state` (ISO): for a down check, when the threshold was crossed. */
  readonly since: string;
  /**
   * A down check only: when its run of failures began, the first failure's time (ISO); at or
   * before `since`. Absent when unknown (a check stored before this field existed).
   */
  readonly firstFailureAt?: string;
  /** When the policy decided (ISO). */
  readonly at: string;
  readonly failure?: { readonly code: string; readonly phase: string; readonly message: string };
  readonly remediation: Remediation;
}
