/**
 * The KQL of the alert rules (infra/**\/*.kql) and of the workbook, analysed offline with
 * Microsoft's Kusto language service against the declared workspace tables; and the analyzer
 * itself, shown to report what it should where it should.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeKql, formatKqlProblem } from '../../infra/check/kql.js';
import { workbookQueries } from '../../infra/check/workbook.js';

const infra = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'infra');
const kqlFiles = readdirSync(infra, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.kql'))
  .sort();
const workbook: unknown = JSON.parse(readFileSync(join(infra, 'workbook', 'writeback-monitor.workbook.json'), 'utf8'));

describe('the alert-rule queries', () => {
  it('are found: the four rules of infra/queries', () => {
    expect(kqlFiles).toEqual(['monitor-failing.kql', 'monitor-silent.kql', 'standard-test-all-regions.kql', 'standard-test-some-regions.kql'].map((f) => join('queries', f)));
  });

  it.each(kqlFiles)('%s analyses with no error and no warning', (file) => {
    expect(analyzeKql(readFileSync(join(infra, file), 'utf8')).map(formatKqlProblem)).toEqual([]);
  });
});

describe('the workbook queries', () => {
  const queries = workbookQueries(workbook);

  it('are all found: one per query item', () => {
    expect(queries).toHaveLength(19);
  });

  it.each(queries)('$where analyses with no error and no warning', ({ query }) => {
    expect(analyzeKql(query).map(formatKqlProblem)).toEqual([]);
  });
});

describe('the analyzer', () => {
  it('names an unknown column with its line and column', () => {
    expect(analyzeKql('AppAvailabilityResults\n| where Nme == "x"')).toEqual([
      {
        severity: 'error',
        code: 'KS142',
        message: "The name 'Nme' does not refer to any known column, table, variable or function.",
        line: 2,
        column: 9,
        offset: 31,
        length: 3,
      },
    ]);
  });

  it('reports every unknown name on a line, in order', () => {
    expect(analyzeKql('AppAvailabilityResults | where Nme == "x" and Succes').map(formatKqlProblem)).toEqual([
      "1:32 error KS142: The name 'Nme' does not refer to any known column, table, variable or function.",
      "1:47 error KS142: The name 'Succes' does not refer to any known column, table, variable or function.",
    ]);
  });

  it('reports a syntax error where the parser gave up', () => {
    expect(analyzeKql('AppAvailabilityResults\n| summarize count() by (Name').map(formatKqlProblem)).toEqual(['2:29 error KS005: Expected: )']);
  });

  it('rejects a table the workspace does not declare, such as the classic availabilityResults', () => {
    expect(analyzeKql('availabilityResults\n| take 10').map(formatKqlProblem)).toEqual([
      "1:1 error KS204: The name 'availabilityResults' does not refer to any known table, tabular variable or function.",
    ]);
  });

  it('knows AppMetrics has no Count column (ItemCount counts the measurements)', () => {
    expect(analyzeKql('AppMetrics\n| summarize sum(Count)').map(formatKqlProblem)).toEqual([
      "2:17 error KS142: The name 'Count' does not refer to any known column, table, variable or function.",
    ]);
    expect(analyzeKql('AppMetrics\n| summarize sum(Sum) / sum(ItemCount)')).toEqual([]);
  });

  it('flags a likely mistake as a warning, apart from errors', () => {
    expect(analyzeKql('AppRequests\n| join (AppDependencies) on OperationId')).toEqual([
      {
        severity: 'warning',
        code: 'KS508',
        message: 'Avoid using joins without specifying the join kind. The default join behavior may be unexpected.',
        line: 2,
        column: 3,
        offset: 14,
        length: 4,
      },
    ]);
  });

  it('accepts a valid query on every declared table', () => {
    for (const table of ['AppAvailabilityResults', 'AppMetrics', 'AppTraces', 'AppRequests', 'AppDependencies']) {
      expect(analyzeKql(`${table}\n| summarize count() by bin(TimeGenerated, 1h), AppRoleName, tostring(Properties.x)`), table).toEqual([]);
    }
  });
});
