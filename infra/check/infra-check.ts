/**
 * The infrastructure checks, each returning its problems as lines (empty: passed), shared by
 * `npm run check:infra` (main.ts) and the test suite (test/infra/):
 * - every KQL query (alert rules in infra/queries, workbook items) analyses without errors
 *   against the declared workspace schema;
 * - the workbook has the structure Azure expects;
 * - every Bicep file compiles and lints with zero errors and zero warnings;
 * - every option set of options.ts, predicted by `bicep snapshot`, is accepted or refused as it should be;
 * - main.parameters.json names only parameters main.bicep declares, and every required one.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { formatDiagnostic, parseDiagnostics, type BicepCli, type BicepDiagnostic, type SnapshotScope } from './bicep.js';
import { analyzeKql, formatKqlProblem } from './kql.js';
import { checkWorkbookStructure, workbookQueries } from './workbook.js';

export const WORKBOOK_FILE = join('workbook', 'writeback-monitor.workbook.json');

export interface KqlSource {
  /** Where the query lives, for messages: a file, or a file and a workbook item. */
  readonly where: string;
  readonly query: string;
}

/** Every .kql file under infra/ and every query of the workbook. */
export async function kqlSources(infraDir: string): Promise<KqlSource[]> {
  const sources: KqlSource[] = [];
  for (const file of await filesUnder(infraDir, '.kql')) {
    sources.push({ where: relative(infraDir, file), query: await readFile(file, 'utf8') });
  }
  const workbook = await readJson(join(infraDir, WORKBOOK_FILE));
  for (const q of workbookQueries(workbook)) sources.push({ where: `${WORKBOOK_FILE} ${q.where}`, query: q.query });
  return sources;
}

/** Analyzer errors fail; its warnings are reported too, since a rule that "works" wrongly is worse. */
export async function checkKql(infraDir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const source of await kqlSources(infraDir)) {
    for (const p of analyzeKql(source.query)) problems.push(`${source.where}:${formatKqlProblem(p)}`);
  }
  return problems;
}

export async function checkWorkbook(infraDir: string): Promise<string[]> {
  return checkWorkbookStructure(await readJson(join(infraDir, WORKBOOK_FILE))).map((p) => `${WORKBOOK_FILE}: ${p}`);
}

/** main.bicep first, then the modules, in a stable order. */
export async function bicepFiles(infraDir: string): Promise<string[]> {
  const rank = (file: string): number => (relative(infraDir, file) === 'main.bicep' ? 0 : 1);
  return (await filesUnder(infraDir, '.bicep')).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export interface BicepFileResult {
  readonly file: string;
  /** The compiled ARM template, when the build succeeded. */
  readonly template: ArmTemplate | undefined;
  /** Errors and warnings from build and lint together, each once. */
  readonly diagnostics: readonly BicepDiagnostic[];
  /** A failure that produced no diagnostic (the CLI crashed, say). */
  readonly failure: string | undefined;
}

export interface ArmTemplate {
  readonly parameters?: Record<string, { type: string; defaultValue?: unknown; nullable?: boolean }>;
  readonly resources?: unknown;
  readonly variables?: Record<string, unknown>;
  readonly outputs?: Record<string, unknown>;
  readonly [key: string]: unknown;
}

export async function compileAndLint(cli: BicepCli, file: string): Promise<BicepFileResult> {
  const out = await mkdtemp(join(tmpdir(), 'wbmon-bicep-'));
  try {
    const outFile = join(out, 'template.json');
    const build = await cli.build(file, outFile);
    const lint = await cli.lint(file);
    const diagnostics = parseDiagnostics(`${build.stdout}\n${build.stderr}\n${lint.stdout}\n${lint.stderr}`).filter((d) => d.severity !== 'Info');
    let template: ArmTemplate | undefined;
    if (build.code === 0) template = (await readJson(outFile)) as ArmTemplate;
    const failure =
      (build.code !== 0 || lint.code !== 0) && diagnostics.length === 0
        ? `bicep exited with ${build.code !== 0 ? `build ${build.code}` : `lint ${lint.code}`}: ${(build.stderr || lint.stderr || build.stdout).trim().slice(0, 500)}`
        : undefined;
    return { file, template, diagnostics, failure };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

export function bicepProblems(results: readonly BicepFileResult[], infraDir: string): string[] {
  const problems: string[] = [];
  for (const r of results) {
    if (r.failure) problems.push(`${relative(infraDir, r.file)}: ${r.failure}`);
    for (const d of r.diagnostics) problems.push(formatDiagnostic({ ...d, file: relative(infraDir, d.file) || d.file }));
  }
  return [...new Set(problems)];
}

/**
 * The parameters file against the compiled main template: azd and `az deployment group create`
 * both refuse a parameter the template does not declare, and prompt or fail on a missing one.
 */
export function checkParametersFile(template: ArmTemplate, parametersFile: unknown): string[] {
  const declared = template.parameters ?? {};
  const given = (parametersFile as { parameters?: Record<string, unknown> } | null)?.parameters;
  if (typeof given !== 'object' || given === null) return ['main.parameters.json: no "parameters" object'];
  const problems: string[] = [];
  for (const name of Object.keys(given)) {
    if (!(name in declared)) problems.push(`main.parameters.json: "${name}" is not a parameter of main.bicep`);
  }
  for (const [name, p] of Object.entries(declared)) {
    if (p.defaultValue === undefined && !p.nullable && !(name in given)) {
      problems.push(`main.parameters.json: main.bicep's required parameter "${name}" is missing`);
    }
  }
  return problems;
}

async function filesUnder(dir: string, extension: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(extension))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

export async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8'));
}

/** The subscription, tenant and resource group a predicted deployment pretends to go to. */
export const PREDICTION_SCOPE: SnapshotScope = {
  subscriptionId: '00000000-0000-0000-0000-0000000000aa',
  tenantId: '00000000-0000-0000-0000-0000000000bb',
  resourceGroup: 'rg-wbmon-check',
  location: 'westeurope',
};

export type ParameterValue = string | number | boolean | readonly ParameterValue[] | { readonly [key: string]: ParameterValue };

/** One resource as `bicep snapshot` predicts it: expressions it could not evaluate stay as `[...]` text. */
export interface PredictedResource {
  readonly id?: string;
  readonly type: string;
  readonly name: string;
  readonly apiVersion?: string;
  readonly location?: string;
  readonly kind?: string;
  readonly sku?: Record<string, unknown>;
  readonly tags?: Record<string, string>;
  readonly properties?: Record<string, any>;
  readonly [key: string]: unknown;
}

export type Prediction =
  | { readonly resources: readonly PredictedResource[]; readonly diagnostics: readonly string[]; readonly outputs: Record<string, unknown> }
  | { readonly refused: string };

/** A value as Bicep source: strings single-quoted with `'` and `\` escaped. */
export function bicepLiteral(value: ParameterValue): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\$\{/g, '\\${')}'`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[\n${value.map((v) => `  ${bicepLiteral(v)}`).join('\n')}\n]`;
  const entries = Object.entries(value as Record<string, ParameterValue>);
  return `{\n${entries.map(([k, v]) => `  '${k}': ${bicepLiteral(v)}`).join('\n')}\n}`;
}

/**
 * What deploying `mainFile` with each of `parameterSets` would make, predicted offline by
 * `bicep snapshot` in PREDICTION_SCOPE: the resources of every module expanded, conditions
 * decided, and a `fail()` of the template (a combination it refuses) reported as `refused` with
 * its message. The template is compiled once and each set predicted from the JSON, a few at a
 * time (each snapshot is a .NET process that takes a core).
 */
export async function predictDeployments(cli: BicepCli, mainFile: string, parameterSets: readonly Readonly<Record<string, ParameterValue>>[]): Promise<Prediction[]> {
  const snapshot = cli.snapshot;
  if (!snapshot) return parameterSets.map(() => ({ refused: `${cli.description} cannot predict a deployment (no \`bicep snapshot\`)` }));
  const dir = await mkdtemp(join(tmpdir(), 'wbmon-snapshot-'));
  try {
    const template = join(dir, 'main.json');
    const build = await cli.build(mainFile, template);
    if (build.code !== 0) return parameterSets.map(() => ({ refused: `${basename(mainFile)} did not compile: ${(build.stderr || build.stdout).trim()}` }));
    const predictOne = async (parameters: Readonly<Record<string, ParameterValue>>, i: number): Promise<Prediction> => {
      const paramsFile = join(dir, `set-${i}.bicepparam`);
      // `using` takes a relative path only.
      const lines = ["using './main.json'", ...Object.entries(parameters).map(([name, value]) => `param ${name} = ${bicepLiteral(value)}`)];
      await writeFile(paramsFile, `${lines.join('\n')}\n`);
      const run = await snapshot(paramsFile, PREDICTION_SCOPE);
      if (run.code !== 0) return { refused: (run.stderr || run.stdout).trim() };
      const predicted = (await readJson(join(dir, `set-${i}.snapshot.json`))) as { predictedResources?: PredictedResource[]; diagnostics?: string[]; outputs?: Record<string, unknown> };
      return { resources: predicted.predictedResources ?? [], diagnostics: predicted.diagnostics ?? [], outputs: predicted.outputs ?? {} };
    };
    const results: Prediction[] = new Array(parameterSets.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < parameterSets.length) {
        const i = next++;
        results[i] = await predictOne(parameterSets[i]!, i);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(availableParallelism(), parameterSets.length)) }, worker));
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Every option set predicted (in parallel, one `bicep snapshot` each): one line per accepted set
 * that refused or did not expand completely (a diagnostic such as a short-circuited module), and
 * per refused set that was accepted or refused for another reason.
 */
export async function checkOptionSets(cli: BicepCli, mainFile: string, sets: readonly { name: string; parameters: Readonly<Record<string, ParameterValue>>; refusal?: string }[]): Promise<string[]> {
  const predictions = await predictDeployments(cli, mainFile, sets.map((set) => set.parameters));
  return sets.flatMap((set, i) => {
    const p = predictions[i]!;
    if (set.refusal === undefined) {
      if ('refused' in p) return [`${set.name}: refused: ${p.refused}`];
      return p.diagnostics.map((d) => `${set.name}: ${d.trim()}`);
    }
    if (!('refused' in p)) return [`${set.name}: accepted, but must be refused (${set.refusal})`];
    return p.refused.includes(set.refusal) ? [] : [`${set.name}: refused for another reason than "${set.refusal}": ${p.refused}`];
  });
}
