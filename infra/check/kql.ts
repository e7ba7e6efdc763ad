/**
 * Offline KQL analysis against the declared workspace tables (appinsights-schema.ts), with
 * Microsoft's Kusto language service (@kusto/language-service-next, the Bridge.NET build of
 * Kusto.Language). It finds what the portal would reject when a rule or workbook runs: syntax
 * errors, unknown tables, columns and functions, and type errors; never data problems.
 *
 * The package is two scripts that define globals (`Bridge`, `System`, `Kusto`) and export
 * nothing: bridge.min.js must run before Kusto.Language.Bridge.min.js. They are loaded once, on
 * the first analysis (about half a second; analyses after that take milliseconds).
 */
import { createRequire } from 'node:module';
import { APP_INSIGHTS_TABLES, schemaString } from './appinsights-schema.js';

export interface KqlProblem {
  /** The analyzer's `Error` (the query fails) or `Warning` (it runs, but likely not as meant). */
  readonly severity: 'error' | 'warning';
  /** The analyzer's code, e.g. `KS142` (unknown name). */
  readonly code: string;
  readonly message: string;
  /** 1-based line and column of the problem's start. */
  readonly line: number;
  readonly column: number;
  /** 0-based offset and length in the query text. */
  readonly offset: number;
  readonly length: number;
}

/** `3:7 error KS142: The name 'Nme' does not refer to ...` */
export function formatKqlProblem(p: KqlProblem): string {
  return `${p.line}:${p.column} ${p.severity} ${p.code}: ${p.message}`;
}

/**
 * Errors and warnings of one query, in text order: the parser's and binder's diagnostics
 * (syntax, unknown names, types) and the editor's analyzers' (KS5xx correctness rules such as a
 * join without a kind or a variable shadowed by a column). Suggestions and information are left out.
 */
export function analyzeKql(query: string): KqlProblem[] {
  const { KustoCode, Editor } = kusto();
  const code = KustoCode.ParseAndAnalyze(query, globals());
  const problems: KqlProblem[] = [];
  for (const diagnostics of [code.GetDiagnostics(), new Editor.KustoCodeService.ctor(code).GetAnalyzerDiagnostics(true)]) {
    for (let i = 0; i < diagnostics.Count; i++) {
      const d = diagnostics.getItem(i);
      const severity = d.Severity === 'Error' ? 'error' : d.Severity === 'Warning' ? 'warning' : undefined;
      if (!severity) continue;
      problems.push({ severity, code: d.Code ?? '', message: d.Message ?? '', ...position(query, d.Start), offset: d.Start, length: d.Length });
    }
  }
  return problems.sort((a, b) => a.offset - b.offset);
}

function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1 };
}

// The few members of Kusto.Language used here, as declared in the package's
// Kusto.Language.Bridge.d.ts (which is global declarations, too large to pull into the program).
interface ReadOnlyList<T> {
  readonly Count: number;
  getItem(index: number): T;
}
interface Diagnostic {
  readonly Severity: string | null;
  readonly Code: string | null;
  readonly Message: string | null;
  readonly Start: number;
  readonly Length: number;
}
interface GlobalState {
  WithDatabase(database: DatabaseSymbol): GlobalState;
}
interface TableSymbol {
  readonly Name: string;
}
interface DatabaseSymbol {
  readonly Name: string;
}
interface KustoCode {
  GetDiagnostics(): ReadOnlyList<Diagnostic>;
}
interface KustoLanguage {
  readonly GlobalState: { readonly Default: GlobalState };
  readonly KustoCode: { ParseAndAnalyze(text: string, globals: GlobalState): KustoCode };
  readonly Editor: {
    readonly KustoCodeService: { readonly ctor: new (code: KustoCode) => { GetAnalyzerDiagnostics(waitForAnalysis: boolean): ReadOnlyList<Diagnostic> } };
  };
  readonly Symbols: {
    readonly TableSymbol: { readonly $ctor7: new (name: string, schema: string, description: string | null) => TableSymbol };
    readonly DatabaseSymbol: { readonly ctor: new (name: string, members: TableSymbol[]) => DatabaseSymbol };
  };
}

let language: KustoLanguage | undefined;
let workspace: GlobalState | undefined;

function kusto(): KustoLanguage {
  if (!language) {
    const require = createRequire(import.meta.url);
    require('@kusto/language-service-next/bridge.min.js');
    require('@kusto/language-service-next/Kusto.Language.Bridge.min.js');
    language = (globalThis as unknown as { Kusto: { Language: KustoLanguage } }).Kusto.Language;
  }
  return language;
}

/** The default global state (functions, operators) with the workspace tables as its database. */
function globals(): GlobalState {
  if (!workspace) {
    const { Symbols, GlobalState } = kusto();
    const tables = Object.entries(APP_INSIGHTS_TABLES).map(([name, columns]) => new Symbols.TableSymbol.$ctor7(name, schemaString(columns), null));
    workspace = GlobalState.Default.WithDatabase(new Symbols.DatabaseSymbol.ctor('workspace', tables));
  }
  return workspace;
}
