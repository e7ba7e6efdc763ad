/**
 * `npm run check:infra`: the infrastructure checks (infra-check.ts), with a Bicep CLI found or,
 * failing that, restored from NuGet into .cache/bicep (needs the .NET SDK). Exit 0 when every
 * check passes, 1 when any fails, including when no Bicep CLI can be had: this is what CI runs.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { findBicep } from './bicep.js';
import { bicepFiles, bicepProblems, checkKql, checkOptionSets, checkParametersFile, checkWorkbook, compileAndLint, readJson, type BicepFileResult } from './infra-check.js';
import { OPTION_SETS } from './options.js';

/** The repository root, from dist/infra/check/main.js or infra/check/main.ts alike. */
export function repositoryRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(join('dist', 'infra')) ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');
}

async function main(): Promise<number> {
  const root = repositoryRoot();
  const infra = join(root, 'infra');
  let failed = false;
  const section = (name: string, problems: readonly string[], detail = ''): void => {
    failed ||= problems.length > 0;
    console.log(`${problems.length === 0 ? 'ok  ' : 'FAIL'} ${name}${detail ? ` (${detail})` : ''}`);
    for (const p of problems) console.log(`     ${p}`);
  };

  section('KQL: alert rules and workbook queries against the declared workspace schema', await checkKql(infra));
  section('workbook structure', await checkWorkbook(infra));

  const found = await findBicep({ cacheDir: join(root, '.cache', 'bicep'), fetch: true });
  if ('unavailable' in found) {
    section('Bicep build and lint', [`no Bicep CLI: ${found.unavailable}`]);
    return 1;
  }
  const results: BicepFileResult[] = [];
  for (const file of await bicepFiles(infra)) results.push(await compileAndLint(found.cli, file));
  section('Bicep build and lint, zero errors and warnings', bicepProblems(results, infra), `${results.length} files, ${found.cli.description}`);

  const mainTemplate = results.find((r) => r.file === join(infra, 'main.bicep'))?.template;
  section('main.parameters.json against main.bicep', mainTemplate ? checkParametersFile(mainTemplate, await readJson(join(infra, 'main.parameters.json'))) : ['main.bicep did not compile']);

  // What each option would deploy, predicted offline (the assertions on it: test/infra/options.test.ts).
  if (found.cli.snapshot) {
    const refused = OPTION_SETS.filter((s) => s.refusal !== undefined).length;
    section('main.bicep\'s options predicted (bicep snapshot): accepted ones expand completely, refused ones say why', await checkOptionSets(found.cli, join(infra, 'main.bicep'), OPTION_SETS), `${OPTION_SETS.length - refused} accepted, ${refused} refused`);
  } else {
    section('main.bicep\'s options predicted', [`${found.cli.description} has no \`bicep snapshot\`: set WBMON_BICEP to a standalone Bicep CLI`]);
  }

  return failed ? 1 : 0;
}

process.exitCode = await main();
