// Log Analytics workspace and workspace-based Application Insights. Local (instrumentation key)
// authentication is off: the app and the Functions host send telemetry with the managed
// identity, which holds Monitoring Metrics Publisher on the component (see main.bicep).
// A workspace of your own (existingWorkspaceId) replaces the one made here: the component,
// the diagnostic settings, the alert rules and the workbook then all use it, and its
// retention and daily cap stay as its owner set them.

@description('Azure region.')
param location string

@description('Log Analytics workspace name (when one is created here).')
param workspaceName string

@description('Resource id of an existing workspace to use instead of creating one; empty to create it.')
param existingWorkspaceId string

@description('Application Insights component name.')
param appInsightsName string

@description('Days the workspace keeps data.')
@minValue(30)
@maxValue(730)
param retentionInDays int

@description('Daily ingestion cap of the workspace created here, in GB; -1 for none. Once reached, ingestion stops until the next reset (the monitor-silent rule then fires).')
@minValue(-1)
param dailyQuotaGb int

param tags object

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = if (empty(existingWorkspaceId)) {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
    workspaceCapping: { dailyQuotaGb: dailyQuotaGb }
    features: { enableLogAccessUsingOnlyResourcePermissions: true }
  }
}

var workspaceId = empty(existingWorkspaceId) ? workspace.id : existingWorkspaceId

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspaceId
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

output workspaceId string = workspaceId
output appInsightsName string = appInsights.name
output appInsightsId string = appInsights.id
// The connection string names the component and its ingestion endpoint; with local auth off it
// grants nothing by itself, so it is not a secret.
output appInsightsConnectionString string = appInsights.properties.ConnectionString
