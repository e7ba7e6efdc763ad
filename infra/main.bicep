// writeback-monitor: everything the monitor needs in one resource group. `azd up` provisions
// it with main.parameters.json; `az deployment group create` works the same (README).
targetScope = 'resourceGroup'

@description('Name of the environment (azd sets it); part of the resource token and a tag.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Azure region for every resource.')
param location string = resourceGroup().location

@description('Who gets the alert emails: addresses separated by commas, in the action group made here. Required unless existingActionGroupId names one: the alert rules exist to reach someone.')
param alertEmails string = ''

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

// ---- The round trip (opt-in; docs/deployment-roundtrip.md) --------------------------------

@description('The round trip: object id (not the user principal name) of the dedicated test user, synced from AD, whose password the roundTrip timer resets through Microsoft Graph to prove writeback end to end (WBMON_ROUNDTRIP_USER). Empty (the default) leaves the round trip off. On, the Function App\'s identity also gets Key Vault Secrets Officer on the one secret wbmon-roundtrip-token (the delegated refresh token it rotates), not on the vault.')
param roundtripUser string = ''

@description('The round trip: application (client) id of the public client app registration an administrator signs in with, once, by device code (`writeback-monitor roundtrip login`; WBMON_ROUNDTRIP_CLIENT_ID). Required with roundtripUser.')
param roundtripClientId string = ''

@description('The round trip: NCRONTAB schedule (6 fields, UTC) of the roundTrip timer (WBMON_ROUNDTRIP_SCHEDULE); the app refuses more often than every 15 minutes. Always set, because the host resolves the timer\'s %WBMON_ROUNDTRIP_SCHEDULE% even when the round trip is off. Empty means the default.')
param roundtripSchedule string = '0 30 * * * *'

@description('Minutes without any availability result before the monitor-silent rule fires; must exceed the probe interval by at least 5 minutes (ingestion).')
@allowed([10, 15, 30, 45, 60])
param monitorSilentMinutes int = 15

@description('Days Log Analytics keeps the telemetry.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Daily ingestion cap of the workspace made here, in GB (-1: none). The monitor sends about 18 MB a day (docs/telemetry.md); 1 GB leaves room for the host\'s logs, the standard tests and a noisy day, and stops a runaway before it costs more than about a GB\'s price a day. Reaching it stops ingestion until the next reset, which the monitor-silent rule reports.')
@minValue(-1)
param dailyQuotaGb int = 1

@description('Resource id of an existing Log Analytics workspace (a central one, say) to use instead of creating one: Application Insights, the diagnostic settings, the alert rules and the workbook use it. Its retention and daily cap are its owner\'s.')
param existingWorkspaceId string = ''

@description('Resource id of an existing action group the alert rules notify instead of one made here from alertEmails and alertWebhookUrl.')
param existingActionGroupId string = ''

@description('Key Vault purge protection: a deleted vault and its secrets stay recoverable, and cannot be purged, for 90 days. It cannot be turned off once on; azd down --purge cannot purge such a vault (README, "Tearing down").')
param enablePurgeProtection bool = true

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

@description('Azure Monitor standard availability tests of the writeback endpoints (WBMON_TARGETS, else the defaults) from these test locations, comma-separated ids; \'\' or \'none\' for none. The default: West Europe, East US, Southeast Asia. At most 16.')
param standardTestLocations string = 'emea-nl-ams-azr,us-va-ash-azr,apac-sg-sin-azr'

// ---- Private networking (docs/deployment-network.md) -------------------------------------

@description('Private networking: the Function App integrated into a VNet (its outbound traffic leaves through the subnet delegated to Microsoft.App/environments), private endpoints with their privatelink DNS zones for blob, table, queue and Key Vault, and public network access off on storage and Key Vault. The app\'s own HTTPS endpoint stays public: relays post heartbeats to it over the internet.')
param privateNetworking bool = false

@description('With privateNetworking and no subnets of your own: the address space of the VNet this template creates.')
param vnetAddressPrefix string = '10.42.0.0/24'

@description('With privateNetworking and no subnets of your own: the app subnet (one address per instance plus five: a /26 holds the default 40 instances).')
param appSubnetPrefix string = '10.42.0.0/26'

@description('With privateNetworking and no subnets of your own: the private endpoint subnet (four endpoints: a /28).')
param privateEndpointSubnetPrefix string = '10.42.0.64/28'

@description('Bring your own VNet: resource id of a subnet delegated to Microsoft.App/environments for the app (with privateNetworking; give existingPrivateEndpointSubnetId too). No VNet is created then.')
param existingAppSubnetId string = ''

@description('Bring your own VNet: resource id of the subnet for the private endpoints (with existingAppSubnetId).')
param existingPrivateEndpointSubnetId string = ''

@description('Where the privatelink DNS zones are: \'\' creates them here and links them to the VNet; the resource id of a resource group uses the zones of the same names there (a hub\'s); \'none\' adds no DNS zone group, for landing zones whose Azure Policy does.')
param privateDnsZoneResourceGroupId string = ''

@description('With privateNetworking and the VNet this template creates: a NAT gateway with a static public IP on the app subnet, so the probes leave from one known address (output OUTBOUND_IP; billed per hour for the gateway and the IP, plus per GB). Off: the platform\'s default outbound access (docs/deployment-network.md).')
param natGateway bool = false

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
  vnet: string?
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
  vnet: nameOverrides.?vnet ?? 'vnet-wbmon-${resourceToken}'
}
// The workbook in the Azure portal of the cloud deployed to (environment().portal, e.g.
// https://portal.azure.com), in this tenant: the alerts' "Open workbook" link.
var workbookUrl = '${environment().portal}/#@${tenant().tenantId}/resource${workbook.outputs.id}/workbook'

// The workspace: made here (monitoring.bicep) or given. Known before deployment, so the
// workbook's name and What-If stay stable.
var workspaceId = empty(existingWorkspaceId) ? resourceId('Microsoft.OperationalInsights/workspaces', names.workspace) : existingWorkspaceId
var alertEmailList = filter(map(split(alertEmails, ','), e => trim(e)), e => !empty(e))

// The endpoints the cloud probe checks by default (src/config/settings.ts WRITEBACK_ENDPOINTS;
// a test holds the two lists equal), and what the standard tests test: WBMON_TARGETS when given.
var writebackEndpoints = [
  'https://passwordreset.microsoftonline.com/'
  'https://ssprdedicatedsbprodscu.servicebus.windows.net/'
  'https://ssprdedicatedsbprodncu.servicebus.windows.net/'
]
var givenTargets = filter(map(split(string(monitorSettings.?WBMON_TARGETS ?? ''), ','), t => trim(t)), t => !empty(t))
var standardTestLocationList = toLower(trim(standardTestLocations)) == 'none' ? [] : filter(map(split(standardTestLocations, ','), l => trim(l)), l => !empty(l))
// The standard-test alert rules' windows hold two runs at this interval (alerts.bicep).
var standardTestFrequencySeconds = 300

// Combinations that cannot work are refused before anything is deployed, one reason each.
var settingProblems = filter(
  [
    empty(existingActionGroupId) && empty(alertEmailList) ? 'alertEmails: give at least one address, or existingActionGroupId' : ''
    !empty(existingActionGroupId) && (!empty(alertEmailList) || !empty(alertWebhookUrl)) ? 'alertEmails and alertWebhookUrl go into the action group made here; with existingActionGroupId add those receivers to that group instead' : ''
    dailyQuotaGb == 0 ? 'dailyQuotaGb: 0 would stop all ingestion; give a cap in GB, or -1 for none' : ''
    length(standardTestLocationList) > 16 ? 'standardTestLocations: at most 16 test locations' : ''
    length(standardTestLocationList) != length(union(standardTestLocationList, [])) ? 'standardTestLocations: a location is listed twice' : ''
    roundtrip && empty(trim(roundtripClientId)) ? 'roundtripUser needs roundtripClientId: the public client app registration the administrator signs in with (docs/deployment-roundtrip.md)' : ''
    // Through monitorSettings the round trip would run without its token secret and role.
    !empty(string(monitorSettings.?WBMON_ROUNDTRIP_USER ?? '')) ? 'monitorSettings.WBMON_ROUNDTRIP_USER: give the round trip\'s test user as roundtripUser, which also makes its token secret and role' : ''
  ],
  p => !empty(p)
)
#disable-next-line no-unused-vars
var settingsChecked = empty(settingProblems) ? true : fail(join(settingProblems, '; '))

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

// The round trip keeps its delegated refresh token in this secret. The app reads it and
// rewrites it on every run (the token rotates), and `roundtrip login` writes it, so it is no
// app setting and no deployment parameter: keyvault.bicep makes it once, with a placeholder,
// only if it does not exist (@onlyIfNotExists), and never writes it again.
var roundtrip = !empty(trim(roundtripUser))
var roundtripTokenSecret = 'wbmon-roundtrip-token'

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
    existingWorkspaceId: existingWorkspaceId
    appInsightsName: names.appInsights
    retentionInDays: retentionInDays
    dailyQuotaGb: dailyQuotaGb
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
    publicNetworkAccess: !privateNetworking
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyVault'
  params: {
    location: location
    keyVaultName: names.keyVault
    secretNames: map(secretSettings, s => s.secret)
    secretValues: toObject(secretSettings, s => s.secret, s => s.value)
    roundtrip: roundtrip
    roundtripTokenSecretName: roundtripTokenSecret
    softDeleteRetentionInDays: 90
    enablePurgeProtection: enablePurgeProtection
    publicNetworkAccess: !privateNetworking
    tags: tags
  }
}

// Private networking: a VNet made here, or the subnets given. What cannot work is refused
// before anything is deployed, one reason each.
var ownSubnets = !empty(existingAppSubnetId) || !empty(existingPrivateEndpointSubnetId)
var networkProblems = filter(
  [
    ownSubnets && !privateNetworking ? 'existingAppSubnetId/existingPrivateEndpointSubnetId need privateNetworking=true' : ''
    ownSubnets && (empty(existingAppSubnetId) || empty(existingPrivateEndpointSubnetId)) ? 'give both existingAppSubnetId and existingPrivateEndpointSubnetId, or neither' : ''
    natGateway && (!privateNetworking || ownSubnets) ? 'natGateway applies to the VNet this template creates (privateNetworking=true without existing subnets); attach a NAT gateway or a route to your firewall to your own subnet instead' : ''
  ],
  p => !empty(p)
)
#disable-next-line no-unused-vars
var networkChecked = empty(networkProblems) ? true : fail(join(networkProblems, '; '))

module network 'modules/network.bicep' = if (privateNetworking && !ownSubnets) {
  name: 'network'
  params: {
    location: location
    vnetName: names.vnet
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    natGateway: natGateway
    tags: tags
  }
}

// Ids known before deployment (not module outputs) keep What-If precise. The VNet of a subnet
// id is its first nine segments: /subscriptions/<s>/resourceGroups/<g>/providers/Microsoft.Network/virtualNetworks/<v>.
var appSubnetId = !privateNetworking ? '' : ownSubnets ? existingAppSubnetId : resourceId('Microsoft.Network/virtualNetworks/subnets', names.vnet, 'snet-app')
var privateEndpointSubnetId = !privateNetworking ? '' : ownSubnets ? existingPrivateEndpointSubnetId : resourceId('Microsoft.Network/virtualNetworks/subnets', names.vnet, 'snet-private-endpoints')

module privateEndpoints 'modules/private-endpoints.bicep' = if (privateNetworking) {
  name: 'privateEndpoints'
  dependsOn: [network, storage, keyVault]
  params: {
    location: location
    subnetId: privateEndpointSubnetId
    vnetId: join(take(split(privateEndpointSubnetId, '/'), 9), '/')
    privateDnsZoneResourceGroupId: privateDnsZoneResourceGroupId
    storageAccountName: names.storageAccount
    keyVaultName: names.keyVault
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
// With the round trip, the identity also rewrites its refresh token: Secrets Officer scoped to
// that one secret, not to the vault, so it cannot rewrite WBMON_SMTP_URL, the webhooks or the
// relay secrets. The scope must exist when the assignment is made: keyvault.bicep creates the
// secret first, once (docs/deployment-roundtrip.md, "Why a role on one secret").
var roundtripRoles = roundtrip ? [{ target: 'keyVaultSecret', secret: roundtripTokenSecret, role: 'Key Vault Secrets Officer' }] : []

module roles 'modules/role-assignments.bicep' = {
  name: 'roleAssignments'
  // Names known before deployment (not module outputs) keep What-If precise.
  dependsOn: [storage, keyVault, monitoring]
  params: {
    assignments: concat(
      map(appRoles, r => { target: r.target, role: r.role, principalId: identity.properties.principalId, principalType: 'ServicePrincipal' }),
      map(roundtripRoles, r => { target: r.target, secret: r.secret, role: r.role, principalId: identity.properties.principalId, principalType: 'ServicePrincipal' }),
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
  WBMON_ROUNDTRIP_SCHEDULE: '0 30 * * * *'
}

// The round trip's settings. Its schedule is always set (the roundTrip timer is registered
// whether the round trip is on or not); monitorSettings still wins, like the other schedules.
// The tenant and the authority host come from the deployment itself, so a national cloud is
// right by construction: environment().authentication.loginEndpoint is e.g.
// https://login.microsoftonline.us/ there, given here without its trailing slash.
var loginEndpoint = environment().authentication.loginEndpoint
var roundtripScheduleSettings = { WBMON_ROUNDTRIP_SCHEDULE: empty(trim(roundtripSchedule)) ? scheduleSettings.WBMON_ROUNDTRIP_SCHEDULE : trim(roundtripSchedule) }
var roundtripSettings = union(
  roundtrip ? { WBMON_ROUNDTRIP_USER: trim(roundtripUser) } : {},
  empty(trim(roundtripClientId)) ? {} : { WBMON_ROUNDTRIP_CLIENT_ID: trim(roundtripClientId) },
  {
    WBMON_TENANT_ID: tenant().tenantId
    WBMON_LOGIN_URL: endsWith(loginEndpoint, '/') ? take(loginEndpoint, length(loginEndpoint) - 1) : loginEndpoint
  }
)

// Later objects win in union(): monitorSettings cannot replace a secret reference, and the
// platform settings (function-app.bicep) win over all of these.
// Empty values are left out: azd maps each WBMON_* environment value into monitorSettings
// (main.parameters.json), and an unset one arrives as ''.
var givenMonitorSettings = toObject(filter(items(monitorSettings), s => !empty(s.value)), s => s.key, s => s.value)
var monitorAppSettings = union(
  scheduleSettings,
  roundtripScheduleSettings,
  givenMonitorSettings,
  empty(emailFrom) ? {} : { WBMON_EMAIL_FROM: emailFrom },
  empty(emailTo) ? {} : { WBMON_EMAIL_TO: emailTo },
  empty(emailVia) ? {} : { WBMON_EMAIL_VIA: emailVia },
  // The Functions host's own switch for one function (AzureWebJobs.<name>.Disabled).
  tenantChecks ? {} : { 'AzureWebJobs.checkTenant.Disabled': 'true' },
  roundtripSettings,
  // Flex Consumption cannot resolve references to a vault with restricted network access: the
  // app reads those secrets itself, through the private endpoint (src/config/keyvault-references.ts).
  // The round trip reads and rewrites its token in the same vault, in every network setup.
  privateNetworking || roundtrip ? { WBMON_KEY_VAULT_URL: keyVault.outputs.uri } : {},
  toObject(secretSettings, s => s.setting, s => '@Microsoft.KeyVault(VaultName=${keyVault.outputs.name};SecretName=${s.secret})')
)

module functionApp 'modules/function-app.bicep' = {
  name: 'functionApp'
  // The identity must hold its roles before the host starts and resolves Key Vault references,
  // and with private networking the endpoints must exist before the host reaches its storage.
  dependsOn: [roles, network, privateEndpoints]
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
    virtualNetworkSubnetId: appSubnetId
    tags: union(tags, { 'azd-service-name': 'monitor' })
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    actionGroupName: names.actionGroup
    existingActionGroupId: existingActionGroupId
    actionGroupShortName: 'wbmon'
    emailReceivers: alertEmailList
    webhookReceiverUrl: alertWebhookUrl
    workspaceId: monitoring.outputs.workspaceId
    monitorSilentMinutes: monitorSilentMinutes
    standardTests: !empty(standardTestLocationList)
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
    workspaceId: workspaceId
    tags: tags
  }
}

module standardTests 'modules/standard-tests.bicep' = if (!empty(standardTestLocationList)) {
  name: 'standardTests'
  dependsOn: [monitoring]
  params: {
    location: location
    appInsightsName: names.appInsights
    testLocations: standardTestLocationList
    targets: empty(givenTargets) ? writebackEndpoints : givenTargets
    frequencySeconds: standardTestFrequencySeconds
    namePrefix: 'wbmon-${resourceToken}'
    tags: tags
  }
}

module diagnostics 'modules/diagnostics.bicep' = {
  name: 'diagnostics'
  dependsOn: [monitoring, keyVault, functionApp]
  params: {
    workspaceId: workspaceId
    keyVaultName: names.keyVault
    functionAppName: names.functionApp
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
// With natGateway: the one address every probe leaves from, for allow-lists (empty otherwise).
output OUTBOUND_IP string = privateNetworking && !ownSubnets && natGateway ? network!.outputs.natPublicIp : ''
