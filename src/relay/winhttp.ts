/**
 * WinHTTP's machine-wide proxy, as `netsh winhttp show proxy` prints it (English Windows):
 *
 *     Current WinHTTP proxy settings:
 *
 *         Direct access (no proxy server).
 *
 * or
 *
 *         Proxy Server(s) :  proxy.corp.example:8080
 *         Bypass List     :  <local>;*.corp.example
 *
 * The server list is WinHTTP's proxy string: `host[:port]` for every scheme, or per scheme
 * (`http=proxy1:8080;https=proxy2:8443`); a scheme it does not name goes direct. The bypass list
 * holds host names with `*` wildcards, and `<local>` for names without a dot. Pure.
 */
import { isLocalHost } from './machine-config.js';

export interface WinHttpProxy {
  /** Proxy per target scheme; none for a scheme means direct. Credentials never appear here. */
  readonly servers: { readonly http?: URL; readonly https?: URL };
  readonly bypassLocal: boolean;
  /** Wildcard entries as written (without `<local>`). */
  readonly bypass: readonly string[];
}

export type WinHttpResult = { readonly ok: true; readonly direct: true } | { readonly ok: true; readonly direct: false; readonly proxy: WinHttpProxy } | { readonly ok: false; readonly error: string };

function proxyUrl(entry: string): URL | undefined {
  const text = /^[a-z]+:\/\//i.test(entry) ? entry : `http://${entry}`;
  try {
    const url = new URL(text);
    if (url.protocol !== 'http:' || !url.hostname || url.pathname !== '/' || url.search) return undefined;
    // No port: 80, WinHTTP's default, which is also the URL's.
    return url;
  } catch {
    return undefined;
  }
}

export function parseNetshWinHttp(output: string): WinHttpResult {
  if (/Direct access \(no proxy server\)\./i.test(output)) return { ok: true, direct: true };
  const serversLine = /Proxy Server\(s\)\s*:\s*(.*)/i.exec(output)?.[1]?.trim();
  if (!serversLine) return { ok: false, error: 'netsh winhttp show proxy printed neither "Direct access" nor "Proxy Server(s)" (not English output?)' };
  const servers: { http?: URL; https?: URL } = {};
  for (const raw of serversLine.split(/[;\s]+/).filter(Boolean)) {
    const m = /^(?:(https?)=)?(.+)$/i.exec(raw)!;
    const url = proxyUrl(m[2]!);
    if (!url) return { ok: false, error: `WinHTTP proxy "${raw}" is not host:port` };
    const scheme = m[1]?.toLowerCase() as 'http' | 'https' | undefined;
    if (scheme) servers[scheme] = url;
    else {
      servers.http ??= url;
      servers.https ??= url;
    }
  }
  const bypassLine = /Bypass List\s*:\s*(.*)/i.exec(output)?.[1]?.trim() ?? '';
  const entries = bypassLine === '(none)' ? [] : bypassLine.split(/[;\s]+/).filter(Boolean);
  return {
    ok: true,
    direct: false,
    proxy: { servers, bypassLocal: entries.some((e) => e.toLowerCase() === '<local>'), bypass: entries.filter((e) => e.toLowerCase() !== '<local>') },
  };
}

/** WinHTTP's bypass test: `<local>`, or a wildcard entry matching the host (optionally `scheme://host[:port]`). */
export function winHttpBypasses(proxy: Pick<WinHttpProxy, 'bypassLocal' | 'bypass'>, url: URL): boolean {
  if (proxy.bypassLocal && isLocalHost(url)) return true;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return proxy.bypass.some((raw) => {
    let entry = raw.toLowerCase();
    const scheme = /^([a-z]+):\/\//.exec(entry);
    if (scheme) {
      if (`${scheme[1]}:` !== url.protocol) return false;
      entry = entry.slice(scheme[0].length);
    }
    const withPort = /^(.*):(\d+)$/.exec(entry);
    if (withPort && !entry.includes('[') && (entry.match(/:/g) ?? []).length === 1) {
      if (withPort[2] !== port) return false;
      entry = withPort[1]!;
    }
    const re = new RegExp(`^${entry.replace(/^\[|\]$/g, '').replace(/[.+^${}()|[\]\\?]/g, '\\$&').replace(/\*/g, '.*')}$`);
    return re.test(host);
  });
}
