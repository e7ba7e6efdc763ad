/**
 * Where the state is. openDataDirStore: the SQLite file of `--data DIR`. Otherwise the Table
 * Storage the Functions app uses, from the host's own storage settings:
 *  - `AzureWebJobsStorage`: a connection string (local runs, Azurite);
 *  - `AzureWebJobsStorage__tableServiceUri` or `__accountName` (with `__clientId` for a
 *    user-assigned identity): identity-based, no shared key, as the Bicep deploys it.
 * The identity's token comes from @azure/identity, loaded on the first request so that it
 * stays out of the cold start.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { TableClient } from '@azure/data-tables';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { Env } from '../config/settings.js';
import { SqliteStore } from './sqlite-store.js';
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

/** The state file in a `--data DIR` (serve, and the roundtrip commands). */
export const STATE_FILE = 'state.sqlite';

/** What an older writeback-monitor's embedded Azurite kept in a `--data DIR` (LokiJS, saved every 5 s). */
export const LEGACY_AZURITE_FILE = '__azurite_db_table__.json';

export interface DataDirStore {
  readonly store: SqliteStore;
  /** The SQLite file, absolute. */
  readonly file: string;
  /** Lines for the log: where the state is, and what in DIR is ignored. */
  readonly lines: readonly string[];
}

/**
 * The state of `--data DIR`: a SqliteStore at DIR/state.sqlite (DIR and the file are created
 * by the store's ready(), so a directory that cannot be written is a store error like an
 * unreachable storage account). Every command given `--data` opens it through here.
 *
 * An older version kept DIR's state in an embedded Azurite's file; that file is not read (its
 * last few seconds may be lost anyway) and is left as it is: the first line says so.
 */
export function openDataDirStore(dir: string): DataDirStore {
  const file = resolve(dir, STATE_FILE);
  const legacy = join(dirname(file), LEGACY_AZURITE_FILE);
  const lines = [`state store: SQLite at ${file} (every write committed to disk before it is acknowledged: WAL, synchronous=FULL)`];
  if (existsSync(legacy)) {
    lines.push(`state store: ${legacy} was written by an older version's embedded Azurite and is ignored: its checks, heartbeats and alerts are not carried over (delete it once you do not need it)`);
  }
  return { store: new SqliteStore(file), file, lines };
}
