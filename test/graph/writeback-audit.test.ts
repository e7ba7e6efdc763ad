/** Reading password writeback from directory audits: the documented names, and what is not writeback's. */
import { describe, expect, it } from 'vitest';
import { classifyReason, evaluateWritebackAudit, WRITEBACK_ACTIVITIES } from '../../src/graph/writeback-audit.js';
import { audit } from './graph-server.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const CURSOR = { at: '2026-03-01T11:00:00.000Z' };
const STARTED = NOW.toISOString();

describe('classifyReason', () => {
  it('knows the SSPR and password-change names for an unreachable on-premises side', () => {
    for (const reason of ['OnPremisesConnectivityError', 'OnPremisesConnectivityFailure', 'OnPremisesConnectivtyFailure', 'PasswordChangeOnPremisesConnectivityFailure']) {
      expect(classifyReason(reason), reason).toBe('on-premises connectivity');
    }
  });

  it('knows the names for an on-premises refusal that needs an administrator', () => {
    expect(classifyReason('OnPremisesAdminActionRequired')).toBe('on-premises admin action required');
    expect(classifyReason('PasswordChangeADAdminActionRequired')).toBe('on-premises admin action required');
  });

  it('knows writeback being off', () => {
    expect(classifyReason('WritebackNotEnabled')).toBe('password writeback not enabled');
    expect(classifyReason('PasswordChangeNeedsToHappenOnPrem')).toBe('password writeback not enabled');
  });

  it('reads free text that names the on-premises side', () => {
    expect(classifyReason('Unable to connect to the on-premises service')).toBe('on-premises connectivity');
    expect(classifyReason('On-premises access denied for the connector account')).toBe('on-premises admin action required');
  });

  it("leaves out the user's and the policy's refusals, on-premises or not", () => {
    for (const reason of [
      'On-premises policy violation',
      'OnPremisesPolicyViolation',
      'PasswordChangeOnPremComplexity',
      'PasswordChangeOnPremUserAccountLockedOutOrDisabled',
      "Password doesn't comply with fuzzy policy",
      'User entered an incorrect verification code',
      '',
      undefined,
    ]) {
      expect(classifyReason(reason), String(reason)).toBeUndefined();
    }
  });
});

describe('evaluateWritebackAudit', () => {
  it('counts every documented SSPR activity, in either spelling and any casing', () => {
    const audits = [
      ...WRITEBACK_ACTIVITIES.map((a, i) => audit(`2026-03-01T11:1${i}:00Z`, a, 'failure', 'OnPremisesConnectivityError', `u${i}@contoso.com`)),
      audit('2026-03-01T11:30:00Z', 'Self-Serve Password Reset Flow Activity Progress', 'failure', 'OnPremisesConnectivityError', 'v@contoso.com'),
      audit('2026-03-01T11:31:00Z', 'Reset password (by admin)', 'failure', 'OnPremisesConnectivityError', 'w@contoso.com'),
    ];
    const { result } = evaluateWritebackAudit(audits, CURSOR, NOW, STARTED);
    expect(result.failure?.message).toBe(
      `6 password writeback failures since ${CURSOR.at}; on-premises connectivity: 6 (u***@contoso.com, v***@contoso.com)`,
    );
  });

  it('lets the newest toggle win whatever order the audits arrive in', () => {
    const disable = { ...audit('2026-03-01T11:50:00Z', 'Disable password writeback for directory', 'success', '', 'ann@contoso.com') };
    const enable = { ...audit('2026-03-01T11:20:00Z', 'Enable password writeback for directory', 'success', '', 'bob@contoso.com') };
    const off = evaluateWritebackAudit([disable, enable], CURSOR, NOW, STARTED);
    expect(off.result.failure?.code).toBe('writeback_disabled');
    expect(off.next.writebackDisabled).toEqual({ at: '2026-03-01T11:50:00.000Z', by: 'a***@contoso.com' });

    const laterEnable = { ...audit('2026-03-01T11:55:00Z', 'Enable password writeback for directory', 'success', '', 'bob@contoso.com') };
    const on = evaluateWritebackAudit([laterEnable, disable], CURSOR, NOW, STARTED);
    expect(on.result.ok).toBe(true);
    expect(on.next).toEqual({ at: '2026-03-01T11:55:00.000Z' });
  });

  it('ignores a toggle that failed, and says both when writeback is off and resets failed', () => {
    const failedDisable = audit('2026-03-01T11:10:00Z', 'Disable password writeback for directory', 'failure', 'x', 'ann@contoso.com');
    expect(evaluateWritebackAudit([failedDisable], CURSOR, NOW, STARTED).result.ok).toBe(true);

    const disabled = { at: '2026-02-28T09:00:00.000Z', by: 'a***@contoso.com' };
    const reset = audit('2026-03-01T11:40:00Z', 'Reset password (self-service)', 'failure', 'WritebackNotEnabled', 'jane@contoso.com');
    const { result, next } = evaluateWritebackAudit([reset], { ...CURSOR, writebackDisabled: disabled }, NOW, STARTED);
    expect(result.failure).toEqual({
      code: 'writeback_disabled',
      phase: 'graph',
      message: `password writeback was disabled for the directory at ${disabled.at} by a***@contoso.com; 1 password writeback failure since ${CURSOR.at}; password writeback not enabled: 1 (j***@contoso.com)`,
    });
    expect(next).toEqual({ at: '2026-03-01T11:40:00.000Z', writebackDisabled: disabled });
  });
});
