/**
 * Structure checks for an Azure Monitor workbook's content (what a Microsoft.Insights/workbooks
 * resource holds, serialized, in `serializedData`), and the queries in it for kql.ts.
 *
 * The rules come from microsoft/Application-Insights-Workbooks:
 *  - schema/workbook.json: the content requires `version` and `items`; every item requires
 *    `type` and `content` (an object) and may have a string `name`; items are text (1), query
 *    (3), parameters (9), metric (10) and links (11). `version` defaults to "Notebook/1.0", the
 *    one format version there is.
 *  - the format the portal saves (Documentation/, and every template in the repository's
 *    Workbooks/ folder): group items (12) hold `content.items`; a text item's markdown is
 *    `content.json`; a query item has `query`, `queryType` (0: Logs), `resourceType` and
 *    `visualization` (Documentation/Visualizations: table, tiles, graph (which draws honey
 *    combs too), map, and the charts areachart, barchart, categoricalbar, linechart, piechart,
 *    scatterchart, timechart, unstackedbar; absent: set by the query's `render`);
 *    `timeContextFromParameter` names a time range parameter (type 4); a parameters item lists
 *    `content.parameters`, each with an `id`, a `name` (letters, digits and underscores: it is
 *    referenced as `{Name}`) and a numeric `type`.
 *  - the workbook editor's own constraints: step names are unique (they are step ids, used by
 *    links and conditional visibility), and a step sees only the parameters declared before it.
 *
 * Our own restriction on top: every query is a Logs query (`queryType` 0), since the workbook
 * reads the Log Analytics workspace and kql.ts checks its queries against that schema.
 */

export const ITEM_TYPES: Readonly<Record<number, string>> = { 1: 'text', 3: 'query', 9: 'parameters', 10: 'metric', 11: 'links', 12: 'group' };

export const VISUALIZATIONS: readonly string[] = [
  'table',
  'tiles',
  'graph',
  'map',
  'areachart',
  'barchart',
  'categoricalbar',
  'linechart',
  'piechart',
  'scatterchart',
  'timechart',
  'unstackedbar',
];

export const NOTEBOOK_VERSION = 'Notebook/1.0';
/** Parameter `type` of a time range picker. */
export const TIME_RANGE_PARAMETER = 4;
/** `queryType` of a Logs (Log Analytics / Application Insights) query. */
export const LOGS_QUERY = 0;

export interface WorkbookQuery {
  /** Where the query is: item path and name, e.g. `items[4] "availability-current"`. */
  readonly where: string;
  readonly query: string;
}

/** Every query of every item, query items and query-based parameters, groups included, in order. */
export function workbookQueries(workbook: unknown): WorkbookQuery[] {
  const queries: WorkbookQuery[] = [];
  if (!isObject(workbook)) return queries;
  for (const { item, where } of walk(workbook['items'], 'items')) {
    const content = item['content'];
    if (!isObject(content)) continue;
    if (item['type'] === 3 && typeof content['query'] === 'string') queries.push({ where, query: content['query'] });
    if (item['type'] === 9 && Array.isArray(content['parameters'])) {
      for (const [i, p] of (content['parameters'] as unknown[]).entries()) {
        if (isObject(p) && typeof p['query'] === 'string') queries.push({ where: `${where} parameter ${label(p['name'], i)}`, query: p['query'] });
      }
    }
  }
  return queries;
}

/** One line per violation of the structure Azure expects; empty when there is none. */
export function checkWorkbookStructure(workbook: unknown): string[] {
  if (!isObject(workbook)) return ['the workbook is not a JSON object'];
  const problems: string[] = [];
  if (workbook['version'] !== NOTEBOOK_VERSION) problems.push(`version must be "${NOTEBOOK_VERSION}" (found: ${found(workbook['version'])})`);
  const fallback = workbook['fallbackResourceIds'];
  if (fallback !== undefined && !(Array.isArray(fallback) && fallback.every((id) => typeof id === 'string'))) {
    problems.push('fallbackResourceIds must be an array of resource ids');
  }
  if (!Array.isArray(workbook['items'])) return [...problems, `items must be an array (found: ${found(workbook['items'])})`];

  const names = new Map<string, string>(); // step name -> path of the item that has it
  const parameters = new Map<string, { type: unknown; where: string }>(); // declared so far
  const parameterIds = new Set<string>();
  for (const { item, path, where } of walk(workbook['items'], 'items', problems)) {
    if (typeof item['type'] !== 'number' || !(item['type'] in ITEM_TYPES)) {
      problems.push(`${where}: type must be one of ${Object.entries(ITEM_TYPES).map(([n, kind]) => `${n} (${kind})`).join(', ')} (found: ${found(item['type'])})`);
    }
    const name = item['name'];
    if (typeof name !== 'string' || name === '') problems.push(`${where}: name must be a non-empty string`);
    else if (names.has(name)) problems.push(`${where}: name "${name}" is already used by ${names.get(name)}`);
    else names.set(name, path);
    const content = item['content'];
    if (!isObject(content)) {
      problems.push(`${where}: content must be an object`);
      continue;
    }

    if (item['type'] === 1 && typeof content['json'] !== 'string') problems.push(`${where}: a text item needs its markdown in content.json`);

    if (item['type'] === 3) {
      if (typeof content['query'] !== 'string' || content['query'].trim() === '') problems.push(`${where}: a query item needs a non-empty content.query`);
      if (content['queryType'] !== LOGS_QUERY) problems.push(`${where}: queryType must be ${LOGS_QUERY} (Logs) (found: ${found(content['queryType'])})`);
      if (typeof content['resourceType'] !== 'string' || content['resourceType'] === '') problems.push(`${where}: resourceType must be a resource type such as "microsoft.operationalinsights/workspaces" (found: ${found(content['resourceType'])})`);
      const visualization = content['visualization'];
      if (visualization !== undefined && !(typeof visualization === 'string' && VISUALIZATIONS.includes(visualization))) {
        problems.push(`${where}: visualization ${found(visualization)} is not one of ${VISUALIZATIONS.join(', ')}`);
      }
      const timeParameter = content['timeContextFromParameter'];
      if (timeParameter !== undefined) {
        const declared = typeof timeParameter === 'string' ? parameters.get(timeParameter) : undefined;
        if (!declared) problems.push(`${where}: timeContextFromParameter ${found(timeParameter)} names no parameter declared before this item`);
        else if (declared.type !== TIME_RANGE_PARAMETER) problems.push(`${where}: timeContextFromParameter "${String(timeParameter)}" names a parameter of type ${found(declared.type)}, not a time range (${TIME_RANGE_PARAMETER})`);
      }
    }

    if (item['type'] === 9) {
      if (!Array.isArray(content['parameters'])) {
        problems.push(`${where}: a parameters item needs a content.parameters array`);
        continue;
      }
      for (const [i, p] of (content['parameters'] as unknown[]).entries()) {
        const at = `${where} parameter ${isObject(p) ? label(p['name'], i) : `[${i}]`}`;
        if (!isObject(p)) {
          problems.push(`${at}: must be an object`);
          continue;
        }
        const id = p['id'];
        if (typeof id !== 'string' || id === '') problems.push(`${at}: id must be a non-empty string`);
        else if (parameterIds.has(id)) problems.push(`${at}: id "${id}" is already used by another parameter`);
        else parameterIds.add(id);
        if (typeof p['type'] !== 'number') problems.push(`${at}: type must be a number (found: ${found(p['type'])})`);
        if (p['query'] !== undefined && p['queryType'] !== LOGS_QUERY) problems.push(`${at}: queryType must be ${LOGS_QUERY} (Logs) (found: ${found(p['queryType'])})`);
        const pname = p['name'];
        if (typeof pname !== 'string' || !/^[A-Za-z0-9_]+$/.test(pname)) problems.push(`${at}: name must be letters, digits and underscores (found: ${found(pname)})`);
        else if (parameters.has(pname)) problems.push(`${at}: parameter "${pname}" is already declared by ${parameters.get(pname)?.where}`);
        else parameters.set(pname, { type: p['type'], where });
      }
    }
  }
  return problems;
}

interface Visit {
  readonly item: Record<string, unknown>;
  /** `items[2].content.items[0]` */
  readonly path: string;
  /** The path and, when there is one, the name: `items[2] "latency"`. */
  readonly where: string;
}

/** Items in document order, descending into groups (type 12); non-objects are reported, not visited. */
function* walk(items: unknown, path: string, problems?: string[]): Generator<Visit> {
  if (!Array.isArray(items)) return;
  for (const [i, item] of items.entries()) {
    const at = `${path}[${i}]`;
    if (!isObject(item)) {
      problems?.push(`${at}: must be an object`);
      continue;
    }
    const where = typeof item['name'] === 'string' && item['name'] !== '' ? `${at} "${item['name']}"` : at;
    yield { item, path: at, where };
    const content = item['content'];
    if (item['type'] === 12 && isObject(content)) {
      if (!Array.isArray(content['items'])) problems?.push(`${where}: a group item needs a content.items array`);
      yield* walk(content['items'], `${at}.content.items`, problems);
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function found(value: unknown): string {
  return value === undefined ? 'missing' : JSON.stringify(value);
}

function label(name: unknown, index: number): string {
  return typeof name === 'string' ? `"${name}"` : `[${index}]`;
}
