/**
 * THIRD-PARTY-NOTICES.txt for the relay package and the Function App package: the licence of
 * every npm package esbuild put into the bundle (found from its metafile) and, for the relay, of
 * Node.js (the executable is node.exe) and WinSW (the service wrapper shipped beside it).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface BundledPackage {
  readonly name: string;
  readonly version: string;
  readonly license: string;
  readonly dir: string;
  /** The package's own licence file, when it ships one. */
  readonly licenseText: string | undefined;
}

/** The package directories behind the metafile's input paths (`node_modules/x/...`, `node_modules/@s/x/...`). */
export function packagesIn(inputs: Iterable<string>, root: string): BundledPackage[] {
  const dirs = new Set<string>();
  for (const input of inputs) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input.replace(/\\/g, '/'));
    if (m) dirs.add(m[1]!);
  }
  return [...dirs].sort().map((dir) => {
    const abs = join(root, dir);
    const pkg = JSON.parse(readFileSync(join(abs, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    const file = readdirSync(abs).find((f) => /^(licen[sc]e|copying)(\.(md|txt))?$/i.test(f));
    return {
      name: pkg.name,
      version: pkg.version,
      license: pkg.license ?? 'see the package',
      dir,
      licenseText: file ? readFileSync(join(abs, file), 'utf8').trim() : undefined,
    };
  });
}

export interface OtherComponent {
  readonly name: string;
  readonly version: string;
  readonly license: string;
  readonly text: string;
}

/** The first lines of a notices file: what it is for and what the package holds. */
export interface NoticesHeader {
  readonly title: string;
  readonly intro: string;
}

const RELAY_HEADER: NoticesHeader = {
  title: 'writeback-monitor relay: third-party notices',
  intro:
    'writeback-monitor-relay.exe is Node.js with the relay bundled into it; WritebackMonitorRelay.exe is WinSW.\n' +
    'They contain the following third-party software, under the licences below.',
};

export function noticesText(packages: readonly BundledPackage[], others: readonly OtherComponent[], header: NoticesHeader = RELAY_HEADER): string {
  const rule = '-'.repeat(78);
  const parts = [header.title, '', header.intro, ''];
  for (const o of others) parts.push(rule, `${o.name} ${o.version} (${o.license})`, rule, o.text.trim(), '');
  for (const p of packages) {
    parts.push(rule, `${p.name} ${p.version} (${p.license}), bundled from npm`, rule, p.licenseText ?? `No licence file is shipped in the package; its package.json declares ${p.license}.`, '');
  }
  return `${parts.join('\n')}\n`;
}

export function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}
