/**
 * Which proxy a probe goes through. An explicit proxy setting wins over HTTPS_PROXY; NO_PROXY
 * exempts hosts from either, with the usual conventions (comma list; `*` for all; a leading dot
 * or a bare domain matches the domain and its subdomains; an optional `:port`).
 */
/** Where a relay's proxy came from (src/relay/proxy-discovery.ts says in which order). */
export const PROXY_SOURCES = ['WBMON_PROXY_URL', 'HTTPS_PROXY', 'machine.config', 'winhttp', 'none'] as const;
export type ProxySource = (typeof PROXY_SOURCES)[number];

export interface ProxyEnvironment {
  /** WBMON_PROXY_URL. */
  readonly explicit?: string | undefined;
  /** HTTPS_PROXY / https_proxy. */
  readonly httpsProxy?: string | undefined;
  /** NO_PROXY / no_proxy. */
  readonly noProxy?: string | undefined;
}

export function proxyFromEnvironment(env: NodeJS.ProcessEnv, explicit?: string): ProxyEnvironment {
  return {
    explicit: explicit || undefined,
    httpsProxy: env.HTTPS_PROXY || env.https_proxy || undefined,
    noProxy: env.NO_PROXY ?? env.no_proxy,
  };
}

export function proxyFor(target: URL, env: ProxyEnvironment): URL | null {
  const proxy = env.explicit ?? env.httpsProxy;
  if (!proxy) return null;
  if (env.noProxy && bypasses(target, env.noProxy)) return null;
  return new URL(proxy);
}

function bypasses(target: URL, noProxy: string): boolean {
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  return noProxy
    .split(/[\s,]+/)
    .filter(Boolean)
    .some((raw) => {
      const entry = raw.toLowerCase();
      if (entry === '*') return true;
      const { name, port: entryPort } = splitHostPort(entry);
      if (entryPort && entryPort !== port) return false;
      const domain = name.replace(/^\*?\./, '');
      return host === domain || host.endsWith(`.${domain}`);
    });
}

/** `[v6]:port`, `[v6]`, bare `v6` (two or more colons: no port), `name:port`, `name`. */
function splitHostPort(entry: string): { name: string; port?: string } {
  const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return { name: bracketed[1]!, ...(bracketed[2] && { port: bracketed[2] }) };
  if ((entry.match(/:/g) ?? []).length > 1) return { name: entry };
  const [name = '', port] = entry.split(':');
  return { name, ...(port && { port }) };
}

/** A proxy URL safe to show: no user name or password. */
export function displayProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}
