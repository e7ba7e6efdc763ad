/** Tenant check results: every failure found through Graph is in phase `graph`. */
import type { CheckResult } from '../checks/state.js';

export function ok(startedAt: string): CheckResult {
  return { ok: true, startedAt };
}

export function fail(startedAt: string, code: string, message: string): CheckResult {
  return { ok: false, startedAt, failure: { code, phase: 'graph', message } };
}
