import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** Azurite's well-known development account; public by design, not a secret. */
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

// Azurite ships no type declarations; these are the few members used here.
interface AzuriteTableServer {
  readonly httpServer: { address(): AddressInfo | string | null };
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
}

export interface RunningAzurite {
  /** Connection string for the Table endpoint (loopback http). */
  readonly connectionString: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Starts Azurite's Table service inside this process (no child process, no global install). */
export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const { host = '127.0.0.1', port = 0, dataDir } = options;
  // Deep CommonJS paths: azurite has no "exports" map and no public programmatic API.
  const require = createRequire(import.meta.url);
  const TableServer = (require('azurite/dist/src/table/TableServer') as { default: TableServerClass }).default;
  const TableConfiguration = (require('azurite/dist/src/table/TableConfiguration') as { default: TableConfigurationClass }).default;

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
  await server.start();

  const address = server.httpServer.address();
  if (!address || typeof address === 'string') throw new Error('Azurite did not report a TCP port');
  // A wildcard bind address is not dialable: use loopback for it.
  const dialHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const endpoint = `http://${dialHost}:${address.port}/${ACCOUNT}`;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};TableEndpoint=${endpoint};`,
    port: address.port,
    close: () => server.close(),
  };
}
