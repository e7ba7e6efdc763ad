// What the app cannot say about itself, said by Azure Monitor: an action group and two log
// search alert rules evaluated against the workspace. The app announces the checks (with the
// fix) through its own channels; these rules only watch the monitor: silent (no availability
// result at all: stopped, failing to start, deleted, or cut off from Application Insights) and
// failing (its timer runs throw). So one failure of a check is one message per channel, and
// the rules still fire when the Function App is dead (docs/alerts.md, "Who says what").

param location string
param actionGroupName string

@description('Resource id of an existing action group the rules notify instead of one made here; empty to make one from emailReceivers and webhookReceiverUrl.')
param existingActionGroupId string

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

@description('Whether standard availability tests (standard-tests.bicep) are deployed: they get two rules of their own, failing from some regions and failing from all.')
param standardTests bool

@description('Text added to every alert: where to look first.')
param runbookHint string

param namePrefix string
param tags object

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (empty(existingActionGroupId)) {
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

var actionGroupId = empty(existingActionGroupId) ? actionGroup.id : existingActionGroupId

// One entry per rule; the queries live in ../queries/*.kql, where the CI check analyses them
// against the declared workspace schema (infra/check/).
// `schedules` names the app settings of the timers whose output the rule reads and `runs` how
// many consecutive runs of each it judges: the window must hold that many runs of the slowest
// of those schedules, plus ingestion latency, or the rule would fire and resolve between runs
// (a test over the compiled template checks this against the schedules main.bicep sets).
var monitorRules = [
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
    description: 'The last two runs of one of the monitor\'s timers (probeEndpoints, evaluateHeartbeats, checkTenant, roundTrip) threw: the app could not finish its work, so its own alerts may be missing. The Timer dimension names the function; its log (AppTraces) and the workbook\'s timer runs say why.'
    severity: 1
    query: loadTextContent('../queries/monitor-failing.kql')
    // Two runs of the hourly tenant checks and round trip, and room for ingestion. The round
    // trip's schedule is read whether it is on or not: off, its timer has no failed runs.
    windowMinutes: 180
    schedules: ['WBMON_PROBE_SCHEDULE', 'WBMON_EVALUATE_SCHEDULE', 'WBMON_TENANT_SCHEDULE', 'WBMON_ROUNDTRIP_SCHEDULE']
    runs: 2
    timeAggregation: 'Count'
    metricMeasureColumn: null
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Timer']
  }
]

// The standard tests (webtest:<url>) are Azure Monitor's own probes, so the app announces
// nothing about them: these rules do, and tell a failure seen from some regions (the path from
// there) from one seen from all (the endpoint). `everyMinutes` is their run interval, which the
// window must hold `runs` of, like a timer's schedule (test/infra/alert-rules.test.ts).
var standardTestRules = [
  {
    name: 'standard-test-all-regions'
    displayName: 'Writeback endpoint failing from every Azure region (standard test)'
    description: 'An Azure Monitor standard test of a writeback endpoint failed its last two runs from every region it runs from: the endpoint is down or answers wrongly (TLS, status or content) as seen from all of Azure, so password writeback is most likely failing. The Test dimension names the endpoint (webtest:<url>); the Message column says what failed. Compare the monitor\'s own cloud:<url> result and the relays\' relay-probe results in the workbook.'
    severity: 1
    query: loadTextContent('../queries/standard-test-all-regions.kql')
    // Two runs 5 minutes apart (main.bicep's standardTestFrequencySeconds), and room for ingestion.
    windowMinutes: 15
    schedules: []
    everyMinutes: 5
    runs: 2
    timeAggregation: 'Count'
    metricMeasureColumn: null
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Test']
  }
  {
    name: 'standard-test-some-regions'
    displayName: 'Writeback endpoint failing from some Azure regions only (standard test)'
    description: 'An Azure Monitor standard test of a writeback endpoint failed its last two runs from some of its regions while passing from others: the endpoint works, the network path from those Azure regions does not. Writeback from the Connect server may be unaffected; if the monitor\'s own region is among them, its cloud:<url> results will say down too. The FailingIn column names the regions.'
    severity: 2
    query: loadTextContent('../queries/standard-test-some-regions.kql')
    // Two runs 5 minutes apart (main.bicep's standardTestFrequencySeconds), and room for ingestion.
    windowMinutes: 15
    schedules: []
    everyMinutes: 5
    runs: 2
    timeAggregation: 'Count'
    metricMeasureColumn: null
    operator: 'GreaterThan'
    threshold: 0
    dimensions: ['Test']
  }
]

var rules = concat(monitorRules, standardTests ? standardTestRules : [])

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
        actionGroups: [actionGroupId]
        customProperties: { runbook: runbookHint }
      }
    }
  }
]

output actionGroupId string = actionGroupId
output ruleNames string[] = [for (r, i) in rules: rule[i].name]
