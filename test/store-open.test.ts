import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LEGACY_AZURITE_FILE, openDataDirStore, STATE_FILE } from '../src/store/data-dir.js';
import { openTableStore, storageTarget } from '../src/store/open.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
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

describe('the state of a --data directory', () => {
  it('is DIR/state.sqlite, created on ready() with the directory, and says where it is', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'wbmon-open-')), 'not', 'yet');
    const opened = openDataDirStore(dir);
    expect(opened.file).toBe(join(dir, STATE_FILE));
    expect(opened.store).toBeInstanceOf(SqliteStore);
    expect(existsSync(dir)).toBe(false); // nothing is touched before the store is used
    expect(opened.lines).toEqual([`state store: SQLite at ${opened.file} (every write committed to disk before it is acknowledged: WAL, synchronous=FULL)`]);
    await opened.store.ready();
    if (process.platform !== 'win32') expect(statSync(dir).mode & 0o777).toBe(0o700); // the state has no key: only its owner may write it
    await opened.store.insert('c', 'k', { n: 1 });
    await opened.store.close();
    // A second opening (a later serve, a roundtrip command) sees the same state.
    const again = openDataDirStore(dir).store;
    expect((await again.get('c', 'k'))?.value).toEqual({ n: 1 });
    await again.close();
  });

  it('says that an older version\'s Azurite file in DIR is ignored, and leaves it alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wbmon-open-'));
    const legacy = join(dir, LEGACY_AZURITE_FILE);
    writeFileSync(legacy, '{"filename":"__azurite_db_table__.json","collections":[]}');
    const opened = openDataDirStore(dir);
    expect(opened.lines).toHaveLength(2);
    expect(opened.lines[1]).toBe(
      `state store: ${legacy} was written by an older version's embedded Azurite and is ignored: its checks, heartbeats and alerts are not carried over (delete it once you do not need it)`,
    );
    await opened.store.ready();
    await opened.store.close();
    expect(readFileSync(legacy, 'utf8')).toContain('__azurite_db_table__');
  });
});
