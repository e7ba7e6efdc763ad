import { describe, expect, it } from 'vitest';
import { openTableStore, storageTarget } from '../src/store/open.js';
import { TableStore } from '../src/store/table-store.js';

describe('which Table Storage the Functions app opens', () => {
  it('uses AzureWebJobsStorage as a connection string when it is set', () => {
    expect(storageTarget({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', AzureWebJobsStorage__accountName: 'ignored' })).toEqual({
      kind: 'connection-string',
      connectionString: 'UseDevelopmentStorage=true',
    });
  });

  it('uses the managed identity with AzureWebJobsStorage__accountName, as identity-based host storage does', () => {
    expect(storageTarget({ AzureWebJobsStorage__accountName: 'stwbmon01', AzureWebJobsStorage__clientId: '11111111-2222-3333-4444-555555555555' })).toEqual({
      kind: 'identity',
      tableServiceUri: 'https://stwbmon01.table.core.windows.net',
      clientId: '11111111-2222-3333-4444-555555555555',
    });
  });

  it('prefers an explicit table service URI (sovereign clouds)', () => {
    expect(storageTarget({ AzureWebJobsStorage__tableServiceUri: 'https://stwbmon01.table.core.usgovcloudapi.net', AzureWebJobsStorage__accountName: 'x' })).toEqual({
      kind: 'identity',
      tableServiceUri: 'https://stwbmon01.table.core.usgovcloudapi.net',
      clientId: undefined,
    });
  });

  it("drops the trailing slash of ARM's primaryEndpoints.table, as infra/ passes it", () => {
    expect(storageTarget({ AzureWebJobsStorage__tableServiceUri: 'https://stwbmon01.table.core.windows.net/' })).toEqual({
      kind: 'identity',
      tableServiceUri: 'https://stwbmon01.table.core.windows.net',
      clientId: undefined,
    });
  });

  it('finds nothing when none of them is set', () => {
    expect(storageTarget({ AzureWebJobsStorage: '  ' })).toBeUndefined();
  });

  it('builds a Table store for either kind without reaching the network', () => {
    expect(openTableStore({ kind: 'identity', tableServiceUri: 'https://stwbmon01.table.core.windows.net', clientId: undefined })).toBeInstanceOf(TableStore);
    expect(openTableStore({ kind: 'connection-string', connectionString: 'UseDevelopmentStorage=true' })).toBeInstanceOf(TableStore);
  });
});
