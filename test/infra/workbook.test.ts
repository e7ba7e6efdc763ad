/**
 * The workbook: the structure Azure expects (checkWorkbookStructure, shown to catch each kind of
 * mistake on a copy of the real workbook), its queries (workbookQueries), and the sections an
 * on-call engineer needs.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkWorkbookStructure, workbookQueries } from '../../infra/check/workbook.js';

type Item = { type: number; name: string; content: Record<string, unknown> & { title?: string; query?: string } };
type Workbook = { version?: string; items: Item[]; [key: string]: unknown };

const file = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'infra', 'workbook', 'writeback-monitor.workbook.json');
const workbook = JSON.parse(readFileSync(file, 'utf8')) as Workbook;

/** A fresh copy to break. */
const copy = (): Workbook => structuredClone(workbook);
const indexOf = (wb: Workbook, name: string): number => {
  const i = wb.items.findIndex((item) => item.name === name);
  if (i < 0) throw new Error(`no item named ${name}`);
  return i;
};
const item = (wb: Workbook, name: string): Item => wb.items[indexOf(wb, name)]!;
const queryItems = workbook.items.filter((i) => i.type === 3);

describe('the workbook', () => {
  it('has the structure Azure expects', () => {
    expect(checkWorkbookStructure(workbook)).toEqual([]);
  });

  it('is an unlocked Notebook/1.0 workbook whose resources the Bicep fills in', () => {
    expect(workbook).toMatchObject({
      version: 'Notebook/1.0',
      isLocked: false,
      fallbackResourceIds: [],
      $schema: 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json',
    });
  });

  it('starts with a required TimeRange parameter, a time range picker', () => {
    const parameters = workbook.items.find((i) => i.type === 9);
    expect(parameters?.content['parameters']).toEqual([expect.objectContaining({ name: 'TimeRange', type: 4, isRequired: true })]);
    expect(workbook.items.indexOf(parameters!)).toBeLessThan(workbook.items.indexOf(queryItems[0]!));
  });

  it('runs every query on the workspace over the TimeRange', () => {
    expect(queryItems.length).toBeGreaterThan(0);
    for (const q of queryItems) {
      expect(q.content, q.name).toMatchObject({ queryType: 0, resourceType: 'microsoft.operationalinsights/workspaces', timeContextFromParameter: 'TimeRange' });
    }
  });

  it('has no query relying on text substitution of a parameter', () => {
    for (const { where, query } of workbookQueries(workbook)) expect(query, where).not.toMatch(/\{[A-Za-z_][A-Za-z0-9_]*(:[A-Za-z]+)?\}/);
  });
});

describe('the structure check', () => {
  it('reports a missing version', () => {
    const wb = copy();
    delete wb.version;
    expect(checkWorkbookStructure(wb)).toEqual(['version must be "Notebook/1.0" (found: missing)']);
  });

  it('reports another version', () => {
    expect(checkWorkbookStructure({ ...copy(), version: 'Notebook/2.0' })).toEqual(['version must be "Notebook/1.0" (found: "Notebook/2.0")']);
  });

  it('reports items that are not an array, and a workbook that is not an object', () => {
    expect(checkWorkbookStructure({ version: 'Notebook/1.0' })).toEqual(['items must be an array (found: missing)']);
    expect(checkWorkbookStructure([])).toEqual(['the workbook is not a JSON object']);
  });

  it('reports a duplicate item name, naming the item that had it first', () => {
    const wb = copy();
    const first = indexOf(wb, 'availability-current');
    wb.items[first + 1]!.name = 'availability-current';
    expect(checkWorkbookStructure(wb)).toEqual([`items[${first + 1}] "availability-current": name "availability-current" is already used by items[${first}]`]);
  });

  it('reports a query item without a query', () => {
    const wb = copy();
    delete item(wb, 'certificate-expiry').content.query;
    expect(checkWorkbookStructure(wb)).toEqual([`items[${indexOf(wb, 'certificate-expiry')}] "certificate-expiry": a query item needs a non-empty content.query`]);
  });

  it('reports timeContextFromParameter naming an unknown parameter', () => {
    const wb = copy();
    item(wb, 'heartbeat-state').content['timeContextFromParameter'] = 'Timerange';
    expect(checkWorkbookStructure(wb)).toEqual([
      `items[${indexOf(wb, 'heartbeat-state')}] "heartbeat-state": timeContextFromParameter "Timerange" names no parameter declared before this item`,
    ]);
  });

  it('reports every query that uses the time range before its parameter is declared', () => {
    const wb = copy();
    const [parameters] = wb.items.splice(indexOf(wb, 'parameters'), 1);
    wb.items.push(parameters!);
    const problems = checkWorkbookStructure(wb);
    expect(problems).toHaveLength(queryItems.length);
    expect(problems[0]).toBe(`items[${indexOf(wb, queryItems[0]!.name)}] "${queryItems[0]!.name}": timeContextFromParameter "TimeRange" names no parameter declared before this item`);
  });

  it('reports timeContextFromParameter naming a parameter that is not a time range', () => {
    const wb = copy();
    (item(wb, 'parameters').content['parameters'] as { type: number }[])[0]!.type = 1;
    const problems = checkWorkbookStructure(wb);
    expect(problems).toHaveLength(queryItems.length);
    expect(problems).toContain(`items[${indexOf(wb, 'latency-percentiles')}] "latency-percentiles": timeContextFromParameter "TimeRange" names a parameter of type 1, not a time range (4)`);
  });

  it('reports an unknown visualization', () => {
    const wb = copy();
    item(wb, 'availability-over-time').content['visualization'] = 'linegraph';
    expect(checkWorkbookStructure(wb)).toEqual([
      `items[${indexOf(wb, 'availability-over-time')}] "availability-over-time": visualization "linegraph" is not one of table, tiles, graph, map, areachart, barchart, categoricalbar, linechart, piechart, scatterchart, timechart, unstackedbar`,
    ]);
  });

  it('reports a query that is not a Logs query, and one without a resource type', () => {
    const wb = copy();
    const i = indexOf(wb, 'certificate-expiry');
    wb.items[i]!.content['queryType'] = 1;
    delete wb.items[i]!.content['resourceType'];
    expect(checkWorkbookStructure(wb)).toEqual([
      `items[${i}] "certificate-expiry": queryType must be 0 (Logs) (found: 1)`,
      `items[${i}] "certificate-expiry": resourceType must be a resource type such as "microsoft.operationalinsights/workspaces" (found: missing)`,
    ]);
  });

  it('reports an unknown item type, a missing content and a missing name', () => {
    const wb = copy();
    wb.items.push({ type: 2, name: 'odd', content: {} }, { type: 1, name: 'no-content' } as unknown as Item, { type: 1, content: { json: 'x' } } as unknown as Item);
    const n = workbook.items.length;
    expect(checkWorkbookStructure(wb)).toEqual([
      `items[${n}] "odd": type must be one of 1 (text), 3 (query), 9 (parameters), 10 (metric), 11 (links), 12 (group) (found: 2)`,
      `items[${n + 1}] "no-content": content must be an object`,
      `items[${n + 2}]: name must be a non-empty string`,
    ]);
  });

  it('reports a parameter without an id, with a name it cannot be referenced by, or declared twice', () => {
    const wb = copy();
    wb.items.push({
      type: 9,
      name: 'more-parameters',
      content: { version: 'KqlParameterItem/1.0', parameters: [{ name: 'Time range', type: 4 }, { id: 'x', name: 'TimeRange', type: 4 }] },
    });
    const at = `items[${workbook.items.length}] "more-parameters"`;
    expect(checkWorkbookStructure(wb)).toEqual([
      `${at} parameter "Time range": id must be a non-empty string`,
      `${at} parameter "Time range": name must be letters, digits and underscores (found: "Time range")`,
      `${at} parameter "TimeRange": parameter "TimeRange" is already declared by items[${indexOf(wb, 'parameters')}] "parameters"`,
    ]);
  });

  it('checks the items inside a group, and finds their queries', () => {
    const wb = copy();
    const moved = wb.items.splice(indexOf(wb, 'certificate-expiry'), 1)[0]!;
    delete moved.content['queryType'];
    wb.items.push({ type: 12, name: 'group', content: { version: 'NotebookGroup/1.0', groupType: 'editable', items: [moved] } });
    const at = `items[${wb.items.length - 1}].content.items[0] "certificate-expiry"`;
    expect(checkWorkbookStructure(wb)).toEqual([`${at}: queryType must be 0 (Logs) (found: missing)`]);
    expect(workbookQueries(wb).at(-1)).toEqual({ where: at, query: moved.content.query });
  });
});

describe('the workbook queries', () => {
  it('are every query item, named by path and step name, in order', () => {
    const queries = workbookQueries(workbook);
    expect(queries.map((q) => q.where)).toEqual(queryItems.map((q) => `items[${workbook.items.indexOf(q)}] "${q.name}"`));
    expect(queries.map((q) => q.query)).toEqual(queryItems.map((q) => q.content.query));
  });

  it('include a query-based parameter', () => {
    const wb = { version: 'Notebook/1.0', items: [{ type: 9, name: 'p', content: { parameters: [{ id: '1', name: 'Relay', type: 2, query: 'AppMetrics | distinct tostring(Properties.relay)', queryType: 0 }] } }] };
    expect(workbookQueries(wb)).toEqual([{ where: 'items[0] "p" parameter "Relay"', query: 'AppMetrics | distinct tostring(Properties.relay)' }]);
    expect(checkWorkbookStructure(wb)).toEqual([]);
  });
});

describe('the sections an on-call engineer needs', () => {
  const byTitle = (title: string): Item => {
    const found = queryItems.filter((q) => q.content.title === title);
    expect(found, title).toHaveLength(1);
    return found[0]!;
  };

  it('availability: every check at every location, and availability by check and location over time', () => {
    expect(byTitle('Every check at every location: latest result first for the failing ones').content).toMatchObject({ visualization: 'table' });
    const chart = byTitle('Availability % by check and location over time').content;
    expect(chart).toMatchObject({ visualization: 'timechart' });
    expect(chart.query).toContain('by bin(TimeGenerated, grain), Series = strcat(Name, " @ ", Location)');
  });

  it('latency: p50, p95 and p99 of every phase from the availability results, not the histogram', () => {
    const { query } = byTitle('Phase latency percentiles (ms) by location').content;
    expect(query).toContain('AppAvailabilityResults');
    expect(query).toContain('dynamic(["dns", "proxy", "tcp", "tls", "ttfb", "total"])');
    expect(query).toContain('todouble(Properties[strcat(Phase, "Ms")])');
    for (const p of [50, 95, 99]) expect(query).toContain(`P${p} = percentile(Ms, ${p})`);
    expect(query).not.toContain('wbmon.probe.phase.duration');
  });

  it('heartbeat age per relay, with the latest heartbeat check state', () => {
    const { query } = byTitle('Heartbeat state and age per relay').content;
    expect(query).toContain('Name == "wbmon.relay.heartbeat_age"');
    expect(query).toContain('Name startswith "heartbeat:"');
    expect(byTitle('Heartbeat age (s) per relay').content).toMatchObject({ visualization: 'timechart' });
  });

  it('keepalive outcomes by failure code, and the longest idle length survived', () => {
    const { query } = byTitle('Keepalive outcomes per relay').content;
    for (const code of ['keepalive_fin', 'keepalive_rst', 'keepalive_timeout']) expect(query).toContain(`"${code}"`);
    expect(query).toContain('wbmon.relay.keepalive_longest_survived');
    expect(byTitle('Longest idle length survived (s) per relay').content.query).toContain('Name == "wbmon.relay.keepalive_longest_survived"');
  });

  it('alert history: the log lines parsed, and deliveries sent and failed per channel', () => {
    const { query } = byTitle('Alert decisions and delivery problems, newest first').content;
    expect(query).toContain('AppTraces\n| where Message startswith "alert "');
    expect(query).toContain('"failed for good after"');
    expect(byTitle('Alert deliveries per channel').content.query).toContain('Name in ("wbmon.alerts.sent", "wbmon.alerts.failed")');
  });

  it("from several regions: each target's cloud probe beside Azure Monitor's standard tests, by region, and the tests' availability over time", () => {
    const { query } = byTitle("Each target from the monitor's region and from the standard tests' regions").content;
    expect(query).toContain('| where Name startswith "webtest:" or Name startswith "cloud:"');
    expect(query).toContain('Target = iff(Name startswith "webtest:", substring(Name, 8), tostring(Properties.target))');
    expect(query).toContain('"Down everywhere", "Down in some regions"');
    expect(byTitle('Standard tests: availability % by target and region over time').content).toMatchObject({ visualization: 'timechart' });
    // The standard tests carry no checkKind of the app's: the availability tables give them their own.
    for (const title of ['Checks down now, by kind', 'Every check at every location: latest result first for the failing ones']) {
      expect(byTitle(title).content.query, title).toContain('Kind = iff(Name startswith "webtest:", "standard-test", tostring(Properties.checkKind))');
    }
  });

  it('certificate expiry: the latest days remaining per target, soonest first, red below 14 days', () => {
    const { content } = byTitle('Certificate days remaining per target and location, soonest first');
    expect(content.query).toContain('Name == "wbmon.tls.days_remaining"');
    expect(content.query).toContain('summarize arg_max(TimeGenerated, Sum) by Target');
    expect(content.query).toContain('order by DaysRemaining asc');
    expect(content['gridSettings']).toMatchObject({
      formatters: [
        {
          columnMatch: 'DaysRemaining',
          formatter: 18,
          formatOptions: { thresholdsOptions: 'colors', thresholdsGrid: expect.arrayContaining([{ operator: '<', thresholdValue: '14', representation: 'redBright', text: '{0}{1}' }]) },
        },
      ],
    });
  });
});
