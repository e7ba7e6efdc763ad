/**
 * Entra Cloud Sync's provisioning agent on the server the relay runs on (Windows only). Cloud
 * Sync writes passwords back too (provisioning agent 1.1.977.0 or later, Cloud Sync
 * prerequisites), through the agent, not through Connect's PasswordResetService:
 *
 *  - its services (`sc query`): AADConnectProvisioningAgent ("Microsoft Entra Provisioning
 *    Agent", formerly "Microsoft Azure AD Connect Provisioning Agent", the installer's own
 *    service name) does the work; AADConnectAgentUpdater ("Microsoft Entra Connect Agent
 *    Updater") keeps it up to date;
 *  - its version: the file version of AADConnectProvisioningAgent.exe under
 *    `%ProgramFiles%\Microsoft Azure AD Connect Provisioning Agent` (what Microsoft's "verify
 *    your version" page reads in the file's Details), through Windows PowerShell;
 *  - its trace folder, `%ProgramData%\Microsoft\Azure AD Connect Provisioning Agent\Trace`:
 *    the files written in the last hour, their lines that say `Error` or `Exception` (counted;
 *    the newest five kept, user names masked), and the Service Bus and application proxy
 *    hosts (`*.servicebus.windows.net`, `*.msappproxy.net`) they name, so the relay can probe
 *    the agent's own endpoints, which the prerequisites give only as wildcards.
 *
 * The trace files' format is not documented: the relay reads them as text and keys only on those
 * words and host shapes. What only a real Windows Server with the agent can show: the words the
 * agent writes in its trace when writeback fails, and the gMSA's (provAgentgMSA$) view of it.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { win32 } from 'node:path';
import { maskNames } from '../checks/mask.js';
import { AGENT_ENDPOINT_PATTERN, type ProvisioningAgentReportBody } from '../heartbeat/schema.js';
import { stripControls } from '../text/safe-text.js';
import { readFileVersion, readService, runProgram, type RunProgram } from './windows-reads.js';

import { AGENT_SERVICE, UPDATER_SERVICE } from '../heartbeat/sync-engines.js';

export { AGENT_SERVICE, UPDATER_SERVICE, WRITEBACK_MIN_AGENT } from '../heartbeat/sync-engines.js';
const TRACE_WINDOW_MS = 60 * 60 * 1000;
const MAX_TRACE_BYTES = 4 * 1024 * 1024;

/** What the heartbeat carries (src/heartbeat/schema.ts, provisioningAgentReportSchema). */
export type ProvisioningAgentReport = ProvisioningAgentReportBody;

/** The file reads of the trace folder; node:fs by default, tests map the Windows path to a folder of their own. */
export interface TraceFs {
  readonly readdir: (path: string) => Promise<string[]>;
  readonly mtimeMs: (path: string) => Promise<number>;
  readonly readFile: (path: string) => Promise<string>;
}

const nodeFs: TraceFs = {
  readdir: (path) => readdir(path),
  mtimeMs: async (path) => (await stat(path)).mtimeMs,
  readFile: async (path) => {
    const text = await readFile(path, 'utf8');
    return text.length > MAX_TRACE_BYTES ? text.slice(-MAX_TRACE_BYTES) : text;
  },
};

export interface CloudSyncIo {
  readonly platform?: NodeJS.Platform;
  readonly now?: () => Date;
  readonly run?: RunProgram;
  readonly env?: NodeJS.ProcessEnv;
  readonly fs?: TraceFs;
}

export function agentPaths(env: NodeJS.ProcessEnv): { exe: string; trace: string } {
  return {
    exe: win32.join(env.ProgramFiles ?? 'C:\\Program Files', 'Microsoft Azure AD Connect Provisioning Agent', 'AADConnectProvisioningAgent.exe'),
    trace: win32.join(env.ProgramData ?? 'C:\\ProgramData', 'Microsoft', 'Azure AD Connect Provisioning Agent', 'Trace'),
  };
}

const ERROR_LINE = /\b(?:error|exception)\b/i;
const ENDPOINT_HOST = /(?<![a-z0-9.-])([a-z0-9][a-z0-9-]{0,62}(?:\.[a-z0-9][a-z0-9-]{0,62}){0,4}\.(?:msappproxy\.net|servicebus\.windows\.net))(?![a-z0-9-]|\.[a-z0-9])/gi;

/** Pure: the error lines and endpoint hosts of the trace files' texts (newest file first). */
export function traceFindings(files: readonly { name: string; text: string }[]): { errors: number; recent: { file: string; line: string }[]; endpoints: string[] } {
  let errors = 0;
  const recent: { file: string; line: string }[] = [];
  const endpoints = new Set<string>();
  for (const { name, text } of files) {
    const lines = text.split(/\r?\n/);
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = lines[i]!;
      for (const m of line.matchAll(ENDPOINT_HOST)) if (AGENT_ENDPOINT_PATTERN.test(m[1]!.toLowerCase())) endpoints.add(m[1]!.toLowerCase());
      if (!ERROR_LINE.test(line)) continue;
      errors++;
      if (recent.length < 5) recent.push({ file: name.slice(0, 100), line: maskNames(stripControls(line).replace(/\s+/g, ' ').trim()).slice(0, 300) });
    }
  }
  return { errors, recent, endpoints: [...endpoints].sort().slice(0, 5) };
}

async function readTrace(dir: string, fs: TraceFs, now: Date): Promise<{ trace?: ProvisioningAgentReport['trace']; endpoints?: string[]; problem?: string }> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { trace: { files: 0, errors: 0, recent: [] } } : { problem: `${dir}: cannot be read (${code ?? (err as Error).message})` };
  }
  const recent: { name: string; text: string; mtime: number }[] = [];
  for (const name of names.filter((n) => /\.(?:log|txt)$/i.test(n))) {
    const path = win32.join(dir, name);
    try {
      const mtime = await fs.mtimeMs(path);
      if (now.getTime() - mtime > TRACE_WINDOW_MS) continue;
      recent.push({ name, text: await fs.readFile(path), mtime });
    } catch (err) {
      return { problem: `${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    }
  }
  recent.sort((a, b) => b.mtime - a.mtime);
  const found = traceFindings(recent);
  return { trace: { files: recent.length, errors: found.errors, recent: found.recent }, ...(found.endpoints.length > 0 && { endpoints: found.endpoints }) };
}

/** Undefined elsewhere than Windows. `installed: false` when the agent's service is not there. */
export async function readProvisioningAgent(io: CloudSyncIo = {}): Promise<ProvisioningAgentReport | undefined> {
  if ((io.platform ?? process.platform) !== 'win32') return undefined;
  const now = (io.now ?? (() => new Date()))();
  const run = io.run ?? runProgram;
  const env = io.env ?? process.env;
  const [agent, updater] = await Promise.all([readService(run, AGENT_SERVICE), readService(run, UPDATER_SERVICE)]);
  const problems = [agent.error, updater.error].filter((e): e is string => e !== undefined);
  if (agent.state === 'missing' || (agent.state === 'unknown' && problems.length === 0)) {
    return { checkedAt: now.toISOString(), installed: false, version: null, services: [] };
  }
  const paths = agentPaths(env);
  const [version, trace] = await Promise.all([readFileVersion(run, env, paths.exe), readTrace(paths.trace, io.fs ?? nodeFs, now)]);
  if (!version.found) problems.push(version.error ? `${paths.exe}: ${version.error}` : `${paths.exe} not found: the agent's version is unknown`);
  if (trace.problem) problems.push(trace.problem);
  return {
    checkedAt: now.toISOString(),
    installed: true,
    version: version.found ? version.version : null,
    services: [
      { name: AGENT_SERVICE, state: agent.state },
      { name: UPDATER_SERVICE, state: updater.state },
    ],
    ...(trace.trace && { trace: trace.trace }),
    ...(trace.endpoints && { endpoints: trace.endpoints }),
    ...(problems.length > 0 && { problems: problems.slice(0, 5).map((p) => p.slice(0, 300)) }),
  };
}
