// Every role assignment of the deployment, from one list (main.bicep). Each entry names its
// target resource kind; one loop per kind gives the assignment its scope, because a scope must
// be a resource symbol, not a string.

@description('Role assignments: target (storage | keyVault | keyVaultSecret | appInsights), secret (with keyVaultSecret: the secret\'s name; it must exist), role (a key of roleIds), principalId, principalType.')
param assignments {
  target: 'storage' | 'keyVault' | 'keyVaultSecret' | 'appInsights'
  secret: string?
  role: string
  principalId: string
  principalType: 'ServicePrincipal' | 'User' | 'Group'
}[]

param storageAccountName string
param keyVaultName string
param appInsightsName string

// Built-in role definition ids (the same in every tenant).
var roleIds = {
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  'Key Vault Secrets User': '4633458b-17de-408a-b874-0445c86b69e6'
  'Key Vault Secrets Officer': 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// Key Vault (RBAC) evaluates a data action at the secret too: a role assigned on one secret
// applies to that secret alone.
var secretAssignments = filter(assignments, a => a.target == 'keyVaultSecret')

resource secrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [
  for a in secretAssignments: {
    parent: vault
    name: a.secret!
  }
]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in filter(assignments, a => a.target == 'storage'): {
    scope: storage
    name: guid(storage.id, a.principalId, roleIds[a.role])
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[a.role])
      principalId: a.principalId
      principalType: a.principalType
    }
  }
]

resource vaultRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in filter(assignments, a => a.target == 'keyVault'): {
    scope: vault
    name: guid(vault.id, a.principalId, roleIds[a.role])
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[a.role])
      principalId: a.principalId
      principalType: a.principalType
    }
  }
]

resource secretRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (a, i) in secretAssignments: {
    scope: secrets[i]
    name: guid(secrets[i].id, a.principalId, roleIds[a.role])
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[a.role])
      principalId: a.principalId
      principalType: a.principalType
    }
  }
]

resource appInsightsRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in filter(assignments, a => a.target == 'appInsights'): {
    scope: appInsights
    name: guid(appInsights.id, a.principalId, roleIds[a.role])
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[a.role])
      principalId: a.principalId
      principalType: a.principalType
    }
  }
]
