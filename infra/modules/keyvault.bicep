// Key Vault (RBAC) for the settings that are secrets. A secret is written only when its value
// is given, so a redeployment without it keeps what an administrator set with
// `az keyvault secret set` (relay secrets are usually added that way, one relay at a time).

param location string
param keyVaultName string

@description('Names of the secrets this deployment may write (the loop runs over these, so its length is known before deployment).')
param secretNames string[]

@description('Their values by name; an empty value leaves that secret as it is.')
@secure()
param secretValues object

@description('Keep deleted secrets recoverable for this many days.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

@description('Purge protection cannot be turned off again; on for production vaults.')
param enablePurgeProtection bool

@description('False with privateNetworking: reachable only through its private endpoint. ARM still writes the secrets of a deployment (control plane).')
param publicNetworkAccess bool

param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: enablePurgeProtection ? true : null
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: publicNetworkAccess ? { defaultAction: 'Allow', bypass: 'AzureServices' } : { defaultAction: 'Deny', bypass: 'None' }
  }
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for name in secretNames: if (!empty(secretValues[?name] ?? '')) {
    parent: vault
    name: name
    properties: { value: secretValues[name], contentType: 'text/plain' }
  }
]

output name string = vault.name
output uri string = vault.properties.vaultUri
