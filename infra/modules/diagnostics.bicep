// Resource logs into the workspace, which security reviews ask for first: who read or changed
// which Key Vault secret (AuditEvent), and the Functions host's and the app's log lines
// (FunctionAppLogs, also kept apart from Application Insights' sampling and daily cap, in the
// table FunctionAppLogs). Both go to resource-specific tables where the service has them.

@description('Log Analytics workspace the logs go to.')
param workspaceId string

param keyVaultName string
param functionAppName string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'wbmon-to-workspace'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [{ category: 'AuditEvent', enabled: true }]
    metrics: [{ category: 'AllMetrics', enabled: true }]
  }
}

resource siteDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'wbmon-to-workspace'
  scope: site
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated'
    logs: [{ category: 'FunctionAppLogs', enabled: true }]
  }
}
