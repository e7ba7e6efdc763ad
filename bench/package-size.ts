/**
 * The Function App package (issue 15): the zipped size of dist/functionapp.zip, as
 * `npm run package` writes it from the built tree, divided by 10 MB (10,000,000 bytes), the
 * target being <= 1.0. Before the bundle the deployable was the built tree plus
 * `npm ci --omit=dev`'s node_modules, zipped 67 MB.
 *
 * Also printed: the unpacked size, the number of files, the largest chunk, and how much of the
 * unpacked code is loaded only lazily (the chunks no entry file imports statically: the Azure
 * Monitor SDK, @azure/identity, nodemailer), which a worker without telemetry never reads.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_MAX_BYTES, packageFunctionApp } from '../packaging/build-functionapp.js';
import { isMain, round } from './support.js';

export const PACKAGE_MAX_RATIO = 1.0;

export interface PackageSizeResult {
  readonly zipPath: string;
  readonly zipBytes: number;
  readonly limitBytes: number;
  /** zipBytes / limitBytes. */
  readonly ratio: number;
  readonly maxRatio: number;
  readonly unpackedBytes: number;
  readonly files: number;
  readonly chunks: number;
  readonly largestChunk: { readonly name: string; readonly bytes: number };
  /** Bytes of the chunks reachable from the entry files only through dynamic import(). */
  readonly lazyBytes: number;
}

/** Static imports of one bundled file (`import{...}from"./x.js"` and `import"./x.js"`), as file names. */
function staticImports(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/(?:^|[;\s}])import\s*(?:[\w${}\s,*]+?\s*from\s*)?["'](\.\.?\/[^"']+)["']/g)) found.push(m[1]!);
  return found;
}

export async function benchPackageSize(): Promise<PackageSizeResult> {
  // From the tree as built (npm run bench runs tsc first); writes dist/functionapp.zip.
  const r = await packageFunctionApp({ build: false });
  const sizes = new Map(r.entries.map((e) => [e, statSync(join(r.folder, e)).size]));
  const chunks = r.entries.filter((e) => e.startsWith('dist/chunks/'));
  const largest = chunks.map((name) => ({ name, bytes: sizes.get(name)! })).sort((a, b) => b.bytes - a.bytes)[0] ?? { name: '-', bytes: 0 };

  // What the entries load at once: the closure of their static imports.
  const eager = new Set<string>();
  const pending = r.entries.filter((e) => e.startsWith('dist/functions/'));
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (eager.has(file)) continue;
    eager.add(file);
    const dir = file.slice(0, file.lastIndexOf('/'));
    for (const spec of staticImports(readFileSync(join(r.folder, file), 'utf8'))) {
      const parts = [...dir.split('/'), ...spec.split('/')];
      const out: string[] = [];
      for (const p of parts) (p === '..' ? out.pop() : p !== '.' && out.push(p));
      pending.push(out.join('/'));
    }
  }
  const lazyBytes = chunks.filter((c) => !eager.has(c)).reduce((n, c) => n + sizes.get(c)!, 0);

  return {
    zipPath: r.zip,
    zipBytes: r.zipBytes,
    limitBytes: PACKAGE_MAX_BYTES,
    ratio: round(r.zipBytes / PACKAGE_MAX_BYTES, 3),
    maxRatio: PACKAGE_MAX_RATIO,
    unpackedBytes: [...sizes.values()].reduce((a, b) => a + b, 0),
    files: r.entries.length,
    chunks: chunks.length,
    largestChunk: largest,
    lazyBytes,
  };
}

export function formatPackageSize(r: PackageSizeResult): string {
  const mb = (b: number): string => `${(b / 1e6).toFixed(2)} MB`;
  return [
    `package: dist/functionapp.zip as npm run package writes it (the functions bundled, nothing to install)`,
    `  zipped ${mb(r.zipBytes)} / limit ${mb(r.limitBytes)}: ratio ${r.ratio.toFixed(3)} (target <= ${r.maxRatio.toFixed(1)})`,
    `  unpacked ${mb(r.unpackedBytes)} in ${r.files} files (${r.chunks} shared chunks; largest ${r.largestChunk.name.replace('dist/chunks/', '')} ${mb(r.largestChunk.bytes)})`,
    `  loaded only on demand (dynamic import: telemetry SDK, identity, mail): ${mb(r.lazyBytes)} of it`,
  ].join('\n');
}

if (isMain(import.meta.url)) console.log(formatPackageSize(await benchPackageSize()));
