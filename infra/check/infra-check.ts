/**
 * The infrastructure checks, each returning its problems as lines (empty: passed), shared by
 * `npm run check:infra` (main.ts) and the test suite (test/infra/):
 * - every KQL query (alert rules in infra/queries, workbook items) analyses without errors
 *   against the declared workspace schema;
 * - the workbook has the structure Azure expects;
 * - every Bicep file compiles and lints with zero errors and zero warnings;
 * - main.parameters.json names only parameters main.bicep declares, and every required one.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { formatDiagnostic, parseDiagnostics, type BicepCli, type BicepDiagnostic } from './bicep.js';
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
