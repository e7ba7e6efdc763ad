/** A Table Storage client of our own, for asking an Azurite who it lets in. */
import { AzureNamedKeyCredential, RestError, TableServiceClient } from '@azure/data-tables';

/** The HTTP status a loopback Azurite answers a table listing with, signed with `key`. */
export async function listTablesStatus(port: number, account: string, key: string): Promise<number> {
  const client = new TableServiceClient(`http://127.0.0.1:${port}/${account}`, new AzureNamedKeyCredential(account, key), {
    allowInsecureConnection: true,
    retryOptions: { maxRetries: 0 },
  });
  try {
    for await (const _ of client.listTables()) break;
    return 200;
  } catch (err) {
    if (err instanceof RestError && err.statusCode) return err.statusCode;
    throw err;
  }
}
