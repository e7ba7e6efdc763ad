// Private endpoints for everything the app reaches inside Azure besides telemetry: the storage
// account's blob (host keys, timer leases, the deployment package), table (the monitor's state)
// and queue (the Functions host's own use) services, and Key Vault. With public network access
// off on both (storage.bicep, keyvault.bicep), these are the only way in.
//
// Name resolution: by default the four privatelink zones are created here and linked to the
// VNet; a landing zone usually keeps them centrally (give that resource group), or lets Azure
// Policy add the DNS records (give 'none': the endpoints get no zone group here).

param location string

@description('The subnet the endpoints are placed in.')
param subnetId string

@description('The VNet the zones created here are linked to (empty when none are created).')
param vnetId string

@description('\'\': create the privatelink zones here and link them to vnetId; a resource group id: use the zones of the same names there; \'none\': add no DNS zone group (Azure Policy does).')
param privateDnsZoneResourceGroupId string

param storageAccountName string
param keyVaultName string
param tags object

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// Zone names follow the cloud (environment()): privatelink.blob.core.windows.net and
// privatelink.vaultcore.azure.net in Azure's public cloud.
var storageSuffix = environment().suffixes.storage
var endpoints = [
  { key: 'blob', groupId: 'blob', zone: 'privatelink.blob.${storageSuffix}', target: 'storage' }
  { key: 'table', groupId: 'table', zone: 'privatelink.table.${storageSuffix}', target: 'storage' }
  { key: 'queue', groupId: 'queue', zone: 'privatelink.queue.${storageSuffix}', target: 'storage' }
  { key: 'vault', groupId: 'vault', zone: 'privatelink${replace(environment().suffixes.keyvaultDns, '.vault.', '.vaultcore.')}', target: 'keyVault' }
]
var createZones = empty(privateDnsZoneResourceGroupId)
var zoneGroups = privateDnsZoneResourceGroupId != 'none'

resource zone 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for e in endpoints: if (createZones) {
    name: e.zone
    location: 'global'
    tags: tags
  }
]

resource zoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (e, i) in endpoints: if (createZones) {
    parent: zone[i]
    name: 'link-${uniqueString(vnetId)}'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: { id: vnetId }
    }
  }
]

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for e in endpoints: {
    name: 'pe-${e.target == 'storage' ? storage.name : vault.name}-${e.key}'
    location: location
    tags: tags
    properties: {
      subnet: { id: subnetId }
      privateLinkServiceConnections: [
        {
          name: e.key
          properties: {
            privateLinkServiceId: e.target == 'storage' ? storage.id : vault.id
            groupIds: [e.groupId]
          }
        }
      ]
    }
  }
]

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (e, i) in endpoints: if (zoneGroups) {
    parent: endpoint[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: replace(e.zone, '.', '-')
          properties: {
            privateDnsZoneId: createZones ? zone[i].id : '${privateDnsZoneResourceGroupId}/providers/Microsoft.Network/privateDnsZones/${e.zone}'
          }
        }
      ]
    }
  }
]

output zoneNames string[] = [for e in endpoints: e.zone]
