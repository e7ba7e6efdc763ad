// The virtual network of privateNetworking=true when no subnets of your own are given: one subnet
// delegated to Microsoft.App/environments for the Flex Consumption app's VNet integration (its
// outbound traffic: the probes, the state store, Key Vault), one for the private endpoints of
// storage and Key Vault. Each has a network security group with the platform's default rules
// only (inbound from the internet denied, outbound allowed), since landing zones audit subnets
// without one. Optionally a NAT gateway gives the app's outbound traffic a fixed public address
// (docs/deployment-network.md, "Egress").

param location string
param vnetName string

@description('Address space of the VNet.')
param addressPrefix string

@description('The app subnet, delegated to Microsoft.App/environments. One address per instance, besides the five Azure keeps: a /26 holds the default maximum of 40 instances.')
param appSubnetPrefix string

@description('The private endpoint subnet: four endpoints (blob, table, queue, Key Vault) need a /28.')
param privateEndpointSubnetPrefix string

@description('Attach a NAT gateway (Standard public IP) to the app subnet for a fixed outbound address.')
param natGateway bool

param tags object

resource appNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${vnetName}-app'
  location: location
  tags: tags
  properties: { securityRules: [] }
}

resource endpointNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${vnetName}-pe'
  location: location
  tags: tags
  properties: { securityRules: [] }
}

resource natIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = if (natGateway) {
  name: 'pip-${vnetName}-nat'
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Regional' }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource nat 'Microsoft.Network/natGateways@2024-05-01' = if (natGateway) {
  name: 'ng-${vnetName}'
  location: location
  tags: tags
  sku: { name: 'Standard' }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [{ id: natIp.id }]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [addressPrefix] }
    subnets: [
      {
        name: 'snet-app'
        properties: {
          addressPrefix: appSubnetPrefix
          networkSecurityGroup: { id: appNsg.id }
          natGateway: natGateway ? { id: nat.id } : null
          delegations: [
            {
              name: 'flex-consumption'
              properties: { serviceName: 'Microsoft.App/environments' }
            }
          ]
        }
      }
      {
        name: 'snet-private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          networkSecurityGroup: { id: endpointNsg.id }
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }

  resource appSubnet 'subnets' existing = {
    name: 'snet-app'
  }

  resource endpointSubnet 'subnets' existing = {
    name: 'snet-private-endpoints'
  }
}

output vnetId string = vnet.id
output appSubnetId string = vnet::appSubnet.id
output privateEndpointSubnetId string = vnet::endpointSubnet.id
output natPublicIp string = natGateway ? natIp!.properties.ipAddress : ''
