/**
 * The workspace tables our alert rules and workbook query, as declared for the offline KQL
 * analyzer (kql.ts): workspace-based Application Insights writes to these Log Analytics tables,
 * not to the classic `availabilityResults`/`customMetrics`/`traces` names.
 *
 * Source: the Azure Monitor Logs table reference,
 *   https://learn.microsoft.com/azure/azure-monitor/reference/tables/appavailabilityresults
 *   (and .../appmetrics, .../apptraces, .../apprequests, .../appdependencies), whose column
 * tables live in MicrosoftDocs/azure-reference-other, azure-monitor-ref/tables/includes/
 * <table>-include.md. Names and types are copied from there: the columns all five tables have
 * are listed once in COMMON_COLUMNS, each table's own columns after them.
 *
 * Worth knowing when writing queries (also from the reference):
 *  - AppMetrics has no `Count` or `Value` column: `ItemCount` is the number of measurements
 *    aggregated into the row, `Sum`/`Min`/`Max` their sum and extremes (average = Sum / ItemCount).
 *    The Azure Monitor exporter sends a gauge or counter point with count 1 and the value in Sum.
 *  - Properties (custom dimensions) is dynamic and our values in it are strings: convert them
 *    (tostring, todouble, toint) before comparing or aggregating.
 *  - _IsBillable is a string, SeverityLevel an int, DurationMs a real.
 */

/** The scalar types of Kusto that these tables use. */
export type KustoType = 'bool' | 'datetime' | 'dynamic' | 'int' | 'real' | 'string';

export type Columns = Readonly<Record<string, KustoType>>;

/** Columns all five tables share, with the same type and meaning. */
const COMMON_COLUMNS = {
  AppRoleInstance: 'string',
  AppRoleName: 'string',
  AppVersion: 'string',
  _BilledSize: 'real',
  ClientBrowser: 'string',
  ClientCity: 'string',
  ClientCountryOrRegion: 'string',
  ClientIP: 'string',
  ClientModel: 'string',
  ClientOS: 'string',
  ClientStateOrProvince: 'string',
  ClientType: 'string',
  IKey: 'string',
  _IsBillable: 'string',
  ItemCount: 'int',
  OperationId: 'string',
  OperationName: 'string',
  ParentId: 'string',
  Properties: 'dynamic',
  ResourceGUID: 'string',
  _ResourceId: 'string',
  SDKVersion: 'string',
  SessionId: 'string',
  SourceSystem: 'string',
  _SubscriptionId: 'string',
  SyntheticSource: 'string',
  TenantId: 'string',
  TimeGenerated: 'datetime',
  Type: 'string',
  UserAccountId: 'string',
  UserAuthenticatedId: 'string',
  UserId: 'string',
} as const satisfies Columns;

export const APP_INSIGHTS_TABLES = {
  AppAvailabilityResults: {
    ...COMMON_COLUMNS,
    DurationMs: 'real',
    Id: 'string',
    Location: 'string',
    Measurements: 'dynamic',
    Message: 'string',
    Name: 'string',
    Success: 'bool',
  },
  AppMetrics: {
    ...COMMON_COLUMNS,
    Max: 'real',
    Min: 'real',
    Name: 'string',
    Sum: 'real',
  },
  AppTraces: {
    ...COMMON_COLUMNS,
    Measurements: 'dynamic',
    Message: 'string',
    ReferencedItemId: 'string',
    ReferencedType: 'string',
    SeverityLevel: 'int',
  },
  AppRequests: {
    ...COMMON_COLUMNS,
    DurationMs: 'real',
    Id: 'string',
    Measurements: 'dynamic',
    Name: 'string',
    ReferencedItemId: 'string',
    ReferencedType: 'string',
    ResultCode: 'string',
    Source: 'string',
    Success: 'bool',
    Url: 'string',
  },
  AppDependencies: {
    ...COMMON_COLUMNS,
    Data: 'string',
    DependencyType: 'string',
    DurationMs: 'real',
    Id: 'string',
    Measurements: 'dynamic',
    Name: 'string',
    ReferencedItemId: 'string',
    ReferencedType: 'string',
    ResultCode: 'string',
    Success: 'bool',
    Target: 'string',
  },
} as const satisfies Readonly<Record<string, Columns>>;

export type AppInsightsTable = keyof typeof APP_INSIGHTS_TABLES;

/** A table's schema in the form Kusto's symbols take: `(TimeGenerated:datetime, Name:string, ...)`. */
export function schemaString(columns: Columns): string {
  return `(${Object.entries(columns).map(([name, type]) => `${name}:${type}`).join(', ')})`;
}
