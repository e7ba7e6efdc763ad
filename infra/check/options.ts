/**
 * The deployment options of infra/main.bicep, one parameter set each, as `npm run check:infra`
 * predicts them with `bicep snapshot` (every accepted set must expand completely, every refused
 * one must refuse with its reason) and as test/infra/options.test.ts asserts their effect on
 * the predicted resources. Ids of things that exist before the deployment (subnets, a workspace,
 * an action group) are made up: the prediction never looks them up.
 */
import type { ParameterValue } from './infra-check.js';

export interface OptionSet {
  readonly name: string;
  readonly parameters: Readonly<Record<string, ParameterValue>>;
  /** Set when the template must refuse the combination: a part of the refusal's message. */
  readonly refusal?: string;
}

/** What every deployment needs. */
export const REQUIRED = { environmentName: 'ci', alertEmails: 'oncall@contoso.example' } as const;

const HUB = '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/vnet-spoke';
export const EXAMPLE_IDS = {
  appSubnet: `${HUB}/subnets/snet-wbmon-app`,
  privateEndpointSubnet: `${HUB}/subnets/snet-wbmon-pe`,
  dnsZoneResourceGroup: '/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-private-dns',
  workspace: '/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-central-logs/providers/Microsoft.OperationalInsights/workspaces/log-central',
  actionGroup: '/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-central-logs/providers/Microsoft.Insights/actionGroups/ag-identity-oncall',
  /** The round trip's test user (an object id) and the public client app it signs in with. */
  roundtripUser: '44444444-4444-4444-4444-444444444444',
  roundtripClientId: '55555555-5555-5555-5555-555555555555',
} as const;

export const OPTION_SETS: readonly OptionSet[] = [
  { name: 'defaults', parameters: REQUIRED },
  { name: 'private networking', parameters: { ...REQUIRED, privateNetworking: true } },
  { name: 'private networking with a NAT gateway', parameters: { ...REQUIRED, privateNetworking: true, natGateway: true } },
  {
    name: 'private networking in subnets of your own, zones in a hub',
    parameters: {
      ...REQUIRED,
      privateNetworking: true,
      existingAppSubnetId: EXAMPLE_IDS.appSubnet,
      existingPrivateEndpointSubnetId: EXAMPLE_IDS.privateEndpointSubnet,
      privateDnsZoneResourceGroupId: EXAMPLE_IDS.dnsZoneResourceGroup,
    },
  },
  {
    name: 'private networking in subnets of your own, DNS by Azure Policy',
    parameters: {
      ...REQUIRED,
      privateNetworking: true,
      existingAppSubnetId: EXAMPLE_IDS.appSubnet,
      existingPrivateEndpointSubnetId: EXAMPLE_IDS.privateEndpointSubnet,
      privateDnsZoneResourceGroupId: 'none',
    },
  },
  { name: 'an existing workspace', parameters: { ...REQUIRED, existingWorkspaceId: EXAMPLE_IDS.workspace } },
  { name: 'an existing action group', parameters: { environmentName: 'ci', existingActionGroupId: EXAMPLE_IDS.actionGroup } },
  { name: 'no daily cap, purge protection off', parameters: { ...REQUIRED, dailyQuotaGb: -1, enablePurgeProtection: false } },
  { name: 'no standard tests', parameters: { ...REQUIRED, standardTestLocations: 'none' } },
  { name: 'the round trip', parameters: { ...REQUIRED, roundtripUser: EXAMPLE_IDS.roundtripUser, roundtripClientId: EXAMPLE_IDS.roundtripClientId, roundtripSchedule: '0 15 * * * *' } },
  { name: 'the round trip with private networking', parameters: { ...REQUIRED, privateNetworking: true, roundtripUser: EXAMPLE_IDS.roundtripUser, roundtripClientId: EXAMPLE_IDS.roundtripClientId } },
  { name: 'standard tests from one region, of the targets given', parameters: { ...REQUIRED, standardTestLocations: 'us-va-ash-azr', monitorSettings: { WBMON_TARGETS: 'https://contoso-relay.servicebus.windows.net/, https://passwordreset.microsoftonline.com/' } } },

  { name: 'no alert receiver at all', parameters: { environmentName: 'ci' }, refusal: 'alertEmails: give at least one address, or existingActionGroupId' },
  { name: 'emails and an existing action group', parameters: { ...REQUIRED, existingActionGroupId: EXAMPLE_IDS.actionGroup }, refusal: 'with existingActionGroupId add those receivers to that group instead' },
  { name: 'a daily cap of 0', parameters: { ...REQUIRED, dailyQuotaGb: 0 }, refusal: 'dailyQuotaGb: 0 would stop all ingestion' },
  { name: 'subnets without privateNetworking', parameters: { ...REQUIRED, existingAppSubnetId: EXAMPLE_IDS.appSubnet, existingPrivateEndpointSubnetId: EXAMPLE_IDS.privateEndpointSubnet }, refusal: 'need privateNetworking=true' },
  { name: 'only one subnet of your own', parameters: { ...REQUIRED, privateNetworking: true, existingAppSubnetId: EXAMPLE_IDS.appSubnet }, refusal: 'give both existingAppSubnetId and existingPrivateEndpointSubnetId, or neither' },
  { name: 'a NAT gateway without the VNet made here', parameters: { ...REQUIRED, natGateway: true }, refusal: 'natGateway applies to the VNet this template creates' },
  { name: 'the round trip without its client app', parameters: { ...REQUIRED, roundtripUser: EXAMPLE_IDS.roundtripUser }, refusal: 'roundtripUser needs roundtripClientId' },
  { name: 'the round trip through monitorSettings', parameters: { ...REQUIRED, monitorSettings: { WBMON_ROUNDTRIP_USER: EXAMPLE_IDS.roundtripUser } }, refusal: 'give the round trip\'s test user as roundtripUser' },
  { name: 'a test location twice', parameters: { ...REQUIRED, standardTestLocations: 'us-va-ash-azr,us-va-ash-azr' }, refusal: 'standardTestLocations: a location is listed twice' },
];
