// Key Vault (RBAC) for the settings that are secrets. A secret is written only when its value
// is given, so a redeployment without it keeps what an administrator set with
// `az keyvault secret set` (relay secrets are usually added that way, one relay at a time).

param location string
param keyVaultName string

@description('Secrets to write: name and value; entries with an empty value are skipped.')
@secure()
param secrets object

@description('Keep deleted secrets recoverable for this many days.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

@description('Purge protection cannot be turned off again; on for production vaults.')
param enablePurgeProtection bool

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
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for entry in items(secrets): if (!empty(entry.value)) {
    parent: vault
    name: entry.key
    properties: { value: entry.value, contentType: 'text/plain' }
  }
]

output name string = vault.name
