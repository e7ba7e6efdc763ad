/**
 * `npm run package:relay`: the bundle holds the relay side only, the zip writer writes what
 * unzip programs read, the signature is removed before injection, and the built zip (when
 * present) holds what docs/relay.md says it holds.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleRelay, FORBIDDEN } from '../packaging/build-relay.js';
import { noticesText, packagesIn } from '../packaging/notices.js';
import { signatureSize, stripSignature } from '../packaging/pe.js';
import { fileFromTgz } from '../packaging/tar.js';
import { readZip as readZipEntries } from '../packaging/unzip.js';
import { writeZip } from '../packaging/zip.js';

const ROOT = join(import.meta.dirname, '..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** packaging/unzip.ts reads from the zip specification, independently of packaging/zip.ts, and checks each CRC. */
function readZip(zip: Buffer): Map<string, Buffer> {
  return new Map(readZipEntries(zip).map((e) => [e.name, e.data]));
}

describe('the relay bundle', () => {
  it('holds the relay side of the CLI and nothing of the Function App side', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wbmon-bundle-'));
    dirs.push(dir);
    const { inputs } = await bundleRelay(join(dir, 'relay.cjs'));
    const packages = [...new Set(packagesIn(inputs, ROOT).map((p) => p.name))];
    expect(packages.sort()).toEqual(['undici', 'zod']);
    expect(inputs.filter((i) => FORBIDDEN.test(i))).toEqual([]);
    expect(inputs).toContain('dist/src/telemetry/tracing-off.js');
    expect(inputs).not.toContain('dist/src/telemetry/tracing.js');
    // Pure modules the settings share (maintenance windows, the store's key helpers) may come along; no I/O of the monitor.
    expect(inputs.filter((i) => /dist\/(functions\/|src\/(local|alerting\/channels|graph|host|telemetry\/(setup|availability|metrics))|src\/store\/table)/.test(i))).toEqual([]);
    expect(inputs).toContain('dist/src/relay/agent.js');
  }, 60_000);

  it('the no-op tracing stand-in has the same exports as the tracing module it replaces', async () => {
    const real = await import('../src/telemetry/tracing.js');
    const off = await import('../src/telemetry/tracing-off.js');
    expect(Object.keys(off).sort()).toEqual(Object.keys(real).sort());
    expect(off.SpanKind).toEqual(real.SpanKind);
    await expect(off.inSpan('x', {}, async (span) => (span.isRecording() ? 'recording' : 'not recording'))).resolves.toBe('not recording');
    await expect(off.inSpan('x', {}, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });
});

describe('the zip writer', () => {
  it('writes deflated and stored entries that a reader following the specification gets back byte for byte', () => {
    const text = Buffer.from('hello relay\r\n'.repeat(1000));
    const random = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251));
    const noise = gzipSync(random); // incompressible: stored
    const zip = writeZip([
      { name: 'a.txt', data: text },
      { name: 'dir/ünïcode.bin', data: noise },
      { name: 'empty', data: Buffer.alloc(0) },
    ]);
    const files = readZip(zip);
    expect([...files.keys()]).toEqual(['a.txt', 'dir/ünïcode.bin', 'empty']);
    expect(files.get('a.txt')!.equals(text)).toBe(true);
    expect(files.get('dir/ünïcode.bin')!.equals(noise)).toBe(true);
    expect(files.get('empty')!.length).toBe(0);
    expect(zip.length).toBeLessThan(text.length);
  });

  it('refuses names that would escape the folder it is unpacked into', () => {
    expect(() => writeZip([{ name: '../x', data: Buffer.alloc(1) }])).toThrow(/bad entry name/);
    expect(() => writeZip([{ name: '/x', data: Buffer.alloc(1) }])).toThrow(/bad entry name/);
    expect(() => writeZip([{ name: 'a\\b', data: Buffer.alloc(1) }])).toThrow(/bad entry name/);
  });
});

describe('reading an npm tarball', () => {
  function tarEntry(name: string, data: Buffer): Buffer {
    const header = Buffer.alloc(512);
    header.write(name, 0);
    header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    header.write('0', 156);
    return Buffer.concat([header, data, Buffer.alloc(Math.ceil(data.length / 512) * 512 - data.length)]);
  }
  it('finds one file among others', () => {
    const tgz = gzipSync(Buffer.concat([tarEntry('package/package.json', Buffer.from('{}')), tarEntry('package/bin/node.exe', Buffer.from('MZ...')), Buffer.alloc(1024)]));
    expect(fileFromTgz(tgz, 'package/bin/node.exe').toString()).toBe('MZ...');
    expect(() => fileFromTgz(tgz, 'package/missing')).toThrow(/not in the tarball/);
  });
});

describe('removing the Authenticode signature', () => {
  function fakePe(signature: number): Buffer {
    const pe = Buffer.alloc(0x400 + signature);
    pe.writeUInt16LE(0x5a4d, 0);
    pe.writeUInt32LE(0x80, 0x3c);
    pe.writeUInt32LE(0x00004550, 0x80);
    pe.writeUInt16LE(0x20b, 0x80 + 24);
    const security = 0x80 + 24 + 112 + 32;
    if (signature) {
      pe.writeUInt32LE(0x400, security);
      pe.writeUInt32LE(signature, security + 4);
    }
    return pe;
  }
  it('clears the certificate table entry and cuts the certificate off the end', () => {
    const signed = fakePe(0x200);
    expect(signatureSize(signed)).toBe(0x200);
    const stripped = stripSignature(signed);
    expect(signatureSize(stripped)).toBe(0);
    expect(stripped.length).toBe(0x400);
  });
  it('leaves an unsigned file as it is and refuses what is not a PE file', () => {
    const unsigned = fakePe(0);
    expect(stripSignature(unsigned)).toBe(unsigned);
    expect(() => stripSignature(Buffer.alloc(0x100))).toThrow(/not a PE file/);
  });
});

describe('third-party notices', () => {
  it('carry the licence text of every bundled package and of the other components', () => {
    const packages = packagesIn(['node_modules/undici/index.js', 'node_modules/undici/lib/x.js', 'node_modules/zod/v4/index.js', 'dist/src/cli.js'], ROOT);
    expect(packages.map((p) => [p.name, p.license])).toEqual([
      ['undici', 'MIT'],
      ['zod', 'MIT'],
    ]);
    const text = noticesText(packages, [{ name: 'WinSW', version: '1.17.0', license: 'MIT', text: 'The MIT License (WinSW)' }]);
    expect(text).toContain(`undici ${packages[0]!.version} (MIT), bundled from npm`);
    expect(text).toContain(packages[0]!.licenseText!.split('\n')[0]!);
    expect(text).toContain('The MIT License (WinSW)');
  });
});

const ZIP = join(ROOT, 'dist', 'relay', `writeback-monitor-relay-${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}-win-x64.zip`);
describe.skipIf(!existsSync(ZIP))('the built package (npm run package:relay; .ci/run builds it)', () => {
  it('holds the exe, the installer, the README, the notices and WinSW with its licence', () => {
    const files = readZip(readFileSync(ZIP));
    expect([...files.keys()].sort()).toEqual(
      ['Install-WritebackRelay.ps1', 'README.txt', 'THIRD-PARTY-NOTICES.txt', 'WinSW-LICENSE.txt', 'WinSW.exe', 'WinSW.exe.config', 'writeback-monitor-relay.exe'].sort(),
    );
    const exe = files.get('writeback-monitor-relay.exe')!;
    expect(exe.readUInt16LE(0)).toBe(0x5a4d);
    expect(signatureSize(exe)).toBe(0);
    expect(exe.includes('NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1')).toBe(true);
    const notices = files.get('THIRD-PARTY-NOTICES.txt')!.toString('utf8');
    for (const name of ['Node.js', 'WinSW', 'undici', 'zod']) expect(notices).toContain(name);
    // Windows PowerShell 5.1 needs the BOM to read the script as UTF-8.
    expect([...files.get('Install-WritebackRelay.ps1')!.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  });
});
