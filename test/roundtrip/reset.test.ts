import { afterEach, describe, expect, it } from 'vitest';
import { resetPassword, type ResetIo } from '../../src/roundtrip/reset.js';
import { checkSubject } from '../../src/roundtrip/subject.js';
import { generatePassword, PASSWORD_LENGTH } from '../../src/roundtrip/password.js';
import { APP_TOKEN, startRoundtripGraph, syncedUser, USER_ID, USER_UPN, type RoundtripGraph, type RoundtripGraphScenario } from './roundtrip-graph.js';

const DELEGATED = 'delegated-access-token-3b9f';
let graph: RoundtripGraph | undefined;
afterEach(async () => {
  await graph?.close();
  graph = undefined;
});

/** A fake clock: sleeping moves it, instantly. */
function clock(start = Date.parse('2026-12-02T07:00:00Z')) {
  let t = start;
  const sleeps: number[] = [];
  return {
    now: () => new Date(t),
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

async function reset(scenario: RoundtripGraphScenario, extra: Partial<ResetIo> = {}) {
  graph = await startRoundtripGraph(scenario);
  const c = clock();
  const verdict = await resetPassword({ graphUrl: graph.baseUrl, accessToken: DELEGATED, userId: USER_ID, now: c.now, sleep: c.sleep, ...extra });
  return { verdict, sleeps: c.sleeps, graph };
}

describe('the reset through Microsoft Graph', () => {
  it('posts a new password with the delegated token and follows the operation from notStarted through running to succeeded', async () => {
    const { verdict, sleeps, graph } = await reset({});
    expect(verdict).toEqual({ kind: 'succeeded', requestedAt: '2026-12-02T07:00:00.000Z', finishedAt: '2026-12-02T07:00:07.000Z', operationId: 'a3f2e1d0-0000-4000-8000-00000000c0de' });
    expect(sleeps).toEqual([1000, 2000, 4000]);
    const post = graph.requests.find((r) => r.method === 'POST')!;
    expect(post.authorization).toBe(`Bearer ${DELEGATED}`);
    expect(post.headers['content-type']).toBe('application/json');
    expect(graph.passwords).toHaveLength(1);
    expect(graph.passwords[0]).toHaveLength(PASSWORD_LENGTH);
    expect(graph.requests.filter((r) => r.method === 'GET').every((r) => r.authorization === `Bearer ${DELEGATED}`)).toBe(true);
  });

  it("honours the operation's Retry-After between polls", async () => {
    const { verdict, sleeps } = await reset({ reset: [{ status: 202, retryAfter: '3' }], pollRetryAfter: '2' });
    expect(verdict.kind).toBe('succeeded');
    expect(sleeps).toEqual([3000, 2000, 2000]);
  });

  it('quotes the statusDetail of a failed operation', async () => {
    const { verdict } = await reset({ operation: ['running', { failed: 'The on-premises agent could not be reached.' }] });
    expect(verdict).toMatchObject({
      kind: 'failed',
      code: 'roundtrip_failed',
      phase: 'operation',
      statusDetail: 'The on-premises agent could not be reached.',
      message: 'the password reset failed: "The on-premises agent could not be reached." (operation a3f2e1d0-0000-4000-8000-00000000c0de)',
    });
  });

  it("tells an on-prem password policy refusal apart: it proves the reset reached a domain controller", async () => {
    const { verdict } = await reset({ operation: [{ failed: "The password doesn't comply with the on-premises password policy." }] });
    expect(verdict).toMatchObject({ kind: 'failed', code: 'roundtrip_ad_policy', phase: 'operation' });
  });

  it('says when a failed operation has no statusDetail', async () => {
    const { verdict } = await reset({ operation: [{ failed: null }] });
    expect(verdict).toMatchObject({ code: 'roundtrip_failed', message: 'the password reset failed (Graph gave no statusDetail) (operation a3f2e1d0-0000-4000-8000-00000000c0de)' });
  });

  it('gives up with roundtrip_timeout when the operation never ends, within the bounded wait', async () => {
    const { verdict, sleeps, graph } = await reset({ operation: ['running'] }, { waitMs: 30_000 });
    expect(verdict).toMatchObject({ kind: 'failed', code: 'roundtrip_timeout', phase: 'operation', message: 'the reset was accepted, but its operation was still running after 27 s (operation a3f2e1d0-0000-4000-8000-00000000c0de)' });
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(30_000);
    expect(graph.polls).toBe(sleeps.length);
  });

  it('keeps polling through an operation answer of 503 until it ends', async () => {
    const { verdict } = await reset({ operation: [{ http: 503 }, 'running', 'succeeded'] });
    expect(verdict.kind).toBe('succeeded');
  });

  it('names the roles to hold on a 403, and sends nothing else', async () => {
    const { verdict, graph } = await reset({ reset: [{ status: 403, code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' }] });
    expect(verdict).toMatchObject({ kind: 'failed', code: 'roundtrip_forbidden', phase: 'reset' });
    expect((verdict as { message: string }).message).toBe(
      'Microsoft Graph refused the reset (HTTP 403 Authorization_RequestDenied: "Insufficient privileges to complete the operation."): the signed-in account needs Authentication Administrator (or Privileged Authentication Administrator) over the test user, and the app the delegated permission UserAuthenticationMethod.ReadWrite.All with consent',
    );
    expect(graph.polls).toBe(0);
  });

  it('quotes a password refused in the cloud (400) and says it never reached on-prem', async () => {
    const { verdict } = await reset({ reset: [{ status: 400, code: 'invalidPassword', message: 'The password does not meet the banned password requirements.' }] });
    expect(verdict).toMatchObject({
      kind: 'failed',
      code: 'roundtrip_password_refused',
      message: 'Microsoft Graph refused the reset in the cloud (HTTP 400 invalidPassword: "The password does not meet the banned password requirements."): nothing reached on-prem AD',
    });
  });

  it('waits as a 429 says, then resets once it is let through, with a new password each try', async () => {
    const { verdict, sleeps, graph } = await reset({ reset: [{ status: 429, retryAfter: '7' }, { status: 202 }] });
    expect(verdict.kind).toBe('succeeded');
    expect(sleeps[0]).toBe(7000);
    expect(graph.passwords).toHaveLength(2);
    expect(graph.passwords[0]).not.toBe(graph.passwords[1]);
  });

  it('calls persistent throttling unknown, not a failure of writeback', async () => {
    const { verdict } = await reset({ reset: [{ status: 429, retryAfter: '1' }] });
    expect(verdict).toEqual({
      kind: 'unknown',
      requestedAt: '2026-12-02T07:00:00.000Z',
      message: 'Microsoft Graph answered HTTP 429 to the reset 3 times: throttled or unavailable, so nothing was learnt of writeback',
    });
  });

  it('calls an unreachable Graph unknown', async () => {
    graph = await startRoundtripGraph({});
    const url = graph.baseUrl;
    await graph.close();
    graph = undefined;
    const c = clock();
    const verdict = await resetPassword({ graphUrl: url, accessToken: DELEGATED, userId: USER_ID, now: c.now, sleep: c.sleep });
    expect(verdict.kind).toBe('unknown');
    expect((verdict as { message: string }).message).toMatch(/^POST \/v1\.0\/users\/.*: no answer \(ECONNREFUSED\)$/);
  });

  it('wipes the password buffer once the request has an answer', async () => {
    const made: Buffer[] = [];
    await reset({}, { password: () => { const b = generatePassword(); made.push(b); return b; } });
    expect(made).toHaveLength(1);
    expect(made[0]!.every((byte) => byte === 0)).toBe(true);
    expect(graph!.passwords[0]).toHaveLength(PASSWORD_LENGTH);
  });
});

describe('the password', () => {
  it('has 24 characters with at least four of each class, and differs every time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = generatePassword().toString('latin1');
      expect(p).toHaveLength(24);
      expect(p.match(/[A-Z]/g)!.length).toBeGreaterThanOrEqual(4);
      expect(p.match(/[a-z]/g)!.length).toBeGreaterThanOrEqual(4);
      expect(p.match(/[0-9]/g)!.length).toBeGreaterThanOrEqual(4);
      expect(p.match(/[!#%+\-.:=?@_~]/g)!.length).toBeGreaterThanOrEqual(4);
      expect(p).not.toMatch(/["\\<>&'`$ ]/);
      seen.add(p);
    }
    expect(seen.size).toBe(200);
  });
});

describe('the guard rails', () => {
  const app = (g: RoundtripGraph) => ({ baseUrl: g.baseUrl, token: APP_TOKEN });

  it('allows a synced, enabled user without roles, reading it with the monitor\'s own token, and names it as Connect may', async () => {
    graph = await startRoundtripGraph({});
    const verdict = await checkSubject(USER_ID, app(graph));
    expect(verdict).toEqual({
      kind: 'allowed',
      subject: { userId: USER_ID, userPrincipalName: USER_UPN, names: [USER_UPN, 'wbmon-roundtrip@corp.contoso.com', 'wbmon-rt', 'CORP\\wbmon-rt'] },
    });
    expect(graph.requests.every((r) => r.authorization === `Bearer ${APP_TOKEN}`)).toBe(true);
  });

  it('refuses a cloud-only user', async () => {
    graph = await startRoundtripGraph({ user: syncedUser({ onPremisesSyncEnabled: null, onPremisesSamAccountName: null, onPremisesUserPrincipalName: null, onPremisesDomainName: null }) });
    const verdict = await checkSubject(USER_ID, app(graph));
    expect(verdict).toMatchObject({
      kind: 'refused',
      code: 'roundtrip_refused_cloud_user',
      message: `${USER_UPN} is not synced from on-prem AD (onPremisesSyncEnabled is null): a cloud-only user's reset never reaches writeback, so the round trip refuses it`,
    });
  });

  it('refuses a user holding a directory role, through membership', async () => {
    graph = await startRoundtripGraph({ roles: ['Helpdesk Administrator'] });
    expect(await checkSubject(USER_ID, app(graph))).toMatchObject({
      kind: 'refused',
      code: 'roundtrip_refused_admin',
      message: `${USER_UPN} holds the directory role Helpdesk Administrator: the round trip never resets an administrator's password; use a test user without any role`,
    });
  });

  it('refuses a user with a role assigned at an administrative unit', async () => {
    graph = await startRoundtripGraph({ assignments: [{ roleDefinitionId: '729827e3-9c14-49f7-bb1b-9608f156bbb8', directoryScopeId: '/administrativeUnits/0b9f3a1c' }] });
    expect(await checkSubject(USER_ID, app(graph))).toMatchObject({ kind: 'refused', code: 'roundtrip_refused_admin', message: expect.stringContaining('role 729827e3-9c14-49f7-bb1b-9608f156bbb8 at /administrativeUnits/0b9f3a1c') });
  });

  it('refuses a disabled user and an unknown one', async () => {
    graph = await startRoundtripGraph({ user: syncedUser({ accountEnabled: false }) });
    expect(await checkSubject(USER_ID, app(graph))).toMatchObject({ kind: 'refused', code: 'roundtrip_refused_disabled' });
    await graph.close();
    graph = await startRoundtripGraph({ user: null });
    expect(await checkSubject(USER_ID, app(graph))).toMatchObject({ kind: 'refused', code: 'roundtrip_user_missing', message: `no user with object id ${USER_ID} in the tenant (WBMON_ROUNDTRIP_USER)` });
  });

  it('names Directory.Read.All when the monitor may not read the user', async () => {
    graph = await startRoundtripGraph({ userForbidden: true });
    expect(await checkSubject(USER_ID, app(graph))).toEqual({
      kind: 'permission',
      message: `Microsoft Graph refused to read the test user (HTTP 403: "Insufficient privileges to complete the operation."): grant the monitor's identity the application permission Directory.Read.All (infra/grant-graph-permissions.sh)`,
    });
  });
});
