import { describe, expect, it } from 'vitest';
import { displayProxy, proxyFor, proxyFromEnvironment } from '../src/probes/proxy.js';

const target = (url: string): URL => new URL(url);

describe('proxy selection', () => {
  it('goes direct when no proxy is configured', () => {
    expect(proxyFor(target('https://a.example/'), proxyFromEnvironment({}))).toBeNull();
  });

  it('uses HTTPS_PROXY, or https_proxy when only the lower-case one is set', () => {
    expect(proxyFor(target('https://a.example/'), proxyFromEnvironment({ HTTPS_PROXY: 'http://p:3128' }))?.href).toBe('http://p:3128/');
    expect(proxyFor(target('https://a.example/'), proxyFromEnvironment({ https_proxy: 'http://q:8080' }))?.href).toBe('http://q:8080/');
  });

  it('lets the explicit setting win over HTTPS_PROXY', () => {
    const env = proxyFromEnvironment({ HTTPS_PROXY: 'http://env:3128' }, 'http://explicit:8080');
    expect(proxyFor(target('https://a.example/'), env)?.host).toBe('explicit:8080');
  });

  it.each([
    ['*', 'https://any.example/', true],
    ['a.example', 'https://a.example/', true],
    ['a.example', 'https://sub.a.example/', true],
    ['.a.example', 'https://sub.a.example/', true],
    ['*.a.example', 'https://sub.a.example/', true],
    ['a.example', 'https://ba.example/', false],
    ['a.example:443', 'https://a.example/', true],
    ['a.example:8443', 'https://a.example/', false],
    ['localhost, 127.0.0.1 ,.corp', 'https://127.0.0.1:9/', true],
    ['localhost,127.0.0.1,.corp', 'https://servicebus.windows.net/', false],
    ['[::1]', 'https://[::1]:8443/', true],
  ])('NO_PROXY=%s for %s bypasses the proxy: %s', (noProxy, url, bypassed) => {
    const env = proxyFromEnvironment({ HTTPS_PROXY: 'http://p:3128', NO_PROXY: noProxy });
    expect(proxyFor(target(url), env) === null).toBe(bypassed);
  });

  it('shows a proxy without its credentials', () => {
    expect(displayProxy(new URL('http://user:s3cret@proxy.corp:8080'))).toBe('http://proxy.corp:8080');
  });
});
