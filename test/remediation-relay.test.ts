/**
 * The remediation rows of issue 17's relay side (src/alerting/remediation.ts, one block):
 * Connect's application credential and admin resets, Connect Sync's health, the provisioning
 * agent, reachability and the relay gateways.
 */
import { describe, expect, it } from 'vitest';
import { remediationFor, ruleFor } from '../src/alerting/remediation.js';

const eventlog = (code: string) => ({ checkKind: 'eventlog', code, phase: 'eventlog', location: 'connect01', target: 'Application log, PasswordResetService' });

describe('remediation of the relay side of both sync engines', () => {
  it('gives the application credential (1011, 1012), admin reset (31011), Service Bus retry (32014) and ADSync 6329 events their own rules', () => {
    for (const code of ['event_1011', 'event_1012', 'event_31011', 'event_32014', 'event_6329']) {
      expect(ruleFor(eventlog(code)).match.code, code).toBe(code);
    }
  });

  it('tells an expired application certificate (1012) to rotate it, with the scheduler first and the three writeback app roles for an own application', () => {
    const r = remediationFor(eventlog('event_1012'));
    expect(r.summary).toMatch(/^Entra Connect's application certificate has expired \(event 1012\)/);
    expect(r.steps.join('\n')).toContain('Get-ADSyncSchedulerSettings');
    expect(r.steps.join('\n')).toContain('Invoke-ADSyncApplicationCredentialRotation');
    expect(r.steps.join('\n')).toContain('PasswordWriteback.RefreshClient.All, PasswordWriteback.RegisterClientVersion.All and PasswordWriteback.OffboardClient.All');
  });

  it('calls a single 32014 harmless and many a flaky path to Service Bus', () => {
    const r = remediationFor(eventlog('event_32014'));
    expect(r.summary).toContain('harmless once');
    expect(r.steps[0]).toMatch(/^Count the 32014 events/);
  });

  it("gives Connect Sync's health codes their own rules, and tells an unsupported build to upgrade from the Entra admin center", () => {
    const connect = (code: string) => ({ checkKind: 'connect', code, phase: 'connect', location: 'connect01', target: 'Entra Connect Sync' });
    for (const code of ['adsync_not_running', 'connect_unsupported', 'connect_unreadable']) expect(ruleFor(connect(code)).match.code, code).toBe(code);
    const r = remediationFor(connect('connect_unsupported'));
    expect(r.summary).toBe("Entra Connect Sync on relay connect01's server is past its end of support: upgrade it to the latest build now, before synchronization and writeback stop");
    expect(r.steps[0]).toContain('Microsoft Entra admin center');
    expect(r.steps.join('\n')).toContain('src/relay/connect-versions.json');
  });

  it('gives the provisioning agent and the reach groups their own rules, naming the hosts to open', () => {
    const input = (checkKind: string, code: string) => ({ checkKind, code, phase: 'tcp', location: 'connect01', target: 'x' });
    for (const code of ['cloudsync_agent_stopped', 'cloudsync_agent_too_old']) expect(ruleFor(input('provisioning-agent', code)).match.code, code).toBe(code);
    for (const code of ['revocation_unreachable', 'cloudsync_endpoint_unreachable', 'gateway_unreachable']) expect(ruleFor(input('reach', code)).match.code, code).toBe(code);
    expect(remediationFor(input('reach', 'revocation_unreachable')).steps[0]).toContain('crl.microsoft.com, mscrl.microsoft.com, ocsp.msocsp.com, oneocsp.microsoft.com, ocsp.digicert.com and crl3.digicert.com');
    expect(remediationFor(input('reach', 'cloudsync_endpoint_unreachable')).steps[1]).toContain('chunked');
    expect(remediationFor(input('reach', 'gateway_unreachable')).steps.join('\n')).toContain('GetNamespaceInfo.ps1');
  });
});
