/** Reading password writeback from directory audits: the documented names, and what is not writeback's. */
import { describe, expect, it } from 'vitest';
import { agentOf, classifyReason, evaluateWritebackAudit, WRITEBACK_ACTIVITIES } from '../../src/graph/writeback-audit.js';
import { audit, auditWithAgent } from './graph-server.js';

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

  it('knows a password set on-premises that the cloud could not take, by name and in words', () => {
    expect(classifyReason('OnPremisesSuccessCloudFailure')).toBe('reset on-premises, cloud update failed');
    expect(classifyReason('Password reset was successful on-premises, but there was an error while writing to the cloud.')).toBe('reset on-premises, cloud update failed');
  });

  it('reads the sentences older and progress entries log instead of the names', () => {
    expect(classifyReason('We could not reach your on-premises password reset service. Check your sync machine\'s event log')).toBe('on-premises connectivity');
    expect(classifyReason("We encountered a problem while resetting the user's on-premises password")).toBe('on-premises reset failed');
    // The SSPR error table's texts: the closing advice to contact an admin is not the reason.
    expect(classifyReason("SSPR_0030: We can't reset your password due to a poor connection with your on-premises environment. Contact your admin and ask them to investigate.")).toBe(
      'on-premises connectivity',
    );
    expect(classifyReason('We can\'t reset your password due to a poor connection with your on-premises environment. Contact your admin and ask them to investigate.')).toBe(
      'on-premises connectivity',
    );
    expect(classifyReason('We are unable to reset your password due to an error in your on-premises configuration. Please contact your admin and ask them to investigate.')).toBe(
      'on-premises admin action required',
    );
    expect(classifyReason("We've detected that password writeback has not been enabled. Please contact your admin and ask them to enable password writeback.")).toBe(
      'password writeback not enabled',
    );
  });

  it("keeps a wrong old password and the on-premises password policy out, in names and in words", () => {
    for (const reason of [
      'PasswordChangeIncorrectCurrentPassword',
      'The old password is incorrect for the on-premises account',
      "The password doesn't meet the on-premises password policy",
      'Your new password does not meet the on-premises password requirements',
      'The on-premises password history forbids this password',
    ]) {
      expect(classifyReason(reason), reason).toBeUndefined();
    }
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
  it("counts every documented SSPR activity, administrators' resets included, in either spelling and any casing", () => {
    const audits = [
      ...WRITEBACK_ACTIVITIES.map((a, i) => audit(`2026-03-01T11:1${i}:00Z`, a, 'failure', 'OnPremisesConnectivityError', `u${i}@contoso.com`)),
      audit('2026-03-01T11:30:00Z', 'Self-Serve Password Reset Flow Activity Progress', 'failure', 'OnPremisesConnectivityError', 'v@contoso.com'),
      audit('2026-03-01T11:31:00Z', 'RESET PASSWORD (BY ADMIN)', 'failure', 'OnPremisesConnectivityError', 'w@contoso.com'),
      audit('2026-03-01T11:32:00Z', 'Reset user password', 'failure', 'OnPremisesConnectivityError', 'x@contoso.com'),
    ];
    expect(WRITEBACK_ACTIVITIES).toContain('Reset password (by admin)');
    const { result } = evaluateWritebackAudit(audits, CURSOR, NOW, STARTED);
    expect(result.failure?.message).toBe(
      `8 password writeback failures since ${CURSOR.at}; on-premises connectivity: 8 (u***@contoso.com, v***@contoso.com, w***@contoso.com; 2 by an administrator)`,
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

describe('the agent that wrote a password back', () => {
  it('is read from OnPremisesAgent: Microsoft Entra Connect is Connect Sync, CloudSync is Cloud Sync', () => {
    expect(agentOf('Microsoft Entra Connect')).toBe('connectSync');
    expect(agentOf('Azure AD Connect')).toBe('connectSync');
    expect(agentOf('CloudSync')).toBe('cloudSync');
    expect(agentOf('Microsoft Entra Cloud Sync')).toBe('cloudSync');
    expect(agentOf('Something else')).toBeUndefined();
    expect(agentOf(undefined)).toBeUndefined();
  });

  it('is named per reason, admin resets counted, and remembered in the cursor for the engines', () => {
    const audits = [
      auditWithAgent('2026-03-01T11:10:00Z', 'Reset password (by admin)', 'failure', 'OnPremisesConnectivityError', 'ann@contoso.com', 'CloudSync'),
      auditWithAgent('2026-03-01T11:20:00Z', 'Reset password (by admin)', 'failure', 'We could not reach your on-premises password reset service', 'bob@contoso.com', 'Microsoft Entra Connect'),
      auditWithAgent('2026-03-01T11:25:00Z', 'Reset password (by admin)', 'failure', 'OnPremisesAdminActionRequired', 'cy@contoso.com', 'CloudSync'),
      auditWithAgent('2026-03-01T11:30:00Z', 'Reset password (by admin)', 'success', '', 'dee@contoso.com', 'CloudSync'),
      audit('2026-03-01T11:35:00Z', 'Reset password (self-service)', 'failure', 'OnPremisesConnectivityError', 'eve@contoso.com'),
      // A refusal of the user's: counted nowhere, but the agent still wrote back (or tried).
      auditWithAgent('2026-03-01T11:36:00Z', 'Reset password (by admin)', 'failure', 'OnPremisesPolicyViolation', 'fay@contoso.com', 'Microsoft Entra Connect'),
    ];
    const { result, next } = evaluateWritebackAudit(audits, CURSOR, NOW, STARTED);
    expect(result.failure?.message).toBe(
      `4 password writeback failures since ${CURSOR.at}; ` +
        'on-premises connectivity: 3 (a***@contoso.com, b***@contoso.com, e***@contoso.com; 2 by an administrator; agent Cloud Sync 1, Connect Sync 1); ' +
        'on-premises admin action required: 1 (c***@contoso.com; 1 by an administrator; agent Cloud Sync 1)',
    );
    expect(next).toEqual({ at: '2026-03-01T11:36:00.000Z', agentsSeen: { cloudSync: '2026-03-01T11:30:00.000Z', connectSync: '2026-03-01T11:36:00.000Z' } });
  });

  it('keeps an unknown agent name, cleaned, and the cursor\'s earlier sightings', () => {
    const odd = auditWithAgent('2026-03-01T11:10:00Z', 'Reset password (by admin)', 'failure', 'OnPremisesConnectivityError', 'ann@contoso.com', 'Agent\u202e X\n\u001b[31mred');
    const cursor = { ...CURSOR, agentsSeen: { connectSync: '2026-02-20T08:00:00.000Z' } };
    const { result, next } = evaluateWritebackAudit([odd], cursor, NOW, STARTED);
    expect(result.failure?.message).toContain('(a***@contoso.com; 1 by an administrator; agent Agent X red 1)');
    expect(next.agentsSeen).toEqual({ connectSync: '2026-02-20T08:00:00.000Z' });
  });
});
