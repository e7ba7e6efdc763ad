/**
 * Entra Connect Sync's health on the server the relay runs on (Windows only):
 *
 *  - its version: the registry value `Version` of `HKLM\SOFTWARE\Microsoft\Azure AD Connect`
 *    (the key Connect's installer writes; the same number as AzureADConnect.exe's product
 *    version), and the end of support of that build from the table shipped with the relay
 *    (src/relay/connect-versions.json);
 *  - the ADSync service's state (`sc query ADSync`): writeback runs inside it;
 *  - staging mode: `Get-ADSyncScheduler`'s StagingModeEnabled, through Windows PowerShell and
 *    the ADSync module Connect installs. A server in staging mode handles no writeback ("A
 *    server in staging mode is not running password sync or password writeback",
 *    how-to-connect-sync-staging-server). No registry value for it could be found in
 *    Microsoft's documentation (the scheduler's settings live in the sync service itself), so
 *    the cmdlet is the source: it needs the relay's account in a group the ADSync service
 *    lets read its settings (ADSyncBrowse, or ADSyncOperators / ADSyncAdmins). When it cannot
 *    be read the report says so (`stagingMode: null` and a problem) and nothing is assumed.
 *
 * Each read goes through a program the relay spawns (src/relay/windows-reads.ts), so tests
 * stand in for reg, sc and powershell.exe. What only a real Windows Server can show: the
 * rights the relay's virtual account has to the ADSync service's settings, and the module's
 * load time (a few seconds) on a busy server.
 */
import type { ConnectSyncReportBody } from '../heartbeat/schema.js';
import { supportOf } from './connect-versions.js';
import { readRegistryValue, readService, runPowershell, runProgram, VERSION_PATTERN, type RunProgram } from './windows-reads.js';

export const CONNECT_REGISTRY_KEY = 'HKLM\\SOFTWARE\\Microsoft\\Azure AD Connect';
export const ADSYNC_SERVICE = 'ADSync';

/** What the heartbeat carries (src/heartbeat/schema.ts, connectSyncReportSchema). */
export type ConnectSyncReport = ConnectSyncReportBody;

export interface ConnectSyncIo {
  readonly platform?: NodeJS.Platform;
  readonly now?: () => Date;
  readonly run?: RunProgram;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * `Get-ADSyncScheduler` from the module's own path (Connect's PowerShell module is not always
 * on PSModulePath for a service account). Prints True, False, or NOMODULE.
 */
export const STAGING_SCRIPT =
  "$ErrorActionPreference = 'Stop'; $m = Join-Path $env:ProgramFiles 'Microsoft Azure AD Sync\\Bin\\ADSync\\ADSync.psd1'; if (-not (Test-Path -LiteralPath $m)) { 'NOMODULE'; exit 0 }; Import-Module $m; (Get-ADSyncScheduler).StagingModeEnabled";

export async function readStagingMode(run: RunProgram, env: NodeJS.ProcessEnv): Promise<{ stagingMode: boolean | null; problem?: string }> {
  try {
    const out = await runPowershell(run, env, STAGING_SCRIPT);
    const said = out.stdout.trim().split(/\r?\n/).at(-1)?.trim() ?? '';
    if (out.exitCode === 0 && /^true$/i.test(said)) return { stagingMode: true };
    if (out.exitCode === 0 && /^false$/i.test(said)) return { stagingMode: false };
    if (out.exitCode === 0 && said === 'NOMODULE') return { stagingMode: null, problem: 'staging mode unknown: the ADSync PowerShell module is not installed' };
    const why = `${out.stderr}\n${out.stdout}`.split(/\r?\n/).map((l) => l.trim()).find(Boolean) ?? 'no output';
    return { stagingMode: null, problem: `staging mode unknown: Get-ADSyncScheduler failed (exit ${out.exitCode}): ${why}`.slice(0, 300) };
  } catch (err) {
    return { stagingMode: null, problem: `staging mode unknown: powershell.exe could not run: ${(err as Error).message}`.slice(0, 300) };
  }
}

/** Undefined elsewhere than Windows: there is no Connect server to look at. */
export async function readConnectSync(io: ConnectSyncIo = {}): Promise<ConnectSyncReport | undefined> {
  if ((io.platform ?? process.platform) !== 'win32') return undefined;
  const now = (io.now ?? (() => new Date()))();
  const run = io.run ?? runProgram;
  const env = io.env ?? process.env;
  const [registry, service] = await Promise.all([readRegistryValue(run, CONNECT_REGISTRY_KEY, 'Version'), readService(run, ADSYNC_SERVICE)]);
  const problems: string[] = [];
  if ('error' in registry) problems.push(`${CONNECT_REGISTRY_KEY}\\Version: ${registry.error}`);
  if (service.error) problems.push(service.error);
  let version: string | null = null;
  if (registry.found) {
    if (VERSION_PATTERN.test(registry.data)) version = registry.data;
    else problems.push(`${CONNECT_REGISTRY_KEY}\\Version is not a version number`);
  }
  const installed = registry.found || (service.state !== 'missing' && service.state !== 'unknown');
  if (!installed && problems.length === 0) return { checkedAt: now.toISOString(), installed: false, version: null, service: service.state };
  const staging = installed ? await readStagingMode(run, env) : undefined;
  if (staging?.problem) problems.push(staging.problem);
  return {
    checkedAt: now.toISOString(),
    installed,
    version,
    service: service.state,
    ...(version && { support: supportOf(version) }),
    ...(staging && { stagingMode: staging.stagingMode }),
    ...(problems.length > 0 && { problems: problems.slice(0, 5).map((p) => p.slice(0, 300)) }),
  };
}
