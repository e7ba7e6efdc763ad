/**
 * The relay's Windows reads of the sync engines, through stand-ins of the programs it runs
 * (test/fixtures/windows/: reg, sc, powershell; test/support/windows.ts), each answering
 * from one description of the machine in the programs' own output format, through the real
 * spawn path. What only a real Windows Server can show is said in src/relay/windows-reads.ts.
 */
import { describe, expect, it } from 'vitest';
import { heartbeatSchema } from '../src/heartbeat/schema.js';
import { readConnectSync, STAGING_SCRIPT } from '../src/relay/connect-sync.js';
import { CONNECT_VERSIONS } from '../src/relay/connect-versions.js';
import { POWERSHELL_ARGS } from '../src/relay/windows-reads.js';
import { standInWindows } from './support/windows.js';

const NOW = new Date('2026-12-02T10:00:00Z');
const CONNECT_KEY = 'HKLM\\SOFTWARE\\Microsoft\\Azure AD Connect';
const POWERSHELL = 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe';

describe("The relay's Windows reads (registry, services, event log, trace folder) through stand-ins of the programs it runs", () => {
  describe('Entra Connect Sync', () => {
    it("reads the build from the registry, ADSync's state from sc and staging mode from Get-ADSyncScheduler, and dates the build from the table", async () => {
      const machine = standInWindows({ registry: { [CONNECT_KEY]: { Version: '2.5.190.0' } }, services: { ADSync: 'RUNNING' }, stagingMode: false });
      const report = await readConnectSync({ platform: 'win32', now: () => NOW, run: machine.run, env: machine.env });
      expect(report).toEqual({
        checkedAt: NOW.toISOString(),
        installed: true,
        version: '2.5.190.0',
        service: 'running',
        support: { endOfSupport: '2027-02-02', basis: '12 months after the release of 2.6.1.0', match: 'listed', tableChecked: CONNECT_VERSIONS.checked },
        stagingMode: false,
      });
      expect(heartbeatSchema.shape.connectSync.safeParse(report).success).toBe(true);
      expect(machine.calls).toEqual([
        { file: 'reg', args: ['query', CONNECT_KEY, '/v', 'Version', '/reg:64'] },
        { file: 'sc', args: ['query', 'ADSync'] },
        { file: POWERSHELL, args: [...POWERSHELL_ARGS, STAGING_SCRIPT] },
      ]);
    });

    it('reports a stopped ADSync service and a server in staging mode', async () => {
      const machine = standInWindows({ registry: { [CONNECT_KEY]: { Version: '2.6.84.0' } }, services: { ADSync: 'STOPPED' }, stagingMode: true });
      expect(await readConnectSync({ platform: 'win32', now: () => NOW, run: machine.run, env: machine.env })).toMatchObject({ service: 'stopped', stagingMode: true, version: '2.6.84.0' });
    });

    it('says Connect is not installed when neither its registry key nor the ADSync service exists, and asks nothing more', async () => {
      const machine = standInWindows({});
      expect(await readConnectSync({ platform: 'win32', now: () => NOW, run: machine.run, env: machine.env })).toEqual({
        checkedAt: NOW.toISOString(),
        installed: false,
        version: null,
        service: 'missing',
      });
      expect(machine.calls.map((c) => c.file)).toEqual(['reg', 'sc']);
    });

    it('names what it could not read: the registry refused, the scheduler refused, and stays installed by the service', async () => {
      const machine = standInWindows({ services: { ADSync: 'RUNNING' }, deny: ['reg'], stagingMode: { error: 'Get-ADSyncScheduler : Access is denied.' } });
      expect(await readConnectSync({ platform: 'win32', now: () => NOW, run: machine.run, env: machine.env })).toEqual({
        checkedAt: NOW.toISOString(),
        installed: true,
        version: null,
        service: 'running',
        stagingMode: null,
        problems: [
          'HKLM\\SOFTWARE\\Microsoft\\Azure AD Connect\\Version: reg query exited 1: ERROR: Access is denied.',
          'staging mode unknown: Get-ADSyncScheduler failed (exit 1): Get-ADSyncScheduler : Access is denied.',
        ],
      });
    });

    it('says when the ADSync module is not there to ask for staging mode', async () => {
      const machine = standInWindows({ registry: { [CONNECT_KEY]: { Version: '2.6.91.0' } }, services: { ADSync: 'RUNNING' }, stagingMode: 'NOMODULE' });
      expect(await readConnectSync({ platform: 'win32', now: () => NOW, run: machine.run, env: machine.env })).toMatchObject({
        stagingMode: null,
        problems: ['staging mode unknown: the ADSync PowerShell module is not installed'],
      });
    });

    it('reads nothing and reports nothing elsewhere than Windows', async () => {
      const machine = standInWindows({ registry: { [CONNECT_KEY]: { Version: '2.6.91.0' } } });
      expect(await readConnectSync({ platform: 'linux', now: () => NOW, run: machine.run, env: machine.env })).toBeUndefined();
      expect(machine.calls).toEqual([]);
    });
  });
});
