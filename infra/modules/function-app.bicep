// The monitor: a Linux Function App on the Flex Consumption plan (FC1), Node 22 (or 24), running as a
// user-assigned managed identity. On Flex Consumption the runtime and version live in
// functionAppConfig.runtime; FUNCTIONS_WORKER_RUNTIME and WEBSITE_NODE_DEFAULT_VERSION are
// rejected as app settings.

param location string
param planName string
param functionAppName string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity (storage, Application Insights, Graph, Key Vault).')
param identityClientId string

param storageAccountName string
param storageBlobEndpoint string

@description('The table endpoint, so the app needs no cloud-specific suffix (national clouds).')
param storageTableEndpoint string
param deploymentContainerName string

param appInsightsConnectionString string

@description('App settings besides the platform ones set here (WBMON_* values and Key Vault references).')
param appSettings object

@description('WBMON_WORKBOOK_URL: the Azure portal deep link to the monitor\'s workbook, for the alerts\' "Open workbook" link. Empty leaves it out.')
param workbookUrl string = ''

@description('Upper bound on instances; Flex Consumption\'s lowest allowed maximum is 40.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory of each instance, MB: the sizes Flex Consumption offers (512 MB has 0.25 cores, 2048 MB one, 4096 MB two).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int

@description('Node.js major version: functionAppConfig.runtime.version.')
@allowed(['22', '24'])
param nodeVersion string

@description('Subnet (delegated to Microsoft.App/environments) for VNet integration; empty for none. With it, all the app\'s outbound traffic leaves through the VNet.')
param virtualNetworkSubnetId string

@description('Tags; azd-service-name lets `azd deploy` find this app.')
param tags object

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

// Settings the platform and the SDKs read; the identity is named explicitly everywhere because
// a user-assigned identity is never picked by default.
var platformSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  // Entra ID authentication to Application Insights (local auth is off on the component): the
  // host reads this, and src/telemetry/setup.ts hands the same identity to the exporter.
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // DefaultAzureCredential (Microsoft Graph tenant checks) picks this identity.
  AZURE_CLIENT_ID: identityClientId
}

// Where alerts link to, besides the status page (whose address the app derives from the
// platform's WEBSITE_HOSTNAME, or WBMON_PUBLIC_URL when given in monitorSettings).
// Always set (main.bicep always gives it; blank reads as unset): a condition on a value known only at deployment would keep What-If and bicep snapshot from expanding the app settings.
var linkSettings = { WBMON_WORKBOOK_URL: workbookUrl }

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    // Flex Consumption accepts only a few siteConfig properties and newer regions reject the
    // rest (ARM error 51021 names e.g. ftpsState); there is no FTP to turn off anyway.
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: [for setting in items(union(linkSettings, appSettings, platformSettings)): { name: setting.key, value: setting.value }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: { name: 'node', version: nodeVersion }
    }
  }
}

// Publishing with basic (user name and password) credentials is off; azd and the Azure CLI
// deploy with Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: { allow: false }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: { allow: false }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
