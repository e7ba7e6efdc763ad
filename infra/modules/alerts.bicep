// Alert emails that do not depend on the Function App: an action group and three log search
// alert rules evaluated by Azure Monitor against the workspace. If the app dies, cannot reach
// Application Insights or is deleted, the monitor-silent rule still fires.

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

@description('Minutes a check must fail on every run (from some location) before the rule fires.')
@allowed([5, 10, 15, 30, 45, 60])
param checkFailingMinutes int

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
// against the declared workspace schema (infra/check/). Dimensions split alerts: one per check
// and location, not per failure code, so a check whose error changes is not announced again.
var rules = [
  {
    name: 'check-failing'
    displayName: 'Writeback monitor: a check is failing'
    description: 'A writeback check failed on every run for ${checkFailingMinutes} minutes from at least one location (the cloud, a relay, or the tenant). The alert dimensions name the check and the location; the failure code and phase say what to fix (docs/probe-codes.md).'
    severity: 1
    query: loadTextContent('../queries/check-failing.kql')
    windowMinutes: checkFailingMinutes
    timeAggregation: 'Count'
    metricMeasureColumn: null
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Name', 'Location']
  }
  {
    name: 'heartbeat-missing'
    displayName: 'Writeback monitor: a relay heartbeat is missing'
    description: 'The latest heartbeat evaluation of a relay failed: its heartbeats stopped arriving or were rejected. Check the relay service on the Entra Connect server and its outbound path to the Function App.'
    severity: 1
    query: loadTextContent('../queries/heartbeat-missing.kql')
    windowMinutes: 15
    timeAggregation: 'Count'
    metricMeasureColumn: null
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Relay']
  }
  {
    name: 'monitor-silent'
    displayName: 'Writeback monitor: the monitor itself is silent'
    description: 'No availability result reached Application Insights for ${monitorSilentMinutes} minutes: the Function App is stopped, failing to start, or cannot send telemetry. Password writeback is unmonitored until this clears.'
    severity: 0
    query: loadTextContent('../queries/monitor-silent.kql')
    windowMinutes: monitorSilentMinutes
    timeAggregation: 'Total'
    metricMeasureColumn: 'Results'
    operator: 'LessThan'
    threshold: 1
    dimensions: []
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
      windowSize: 'PT${r.windowMinutes}M'
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
