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

/** An audit entry with `OnPremisesAgent` among its additional details, as admin resets carry it. */
export function auditWithAgent(activityDateTime: string, activityDisplayName: string, result: string, resultReason: string, upn: string, agent: string) {
  return { ...audit(activityDateTime, activityDisplayName, result, resultReason, upn), additionalDetails: [{ key: 'OnPremisesAgent', value: agent }] };
}
