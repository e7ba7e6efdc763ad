/**
 * Which proxy the relay takes, and where it came from. The relay must test writeback's own
 * path, so by default it takes the proxy Connect's ADSync service takes. In order:
 *
 *   1. WBMON_PROXY_URL (NO_PROXY exempts hosts)
 *   2. HTTPS_PROXY / https_proxy (NO_PROXY exempts hosts)
 *   3. on Windows, unless WBMON_PROXY_DISCOVERY=off: the 64-bit .NET Framework machine.config's
 *      <defaultProxy> (src/relay/machine-config.ts), and where it says to use the system
 *      default, WinHTTP's proxy (`netsh winhttp show proxy`, src/relay/winhttp.ts)
 *   4. none: direct
 *
 * A machine.config that cannot be read or parsed, or a netsh that fails, is a `problem` (one
 * line naming the file or the command) and the relay goes direct; it never stops the relay.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { win32 } from 'node:path';
import { displayProxy, PROXY_SOURCES, proxyFor, proxyFromEnvironment, type ProxySource } from '../probes/proxy.js';
import type { Env } from '../config/settings.js';
import { dotnetBypass, isLocalHost, parseMachineConfig, type DefaultProxy } from './machine-config.js';
import { parseNetshWinHttp, winHttpBypasses, type WinHttpProxy, type WinHttpResult } from './winhttp.js';

export { PROXY_SOURCES, type ProxySource };

export interface ProxyRoute {
  /** Where the decision came from; `machine.config` or `winhttp` with no proxy means they say direct. */
  readonly source: ProxySource;
  /** The proxy, without credentials; null when direct. Targets in a bypass list go direct anyway. */
  readonly proxy: string | null;
  /** The proxy for one URL, or null to go direct. */
  proxyFor(url: URL): URL | null;
  /** What could not be read or followed, one line each (logged once, sent in the heartbeat). */
  readonly problems: readonly string[];
}

export interface ProxyDiscoveryIo {
  readonly platform?: NodeJS.Platform;
  readonly readFile?: (path: string) => Promise<string>;
  /** Runs a program and gives its standard output (netsh). */
  readonly run?: (file: string, args: string[]) => Promise<string>;
}

export interface ProxyDiscoverySettings {
  readonly env: Env;
  /** WBMON_PROXY_URL. */
  readonly proxyUrl: string | undefined;
  /** WBMON_PROXY_DISCOVERY: false turns steps 3 off. */
  readonly proxyDiscovery: boolean;
}

const DIRECT = (): null => null;

/** The 64-bit .NET Framework 4 machine.config, the one ADSync (a 64-bit service) reads. */
export function machineConfigPath(env: Env): string {
  const windows = env.WINDIR || env.windir || env.SystemRoot || 'C:\\Windows';
  return win32.join(windows, 'Microsoft.NET', 'Framework64', 'v4.0.30319', 'Config', 'machine.config');
}

const runProgram = (file: string, args: string[]): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 30_000, windowsHide: true }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });

export async function discoverProxy(settings: ProxyDiscoverySettings, io: ProxyDiscoveryIo = {}): Promise<ProxyRoute> {
  const env = proxyFromEnvironment(settings.env as NodeJS.ProcessEnv, settings.proxyUrl);
  if (env.explicit || env.httpsProxy) {
    const proxy = new URL((env.explicit ?? env.httpsProxy)!);
    return { source: env.explicit ? 'WBMON_PROXY_URL' : 'HTTPS_PROXY', proxy: displayProxy(proxy), proxyFor: (url) => proxyFor(url, env), problems: [] };
  }
  const none: ProxyRoute = { source: 'none', proxy: null, proxyFor: DIRECT, problems: [] };
  if ((io.platform ?? process.platform) !== 'win32' || !settings.proxyDiscovery) return none;

  const path = machineConfigPath(settings.env);
  let text: string;
  try {
    text = await (io.readFile ?? ((p: string) => readFile(p, 'utf8')))(path);
  } catch (err) {
    return { ...none, problems: [`${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); going direct`] };
  }
  const parsed = parseMachineConfig(text);
  if (!parsed.ok) return { ...none, problems: [`${path}: cannot be parsed (${parsed.error}); going direct`] };
  const config = parsed.defaultProxy;
  const problems = config.notes.map((n) => `${path}: ${n}`);
  if (!config.enabled) return { source: 'machine.config', proxy: null, proxyFor: DIRECT, problems };

  let system: WinHttpResult | undefined;
  if (config.useSystemDefault) {
    try {
      system = parseNetshWinHttp(await (io.run ?? runProgram)('netsh', ['winhttp', 'show', 'proxy']));
    } catch (err) {
      system = { ok: false, error: `netsh winhttp show proxy failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
    if (!system.ok) problems.push(`${system.error}; taking no system proxy`);
  }
  const winhttp: WinHttpProxy | undefined = system?.ok && !system.direct ? system.proxy : undefined;
  return routeFrom(config, winhttp, problems, path);
}

/** Pure: machine.config's defaultProxy over WinHTTP's proxy (when it starts from the system default). */
export function routeFrom(config: DefaultProxy, winhttp: WinHttpProxy | undefined, problems: string[] = [], path = 'machine.config'): ProxyRoute {
  const bypass = config.bypassList.map(dotnetBypass);
  for (const b of bypass) if (b.note) problems.push(`${path}: ${b.note}`);
  const configBypass = bypass.flatMap((b) => (b.ok ? [b.test] : []));
  const local = config.bypassOnLocal;

  if (config.address) {
    const address = config.address;
    // Over the system default, machine.config's bypass settings replace WinHTTP's only when given.
    const bypassed = (url: URL): boolean => {
      const onLocal = local ?? (config.useSystemDefault && winhttp ? winhttp.bypassLocal : false);
      if (onLocal && isLocalHost(url)) return true;
      if (config.bypassList.length > 0) return configBypass.some((t) => t(url));
      return config.useSystemDefault && winhttp ? winHttpBypasses({ bypassLocal: false, bypass: winhttp.bypass }, url) : false;
    };
    return { source: 'machine.config', proxy: displayProxy(address), proxyFor: (url) => (bypassed(url) ? null : address), problems };
  }
  if (!config.useSystemDefault) return { source: 'machine.config', proxy: null, proxyFor: DIRECT, problems };
  if (!winhttp) return { source: 'winhttp', proxy: null, proxyFor: DIRECT, problems };
  const shown = winhttp.servers.https ?? winhttp.servers.http;
  return {
    source: 'winhttp',
    proxy: shown ? displayProxy(shown) : null,
    proxyFor: (url) => {
      const server = url.protocol === 'https:' ? winhttp.servers.https : winhttp.servers.http;
      if (!server) return null;
      if ((local ?? winhttp.bypassLocal) && isLocalHost(url)) return null;
      if (config.bypassList.length > 0 ? configBypass.some((t) => t(url)) : winHttpBypasses({ bypassLocal: false, bypass: winhttp.bypass }, url)) return null;
      return server;
    },
    problems,
  };
}
