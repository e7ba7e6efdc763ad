// What the app cannot say about itself, said by Azure Monitor: an action group and two log
// search alert rules evaluated against the workspace. The app announces the checks (with the
// fix) through its own channels; these rules only watch the monitor: silent (no availability
// result at all: stopped, failing to start, deleted, or cut off from Application Insights) and
// failing (its timer runs throw). So one failure of a check is one message per channel, and
// the rules still fire when the Function App is dead (docs/alerts.md, "Who says what").

param location string
param actionGroupName string

@maxLength(12)
param actionGroupShortName string

@description('Email addresses that receive the alerts.')
param emailReceivers string[]

@description('Optional webhook receiver (common alert schema); empty for none.')
@secure()
param webhookReceiverUrl string

@description('Log Analytics workspace the rules query.')
param workspaceId string

@description('Minutes without a single availability result before the monitor counts as silent. Must exceed the probe interval (default every 5 minutes).')
@allowed([10, 15, 30, 45, 60])
param monitorSilentMinutes int

@description('Text added to every alert: where to look first.')
param runbookHint string

param namePrefix string
param tags object

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: actionGroupShortName
    enabled: true
    emailReceivers: [
      for (address, i) in emailReceivers: {
        name: 'email-${i}'
        emailAddress: address
        useCommonAlertSchema: true
      }
    ]
    webhookReceivers: empty(webhookReceiverUrl) ? [] : [
      {
        name: 'webhook'
        serviceUri: webhookReceiverUrl
        useCommonAlertSchema: true
      }
    ]
  }
}

// One entry per rule; the queries live in ../queries/*.kql, where the CI check analyses them
// against the declared workspace schema (infra/check/).
// `schedules` names the app settings of the timers whose output the rule reads and `runs` how
// many consecutive runs of each it judges: the window must hold that many runs of the slowest
// of those schedules, plus ingestion latency, or the rule would fire and resolve between runs
// (a test over the compiled template checks this against the schedules main.bicep sets).
var rules = [
  {
    name: 'monitor-silent'
    displayName: 'Writeback monitor: the monitor itself is silent'
    description: 'No availability result reached Application Insights for ${monitorSilentMinutes} minutes: the Function App is stopped, failing to start, or cannot send telemetry. Password writeback is unmonitored until this clears. Maintenance windows (WBMON_MAINTENANCE) do not silence this rule: the monitor keeps running and reporting inside them.'
    severity: 0
    query: loadTextContent('../queries/monitor-silent.kql')
    windowMinutes: monitorSilentMinutes
    // The cloud probe runs in every deployment; heartbeat and tenant results come on top.
    schedules: ['WBMON_PROBE_SCHEDULE']
    runs: 1
    timeAggregation: 'Total'
    metricMeasureColumn: 'Results'
    operator: 'LessThan'
    threshold: 1
    dimensions: []
  }
  {
    name: 'monitor-failing'
    displayName: 'Writeback monitor: the monitor\'s own runs are failing'
    description: 'The last two runs of one of the monitor\'s timers (probeEndpoints, evaluateHeartbeats, checkTenant) threw: the app could not finish its work, so its own alerts may be missing. The Timer dimension names the function; its log (AppTraces) and the workbook\'s timer runs say why.'
    severity: 1
    query: loadTextContent('../queries/monitor-failing.kql')
    // Two runs of the hourly tenant checks, and room for ingestion.
    windowMinutes: 180
    schedules: ['WBMON_PROBE_SCHEDULE', 'WBMON_EVALUATE_SCHEDULE', 'WBMON_TENANT_SCHEDULE']
    runs: 2
    timeAggregation: 'Count'
    metricMeasureColumn: null
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Timer']
  }
]

resource rule 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for r in rules: {
    name: '${namePrefix}-${r.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: r.displayName
      description: r.description
      severity: r.severity
      enabled: true
      scopes: [workspaceId]
      evaluationFrequency: 'PT5M'
      windowSize: r.windowMinutes % 60 == 0 ? 'PT${r.windowMinutes / 60}H' : 'PT${r.windowMinutes}M'
      criteria: {
        allOf: [
          {
            query: r.query
            timeAggregation: r.timeAggregation
            metricMeasureColumn: r.metricMeasureColumn
            operator: r.operator
            threshold: r.threshold
            dimensions: [for d in r.dimensions: { name: d, operator: 'Include', values: ['*'] }]
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
          }
        ]
      }
      autoMitigate: true
      // A new workspace knows AppAvailabilityResults only once data has flowed, which is after
      // the code is deployed; Azure's check at creation would fail the first deployment. The
      // queries are analysed in CI instead (npm run check:infra).
      skipQueryValidation: true
      actions: {
        actionGroups: [actionGroup.id]
        customProperties: { runbook: runbookHint }
      }
    }
  }
]

output actionGroupId string = actionGroup.id
output ruleNames string[] = [for (r, i) in rules: rule[i].name]
