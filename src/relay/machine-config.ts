/**
 * The proxy Entra Connect's ADSync service uses: the `<system.net><defaultProxy>` of the 64-bit
 * .NET Framework machine.config (%WINDIR%\Microsoft.NET\Framework64\v4.0.30319\Config\
 * machine.config), read as .NET Framework 4 reads it (System.Net.Configuration,
 * DefaultProxySectionInternal):
 *
 *  - `enabled="false"`: no proxy at all;
 *  - nothing set (no element, an empty one, or only `usesystemdefault` left unspecified): the
 *    system default; `usesystemdefault="false"` alone: direct;
 *  - `usesystemdefault="true"`: the system default, with `proxyaddress`, `bypassonlocal` and the
 *    bypass list, when given, replacing what the system default says;
 *  - otherwise an empty proxy that `proxyaddress`, `bypassonlocal` and the bypass list fill in
 *    (no `proxyaddress`: direct).
 *
 * Bypass entries are .NET regular expressions, matched (unanchored, ignoring case) against
 * `scheme://host` or `scheme://host:port` when the port is not the scheme's default. Pure: the
 * file's text in, a description out; src/relay/proxy-discovery.ts reads the file.
 */

export type Tristate = boolean | undefined;

export interface DefaultProxy {
  /** `<defaultProxy>` was in the file (false: the .NET defaults apply). */
  readonly present: boolean;
  /** `enabled`; false means no proxy, whatever else is said. */
  readonly enabled: boolean;
  /** Start from the system default proxy (WinHTTP's, for the relay) rather than from none. */
  readonly useSystemDefault: boolean;
  readonly address?: URL;
  /** `bypassonlocal`; undefined when unspecified (the base's value stands). */
  readonly bypassOnLocal: Tristate;
  /** `<bypasslist><add address="..."/>` entries as written; empty when there is none. */
  readonly bypassList: readonly string[];
  /** What was read but cannot be followed here (PAC scripts, auto-detection, modules). */
  readonly notes: readonly string[];
}

export type MachineConfigResult = { readonly ok: true; readonly defaultProxy: DefaultProxy } | { readonly ok: false; readonly error: string };

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescape(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ENTITIES[e.toLowerCase()] ?? '';
  });
}

/** Attributes of one start tag, names lower-cased (.NET's configuration names are case-sensitive, but writers vary). */
function attributes(tag: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const m of tag.matchAll(/([A-Za-z_][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) found.set(m[1]!.toLowerCase(), unescape(m[2] ?? m[3] ?? ''));
  return found;
}

/** The body of the first `<name ...>...</name>` (or self-closed `<name .../>`) inside `xml`. */
function element(xml: string, name: string): { tag: string; body: string } | undefined | 'unclosed' {
  const escaped = name.replace(/\./g, '\\.');
  const start = new RegExp(`<${escaped}(?=[\\s/>])[^>]*>`, 'i').exec(xml);
  if (!start) return undefined;
  const tag = start[0];
  if (tag.endsWith('/>')) return { tag, body: '' };
  const from = start.index + tag.length;
  const end = new RegExp(`</${escaped}\\s*>`, 'i').exec(xml.slice(from));
  if (!end) return 'unclosed';
  return { tag, body: xml.slice(from, from + end.index) };
}

function tristate(value: string | undefined, attribute: string, problems: string[]): Tristate {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v === 'unspecified' || v === '') return undefined;
  problems.push(`${attribute}="${value}" is not true, false or unspecified`);
  return undefined;
}

export function parseMachineConfig(xml: string): MachineConfigResult {
  const text = xml.replace(/^\uFEFF/, '');
  const unterminated = text.lastIndexOf('<!--') > text.lastIndexOf('-->');
  if (unterminated) return { ok: false, error: 'a comment (<!--) is never closed' };
  const bare = text.replace(/<!--[\s\S]*?-->/g, '').replace(/<\?[\s\S]*?\?>/g, '');
  const configuration = element(bare, 'configuration');
  if (configuration === undefined) return { ok: false, error: 'no <configuration> element: not a .NET configuration file' };
  if (configuration === 'unclosed') return { ok: false, error: '<configuration> is never closed (a truncated file?)' };
  const defaults: DefaultProxy = { present: false, enabled: true, useSystemDefault: true, bypassOnLocal: undefined, bypassList: [], notes: [] };

  // <configSections> declares <sectionGroup name="system.net">: only the element itself counts.
  const systemNet = element(configuration.body, 'system.net');
  if (systemNet === 'unclosed') return { ok: false, error: '<system.net> is never closed' };
  if (!systemNet) return { ok: true, defaultProxy: defaults };
  const section = element(systemNet.body, 'defaultProxy');
  if (section === 'unclosed') return { ok: false, error: '<defaultProxy> is never closed' };
  if (!section) return { ok: true, defaultProxy: defaults };

  const problems: string[] = [];
  const notes: string[] = [];
  const own = attributes(section.tag);
  if (own.has('configsource')) notes.push(`defaultProxy configSource="${own.get('configsource')}" is not followed`);
  const enabled = tristate(own.get('enabled'), 'enabled', problems) ?? true;

  const proxyElement = element(section.body, 'proxy');
  if (proxyElement === 'unclosed') return { ok: false, error: '<proxy> is never closed' };
  const proxy = proxyElement ? attributes(proxyElement.tag) : new Map<string, string>();
  const useSystem = tristate(proxy.get('usesystemdefault'), 'usesystemdefault', problems);
  const bypassOnLocal = tristate(proxy.get('bypassonlocal'), 'bypassonlocal', problems);
  const autoDetect = tristate(proxy.get('autodetect'), 'autoDetect', problems);
  const script = proxy.get('scriptlocation');
  if (autoDetect === true) notes.push('autoDetect="true" (WPAD) is not followed');
  if (script) notes.push(`scriptLocation="${script}" (a PAC script) is not followed`);
  const module = element(section.body, 'module');
  const moduleType = module && module !== 'unclosed' ? attributes(module.tag).get('type') : undefined;
  if (moduleType) notes.push(`module type="${moduleType}" (a custom proxy module) is not followed`);

  let address: URL | undefined;
  const rawAddress = proxy.get('proxyaddress')?.trim();
  if (rawAddress) {
    try {
      address = new URL(rawAddress);
    } catch {
      return { ok: false, error: `proxyaddress="${rawAddress}" is not a URL` };
    }
    if (address.protocol !== 'http:' && address.protocol !== 'https:') return { ok: false, error: `proxyaddress="${rawAddress}" is not an http URL` };
  }
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };

  const bypassList: string[] = [];
  const bypass = element(section.body, 'bypasslist');
  if (bypass === 'unclosed') return { ok: false, error: '<bypasslist> is never closed' };
  for (const m of (bypass?.body ?? '').matchAll(/<(add|remove|clear)(?=[\s/>])[^>]*>/gi)) {
    const kind = m[1]!.toLowerCase();
    const entry = attributes(m[0]).get('address');
    if (kind === 'clear') bypassList.length = 0;
    else if (kind === 'remove' && entry !== undefined) bypassList.splice(0, bypassList.length, ...bypassList.filter((e) => e !== entry));
    else if (kind === 'add' && entry !== undefined && entry.trim()) bypassList.push(entry.trim());
  }

  // The test .NET makes before anything else: is anything set at all?
  const nothingSet = autoDetect === undefined && !script && !moduleType && useSystem !== true && !address && bypassOnLocal === undefined && bypassList.length === 0;
  const useSystemDefault = nothingSet ? useSystem !== false : useSystem === true && autoDetect === undefined && !script;
  return {
    ok: true,
    defaultProxy: { present: true, enabled, useSystemDefault, ...(address && { address }), bypassOnLocal, bypassList, notes },
  };
}

/** One bypass entry as a matcher, or why it cannot be one. */
export type BypassMatcher = { readonly ok: true; readonly test: (url: URL) => boolean; readonly note?: string } | { readonly ok: false; readonly note: string };

/**
 * A .NET bypass entry as a JavaScript regular expression. The common .NET syntax is the same
 * (character classes, \d, quantifiers, anchors). An entry written as a wildcard (`*.corp.example`)
 * is not a valid regular expression and .NET refuses it; it is read here as the wildcard it was
 * meant to be, and said so.
 */
export function dotnetBypass(entry: string): BypassMatcher {
  try {
    const re = new RegExp(entry, 'i');
    return { ok: true, test: (url) => re.test(bypassSubject(url)) };
  } catch {
    if (/^[\w.*?:-]+$/.test(entry) && entry.includes('*')) {
      const re = new RegExp(`^(?:[a-z][a-z0-9+.-]*://)?${entry.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
      return { ok: true, test: (url) => re.test(bypassSubject(url)), note: `bypasslist entry "${entry}" is not a .NET regular expression (.NET refuses it); read as a wildcard` };
    }
    return { ok: false, note: `bypasslist entry "${entry}" is not a regular expression; ignored` };
  }
}

/** What .NET matches bypass entries against: `scheme://host`, plus `:port` when it is not the default. */
export function bypassSubject(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/** .NET's "local": a host name without a dot (an intranet name), or a loopback address. */
export function isLocalHost(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (/^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1') return true;
  return !host.includes('.') && !host.includes(':');
}
