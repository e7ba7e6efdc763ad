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
import { mkdtempSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readProvisioningAgent, traceFindings, type TraceFs } from '../src/relay/cloud-sync.js';
import { FILE_VERSION_SCRIPT } from '../src/relay/windows-reads.js';
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

  describe('Entra Cloud Sync: the provisioning agent', () => {
    const AGENT_EXE = 'C:\\Program Files\\Microsoft Azure AD Connect Provisioning Agent\\AADConnectProvisioningAgent.exe';
    const TRACE = 'C:\\ProgramData\\Microsoft\\Azure AD Connect Provisioning Agent\\Trace';

    /** The trace folder as a folder of this machine: the Windows path mapped onto it. */
    function traceFolder(files: Record<string, { text: string; ageMinutes: number }>): TraceFs {
      const dir = mkdtempSync(join(tmpdir(), 'wbmon-trace-'));
      mkdirSync(join(dir, 'Trace'));
      for (const [name, { text, ageMinutes }] of Object.entries(files)) {
        const path = join(dir, 'Trace', name);
        writeFileSync(path, text);
        const when = new Date(NOW.getTime() - ageMinutes * 60_000);
        utimesSync(path, when, when);
      }
      const local = (p: string): string => {
        if (!p.startsWith(TRACE)) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
        return join(dir, 'Trace', ...p.slice(TRACE.length).split('\\').filter(Boolean));
      };
      return { readdir: (p) => readdir(local(p)), mtimeMs: async (p) => (await stat(local(p))).mtimeMs, readFile: (p) => readFile(local(p), 'utf8') };
    }

    const TRACE_TEXT = [
      'AADConnectProvisioningAgent Information: 0 : [2026-12-02 09:40:01Z] Connected to contoso-a1b2c3.servicebus.windows.net for tenant 0c8f…',
      'AADConnectProvisioningAgent Error: 0 : [2026-12-02 09:41:12Z] Password writeback for ann.lee@contoso.com failed: System.Net.WebException: The remote server returned an error: (407) Proxy Authentication Required.',
      'AADConnectProvisioningAgent Information: 0 : [2026-12-02 09:42:00Z] Bootstrap 5f2d9c1e.his.msappproxy.net ok',
      'AADConnectProvisioningAgent Error: 0 : [2026-12-02 09:45:00Z] Exception while polling: timeout',
    ].join('\r\n');

    it("reads the agent's services from sc, its build from the file's version and the last hour of its trace folder", async () => {
      const machine = standInWindows({ services: { AADConnectProvisioningAgent: 'RUNNING', AADConnectAgentUpdater: 'RUNNING' }, files: { [AGENT_EXE]: '1.1.1107.0' } });
      const fs = traceFolder({ 'ProvAgentTrace_20261202.log': { text: TRACE_TEXT, ageMinutes: 10 }, 'ProvAgentTrace_20261130.log': { text: 'Error: old news', ageMinutes: 3000 } });
      const report = await readProvisioningAgent({ platform: 'win32', now: () => NOW, run: machine.run, env: machine.env, fs });
      expect(report).toEqual({
        checkedAt: NOW.toISOString(),
        installed: true,
        version: '1.1.1107.0',
        services: [
          { name: 'AADConnectProvisioningAgent', state: 'running' },
          { name: 'AADConnectAgentUpdater', state: 'running' },
        ],
        trace: {
          files: 1,
          errors: 2,
          recent: [
            { file: 'ProvAgentTrace_20261202.log', line: 'AADConnectProvisioningAgent Error: 0 : [2026-12-02 09:45:00Z] Exception while polling: timeout' },
            {
              file: 'ProvAgentTrace_20261202.log',
              line: 'AADConnectProvisioningAgent Error: 0 : [2026-12-02 09:41:12Z] Password writeback for a***@contoso.com failed: System.Net.WebException: The remote server returned an error: (407) Proxy Authentication Required.',
            },
          ],
        },
        endpoints: ['5f2d9c1e.his.msappproxy.net', 'contoso-a1b2c3.servicebus.windows.net'],
      });
      expect(heartbeatSchema.shape.provisioningAgent.safeParse(report).success).toBe(true);
      expect(machine.calls).toEqual([
        { file: 'sc', args: ['query', 'AADConnectProvisioningAgent'] },
        { file: 'sc', args: ['query', 'AADConnectAgentUpdater'] },
        { file: POWERSHELL, args: [...POWERSHELL_ARGS, FILE_VERSION_SCRIPT] },
      ]);
    });

    it('reports a stopped agent, an old build, a missing trace folder as no errors, and an unreadable executable as a problem', async () => {
      const machine = standInWindows({ services: { AADConnectProvisioningAgent: 'STOPPED' }, files: { [AGENT_EXE]: '1.1.96.0' } });
      expect(await readProvisioningAgent({ platform: 'win32', now: () => NOW, run: machine.run, env: machine.env, fs: traceFolder({}) })).toMatchObject({
        installed: true,
        version: '1.1.96.0',
        services: [
          { name: 'AADConnectProvisioningAgent', state: 'stopped' },
          { name: 'AADConnectAgentUpdater', state: 'missing' },
        ],
        trace: { files: 0, errors: 0, recent: [] },
      });
      const noExe = standInWindows({ services: { AADConnectProvisioningAgent: 'RUNNING' } });
      const missing = { readdir: async () => Promise.reject(Object.assign(new Error('ENOENT'), { code: 'ENOENT' })), mtimeMs: async () => 0, readFile: async () => '' };
      expect((await readProvisioningAgent({ platform: 'win32', now: () => NOW, run: noExe.run, env: noExe.env, fs: missing }))?.problems).toEqual([
        `${AGENT_EXE} not found: the agent's version is unknown`,
      ]);
    });

    it('says the agent is not installed when its service is not there, reading nothing else', async () => {
      const machine = standInWindows({});
      expect(await readProvisioningAgent({ platform: 'win32', now: () => NOW, run: machine.run, env: machine.env })).toEqual({ checkedAt: NOW.toISOString(), installed: false, version: null, services: [] });
      expect(machine.calls.map((c) => c.args[1])).toEqual(['AADConnectProvisioningAgent', 'AADConnectAgentUpdater']);
    });

    it('takes endpoint hosts from the trace only when shaped as Service Bus or application proxy hosts', () => {
      const found = traceFindings([{ name: 'a.log', text: 'to evil.example.com and x.servicebus.windows.net.evil.example and y.msappproxy.net' }]);
      expect(found.endpoints).toEqual(['y.msappproxy.net']);
    });
  });
});
