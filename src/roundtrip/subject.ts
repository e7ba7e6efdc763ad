/**
 * The guard rails, read before every run with the monitor's own Graph identity (Directory.Read.All,
 * which the tenant checks already hold), not with the administrator's delegated token: the
 * round trip refuses a user whose reset could harm or could not prove anything.
 *
 *  - `onPremisesSyncEnabled` must be true: a cloud-only user's reset never goes on-prem.
 *  - No directory role, at any scope, directly or through a role-assignable group: an admin's
 *    password is not the monitor's to reset, and writeback refuses admins' resets by policy
 *    (SSPR_0029). Eligible (PIM) assignments are not read: that needs another permission and a
 *    P2 licence; docs/roundtrip.md asks for a user without any.
 *  - The account must be enabled (a disabled one says nothing of writeback).
 *
 * What is learnt also names the user for the relays, which match Connect's 31009/31010/31011
 * events by name (src/roundtrip/confirmation.ts).
 */
import { graphGet, graphSend, GraphError, GraphPermissionError, type GraphGetOptions } from '../graph/client.js';
import { graphErrorMessage } from './reset.js';

export interface Subject {
  readonly userId: string;
  readonly userPrincipalName: string | undefined;
  /** Names Connect's events may show: UPN, on-prem UPN, DOMAIN\sam and sam. */
  readonly names: string[];
}

export type GuardVerdict =
  | { readonly kind: 'allowed'; readonly subject: Subject }
  | { readonly kind: 'refused'; readonly code: 'roundtrip_refused_cloud_user' | 'roundtrip_refused_admin' | 'roundtrip_refused_disabled' | 'roundtrip_user_missing'; readonly message: string; readonly subject?: Subject }
  | { readonly kind: 'permission'; readonly message: string }
  | { readonly kind: 'unknown'; readonly message: string };

interface GraphUser {
  id?: string;
  userPrincipalName?: string;
  accountEnabled?: boolean;
  onPremisesSyncEnabled?: boolean | null;
  onPremisesSamAccountName?: string | null;
  onPremisesUserPrincipalName?: string | null;
  onPremisesDomainName?: string | null;
  onPremisesNetBiosName?: string | null;
}

const SELECT = 'id,userPrincipalName,accountEnabled,onPremisesSyncEnabled,onPremisesSamAccountName,onPremisesUserPrincipalName,onPremisesDomainName';

export async function checkSubject(userId: string, graph: Pick<GraphGetOptions, 'baseUrl' | 'token' | 'timeoutMs'>): Promise<GuardVerdict> {
  const id = encodeURIComponent(userId);
  try {
    const answer = await graphSend('GET', new URL(`/v1.0/users/${id}?$select=${SELECT}`, graph.baseUrl), { token: graph.token, ...(graph.timeoutMs && { timeoutMs: graph.timeoutMs }) });
    if (answer.status === 404) {
      return { kind: 'refused', code: 'roundtrip_user_missing', message: `no user with object id ${userId} in the tenant (WBMON_ROUNDTRIP_USER)` };
    }
    if (answer.status === 403) return { kind: 'permission', message: permissionMessage('read the test user', answer.text) };
    if (answer.status !== 200) return { kind: 'unknown', message: `Microsoft Graph answered HTTP ${answer.status} reading the test user` };
    const user = JSON.parse(answer.text) as GraphUser;
    const subject: Subject = { userId, userPrincipalName: user.userPrincipalName, names: namesOf(user) };
    const who = user.userPrincipalName ?? userId;
    if (user.onPremisesSyncEnabled !== true) {
      return {
        kind: 'refused',
        code: 'roundtrip_refused_cloud_user',
        message: `${who} is not synced from on-prem AD (onPremisesSyncEnabled is ${String(user.onPremisesSyncEnabled ?? null)}): a cloud-only user's reset never reaches writeback, so the round trip refuses it`,
        subject,
      };
    }
    if (user.accountEnabled === false) {
      return { kind: 'refused', code: 'roundtrip_refused_disabled', message: `${who} is disabled: the round trip refuses a disabled account (enable the test user; it never needs to sign in)`, subject };
    }
    const roles = await rolesOf(id, graph);
    if (roles.length > 0) {
      return {
        kind: 'refused',
        code: 'roundtrip_refused_admin',
        message: `${who} holds the directory role${roles.length > 1 ? 's' : ''} ${roles.slice(0, 5).join(', ')}: the round trip never resets an administrator's password; use a test user without any role`,
        subject,
      };
    }
    return { kind: 'allowed', subject };
  } catch (err) {
    if (err instanceof GraphPermissionError) return { kind: 'permission', message: err.message };
    if (err instanceof GraphError || err instanceof SyntaxError) return { kind: 'unknown', message: `the test user could not be read: ${err.message}` };
    throw err;
  }
}

/**
 * Roles through group membership (a directoryRole among transitiveMemberOf: tenant-wide roles,
 * also through role-assignable groups) and assignments at any scope (an administrative unit's
 * too), both active. Role names where Graph gives them, else the role definition id.
 */
async function rolesOf(id: string, graph: Pick<GraphGetOptions, 'baseUrl' | 'token' | 'timeoutMs'>): Promise<string[]> {
  const options = { ...graph, maxPages: 5 };
  const [memberOf, assignments] = await Promise.all([
    graphGet(`/v1.0/users/${id}/transitiveMemberOf/microsoft.graph.directoryRole?$select=id,displayName`, options),
    graphGet(`/v1.0/roleManagement/directory/roleAssignments?$filter=${encodeURIComponent(`principalId eq '${decodeURIComponent(id)}'`)}&$select=id,roleDefinitionId,directoryScopeId`, options),
  ]);
  const names = new Set<string>();
  for (const r of memberOf as Array<{ displayName?: string; id?: string }>) names.add(r.displayName ?? r.id ?? 'a role');
  for (const a of assignments as Array<{ roleDefinitionId?: string; directoryScopeId?: string }>) {
    names.add(`role ${a.roleDefinitionId ?? '?'}${a.directoryScopeId && a.directoryScopeId !== '/' ? ` at ${a.directoryScopeId}` : ''}`);
  }
  return [...names];
}

function namesOf(user: GraphUser): string[] {
  const names = new Set<string>();
  const add = (n: string | null | undefined) => {
    if (n && n.trim()) names.add(n.trim());
  };
  add(user.userPrincipalName);
  add(user.onPremisesUserPrincipalName);
  add(user.onPremisesSamAccountName);
  if (user.onPremisesSamAccountName && user.onPremisesDomainName) {
    // Connect's events show DOMAIN\sam with the NetBIOS name, which Graph does not give; the
    // first label of the DNS domain is the usual one.
    add(`${user.onPremisesDomainName.split('.')[0]!.toUpperCase()}\\${user.onPremisesSamAccountName}`);
  }
  return [...names].slice(0, 8);
}

function permissionMessage(what: string, text: string): string {
  const said = graphErrorMessage(text);
  return `Microsoft Graph refused to ${what} (HTTP 403${said ? `: "${said}"` : ''}): grant the monitor's identity the application permission Directory.Read.All (infra/grant-graph-permissions.sh)`;
}
