import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KeyAndCert } from '../support/certs.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

export interface ReceivedRequest {
  readonly url: string;
  readonly authorization: string | undefined;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** The request body as text (read before the handler runs). */
  readonly body: string;
}

export interface GraphServer {
  readonly baseUrl: string;
  readonly requests: ReceivedRequest[];
  close(): Promise<void>;
}

/**
 * A loopback server on 127.0.0.1, port 0; routes are matched on the path without query. With
 * `tls` it speaks HTTPS with that certificate (issue it for the IP 127.0.0.1).
 */
export async function startGraphServer(routes: Record<string, Handler>, options: { tls?: KeyAndCert } = {}): Promise<GraphServer> {
  const requests: ReceivedRequest[] = [];
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      requests.push({
        url: url.pathname + url.search,
        authorization: req.headers.authorization,
        method: req.method ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const handler = routes[url.pathname];
      if (!handler) return json(res, 404, { error: { code: 'Request_ResourceNotFound', message: 'not found' } });
      handler(req, res, url);
    });
  };
  const server: Server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener) : createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export const forbidden = (_req: IncomingMessage, res: ServerResponse) =>
  json(res, 403, {
    error: {
      code: 'Authorization_RequestDenied',
      message: 'Insufficient privileges to complete the operation.',
      innerError: { date: '2026-03-01T12:00:00', 'request-id': '0d1b4c5e-0000-0000-0000-000000000000' },
    },
  });

// Shapes from the Graph v1.0 documentation examples (subscribedSku, organization, directoryAudit).
export function sku(partNumber: string, plans: Array<[string, string]>, enabled = 25, capabilityStatus = 'Enabled') {
  return {
    capabilityStatus,
    consumedUnits: 14,
    id: `48a80680-7326-48cd-9935-b556b81d3a4e_${partNumber}`,
    prepaidUnits: { enabled, suspended: 0, warning: 0, lockedOut: 0 },
    servicePlans: plans.map(([servicePlanName, provisioningStatus]) => ({
      servicePlanId: '41781fb2-bc02-4b7c-bd55-b576c07bb09d',
      servicePlanName,
      provisioningStatus,
      appliesTo: 'User',
    })),
    skuId: 'c7df2760-2c81-4ef7-b578-5b5392b571df',
    skuPartNumber: partNumber,
    appliesTo: 'User',
  };
}

export function organization(onPremisesSyncEnabled: boolean | null, onPremisesLastSyncDateTime: string | null) {
  return {
    '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#organization(onPremisesSyncEnabled,onPremisesLastSyncDateTime)',
    value: [{ onPremisesSyncEnabled, onPremisesLastSyncDateTime }],
  };
}

export function audit(activityDateTime: string, activityDisplayName: string, result: string, resultReason: string, upn: string) {
  return {
    id: `SSPR_${activityDateTime}_${upn}`,
    category: 'UserManagement',
    correlationId: 'da159bfb-54fa-4092-8a38-8e1ea3f1ab7a',
    result,
    resultReason,
    activityDisplayName,
    activityDateTime,
    loggedByService: 'Self-service Password Management',
    operationType: 'Update',
    initiatedBy: { app: null, user: { id: '728309ae-8ecf-4d8e-9ed3-0b2bcba0b7a0', displayName: null, userPrincipalName: upn, ipAddress: '203.0.113.7' } },
    targetResources: [{ id: '728309ae-8ecf-4d8e-9ed3-0b2bcba0b7a0', displayName: null, type: 'User', userPrincipalName: upn, modifiedProperties: [] }],
    additionalDetails: [],
  };
}

// ---- Entra Cloud Sync -------------------------------------------------------------------------
// Shapes from "How to programmatically configure cloud sync using MS Graph API" (the job as the
// create call returns it) and the v1.0 servicePrincipal, synchronizationJob and
// synchronizationStatus references.

export const CLOUD_SYNC_TEMPLATE = '1a4721b3-e57f-4451-ae87-ef078703ec94';

/** A service principal: a Cloud Sync configuration by default (made from its application template). */
export function servicePrincipal(id: string, displayName: string, applicationTemplateId: string | null = CLOUD_SYNC_TEMPLATE) {
  return {
    id,
    deletedDateTime: null,
    accountEnabled: true,
    appDisplayName: displayName,
    appId: `${id.slice(0, 8)}-1111-2222-3333-444444444444`,
    applicationTemplateId,
    appOwnerOrganizationId: '47df5bb7-e6bc-4256-afb0-dd8c8e3c1ce8',
    appRoleAssignmentRequired: false,
    displayName,
    servicePrincipalType: 'Application',
    tags: [],
  };
}

/** The first-party service principal of the provisioning app itself: same app id as the template, no template. */
export const PROVISIONING_FIRST_PARTY = {
  ...servicePrincipal('00d41b14-7958-45ad-9d75-d52fa29e02a1', 'Active Directory to Azure Active Directory Provisioning', null),
  appId: CLOUD_SYNC_TEMPLATE,
};

interface Run {
  state?: 'Succeeded' | 'Failed' | 'EntryLevelErrors';
  timeBegan: string;
  timeEnded?: string;
  error?: { code: string; message: string; tenantActionable?: boolean } | null;
}

function execution(run: Run | null | undefined) {
  if (!run) return null;
  return {
    activityIdentifier: 'e2a5dbd1-0000-0000-0000-000000000000',
    countEntitled: 412,
    countEntitledForProvisioning: 412,
    countEscrowed: 0,
    countEscrowedRaw: 0,
    countExported: 3,
    countExports: 3,
    countImported: 12,
    countImportedDeltas: 12,
    countImportedReferenceDeltas: 0,
    error: run.error ?? null,
    state: run.state ?? 'Succeeded',
    timeBegan: run.timeBegan,
    timeEnded: run.timeEnded ?? run.timeBegan,
  };
}

/** A synchronizationJob; by default the provisioning job of a configuration, Active, last run `lastSuccess`. */
export function synchronizationJob(options: {
  id?: string;
  templateId?: string;
  code?: string;
  lastSuccess?: string | null;
  last?: Run | null;
  quarantine?: { seriesBegan: string; nextAttempt: string; reason: string; error?: { code: string; message: string } } | null;
  failures?: number;
}) {
  const id = options.id ?? 'AD2AADProvisioning.fc96887f36da47508c935c28a0c0b6da';
  const success = options.lastSuccess === undefined ? '2026-03-01T11:58:00Z' : options.lastSuccess;
  const lastSuccessfulExecution = success ? execution({ timeBegan: success, timeEnded: success }) : null;
  return {
    id,
    templateId: options.templateId ?? 'AD2AADProvisioning',
    schedule: { expiration: null, interval: 'PT2M', state: options.code === 'Paused' ? 'Paused' : 'Active' },
    status: {
      countSuccessiveCompleteFailures: options.failures ?? 0,
      escrowsPruned: false,
      code: options.code ?? 'Active',
      lastExecution: options.last === undefined ? lastSuccessfulExecution : execution(options.last),
      lastSuccessfulExecution,
      lastSuccessfulExecutionWithExports: lastSuccessfulExecution,
      quarantine: options.quarantine
        ? {
            currentBegan: options.quarantine.seriesBegan,
            nextAttempt: options.quarantine.nextAttempt,
            reason: options.quarantine.reason,
            seriesBegan: options.quarantine.seriesBegan,
            seriesCount: 3,
            error: options.quarantine.error ? { ...options.quarantine.error, tenantActionable: true } : null,
          }
        : null,
      steadyStateFirstAchievedTime: '2026-01-10T08:00:00Z',
      steadyStateLastAchievedTime: '2026-03-01T11:58:00Z',
      troubleshootingUrl: null,
      progress: [],
      synchronizedEntryCountByType: [],
    },
  };
}

/**
 * `/v1.0/servicePrincipals` as Graph answers the two queries the tenant checks send: the
 * application-template filter (Cloud Sync configurations) and the display-name prefix (Connect
 * Sync's applications). `all` are the tenant's service principals; Graph filters them here as it
 * would. With `refuseTemplateFilter`, it answers that filter with 400, as a Graph that did not
 * support it would.
 */
export function servicePrincipals(all: readonly ReturnType<typeof servicePrincipal>[], options: { refuseTemplateFilter?: boolean } = {}): Handler {
  return (_req, res, url) => {
    const filter = url.searchParams.get('$filter') ?? '';
    const template = /^applicationTemplateId eq '([^']+)'$/.exec(filter);
    const prefix = /^startswith\(displayName,'([^']+)'\)$/.exec(filter);
    if (template) {
      if (options.refuseTemplateFilter) return json(res, 400, { error: { code: 'Request_UnsupportedQuery', message: 'Unsupported or invalid query filter clause specified' } });
      return json(res, 200, { value: all.filter((sp) => sp.applicationTemplateId === template[1]) });
    }
    if (prefix) return json(res, 200, { value: all.filter((sp) => sp.displayName.startsWith(prefix[1]!)) });
    if (filter) return json(res, 400, { error: { code: 'Request_UnsupportedQuery', message: 'Unsupported query' } });
    return json(res, 200, { value: all });
  };
}

/** Routes for each configuration's jobs. */
export function jobRoutes(jobs: Record<string, unknown[] | Handler>): Record<string, Handler> {
  return Object.fromEntries(
    Object.entries(jobs).map(([id, value]) => [
      `/v1.0/servicePrincipals/${id}/synchronization/jobs`,
      typeof value === 'function' ? value : (_req: IncomingMessage, res: ServerResponse) => json(res, 200, { value }),
    ]),
  );
}

/** An audit entry with `OnPremisesAgent` among its additional details, as admin resets carry it. */
export function auditWithAgent(activityDateTime: string, activityDisplayName: string, result: string, resultReason: string, upn: string, agent: string) {
  return { ...audit(activityDateTime, activityDisplayName, result, resultReason, upn), additionalDetails: [{ key: 'OnPremisesAgent', value: agent }] };
}
