import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/**
 * Azurite's development account. Its well-known key is public by design: anything on this
 * machine could use it to read the whole state and insert heartbeats without a relay secret.
 * So the embedded Azurite takes a random key per run, unless the user asked for
 * UseDevelopmentStorage=true, which tools (Storage Explorer, `func start`) use with this key.
 * The account name stays, so data kept with --data is the same across runs.
 */
export const ACCOUNT = 'devstoreaccount1';
export const WELL_KNOWN_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** The embedded Azurite cannot be had: not installed (--omit=dev), or internals this module was not written against (a new Azurite version). */
export class EmbeddedAzuriteError extends Error {
  override readonly name = 'EmbeddedAzuriteError';
}

// Azurite ships no type declarations; these are the few members used here.
interface AzuriteAccounts {
  accounts: Record<string, { name: string; key1: Buffer; key2?: Buffer }>;
  refresh(): void;
}
interface AzuriteTableServer {
  readonly httpServer: { address(): AddressInfo | string | null };
  readonly accountDataStore?: Partial<AzuriteAccounts>;
  start(): Promise<void>;
  close(): Promise<void>;
}
type TableServerClass = new (configuration: unknown) => AzuriteTableServer;
type TableConfigurationClass = new (...args: unknown[]) => unknown;

export interface AzuriteOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** Persist tables in this directory; omitted = in memory, gone on close. */
  dataDir?: string;
  /** Accept Azurite's well-known key (UseDevelopmentStorage=true); default: a random key per run. */
  wellKnownKey?: boolean;
}

export interface RunningAzurite {
  /** Connection string for the Table endpoint (loopback http). */
  readonly connectionString: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts Azurite's Table service inside this process (no child process, no global install). */
export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const { host = '127.0.0.1', port = 0, dataDir, wellKnownKey = false } = options;
  // Deep CommonJS paths: azurite has no "exports" map and no public programmatic API.
  const require = createRequire(import.meta.url);
  let TableServer: TableServerClass;
  let TableConfiguration: TableConfigurationClass;
  try {
    TableServer = (require('azurite/dist/src/table/TableServer') as { default: TableServerClass }).default;
    TableConfiguration = (require('azurite/dist/src/table/TableConfiguration') as { default: TableConfigurationClass }).default;
  } catch (err) {
    // Azurite is a development dependency (it is not in the Function App package): an install
    // with --omit=dev has none.
    if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND') throw err;
    throw new EmbeddedAzuriteError('Azurite is not installed (it is a development dependency: run npm install without --omit=dev), or set AzureWebJobsStorage to a storage account', { cause: err });
  }

  let dbPath: string;
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    dbPath = join(dataDir, '__azurite_db_table__.json');
  } else {
    // In memory, Loki still stat()s this path and would load an existing file: use a name
    // that cannot exist.
    dbPath = `__azurite_memory_${process.pid}_${Date.now()}_${Math.random().toString(36).slice(2)}__`;
  }

  // Positional: host, port, keepAliveTimeout, dbPath, debugLog, accessLog, accessLogStream,
  // debugLogFile, loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl,
  // isMemoryPersistence.
  const config = new TableConfiguration(host, port, undefined, dbPath, false, false, undefined, undefined,
    false, false, '', '', '', undefined, false, !dataDir);
  const server = new TableServer(config);
  const key = wellKnownKey ? WELL_KNOWN_KEY : randomBytes(64).toString('base64');
  pinAccount(server, key);
  await server.start();

  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('Azurite did not report a TCP port');
  // A wildcard bind address is not dialable: use loopback for it.
  const dialHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const endpoint = `http://${dialHost}:${address.port}/${ACCOUNT}`;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${key};TableEndpoint=${endpoint};`,
    port: address.port,
    close: () => server.close(),
  };
}

/**
 * Makes `key` the only key of the only account. Azurite reads its accounts from the
 * AZURITE_ACCOUNTS environment variable at start and again every minute, so setting the
 * variable for the start and restoring it would bring the well-known key back a minute later,
 * and leaving it set would hand the key to child processes and to any other Azurite in this
 * process. Its account store's refresh is replaced instead: the environment is never read.
 */
function pinAccount(server: AzuriteTableServer, key: string): void {
  const store = server.accountDataStore;
  if (!store || typeof store.refresh !== 'function' || typeof store.accounts !== 'object') {
    throw new EmbeddedAzuriteError('this Azurite version keeps its accounts differently: the embedded Azurite cannot be given its own key');
  }
  const accounts = { [ACCOUNT]: { name: ACCOUNT, key1: Buffer.from(key, 'base64') } };
  store.refresh = () => {
    store.accounts = accounts;
  };
  store.refresh();
}
