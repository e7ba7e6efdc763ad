/** Connect's proxy, found by the relay itself: machine.config and netsh parsed from fixtures shaped like the real files. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dotnetBypass, parseMachineConfig } from '../src/relay/machine-config.js';
import { discoverProxy, machineConfigPath, routeFrom } from '../src/relay/proxy-discovery.js';
import { parseNetshWinHttp, winHttpBypasses } from '../src/relay/winhttp.js';

const fixture = (dir: string, name: string): string => readFileSync(join(import.meta.dirname, 'fixtures', dir, name), 'utf8');
const config = (name: string) => parseMachineConfig(fixture('machine-config', name));
const netsh = (name: string) => fixture('netsh', name);
const url = (u: string): URL => new URL(u);
const MACHINE_CONFIG = 'C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\Config\\machine.config';

describe('machine.config <defaultProxy>, read as .NET Framework 4 reads it', () => {
  it('without a <system.net> element (only its sectionGroup declaration) means the system default', () => {
    expect(config('default.config')).toEqual({
      ok: true,
      defaultProxy: { present: false, enabled: true, useSystemDefault: true, bypassOnLocal: undefined, bypassList: [], notes: [] },
    });
  });

  it("reads Microsoft's Connect example and ignores the commented-out section above it", () => {
    const parsed = config('connect-proxy.config');
    expect(parsed.ok && parsed.defaultProxy).toMatchObject({ present: true, enabled: true, useSystemDefault: true, bypassOnLocal: true, bypassList: [] });
    expect(parsed.ok && parsed.defaultProxy.address?.href).toBe('http://proxy.corp.example:8080/');
  });

  it('an empty <defaultProxy/> is the system default, and usesystemdefault="false" alone is direct', () => {
    expect(config('empty-default-proxy.config')).toMatchObject({ ok: true, defaultProxy: { present: true, useSystemDefault: true } });
    expect(config('direct.config')).toMatchObject({ ok: true, defaultProxy: { present: true, useSystemDefault: false } });
    expect(config('direct.config')).not.toHaveProperty('defaultProxy.address');
  });

  it('enabled="false" turns the proxy off whatever else the section says', () => {
    expect(config('disabled.config')).toMatchObject({ ok: true, defaultProxy: { enabled: false } });
  });

  it('keeps the bypass list entries as written, in order', () => {
    expect(config('bypass-list.config')).toMatchObject({
      ok: true,
      defaultProxy: {
        useSystemDefault: false,
        bypassOnLocal: false,
        bypassList: ['[a-z]+\\.contoso\\.com$', '192\\.168\\.\\d{1,3}\\.\\d{1,3}', '*.corp.example', 'https://portal\\.azure\\.com:8443', '(unclosed'],
      },
    });
  });

  it('says what it cannot follow: auto-detection and a PAC script', () => {
    expect(config('pac-script.config')).toMatchObject({
      ok: true,
      defaultProxy: { useSystemDefault: false, notes: ['autoDetect="true" (WPAD) is not followed', 'scriptLocation="http://wpad.corp.example/wpad.dat" (a PAC script) is not followed'] },
    });
  });

  it.each([
    ['bad-url.config', 'proxyaddress="http://proxy corp example:8080" is not a URL'],
    ['truncated.config', '<configuration> is never closed (a truncated file?)'],
    ['unclosed-comment.config', 'a comment (<!--) is never closed'],
  ])('refuses %s: %s', (name, error) => {
    expect(config(name)).toEqual({ ok: false, error });
  });

  it('refuses a file that is not a .NET configuration file at all', () => {
    expect(parseMachineConfig('MZ\u0090\u0000 not xml')).toEqual({ ok: false, error: 'no <configuration> element: not a .NET configuration file' });
  });
});

describe('bypass entries are .NET regular expressions against scheme://host[:port]', () => {
  it.each([
    ['[a-z]+\\.contoso\\.com$', 'https://www.contoso.com/', true],
    ['[a-z]+\\.contoso\\.com$', 'https://www.contoso.com.evil.example/', false],
    ['192\\.168\\.\\d{1,3}\\.\\d{1,3}', 'https://192.168.10.5/', true],
    ['https://portal\\.azure\\.com:8443', 'https://portal.azure.com:8443/', true],
    ['https://portal\\.azure\\.com:8443', 'https://portal.azure.com/', false],
    ['CONTOSO', 'https://contoso.example/', true],
  ])('%s matches %s: %s', (entry, target, matched) => {
    const matcher = dotnetBypass(entry);
    expect(matcher.ok && matcher.test(url(target))).toBe(matched);
  });

  it('reads a wildcard (which .NET refuses as a regex) as the wildcard it was meant to be, and says so', () => {
    const matcher = dotnetBypass('*.corp.example');
    expect(matcher).toMatchObject({ ok: true, note: 'bypasslist entry "*.corp.example" is not a .NET regular expression (.NET refuses it); read as a wildcard' });
    expect(matcher.ok && matcher.test(url('https://dc01.corp.example/'))).toBe(true);
    expect(matcher.ok && matcher.test(url('https://corp.example.evil.example/'))).toBe(false);
  });

  it('ignores an entry that is neither, and says so', () => {
    expect(dotnetBypass('(unclosed')).toEqual({ ok: false, note: 'bypasslist entry "(unclosed" is not a regular expression; ignored' });
  });
});

describe('netsh winhttp show proxy', () => {
  it('reads "Direct access (no proxy server)." as direct', () => {
    expect(parseNetshWinHttp(netsh('direct.txt'))).toEqual({ ok: true, direct: true });
  });

  it('reads one proxy for every scheme and the bypass list with <local>', () => {
    const parsed = parseNetshWinHttp(netsh('proxy-bypass.txt'));
    expect(parsed.ok && !parsed.direct && { https: parsed.proxy.servers.https?.href, http: parsed.proxy.servers.http?.href, local: parsed.proxy.bypassLocal, bypass: parsed.proxy.bypass }).toEqual({
      https: 'http://proxy.corp.example:8080/',
      http: 'http://proxy.corp.example:8080/',
      local: true,
      bypass: ['*.corp.example', '10.*'],
    });
  });

  it('reads per-scheme proxies (http=...;https=...) and "(none)" as no bypass', () => {
    const parsed = parseNetshWinHttp(netsh('per-scheme.txt'));
    expect(parsed.ok && !parsed.direct && { https: parsed.proxy.servers.https?.href, http: parsed.proxy.servers.http?.href, bypass: parsed.proxy.bypass }).toEqual({
      https: 'http://secureproxy.corp.example:8443/',
      http: 'http://webproxy.corp.example:8080/',
      bypass: [],
    });
  });

  it('takes port 80 when the proxy names none, as WinHTTP does', () => {
    const parsed = parseNetshWinHttp(netsh('no-port.txt'));
    const server = parsed.ok && !parsed.direct ? parsed.proxy.servers.https : undefined;
    expect([server?.href, Number(server?.port || 80)]).toEqual(['http://proxy.corp.example/', 80]);
  });

  it('says so when the output is not English', () => {
    expect(parseNetshWinHttp(netsh('german.txt'))).toEqual({ ok: false, error: 'netsh winhttp show proxy printed neither "Direct access" nor "Proxy Server(s)" (not English output?)' });
  });

  it.each([
    ['https://dc01/', true],
    ['https://app.corp.example/', true],
    ['https://10.1.2.3/', true],
    ['https://ssprdedicatedsbprodscu.servicebus.windows.net/', false],
  ])('the bypass list <local>;*.corp.example;10.* sends %s direct: %s', (target, bypassed) => {
    expect(winHttpBypasses({ bypassLocal: true, bypass: ['*.corp.example', '10.*'] }, url(target))).toBe(bypassed);
  });
});

describe('proxy discovery, in order of precedence', () => {
  const onWindows = (files: Record<string, string>, netshOutput = netsh('direct.txt')) => {
    const asked: string[] = [];
    return {
      asked,
      io: {
        platform: 'win32' as const,
        readFile: async (path: string) => {
          asked.push(path);
          if (!(path in files)) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
          return files[path]!;
        },
        run: async (file: string, args: string[]) => {
          asked.push([file, ...args].join(' '));
          return netshOutput;
        },
      },
    };
  };
  const settings = (env: Record<string, string> = {}, proxyUrl?: string) => ({ env: { WINDIR: 'C:\\Windows', ...env }, proxyUrl, proxyDiscovery: true });
  const sb = url('https://ssprdedicatedsbprodscu.servicebus.windows.net/');

  it("reads the 64-bit .NET Framework 4 machine.config under %WINDIR%", () => {
    expect(machineConfigPath({ WINDIR: 'D:\\WINDOWS' })).toBe('D:\\WINDOWS\\Microsoft.NET\\Framework64\\v4.0.30319\\Config\\machine.config');
    expect(machineConfigPath({})).toBe(MACHINE_CONFIG);
  });

  it('WBMON_PROXY_URL wins over HTTPS_PROXY, which wins over machine.config', async () => {
    const { io, asked } = onWindows({ [MACHINE_CONFIG]: fixture('machine-config', 'connect-proxy.config') });
    const explicit = await discoverProxy(settings({ HTTPS_PROXY: 'http://env.corp.example:3128' }, 'http://user:pw@explicit.corp.example:8080'), io);
    expect([explicit.source, explicit.proxy, explicit.proxyFor(sb)?.host]).toEqual(['WBMON_PROXY_URL', 'http://explicit.corp.example:8080', 'explicit.corp.example:8080']);
    const env = await discoverProxy(settings({ HTTPS_PROXY: 'http://env.corp.example:3128' }), io);
    expect([env.source, env.proxy]).toEqual(['HTTPS_PROXY', 'http://env.corp.example:3128']);
    expect(asked).toEqual([]);
  });

  it("takes machine.config's proxyaddress over WinHTTP's, with bypassonlocal sending intranet names direct", async () => {
    const { io, asked } = onWindows({ [MACHINE_CONFIG]: fixture('machine-config', 'connect-proxy.config') }, netsh('per-scheme.txt'));
    const route = await discoverProxy(settings(), io);
    expect([route.source, route.proxy, route.problems]).toEqual(['machine.config', 'http://proxy.corp.example:8080', []]);
    expect(route.proxyFor(sb)?.href).toBe('http://proxy.corp.example:8080/');
    expect(route.proxyFor(url('https://dc01/'))).toBeNull();
    expect(route.proxyFor(url('https://127.0.0.1:8443/'))).toBeNull();
    expect(asked).toEqual([MACHINE_CONFIG, 'netsh winhttp show proxy']);
  });

  it('applies the bypass list of machine.config and reports the entries it had to read as wildcards or ignore', async () => {
    const { io } = onWindows({ [MACHINE_CONFIG]: fixture('machine-config', 'bypass-list.config') });
    const route = await discoverProxy(settings(), io);
    expect(route.problems).toEqual([
      `${MACHINE_CONFIG}: bypasslist entry "*.corp.example" is not a .NET regular expression (.NET refuses it); read as a wildcard`,
      `${MACHINE_CONFIG}: bypasslist entry "(unclosed" is not a regular expression; ignored`,
    ]);
    expect(['https://login.contoso.com/', 'https://dc01.corp.example/', 'https://dc01/', sb.href].map((t) => route.proxyFor(url(t))?.host ?? 'direct')).toEqual([
      'direct',
      'direct',
      'proxy.corp.example:3128',
      'proxy.corp.example:3128',
    ]);
  });

  it("takes WinHTTP's proxy when machine.config says to use the system default, per scheme", async () => {
    const { io } = onWindows({ [MACHINE_CONFIG]: fixture('machine-config', 'empty-default-proxy.config') }, netsh('per-scheme.txt'));
    const route = await discoverProxy(settings(), io);
    expect([route.source, route.proxy, route.proxyFor(sb)?.host, route.proxyFor(url('http://crl.example/'))?.host]).toEqual([
      'winhttp',
      'http://secureproxy.corp.example:8443',
      'secureproxy.corp.example:8443',
      'webproxy.corp.example:8080',
    ]);
  });

  it("lets machine.config's bypass list replace WinHTTP's over the system default", async () => {
    const { io } = onWindows({ [MACHINE_CONFIG]: fixture('machine-config', 'system-default-with-bypass.config') }, netsh('proxy-bypass.txt'));
    const route = await discoverProxy(settings(), io);
    expect(['https://app.corp.example/', 'https://10.1.2.3/', 'https://dc01/', sb.href].map((t) => route.proxyFor(url(t))?.host ?? 'direct')).toEqual([
      'direct',
      'proxy.corp.example:8080',
      'direct',
      'proxy.corp.example:8080',
    ]);
  });

  it('says WinHTTP decided direct when it has no proxy, and machine.config when it turns the proxy off', async () => {
    const system = await discoverProxy(settings(), onWindows({ [MACHINE_CONFIG]: fixture('machine-config', 'default.config') }).io);
    expect([system.source, system.proxy, system.proxyFor(sb)]).toEqual(['winhttp', null, null]);
    const off = await discoverProxy(settings(), onWindows({ [MACHINE_CONFIG]: fixture('machine-config', 'disabled.config') }).io);
    expect([off.source, off.proxy, off.proxyFor(sb)]).toEqual(['machine.config', null, null]);
  });

  it('falls back to no proxy with one line naming the file when machine.config cannot be parsed or read', async () => {
    const broken = await discoverProxy(settings(), onWindows({ [MACHINE_CONFIG]: fixture('machine-config', 'truncated.config') }).io);
    expect([broken.source, broken.proxy, broken.proxyFor(sb), broken.problems]).toEqual([
      'none',
      null,
      null,
      [`${MACHINE_CONFIG}: cannot be parsed (<configuration> is never closed (a truncated file?)); going direct`],
    ]);
    const missing = await discoverProxy(settings(), onWindows({}).io);
    expect(missing.problems).toEqual([`${MACHINE_CONFIG}: cannot be read (ENOENT); going direct`]);
  });

  it('keeps the system default direct and says why when netsh prints something it cannot read', async () => {
    const route = await discoverProxy(settings(), onWindows({ [MACHINE_CONFIG]: fixture('machine-config', 'default.config') }, netsh('german.txt')).io);
    expect([route.source, route.proxy, route.problems]).toEqual([
      'winhttp',
      null,
      ['netsh winhttp show proxy printed neither "Direct access" nor "Proxy Server(s)" (not English output?); taking no system proxy'],
    ]);
  });

  it('reads nothing elsewhere than Windows, nor when WBMON_PROXY_DISCOVERY is off', async () => {
    const { io, asked } = onWindows({ [MACHINE_CONFIG]: fixture('machine-config', 'connect-proxy.config') });
    expect((await discoverProxy(settings(), { ...io, platform: 'linux' })).source).toBe('none');
    expect((await discoverProxy({ ...settings(), proxyDiscovery: false }, io)).source).toBe('none');
    expect(asked).toEqual([]);
  });

  it('routeFrom is pure: a proxyaddress with no system default ignores WinHTTP entirely', () => {
    const parsed = config('loopback-proxy.config');
    if (!parsed.ok) throw new Error(parsed.error);
    const route = routeFrom(parsed.defaultProxy, { servers: {}, bypassLocal: true, bypass: ['*'] });
    expect(route.proxyFor(url('https://localhost:8443/'))?.href).toBe('http://proxy.corp.example:8080/');
  });
});
