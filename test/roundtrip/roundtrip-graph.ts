/**
 * A loopback Microsoft Graph for the round trip, in the shapes the v1.0 reference documents:
 * the user (with its on-prem attributes), its roles, resetPassword (202 + Location) and the
 * long-running operation (notStarted -> running -> succeeded | failed with a statusDetail).
 * Scripted per test; it keeps every password it was sent, so tests can search for them.
 */
import type { ServerResponse } from 'node:http';
import { json, startGraphServer, type GraphServer } from '../graph/graph-server.js';

export const USER_ID = '5f2c1d9e-7b3a-4c8e-9d1f-2a6b8c4e0f13';
export const USER_UPN = 'wbmon-roundtrip@contoso.com';
export const APP_TOKEN = 'app-token-for-guard-rails-7c1e';

export const CLIENT_ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
/** Timers the tests run themselves, never by their schedule. */
export const NEVER = '0 0 0 1 1 *';

/**
 * The settings of a monitor with the round trip on, against this Graph and a loopback authority,
 * its own timers never firing and one unreachable cloud target; `extra` adds or overrides.
 */
export function roundtripEnv(graph: { baseUrl: string }, authority: { url: string; user: { tid: string } }, tokenKey: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    WBMON_GRAPH_URL: graph.baseUrl,
    WBMON_GRAPH_TOKEN: APP_TOKEN,
    WBMON_ROUNDTRIP_USER: USER_ID,
    WBMON_ROUNDTRIP_CLIENT_ID: CLIENT_ID,
    WBMON_TENANT_ID: authority.user.tid,
    WBMON_LOGIN_URL: authority.url,
    WBMON_ROUNDTRIP_TOKEN_KEY: tokenKey,
    WBMON_TARGETS: 'https://127.0.0.1:9/',
    WBMON_PROBE_SCHEDULE: NEVER,
    WBMON_EVALUATE_SCHEDULE: NEVER,
    WBMON_ROUNDTRIP_SCHEDULE: NEVER,
    ...extra,
  };
}

export type ResetAnswer =
  | { readonly status: 202; readonly retryAfter?: string }
  | { readonly status: 400 | 401 | 403 | 404 | 500; readonly code: string; readonly message: string }
  | { readonly status: 429 | 503; readonly retryAfter?: string };

export type OperationStep = 'notStarted' | 'running' | 'succeeded' | { readonly failed: string | null } | { readonly http: number };

export interface RoundtripGraphScenario {
  /** The user as Graph returns it; null = 404. */
  user?: Record<string, unknown> | null;
  /** displayNames of directoryRole objects among transitiveMemberOf. */
  roles?: string[];
  /** roleAssignments of the user (any scope). */
  assignments?: Array<{ roleDefinitionId: string; directoryScopeId: string }>;
  /** Answers to successive resetPassword POSTs; the last one repeats. */
  reset?: ResetAnswer[];
  /** Successive operation states; the last one repeats (default: notStarted, running, succeeded). */
  operation?: OperationStep[];
  /** Retry-After on operation answers. */
  pollRetryAfter?: string;
  /** 403 on the user read (the monitor's identity lacks Directory.Read.All). */
  userForbidden?: boolean;
}

export interface RoundtripGraph extends GraphServer {
  readonly scenario: RoundtripGraphScenario;
  /** Every newPassword received, in order. */
  readonly passwords: string[];
  readonly polls: number;
  /** Starts the scripted answers (resets, operation steps) from their first again. */
  restart(): void;
}

export function syncedUser(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: USER_ID,
    userPrincipalName: USER_UPN,
    accountEnabled: true,
    onPremisesSyncEnabled: true,
    onPremisesSamAccountName: 'wbmon-rt',
    onPremisesUserPrincipalName: 'wbmon-roundtrip@corp.contoso.com',
    onPremisesDomainName: 'corp.contoso.com',
    ...extra,
  };
}

export async function startRoundtripGraph(scenario: RoundtripGraphScenario = {}): Promise<RoundtripGraph> {
  const passwords: string[] = [];
  let resets = 0;
  let polls = 0;
  const operationId = 'a3f2e1d0-0000-4000-8000-00000000c0de';
  const base = `/v1.0/users/${USER_ID}`;
  const graph = await startGraphServer({
    [base]: (_req, res) => {
      if (scenario.userForbidden) return json(res, 403, { error: { code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' } });
      const user = scenario.user === undefined ? syncedUser() : scenario.user;
      if (user === null) return json(res, 404, { error: { code: 'Request_ResourceNotFound', message: `Resource '${USER_ID}' does not exist` } });
      json(res, 200, user);
    },
    [`${base}/transitiveMemberOf/microsoft.graph.directoryRole`]: (_req, res) =>
      json(res, 200, { value: (scenario.roles ?? []).map((displayName, i) => ({ id: `role-${i}`, displayName })) }),
    '/v1.0/roleManagement/directory/roleAssignments': (_req, res, url) => {
      const filter = url.searchParams.get('$filter');
      if (filter !== `principalId eq '${USER_ID}'`) return json(res, 400, { error: { code: 'BadRequest', message: `unexpected filter ${filter}` } });
      json(res, 200, { value: (scenario.assignments ?? []).map((a, i) => ({ id: `ra-${i}`, principalId: USER_ID, ...a })) });
    },
    [`${base}/authentication/methods/28c10230-6103-485e-b985-444c60001490/resetPassword`]: (req, res) => {
      if (req.method !== 'POST') return json(res, 405, { error: { code: 'MethodNotAllowed', message: 'POST only' } });
      const body = JSON.parse(graph.requests.at(-1)!.body) as { newPassword?: string };
      if (body.newPassword) passwords.push(body.newPassword);
      const answers = scenario.reset ?? [{ status: 202 }];
      const answer = answers[Math.min(resets++, answers.length - 1)]!;
      if (answer.status === 202) {
        res.writeHead(202, { location: `https://graph.microsoft.com/v1.0/users/${USER_ID}/authentication/operations/${operationId}`.replace('https://graph.microsoft.com', graph.baseUrl), ...(answer.retryAfter && { 'retry-after': answer.retryAfter }) });
        return res.end();
      }
      if (!('code' in answer)) {
        return json(res, answer.status, { error: { code: answer.status === 429 ? 'TooManyRequests' : 'ServiceUnavailable', message: 'Please retry.' } }, answer.retryAfter ? { 'retry-after': answer.retryAfter } : {});
      }
      json(res, answer.status, { error: { code: answer.code, message: answer.message } });
    },
    [`${base}/authentication/operations/${operationId}`]: (_req, res: ServerResponse) => {
      const steps = scenario.operation ?? ['notStarted', 'running', 'succeeded'];
      const step = steps[Math.min(polls++, steps.length - 1)]!;
      const headers: Record<string, string> = scenario.pollRetryAfter ? { 'retry-after': scenario.pollRetryAfter } : {};
      if (typeof step === 'object' && 'http' in step) return json(res, step.http, { error: { code: 'ServiceUnavailable', message: 'try later' } }, headers);
      const status = typeof step === 'string' ? step : 'failed';
      const statusDetail = typeof step === 'object' ? step.failed : null;
      json(
        res,
        200,
        {
          '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#users('${USER_ID}')/authentication/operations/$entity`,
          id: operationId,
          createdDateTime: '2026-12-02T07:00:00Z',
          lastActionDateTime: '2026-12-02T07:00:01Z',
          status,
          statusDetail,
          resourceLocation: status === 'succeeded' ? `https://graph.microsoft.com/v1.0/users/${USER_ID}/authentication/passwordMethods/${'28c10230-6103-485e-b985-444c60001490'}` : null,
        },
        headers,
      );
    },
  });
  // defineProperty, not Object.assign: assign would copy the getter's value once.
  return Object.defineProperties(graph, {
    scenario: { value: scenario },
    passwords: { value: passwords },
    polls: { get: () => polls },
    restart: {
      value: () => {
        resets = 0;
        polls = 0;
      },
    },
  }) as RoundtripGraph;
}
