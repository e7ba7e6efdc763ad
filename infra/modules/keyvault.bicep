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

@description('The round trip is on: make its token secret, which the app itself writes, once.')
param roundtrip bool

@description('The secret holding the round trip\'s refresh token: made once, with a placeholder value, only if it does not exist, so that a role can be scoped to it; a redeployment never overwrites it.')
param roundtripTokenSecretName string

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

// The value is only a placeholder, until `writeback-monitor roundtrip login` stores the real
// token; the app reads it as "not signed in yet". @onlyIfNotExists: ARM looks the secret up
// and leaves it alone when it exists (as any version the app or the login wrote), instead of
// writing a new version with the placeholder on every deployment, which would sign the
// round trip out. A secret deleted but still recoverable (soft delete) blocks its re-creation:
// recover it (docs/deployment-roundtrip.md).
@onlyIfNotExists()
resource roundtripToken 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (roundtrip) {
  parent: vault
  name: roundtripTokenSecretName
  properties: { value: 'not-signed-in', contentType: 'text/plain' }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
