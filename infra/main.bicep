// writeback-monitor: everything the monitor needs in one resource group. `azd up` provisions
// it with main.parameters.json; `az deployment group create` works the same (README).
targetScope = 'resourceGroup'

@description('Name of the environment (azd sets it); part of the resource token and a tag.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Azure region for every resource.')
param location string = resourceGroup().location

@description('Who gets the alert emails: addresses separated by commas. Required: the alert rules exist to reach someone.')
@minLength(3)
param alertEmails string

@description('Optional extra receiver for the Azure Monitor alerts: a webhook URL (common alert schema).')
@secure()
param alertWebhookUrl string = ''

@description('Object id of whoever deploys (azd passes it): gets Key Vault Secrets Officer to manage relay secrets. Empty to skip.')
param principalId string = ''

@allowed(['User', 'Group', 'ServicePrincipal'])
param principalType string = 'User'

@description('WBMON_RELAYS: JSON object of relay ids to {"secret": ...}. Stored in Key Vault; empty keeps the secret as it is.')
@secure()
param relays string = ''

@description('WBMON_TEAMS_WEBHOOK_URL: the Teams Workflows webhook. Stored in Key Vault; empty keeps the secret as it is.')
@secure()
param teamsWebhookUrl string = ''

@description('WBMON_SMTP_URL: smtps:// or smtp:// (STARTTLS) with credentials. Stored in Key Vault; empty keeps the secret as it is.')
@secure()
param smtpUrl string = ''

@description('WBMON_WEBHOOK_URL: a generic JSON webhook for the monitor\'s own alerts. Stored in Key Vault.')
@secure()
param monitorWebhookUrl string = ''

@description('WBMON_WEBHOOK_SECRET: HMAC key for that webhook. Stored in Key Vault.')
@secure()
param monitorWebhookSecret string = ''

@description('WBMON_EMAIL_FROM and WBMON_EMAIL_TO for the monitor\'s own alert emails: the sender (with emailVia graph: the sender mailbox\'s user principal name) and the recipients.')
param emailFrom string = ''
param emailTo string = ''

@description('WBMON_EMAIL_VIA: how the monitor\'s own alert emails are sent. graph: Microsoft Graph sendMail as the emailFrom mailbox with the app\'s managed identity, no password (grant Mail.Send for that mailbox: docs/alerts.md); smtp: WBMON_SMTP_URL. Empty leaves the app\'s default (smtp).')
@allowed(['', 'graph', 'smtp'])
param emailVia string = ''

@description('Other non-secret WBMON_* settings, e.g. {"WBMON_TARGETS": "...", "WBMON_REMIND_MINUTES": "30"} (README, Settings).')
param monitorSettings object = {}

@description('Run the Microsoft Graph tenant checks (they need the Graph permissions of infra/grant-graph-permissions.sh). False disables the checkTenant function.')
param tenantChecks bool = true

@description('Minutes without any availability result before the monitor-silent rule fires; must exceed the probe interval by at least 5 minutes (ingestion).')
@allowed([10, 15, 30, 45, 60])
param monitorSilentMinutes int = 15

@description('Days Log Analytics keeps the telemetry.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Key Vault purge protection (cannot be turned off once on).')
param enablePurgeProtection bool = false

@description('Flex Consumption scale-out limit (the platform\'s lowest allowed maximum is 40).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Node.js major version the Function App runs (functionAppConfig.runtime.version). 22 until Flex Consumption lists Node.js 24 as generally available; the app is tested on both (.ci/run).')
@allowed(['22', '24'])
param nodeVersion string = '22'

@description('Memory of each Flex Consumption instance in MB (billed per GB-second while it runs). 512 holds every timer run with half of it to spare, measured by bench/instance-memory.ts (docs/sizing.md).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 512

@description('Names to use instead of the generated ones; any subset.')
param nameOverrides {
  identity: string?
  storageAccount: string?
  workspace: string?
  appInsights: string?
  keyVault: string?
  plan: string?
  functionApp: string?
  actionGroup: string?
}?

// One token per subscription, resource group, environment and region: globally unique names
// that stay the same on every redeployment.
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName, location))
var tags = { 'azd-env-name': environmentName, application: 'writeback-monitor' }
var names = {
  identity: nameOverrides.?identity ?? 'id-wbmon-${resourceToken}'
  storageAccount: nameOverrides.?storageAccount ?? 'stwbmon${resourceToken}'
  workspace: nameOverrides.?workspace ?? 'log-wbmon-${resourceToken}'
  appInsights: nameOverrides.?appInsights ?? 'appi-wbmon-${resourceToken}'
  keyVault: nameOverrides.?keyVault ?? 'kv-wbmon-${resourceToken}'
  plan: nameOverrides.?plan ?? 'plan-wbmon-${resourceToken}'
  functionApp: nameOverrides.?functionApp ?? 'func-wbmon-${resourceToken}'
  actionGroup: nameOverrides.?actionGroup ?? 'ag-wbmon-${resourceToken}'
}
// The workbook in the Azure portal of the cloud deployed to (environment().portal, e.g.
// https://portal.azure.com), in this tenant: the alerts' "Open workbook" link.
var workbookUrl = '${environment().portal}/#@${tenant().tenantId}/resource${workbook.outputs.id}/workbook'
var deploymentContainerName = 'app-package-${take(resourceToken, 20)}'
var stateTableName = 'wbmon'

// App settings that are secrets: each is a Key Vault reference, resolved by the platform with
// the app's identity. The app treats a reference the platform could not resolve (secret not
// created yet) as unset, and says so in its log.
var secretSettings = [
  { setting: 'WBMON_RELAYS', secret: 'wbmon-relays', value: relays }
  { setting: 'WBMON_TEAMS_WEBHOOK_URL', secret: 'wbmon-teams-webhook-url', value: teamsWebhookUrl }
  { setting: 'WBMON_SMTP_URL', secret: 'wbmon-smtp-url', value: smtpUrl }
  { setting: 'WBMON_WEBHOOK_URL', secret: 'wbmon-webhook-url', value: monitorWebhookUrl }
  { setting: 'WBMON_WEBHOOK_SECRET', secret: 'wbmon-webhook-secret', value: monitorWebhookSecret }
]

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    workspaceName: names.workspace
    appInsightsName: names.appInsights
    retentionInDays: retentionInDays
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    storageAccountName: names.storageAccount
    deploymentContainerName: deploymentContainerName
    tableName: stateTableName
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyVault'
  params: {
    location: location
    keyVaultName: names.keyVault
    secrets: toObject(secretSettings, s => s.secret, s => s.value)
    softDeleteRetentionInDays: 90
    enablePurgeProtection: enablePurgeProtection
    tags: tags
  }
}

// Least privilege for the app's identity: blobs (host keys and timer leases, the deployment
// package), the state table, reading secrets, and publishing telemetry. No queue role: the
// monitor has no queue or blob triggers.
var appRoles = [
  { target: 'storage', role: 'Storage Blob Data Owner' }
  { target: 'storage', role: 'Storage Table Data Contributor' }
  { target: 'keyVault', role: 'Key Vault Secrets User' }
  { target: 'appInsights', role: 'Monitoring Metrics Publisher' }
]
var deployerRoles = empty(principalId) ? [] : [{ target: 'keyVault', role: 'Key Vault Secrets Officer' }]

module roles 'modules/role-assignments.bicep' = {
  name: 'roleAssignments'
  // Names known before deployment (not module outputs) keep What-If precise.
  dependsOn: [storage, keyVault, monitoring]
  params: {
    assignments: concat(
      map(appRoles, r => { target: r.target, role: r.role, principalId: identity.properties.principalId, principalType: 'ServicePrincipal' }),
      map(deployerRoles, r => { target: r.target, role: r.role, principalId: principalId, principalType: principalType })
    )
    storageAccountName: names.storageAccount
    keyVaultName: names.keyVault
    appInsightsName: names.appInsights
  }
}

// The timers' schedules, as the app's defaults (src/config/settings.ts). The host resolves each
// trigger's %WBMON_*_SCHEDULE% from app settings, so they must exist; and the alert rules'
// windows are sized for them (modules/alerts.bicep). monitorSettings may change them: then
// keep each rule's window over its runs (README, "Alert rules and schedules").
var scheduleSettings = {
  WBMON_PROBE_SCHEDULE: '0 */5 * * * *'
  WBMON_EVALUATE_SCHEDULE: '0 * * * * *'
  WBMON_TENANT_SCHEDULE: '0 0 * * * *'
}

// Later objects win in union(): monitorSettings cannot replace a secret reference, and the
// platform settings (function-app.bicep) win over all of these.
// Empty values are left out: azd maps each WBMON_* environment value into monitorSettings
// (main.parameters.json), and an unset one arrives as ''.
var givenMonitorSettings = toObject(filter(items(monitorSettings), s => !empty(s.value)), s => s.key, s => s.value)
var monitorAppSettings = union(
  scheduleSettings,
  givenMonitorSettings,
  empty(emailFrom) ? {} : { WBMON_EMAIL_FROM: emailFrom },
  empty(emailTo) ? {} : { WBMON_EMAIL_TO: emailTo },
  empty(emailVia) ? {} : { WBMON_EMAIL_VIA: emailVia },
  // The Functions host's own switch for one function (AzureWebJobs.<name>.Disabled).
  tenantChecks ? {} : { 'AzureWebJobs.checkTenant.Disabled': 'true' },
  toObject(secretSettings, s => s.setting, s => '@Microsoft.KeyVault(VaultName=${keyVault.outputs.name};SecretName=${s.secret})')
)

module functionApp 'modules/function-app.bicep' = {
  name: 'functionApp'
  // The identity must hold its roles before the host starts and resolves Key Vault references.
  dependsOn: [roles]
  params: {
    location: location
    planName: names.plan
    functionAppName: names.functionApp
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    appSettings: monitorAppSettings
    workbookUrl: workbookUrl
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    nodeVersion: nodeVersion
    tags: union(tags, { 'azd-service-name': 'monitor' })
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    actionGroupName: names.actionGroup
    actionGroupShortName: 'wbmon'
    emailReceivers: filter(map(split(alertEmails, ','), e => trim(e)), e => !empty(e))
    webhookReceiverUrl: alertWebhookUrl
    workspaceId: monitoring.outputs.workspaceId
    monitorSilentMinutes: monitorSilentMinutes
    runbookHint: 'Open the "Writeback monitor" workbook and https://${functionApp.outputs.defaultHostName}/api/status (function key); failure codes are explained in docs/probe-codes.md.'
    namePrefix: 'wbmon-${resourceToken}'
    tags: tags
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  dependsOn: [monitoring]
  params: {
    location: location
    displayName: 'Writeback monitor (${environmentName})'
    workspaceName: names.workspace
    tags: tags
  }
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output FUNCTION_APP_NAME string = functionApp.outputs.name
output MONITOR_URL string = 'https://${functionApp.outputs.defaultHostName}'
output WORKBOOK_URL string = workbookUrl
output KEY_VAULT_NAME string = keyVault.outputs.name
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.properties.principalId
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
output ALERT_RULES string[] = alerts.outputs.ruleNames
