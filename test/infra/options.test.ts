/**
 * What each option of infra/main.bicep deploys, asserted on the deployment `bicep snapshot`
 * predicts from the compiled template for that option's parameters (infra/check/options.ts):
 * conditions decided, loops expanded, every module's resources listed, and the combinations
 * the template refuses refused with their reason. Needs the standalone Bicep CLI (`bicep` on
 * PATH, or the copy `npm run check:infra` restores into .cache/bicep); skipped, saying why,
 * without one.
 */
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findBicep } from '../../infra/check/bicep.js';
import { PREDICTION_SCOPE, bicepLiteral, predictDeployments, readJson, type PredictedResource, type Prediction } from '../../infra/check/infra-check.js';
import { EXAMPLE_IDS, OPTION_SETS } from '../../infra/check/options.js';
import { WRITEBACK_ENDPOINTS } from '../../src/config/settings.js';
import { answerRuleFor } from '../../src/probes/rules.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const INFRA = join(ROOT, 'infra');
const CACHE = join(ROOT, '.cache', 'bicep');
const RG = `/subscriptions/${PREDICTION_SCOPE.subscriptionId}/resourceGroups/${PREDICTION_SCOPE.resourceGroup}`;

describe('parameter values written as Bicep', () => {
  it('quote strings with their quotes, backslashes and interpolations escaped, and nest arrays and objects', () => {
    expect(bicepLiteral("o'brien\\${x}")).toBe("'o\\'brien\\\\\\${x}'");
    expect(bicepLiteral(true)).toBe('true');
    expect(bicepLiteral(-1)).toBe('-1');
    expect(bicepLiteral(['a', 1])).toBe("[\n  'a'\n  1\n]");
    expect(bicepLiteral({ WBMON_TARGETS: 'https://x/' })).toBe("{\n  'WBMON_TARGETS': 'https://x/'\n}");
  });
});

/**
 * The few template expressions the prediction leaves in names and ids because they depend on
 * the cloud (environment()), evaluated for Azure's public cloud: string literals, format(),
 * replace(), resourceId() with subscription and group, and environment().suffixes.
 */
const PUBLIC_CLOUD_SUFFIXES: Record<string, string> = { storage: 'core.windows.net', keyvaultDns: '.vault.azure.net' };
function inPublicCloud(text: string): string {
  if (!text.startsWith('[')) return text;
  let at = 1;
  const source = text.slice(1, -1);
  const skip = () => {
    while (source[at - 1] === ' ') at++;
  };
  const parse = (): string => {
    skip();
    if (source[at - 1] === "'") {
      let out = '';
      for (at++; ; at++) {
        if (source[at - 1] === "'" && source[at] === "'") {
          out += "'";
          at++;
        } else if (source[at - 1] === "'") break;
        else out += source[at - 1];
      }
      at++;
      return out;
    }
    const name = /^[A-Za-z]+/.exec(source.slice(at - 1))![0];
    at += name.length + 1; // the name and "("
    const args: string[] = [];
    skip();
    if (source[at - 1] === ')') at++;
    else
      for (;;) {
        args.push(parse());
        skip();
        const c = source[at - 1];
        at++;
        if (c === ')') break;
      }
    if (name === 'environment') {
      const m = /^\.suffixes\.(\w+)/.exec(source.slice(at - 1))!;
      at += m[0].length;
      return PUBLIC_CLOUD_SUFFIXES[m[1]!]!;
    }
    if (name === 'resourceId' && args.length >= 4) {
      // resourceId(subscription, group, 'Namespace/type[/child]', name[, child name])
      const [subscription, group, type, ...names] = args as [string, string, string, ...string[]];
      const [namespace, ...types] = type.split('/');
      return `/subscriptions/${subscription}/resourceGroups/${group}/providers/${namespace}${types.map((t, i) => `/${t}/${names[i]}`).join('')}`;
    }
    if (name === 'format') return args[0]!.replace(/\{(\d+)\}/g, (_, i: string) => args[Number(i) + 1]!);
    if (name === 'replace') return args[0]!.split(args[1]!).join(args[2]!);
    throw new Error(`cannot evaluate ${name}() in ${text}`);
  };
  return parse();
}

describe('the public-cloud evaluation used on predicted names', () => {
  it('evaluates the zone name expressions of private-endpoints.bicep', () => {
    expect(inPublicCloud("[format('privatelink.blob.{0}', environment().suffixes.storage)]")).toBe('privatelink.blob.core.windows.net');
    expect(inPublicCloud("[format('privatelink{0}', replace(environment().suffixes.keyvaultDns, '.vault.', '.vaultcore.'))]")).toBe('privatelink.vaultcore.azure.net');
    expect(inPublicCloud("[format('{0}/{1}', format('privatelink.queue.{0}', environment().suffixes.storage), 'link-x')]")).toBe('privatelink.queue.core.windows.net/link-x');
    expect(inPublicCloud("[resourceId('s', 'g', 'Microsoft.Network/privateDnsZones', format('privatelink.blob.{0}', environment().suffixes.storage))]")).toBe(
      '/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net',
    );
    expect(inPublicCloud('plain')).toBe('plain');
  });
});

const found = await findBicep({ cacheDir: CACHE, fetch: false });
const cli = 'cli' in found && found.cli.snapshot ? found.cli : undefined;
const why = 'unavailable' in found ? found.unavailable : `${found.cli.description} has no \`bicep snapshot\``;

describe.skipIf(!cli)(`each option of main.bicep, on the deployment bicep snapshot predicts${cli ? '' : ` (skipped: ${why})`}`, () => {
  const predictions = new Map<string, Prediction>();
  beforeAll(async () => {
    const results = await predictDeployments(cli!, join(INFRA, 'main.bicep'), OPTION_SETS.map((s) => s.parameters));
    OPTION_SETS.forEach((s, i) => predictions.set(s.name, results[i]!));
  }, 240_000);

  /** The predicted resources of an accepted option set, with cloud-dependent names evaluated. */
  const deployed = (name: string): PredictedResource[] => {
    const p = predictions.get(name);
    if (!p) throw new Error(`no option set "${name}"`);
    if ('refused' in p) throw new Error(`${name} was refused: ${p.refused}`);
    expect(p.diagnostics, `${name}: every module expanded`).toEqual([]);
    return p.resources.map((r) => ({ ...r, name: r.name.includes('environment()') ? inPublicCloud(r.name) : r.name }));
  };
  const ofType = (resources: PredictedResource[], type: string) => resources.filter((r) => r.type === type);
  const one = (resources: PredictedResource[], type: string): PredictedResource => {
    const matching = ofType(resources, type);
    expect(matching, type).toHaveLength(1);
    return matching[0]!;
  };
  const NETWORK_TYPES = ['virtualNetworks', 'networkSecurityGroups', 'natGateways', 'publicIPAddresses', 'privateEndpoints', 'privateEndpoints/privateDnsZoneGroups', 'privateDnsZones', 'privateDnsZones/virtualNetworkLinks'].map((t) => `Microsoft.Network/${t}`);
  const ZONES = ['privatelink.blob.core.windows.net', 'privatelink.table.core.windows.net', 'privatelink.queue.core.windows.net', 'privatelink.vaultcore.azure.net'];

  it('refuses every combination that cannot work, before deploying anything, saying why', () => {
    for (const set of OPTION_SETS) {
      const p = predictions.get(set.name)!;
      if (set.refusal === undefined) expect('refused' in p ? p.refused : '', set.name).toBe('');
      else expect('refused' in p ? p.refused : 'accepted', set.name).toContain(set.refusal);
    }
  });

  describe('privateNetworking', () => {
    it('is off by default: no VNet, endpoint, zone or NAT gateway, storage and Key Vault public, the app not integrated', () => {
      const resources = deployed('defaults');
      for (const type of NETWORK_TYPES) expect(ofType(resources, type), type).toEqual([]);
      for (const type of ['Microsoft.Storage/storageAccounts', 'Microsoft.KeyVault/vaults']) {
        expect(one(resources, type).properties).toMatchObject({ publicNetworkAccess: 'Enabled', networkAcls: { defaultAction: 'Allow' } });
      }
      expect(one(resources, 'Microsoft.Web/sites').properties?.['virtualNetworkSubnetId'] ?? null).toBeNull();
    });

    it('on: a VNet with a subnet delegated to Microsoft.App/environments and one for endpoints, each with a network security group, the app integrated', () => {
      const resources = deployed('private networking');
      const vnet = one(resources, 'Microsoft.Network/virtualNetworks');
      expect(vnet.properties?.['addressSpace']).toEqual({ addressPrefixes: ['10.42.0.0/24'] });
      const subnets = vnet.properties?.['subnets'] as { name: string; properties: Record<string, any> }[];
      expect(subnets.map((s) => [s.name, s.properties['addressPrefix']])).toEqual([
        ['snet-app', '10.42.0.0/26'],
        ['snet-private-endpoints', '10.42.0.64/28'],
      ]);
      expect(subnets[0]!.properties['delegations']).toEqual([{ name: 'flex-consumption', properties: { serviceName: 'Microsoft.App/environments' } }]);
      expect(subnets[1]!.properties['delegations']).toBeUndefined();
      const nsgs = ofType(resources, 'Microsoft.Network/networkSecurityGroups').map((n) => n.id);
      expect(subnets.map((s) => s.properties['networkSecurityGroup'].id).sort()).toEqual([...nsgs].sort());
      expect(subnets[0]!.properties['natGateway'] ?? null).toBeNull();
      expect(ofType(resources, 'Microsoft.Network/natGateways')).toEqual([]);
      expect(one(resources, 'Microsoft.Web/sites').properties?.['virtualNetworkSubnetId']).toBe(`${vnet.id}/subnets/snet-app`);
    });

    it('on: the app reads its Key Vault references itself (WBMON_KEY_VAULT_URL), which Flex Consumption cannot resolve behind a private endpoint', () => {
      const settingNames = (set: string) => (one(deployed(set), 'Microsoft.Web/sites').properties?.['siteConfig'].appSettings as { name: string; value: string }[]).map((a) => a.name);
      expect(settingNames('private networking')).toContain('WBMON_KEY_VAULT_URL');
      const value = (one(deployed('private networking'), 'Microsoft.Web/sites').properties?.['siteConfig'].appSettings as { name: string; value: string }[]).find((a) => a.name === 'WBMON_KEY_VAULT_URL')!.value;
      expect(value).toMatch(/reference\('.*\/Microsoft\.KeyVault\/vaults\/kv-wbmon-\w+'.*\)\.vaultUri/);
      expect(settingNames('defaults')).not.toContain('WBMON_KEY_VAULT_URL');
    });

    it('on: private endpoints for blob, table, queue and Key Vault in the endpoint subnet, public network access off on storage and Key Vault', () => {
      const resources = deployed('private networking');
      const storage = one(resources, 'Microsoft.Storage/storageAccounts');
      const vault = one(resources, 'Microsoft.KeyVault/vaults');
      for (const r of [storage, vault]) expect(r.properties, r.type).toMatchObject({ publicNetworkAccess: 'Disabled', networkAcls: { defaultAction: 'Deny', bypass: 'None' } });
      const vnet = one(resources, 'Microsoft.Network/virtualNetworks');
      const endpoints = ofType(resources, 'Microsoft.Network/privateEndpoints');
      expect(
        endpoints.map((e) => {
          const connection = (e.properties?.['privateLinkServiceConnections'] as { properties: { privateLinkServiceId: string; groupIds: string[] } }[])[0]!.properties;
          return [connection.groupIds, connection.privateLinkServiceId, e.properties?.['subnet'].id];
        }),
      ).toEqual([
        [['blob'], storage.id, `${vnet.id}/subnets/snet-private-endpoints`],
        [['table'], storage.id, `${vnet.id}/subnets/snet-private-endpoints`],
        [['queue'], storage.id, `${vnet.id}/subnets/snet-private-endpoints`],
        [['vault'], vault.id, `${vnet.id}/subnets/snet-private-endpoints`],
      ]);
    });

    it('on: the privatelink zones made here, linked to the VNet, each endpoint registered in its zone', () => {
      const resources = deployed('private networking');
      expect(ofType(resources, 'Microsoft.Network/privateDnsZones').map((z) => [z.name, z.location])).toEqual(ZONES.map((z) => [z, 'global']));
      const vnet = one(resources, 'Microsoft.Network/virtualNetworks');
      const links = ofType(resources, 'Microsoft.Network/privateDnsZones/virtualNetworkLinks');
      expect(links.map((l) => l.name.split('/')[0])).toEqual(ZONES);
      for (const l of links) expect(l.properties).toEqual({ registrationEnabled: false, virtualNetwork: { id: vnet.id } });
      const groups = ofType(resources, 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups');
      expect(groups.map((g) => inPublicCloud((g.properties?.['privateDnsZoneConfigs'] as { properties: { privateDnsZoneId: string } }[])[0]!.properties.privateDnsZoneId))).toEqual(
        ZONES.map((z) => `${RG}/providers/Microsoft.Network/privateDnsZones/${z}`),
      );
    });

    it('with natGateway: a NAT gateway with a static Standard public IP on the app subnet', () => {
      const resources = deployed('private networking with a NAT gateway');
      const nat = one(resources, 'Microsoft.Network/natGateways');
      const ip = one(resources, 'Microsoft.Network/publicIPAddresses');
      expect(ip.sku).toMatchObject({ name: 'Standard' });
      expect(ip.properties).toMatchObject({ publicIPAllocationMethod: 'Static' });
      expect(nat.properties?.['publicIpAddresses']).toEqual([{ id: ip.id }]);
      const subnets = one(resources, 'Microsoft.Network/virtualNetworks').properties?.['subnets'] as { name: string; properties: Record<string, any> }[];
      expect(subnets.find((s) => s.name === 'snet-app')!.properties['natGateway']).toEqual({ id: nat.id });
      // The address the probes leave from is an output, for allow-lists; empty without the gateway.
      const outputs = (set: string) => (predictions.get(set) as { outputs: Record<string, unknown> }).outputs;
      expect(String(outputs('private networking with a NAT gateway')['OUTBOUND_IP'])).toMatch(/publicIPAddresses\/pip-vnet-wbmon-\w+-nat.*ipAddress/);
      expect(outputs('private networking')['OUTBOUND_IP']).toBe('');
    });

    it('in subnets of your own: no VNet or zone made, the app and the endpoints in the subnets given, the hub\'s zones used', () => {
      const resources = deployed('private networking in subnets of your own, zones in a hub');
      for (const type of ['virtualNetworks', 'networkSecurityGroups', 'privateDnsZones', 'privateDnsZones/virtualNetworkLinks']) expect(ofType(resources, `Microsoft.Network/${type}`), type).toEqual([]);
      expect(one(resources, 'Microsoft.Web/sites').properties?.['virtualNetworkSubnetId']).toBe(EXAMPLE_IDS.appSubnet);
      const endpoints = ofType(resources, 'Microsoft.Network/privateEndpoints');
      expect(endpoints).toHaveLength(4);
      for (const e of endpoints) expect(e.properties?.['subnet']).toEqual({ id: EXAMPLE_IDS.privateEndpointSubnet });
      const zoneIds = ofType(resources, 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups').map((g) =>
        inPublicCloud((g.properties?.['privateDnsZoneConfigs'] as { properties: { privateDnsZoneId: string } }[])[0]!.properties.privateDnsZoneId),
      );
      expect(zoneIds).toEqual(ZONES.map((z) => `${EXAMPLE_IDS.dnsZoneResourceGroup}/providers/Microsoft.Network/privateDnsZones/${z}`));
      for (const type of ['Microsoft.Storage/storageAccounts', 'Microsoft.KeyVault/vaults']) expect(one(resources, type).properties).toMatchObject({ publicNetworkAccess: 'Disabled' });
    });

    it("with privateDnsZoneResourceGroupId 'none': the endpoints get no zone group, for the landing zone's policy to add", () => {
      const resources = deployed('private networking in subnets of your own, DNS by Azure Policy');
      expect(ofType(resources, 'Microsoft.Network/privateEndpoints')).toHaveLength(4);
      expect(ofType(resources, 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups')).toEqual([]);
      expect(ofType(resources, 'Microsoft.Network/privateDnsZones')).toEqual([]);
    });
  });

  describe('the round trip (opt-in)', () => {
    const SECRETS_OFFICER = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7';
    const SECRETS_USER = '4633458b-17de-408a-b874-0445c86b69e6';
    const appSettings = (set: string): Record<string, string> =>
      Object.fromEntries((one(deployed(set), 'Microsoft.Web/sites').properties?.['siteConfig'].appSettings as { name: string; value: string }[]).map((a) => [a.name, a.value]));
    /** Each role assignment as [scope, role definition id, whose]: the prediction leaves the ids as extensionResourceId(<scope>, ...) and the principal as reference(<identity>). */
    const assignments = (set: string): [string, string, string][] =>
      ofType(deployed(set), 'Microsoft.Authorization/roleAssignments').map((a) => [
        /^\[extensionResourceId\('([^']+)'/.exec(a.id ?? '')?.[1] ?? `unparsed: ${a.id}`,
        String(a.properties?.['roleDefinitionId']).split('/').pop()!,
        /userAssignedIdentities\/id-wbmon-/.test(String(a.properties?.['principalId'])) ? 'identity' : String(a.properties?.['principalId']),
      ]);
    const tokenSecrets = (set: string) => ofType(deployed(set), 'Microsoft.KeyVault/vaults/secrets').filter((s) => s.name.endsWith('/wbmon-roundtrip-token'));

    it('is off by default: no token secret, no Secrets Officer anywhere, no user or client id, but its schedule set to the default for the registered timer', () => {
      expect(tokenSecrets('defaults')).toEqual([]);
      expect(assignments('defaults').filter(([, role]) => role === SECRETS_OFFICER)).toEqual([]);
      const settings = appSettings('defaults');
      expect(settings['WBMON_ROUNDTRIP_SCHEDULE']).toBe('0 30 * * * *');
      for (const name of ['WBMON_ROUNDTRIP_USER', 'WBMON_ROUNDTRIP_CLIENT_ID', 'WBMON_KEY_VAULT_URL']) expect(settings, name).not.toHaveProperty(name);
    });

    it("always gives the tenant and the authority host of the deployment's own cloud: tenant(), environment().authentication.loginEndpoint without its slash", () => {
      for (const set of ['defaults', 'the round trip']) {
        const settings = appSettings(set);
        expect(settings['WBMON_TENANT_ID'], set).toBe(PREDICTION_SCOPE.tenantId);
        // Left to the deployment (the cloud is known only there); the expression is checked in bicep.test.ts.
        expect(settings['WBMON_LOGIN_URL'], set).toMatch(/^\[if\(endsWith\(environment\(\)\.authentication\.loginEndpoint, '\/'\), take\(/);
        expect(settings['WBMON_LOGIN_URL'], set).not.toContain('microsoftonline');
      }
    });

    it('on: the settings, the vault URL for the token, and the token secret made once with a placeholder', () => {
      const settings = appSettings('the round trip');
      expect(settings).toMatchObject({
        WBMON_ROUNDTRIP_USER: EXAMPLE_IDS.roundtripUser,
        WBMON_ROUNDTRIP_CLIENT_ID: EXAMPLE_IDS.roundtripClientId,
        WBMON_ROUNDTRIP_SCHEDULE: '0 15 * * * *',
      });
      expect(settings['WBMON_KEY_VAULT_URL']).toMatch(/reference\('.*\/Microsoft\.KeyVault\/vaults\/kv-wbmon-\w+'.*\)\.vaultUri/);
      const vault = one(deployed('the round trip'), 'Microsoft.KeyVault/vaults');
      const [secret, ...more] = tokenSecrets('the round trip');
      expect(more).toEqual([]);
      expect(secret!.id).toBe(`${vault.id}/secrets/wbmon-roundtrip-token`);
      expect(secret!.properties).toEqual({ value: 'not-signed-in', contentType: 'text/plain' });
    });

    it('on: the identity gets Key Vault Secrets Officer on the token secret alone, beside Secrets User on the vault, and no write role on the vault', () => {
      const vault = one(deployed('the round trip'), 'Microsoft.KeyVault/vaults');
      const onVault = assignments('the round trip').filter(([scope]) => scope.startsWith(vault.id!));
      expect(onVault).toEqual([
        [vault.id, SECRETS_USER, 'identity'],
        [`${vault.id}/secrets/wbmon-roundtrip-token`, SECRETS_OFFICER, 'identity'],
      ]);
      // The same with private networking, where the app reaches the vault through its endpoint.
      const privateVault = one(deployed('the round trip with private networking'), 'Microsoft.KeyVault/vaults');
      expect(assignments('the round trip with private networking').filter(([, role]) => role === SECRETS_OFFICER)).toEqual([[`${privateVault.id}/secrets/wbmon-roundtrip-token`, SECRETS_OFFICER, 'identity']]);
      expect(appSettings('the round trip with private networking')).toHaveProperty('WBMON_KEY_VAULT_URL');
      // Everything else is as without the round trip.
      const others = (set: string) => assignments(set).filter(([scope]) => !scope.endsWith('/secrets/wbmon-roundtrip-token'));
      expect(others('the round trip')).toEqual(others('defaults'));
    });
  });

  describe('diagnostics and cost', () => {
    it('send Key Vault AuditEvent and the Function App\'s FunctionAppLogs to the workspace, capped at 1 GB a day by default', () => {
      const resources = deployed('defaults');
      const workspace = one(resources, 'Microsoft.OperationalInsights/workspaces');
      expect(workspace.properties?.['workspaceCapping']).toEqual({ dailyQuotaGb: 1 });
      const settings = ofType(resources, 'Microsoft.Insights/diagnosticSettings');
      const vault = one(resources, 'Microsoft.KeyVault/vaults');
      const site = one(resources, 'Microsoft.Web/sites');
      expect(settings.map((d) => [d.id?.split('/providers/Microsoft.Insights/')[0], (d.properties?.['logs'] as { category: string }[]).map((l) => l.category), d.properties?.['workspaceId']])).toEqual([
        [vault.id, ['AuditEvent'], workspace.id],
        [site.id, ['FunctionAppLogs'], workspace.id],
      ]);
    });

    it('take dailyQuotaGb -1 for no cap, and let purge protection be turned off; it is on by default', () => {
      expect(one(deployed('defaults'), 'Microsoft.KeyVault/vaults').properties).toMatchObject({ enablePurgeProtection: true, enableSoftDelete: true, softDeleteRetentionInDays: 90 });
      const resources = deployed('no daily cap, purge protection off');
      expect(one(resources, 'Microsoft.OperationalInsights/workspaces').properties?.['workspaceCapping']).toEqual({ dailyQuotaGb: -1 });
      expect(one(resources, 'Microsoft.KeyVault/vaults').properties?.['enablePurgeProtection'] ?? null).toBeNull();
    });

    it('with existingWorkspaceId: no workspace made; Application Insights, the diagnostic settings, the rules and the workbook use the one given', () => {
      const resources = deployed('an existing workspace');
      expect(ofType(resources, 'Microsoft.OperationalInsights/workspaces')).toEqual([]);
      expect(one(resources, 'Microsoft.Insights/components').properties?.['WorkspaceResourceId']).toBe(EXAMPLE_IDS.workspace);
      for (const d of ofType(resources, 'Microsoft.Insights/diagnosticSettings')) expect(d.properties?.['workspaceId']).toBe(EXAMPLE_IDS.workspace);
      const rules = ofType(resources, 'Microsoft.Insights/scheduledQueryRules');
      expect(rules.length).toBeGreaterThan(0);
      for (const r of rules) expect(r.properties?.['scopes'], r.name).toEqual([EXAMPLE_IDS.workspace]);
      expect(one(resources, 'Microsoft.Insights/workbooks').properties).toMatchObject({ sourceId: EXAMPLE_IDS.workspace });
    });

    it('with existingActionGroupId: no action group made, every rule notifies the one given', () => {
      const resources = deployed('an existing action group');
      expect(ofType(resources, 'Microsoft.Insights/actionGroups')).toEqual([]);
      for (const r of ofType(resources, 'Microsoft.Insights/scheduledQueryRules')) expect(r.properties?.['actions'].actionGroups, r.name).toEqual([EXAMPLE_IDS.actionGroup]);
      const own = deployed('defaults');
      const group = one(own, 'Microsoft.Insights/actionGroups');
      expect(group.properties?.['emailReceivers']).toEqual([{ name: 'email-0', emailAddress: 'oncall@contoso.example', useCommonAlertSchema: true }]);
      for (const r of ofType(own, 'Microsoft.Insights/scheduledQueryRules')) expect(r.properties?.['actions'].actionGroups).toEqual([group.id]);
    });
  });

  describe('standard tests from several regions', () => {
    it('test every writeback endpoint the probe checks by default from West Europe, East US and Southeast Asia, TLS checked, each tied to Application Insights', () => {
      const resources = deployed('defaults');
      const insights = one(resources, 'Microsoft.Insights/components');
      const tests = ofType(resources, 'Microsoft.Insights/webtests');
      expect(tests.map((t) => t.properties?.['Name'])).toEqual(WRITEBACK_ENDPOINTS.map((url) => `webtest:${url}`));
      for (const t of tests) {
        expect(t.kind).toBe('standard');
        expect(t.tags?.[`hidden-link:${insights.id}`]).toBe('Resource');
        expect(t.properties).toMatchObject({
          Kind: 'standard',
          Enabled: true,
          SyntheticMonitorId: t.name,
          Frequency: 300,
          RetryEnabled: true,
          Locations: [{ Id: 'emea-nl-ams-azr' }, { Id: 'us-va-ash-azr' }, { Id: 'apac-sg-sin-azr' }],
          Request: { RequestUrl: t.properties?.['Name'].slice('webtest:'.length), HttpVerb: 'GET' },
          ValidationRules: { SSLCheck: true, SSLCertRemainingLifetimeCheck: 7, ExpectedHttpStatusCode: 200, IgnoreHttpStatusCode: false },
        });
      }
    });

    it('expect what each endpoint answers unauthenticated: the Service Bus feed where the probe wants it, a 200 after redirects elsewhere', () => {
      for (const set of ['defaults', 'standard tests from one region, of the targets given']) {
        for (const t of ofType(deployed(set), 'Microsoft.Insights/webtests')) {
          const url = new URL(t.properties?.['Request'].RequestUrl as string);
          const feed = answerRuleFor(url.hostname).name === 'servicebus-namespace-feed';
          expect(t.properties?.['ValidationRules'].ContentValidation ?? null, url.href).toEqual(feed ? { ContentMatch: 'Publicly Listed Services', IgnoreCase: false, PassIfTextFound: true } : null);
          expect(t.properties?.['Request'].FollowRedirects, url.href).toBe(!feed);
        }
      }
    });

    it('follow WBMON_TARGETS when given, and standardTestLocations', () => {
      const tests = ofType(deployed('standard tests from one region, of the targets given'), 'Microsoft.Insights/webtests');
      expect(tests.map((t) => [t.properties?.['Name'], t.properties?.['Locations']])).toEqual([
        ['webtest:https://contoso-relay.servicebus.windows.net/', [{ Id: 'us-va-ash-azr' }]],
        ['webtest:https://passwordreset.microsoftonline.com/', [{ Id: 'us-va-ash-azr' }]],
      ]);
    });

    it('get two alert rules that tell failing from some regions from failing from all; none, and no test, with standardTestLocations none', () => {
      const rules = (set: string) => ofType(deployed(set), 'Microsoft.Insights/scheduledQueryRules').map((r) => r.name.replace(/^wbmon-\w+-/, ''));
      expect(rules('defaults')).toEqual(['monitor-silent', 'monitor-failing', 'standard-test-all-regions', 'standard-test-some-regions']);
      expect(rules('no standard tests')).toEqual(['monitor-silent', 'monitor-failing']);
      expect(ofType(deployed('no standard tests'), 'Microsoft.Insights/webtests')).toEqual([]);
      const byName = new Map(ofType(deployed('defaults'), 'Microsoft.Insights/scheduledQueryRules').map((r) => [r.name.replace(/^wbmon-\w+-/, ''), r.properties!]));
      expect(byName.get('standard-test-all-regions')).toMatchObject({ severity: 1, windowSize: 'PT15M' });
      expect(byName.get('standard-test-some-regions')).toMatchObject({ severity: 2, windowSize: 'PT15M' });
      for (const name of ['standard-test-all-regions', 'standard-test-some-regions']) {
        expect(byName.get(name)!['criteria'].allOf[0]).toMatchObject({ timeAggregation: 'Count', operator: 'GreaterThan', threshold: 0, dimensions: [{ name: 'Test', operator: 'Include', values: ['*'] }] });
      }
    });
  });

  it('lets azd set every new option, with the template\'s own defaults', async () => {
    const { parameters } = (await readJson(join(INFRA, 'main.parameters.json'))) as { parameters: Record<string, { value: string }> };
    const expected: Record<string, [string, string | undefined]> = {
      privateNetworking: ['WBMON_PRIVATE_NETWORKING', 'false'],
      vnetAddressPrefix: ['WBMON_VNET_ADDRESS_PREFIX', '10.42.0.0/24'],
      appSubnetPrefix: ['WBMON_APP_SUBNET_PREFIX', '10.42.0.0/26'],
      privateEndpointSubnetPrefix: ['WBMON_PRIVATE_ENDPOINT_SUBNET_PREFIX', '10.42.0.64/28'],
      existingAppSubnetId: ['WBMON_APP_SUBNET_ID', undefined],
      existingPrivateEndpointSubnetId: ['WBMON_PRIVATE_ENDPOINT_SUBNET_ID', undefined],
      privateDnsZoneResourceGroupId: ['WBMON_PRIVATE_DNS_ZONE_RESOURCE_GROUP_ID', undefined],
      natGateway: ['WBMON_NAT_GATEWAY', 'false'],
      dailyQuotaGb: ['WBMON_DAILY_QUOTA_GB', '1'],
      existingWorkspaceId: ['WBMON_WORKSPACE_ID', undefined],
      existingActionGroupId: ['WBMON_ACTION_GROUP_ID', undefined],
      enablePurgeProtection: ['WBMON_PURGE_PROTECTION', 'true'],
      standardTestLocations: ['WBMON_STANDARD_TEST_LOCATIONS', 'emea-nl-ams-azr,us-va-ash-azr,apac-sg-sin-azr'],
      roundtripUser: ['WBMON_ROUNDTRIP_USER', undefined],
      roundtripClientId: ['WBMON_ROUNDTRIP_CLIENT_ID', undefined],
      roundtripSchedule: ['WBMON_ROUNDTRIP_SCHEDULE', '0 30 * * * *'],
    };
    const main = (await compileMain()).parameters!;
    for (const [name, [variable, fallback]] of Object.entries(expected)) {
      expect(parameters[name], name).toEqual({ value: fallback === undefined ? `\${${variable}}` : `\${${variable}=${fallback}}` });
      expect(String(main[name]!.defaultValue), name).toBe(fallback ?? '');
    }
  });

  let mainTemplate: Promise<{ parameters?: Record<string, { defaultValue?: unknown }> }> | undefined;
  const compileMain = () =>
    (mainTemplate ??= (async () => {
      const { compileAndLint } = await import('../../infra/check/infra-check.js');
      const r = await compileAndLint(cli!, join(INFRA, 'main.bicep'));
      return r.template!;
    })());
});
