/**
 * Which Table Storage the Functions app uses, from the host's own storage settings:
 *  - `AzureWebJobsStorage`: a connection string (local runs, Azurite);
 *  - `AzureWebJobsStorage__tableServiceUri` or `__accountName` (with `__clientId` for a
 *    user-assigned identity): identity-based, no shared key, as the Bicep deploys it.
 * The identity's token comes from @azure/identity, loaded on the first request so that it
 * stays out of the cold start.
 */
import { TableClient } from '@azure/data-tables';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { Env } from '../config/settings.js';
import { TableStore } from './table-store.js';

export type StorageTarget =
  | { readonly kind: 'connection-string'; readonly connectionString: string }
  | { readonly kind: 'identity'; readonly tableServiceUri: string; readonly clientId: string | undefined };

/** Undefined when nothing is configured; the error names the settings to set. */
export function storageTarget(env: Env): StorageTarget | undefined {
  const connectionString = env.AzureWebJobsStorage?.trim();
  if (connectionString) return { kind: 'connection-string', connectionString };
  // ARM's primaryEndpoints end in '/', which would double up in request paths.
  const uri = env.AzureWebJobsStorage__tableServiceUri?.trim().replace(/\/+$/, '');
  const account = env.AzureWebJobsStorage__accountName?.trim();
  const clientId = env.AzureWebJobsStorage__clientId?.trim() || undefined;
  if (uri) return { kind: 'identity', tableServiceUri: uri, clientId };
  if (account) return { kind: 'identity', tableServiceUri: `https://${account}.table.core.windows.net`, clientId };
  return undefined;
}

/** A credential that loads @azure/identity only when the first token is asked for. */
function lazyManagedIdentity(clientId: string | undefined): TokenCredential {
  let inner: Promise<TokenCredential> | undefined;
  return {
    async getToken(scopes, options): Promise<AccessToken | null> {
      inner ??= import('@azure/identity').then((m) => new m.DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {}));
      return (await inner).getToken(scopes, options);
    },
  };
}

export function openTableStore(target: StorageTarget): TableStore {
  if (target.kind === 'connection-string') return TableStore.fromConnectionString(target.connectionString);
  const credential = lazyManagedIdentity(target.clientId);
  return new TableStore((tableName) => new TableClient(target.tableServiceUri, tableName, credential));
}
