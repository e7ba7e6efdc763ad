/**
 * The Bicep deployment: every file compiles and lints with zero errors and warnings, and the
 * compiled template holds what the review asks for (Flex Consumption on Node 22 or 24, sized to 512 MB, identity
 * everywhere, no shared keys, local auth off, secrets only as Key Vault references, the
 * self-monitoring alert rules; test/infra/alert-rules.test.ts holds them against the schedules). Needs a Bicep CLI: `bicep` on PATH, `az bicep`, or the copy `npm run
 * check:infra` restores into .cache/bicep (.ci/run does that first). Without one the Bicep
 * tests are skipped, saying why; the pure parts below run everywhere.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cachedBicepPath, exec, findBicep, parseDiagnostics, runtimeIdentifier } from '../../infra/check/bicep.js';
import { bicepFiles, bicepProblems, checkParametersFile, compileAndLint, readJson, type ArmTemplate, type BicepFileResult } from '../../infra/check/infra-check.js';
import { parseSettings, SETTING_NAMES } from '../../src/config/settings.js';
import { storageTarget } from '../../src/store/open.js';
import { parseAuthenticationString } from '../../src/telemetry/setup.js';
import { DEFAULT_TABLE_NAME } from '../../src/store/table-store.js';
import { INSTANCE_MEMORY_MB } from '../../bench/instance-memory.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const INFRA = join(ROOT, 'infra');
const CACHE = join(ROOT, '.cache', 'bicep');

describe('Bicep diagnostics', () => {
  it('are read from the CLI text format, each once, with file, position, severity and code', () => {
    const out = [
      "/w/infra/main.bicep(12,5) : Warning no-unused-params: Parameter \"x\" is declared but never used. [https://aka.ms/bicep/linter-diagnostics#no-unused-params]",
      "/w/infra/main.bicep(12,5) : Warning no-unused-params: Parameter \"x\" is declared but never used. [https://aka.ms/bicep/linter-diagnostics#no-unused-params]",
      '/w/infra/modules/a b.bicep(3,1) : Error BCP018: Expected the "}" character at this location.',
      'Build succeeded.',
    ].join('\n');
    expect(parseDiagnostics(out)).toEqual([
      { file: '/w/infra/main.bicep', line: 12, column: 5, severity: 'Warning', code: 'no-unused-params', message: 'Parameter "x" is declared but never used. [https://aka.ms/bicep/linter-diagnostics#no-unused-params]' },
      { file: '/w/infra/modules/a b.bicep', line: 3, column: 1, severity: 'Error', code: 'BCP018', message: 'Expected the "}" character at this location.' },
    ]);
  });

  it('name the NuGet package of this platform, and none where Bicep publishes none', () => {
    expect(runtimeIdentifier('linux', 'x64')).toBe('linux-x64');
    expect(runtimeIdentifier('darwin', 'arm64')).toBe('osx-arm64');
    expect(runtimeIdentifier('win32', 'x64')).toBe('win-x64');
    expect(runtimeIdentifier('linux', 'ia32')).toBeUndefined();
    expect(cachedBicepPath('/c', 'linux-x64')).toBe('/c/azure.bicep.commandline.linux-x64/0.49.2/tools/bicep');
    expect(cachedBicepPath('/c', 'win-x64')).toBe('/c/azure.bicep.commandline.win-x64/0.49.2/tools/bicep.exe');
  });
});

describe('finding a Bicep CLI', () => {
  it('prefers bicep on PATH, and says what it tried when there is none and no fetch is allowed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wbmon-bicep-path-'));
    try {
      const fake = join(dir, 'bicep');
      await writeFile(fake, '#!/bin/sh\necho "Bicep CLI version 9.9.9 (stand-in)"\n');
      await chmod(fake, 0o755);
      const onPath = await findBicep({ cacheDir: join(dir, 'cache'), fetch: false, env: {}, exec: withPath(dir) });
      expect('cli' in onPath && onPath.cli.description).toBe('bicep on PATH');

      // No bicep, no az, nothing cached: PATH holds only an empty folder.
      const empty = join(dir, 'empty');
      const none = await findBicep({ cacheDir: join(dir, 'cache'), fetch: false, env: {}, exec: withPath(empty) });
      expect(none).toEqual({
        unavailable: `no \`bicep\` on PATH, no Azure CLI (\`az\`), no restored copy at ${cachedBicepPath(join(dir, 'cache'), runtimeIdentifier()!)}; \`npm run check:infra\` restores one with the .NET SDK`,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Runs programs with PATH set to `path` only, as a machine without them would. */
function withPath(path: string): Parameters<typeof findBicep>[0]['exec'] {
  return async (file, args) => {
    const saved = process.env.PATH;
    process.env.PATH = path;
    try {
      return await exec(file, args);
    } finally {
      process.env.PATH = saved;
    }
  };
}

describe('main.parameters.json against the template', () => {
  const template: ArmTemplate = {
    parameters: {
      environmentName: { type: 'string' },
      alertEmails: { type: 'string' },
      location: { type: 'string', defaultValue: '[resourceGroup().location]' },
      nameOverrides: { type: 'object', nullable: true },
    },
  };

  it('passes when every given parameter is declared and every required one is given', () => {
    expect(checkParametersFile(template, { parameters: { environmentName: { value: 'x' }, alertEmails: { value: 'a@b.c' } } })).toEqual([]);
  });

  it('names a parameter the template does not declare, and a required one missing', () => {
    expect(checkParametersFile(template, { parameters: { environmentName: { value: 'x' }, alertEmail: { value: 'a@b.c' } } })).toEqual([
      'main.parameters.json: "alertEmail" is not a parameter of main.bicep',
      `main.parameters.json: main.bicep's required parameter "alertEmails" is missing`,
    ]);
    expect(checkParametersFile(template, {})).toEqual(['main.parameters.json: no "parameters" object']);
  });

  it('lets azd set tenantChecks and the non-secret monitorSettings from environment values of the same names', async () => {
    const { parameters } = (await readJson(join(INFRA, 'main.parameters.json'))) as { parameters: Record<string, { value: unknown }> };
    expect(parameters.tenantChecks).toEqual({ value: '${WBMON_TENANT_CHECKS=true}' });
    const mapped = parameters.monitorSettings!.value as Record<string, string>;
    expect(Object.keys(mapped).length).toBeGreaterThan(5);
    for (const [name, value] of Object.entries(mapped)) {
      expect(SETTING_NAMES, name).toContain(name);
      expect(value).toBe(`\${${name}}`);
      // JSON values (WBMON_RELAYS, WBMON_MAINTENANCE) cannot pass azd's unescaped substitution.
      expect(['WBMON_RELAYS', 'WBMON_MAINTENANCE']).not.toContain(name);
    }
  });

  it('lets azd choose the Node version and the instance memory, defaulting to Node 22 and the measured 512 MB', async () => {
    const { parameters } = (await readJson(join(INFRA, 'main.parameters.json'))) as { parameters: Record<string, { value: unknown }> };
    expect(parameters.nodeVersion).toEqual({ value: '${WBMON_NODE_VERSION=22}' });
    expect(parameters.instanceMemoryMB).toEqual({ value: `\${WBMON_INSTANCE_MEMORY_MB=${INSTANCE_MEMORY_MB}}` });
  });
});

const found = await findBicep({ cacheDir: CACHE, fetch: false });

if ('unavailable' in found) {
  describe('the Bicep deployment', () => {
    it.skip(`is not compiled or linted here: ${found.unavailable}`, () => {});
  });
} else {
  const cli = found.cli;

  describe(`the Bicep deployment (${cli.description})`, () => {
    let results: BicepFileResult[] | undefined;
    const compiled = async (): Promise<BicepFileResult[]> => {
      if (!results) {
        results = [];
        for (const file of await bicepFiles(INFRA)) results.push(await compileAndLint(cli, file));
      }
      return results;
    };
    const mainTemplate = async (): Promise<ArmTemplate> => {
      const main = (await compiled()).find((r) => r.file === join(INFRA, 'main.bicep'));
      if (!main?.template) throw new Error('main.bicep did not compile');
      return main.template;
    };

    it('compiles and lints every file with zero errors and zero warnings', { timeout: 180_000 }, async () => {
      const all = await compiled();
      expect(all.map((r) => r.file.slice(INFRA.length + 1))).toEqual([
        'main.bicep',
        'modules/alerts.bicep',
        'modules/diagnostics.bicep',
        'modules/function-app.bicep',
        'modules/keyvault.bicep',
        'modules/monitoring.bicep',
        'modules/network.bicep',
        'modules/private-endpoints.bicep',
        'modules/role-assignments.bicep',
        'modules/standard-tests.bicep',
        'modules/storage.bicep',
        'modules/workbook.bicep',
      ]);
      expect(bicepProblems(all, INFRA)).toEqual([]);
      expect(all.every((r) => r.template !== undefined)).toBe(true);
    });

    it('reports a lint warning as a problem (the check can fail)', { timeout: 60_000 }, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'wbmon-bicep-bad-'));
      try {
        const file = join(dir, 'bad.bicep');
        await writeFile(file, "param unused string = 'x'\noutput location string = resourceGroup().location\n");
        const result = await compileAndLint(cli, file);
        expect(result.diagnostics.map((d) => `${d.severity} ${d.code} ${d.line}:${d.column}`)).toEqual(['Warning no-unused-params 1:7']);
        expect(bicepProblems([result], dir)).toHaveLength(1);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('matches main.parameters.json', { timeout: 180_000 }, async () => {
      expect(checkParametersFile(await mainTemplate(), await readJson(join(INFRA, 'main.parameters.json')))).toEqual([]);
    });

    it('runs the app on Flex Consumption, Node 22 unless told 24, as the user-assigned identity, HTTPS and TLS 1.2 only', { timeout: 180_000 }, async () => {
      const resources = allResources(await mainTemplate());
      const plan = one(resources, 'Microsoft.Web/serverfarms');
      expect(plan.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
      expect(plan.properties).toEqual({ reserved: true });

      const site = one(resources, 'Microsoft.Web/sites');
      expect(site.kind).toBe('functionapp,linux');
      expect((site.identity as { type: string }).type).toBe('UserAssigned');
      const props = site.properties as Record<string, any>;
      expect(props.httpsOnly).toBe(true);
      expect(props.siteConfig.minTlsVersion).toBe('1.2');
      // Only what Flex Consumption accepts: newer regions reject the rest (ARM error 51021).
      // (the appSettings loop compiles to a `copy` property)
      expect(Object.keys(props.siteConfig).sort()).toEqual(['copy', 'minTlsVersion']);
      expect(props.siteConfig.copy.map((c: { name: string }) => c.name)).toEqual(['appSettings']);
      // The version is the nodeVersion parameter: '22' until Flex Consumption lists Node.js 24
      // as generally available (docs/deployment-sizing.md), '24' allowed (.ci/run tests both).
      expect(props.functionAppConfig.runtime).toEqual({ name: 'node', version: "[parameters('nodeVersion')]" });
      const template = await mainTemplate();
      expect(template.parameters?.nodeVersion).toMatchObject({ type: 'string', defaultValue: '22', allowedValues: ['22', '24'] });
      const module = (template.resources as Record<string, Resource>).functionApp!.properties as { parameters: Record<string, { value: unknown }> };
      expect(module.parameters.nodeVersion).toEqual({ value: "[parameters('nodeVersion')]" });
      expect(nested(template, 'functionApp').parameters?.nodeVersion).toMatchObject({ type: 'string', allowedValues: ['22', '24'] });
      expect(props.functionAppConfig.deployment.storage.type).toBe('blobContainer');
      expect(props.functionAppConfig.deployment.storage.authentication.type).toBe('UserAssignedIdentity');
      expect(resources.filter((r) => r.type === 'Microsoft.Web/sites/basicPublishingCredentialsPolicies').map((r) => r.properties)).toEqual([{ allow: false }, { allow: false }]);
    });

    it('sizes each instance from the measured peak: 512 MB by default, any size Flex Consumption offers by parameter', { timeout: 180_000 }, async () => {
      const template = await mainTemplate();
      // bench/instance-memory.ts measures every timer's peak against this size (docs/deployment-sizing.md).
      expect(INSTANCE_MEMORY_MB).toBe(512);
      expect(template.parameters?.instanceMemoryMB).toMatchObject({ type: 'int', defaultValue: INSTANCE_MEMORY_MB, allowedValues: [512, 2048, 4096] });
      const module = (template.resources as Record<string, Resource>).functionApp!.properties as { parameters: Record<string, { value: unknown }> };
      expect(module.parameters.instanceMemoryMB).toEqual({ value: "[parameters('instanceMemoryMB')]" });
      const site = one(allResources(template), 'Microsoft.Web/sites');
      const scale = (site.properties as Record<string, any>).functionAppConfig.scaleAndConcurrency;
      expect(scale).toEqual({ maximumInstanceCount: "[parameters('maximumInstanceCount')]", instanceMemoryMB: "[parameters('instanceMemoryMB')]" });
      expect(nested(template, 'functionApp').parameters?.instanceMemoryMB).toMatchObject({ type: 'int', allowedValues: [512, 2048, 4096] });
    });

    it("gives the app the workbook's portal deep link for the alerts, in the deployment's own cloud and tenant, and leaves the status page's address to the platform", { timeout: 180_000 }, async () => {
      const template = await mainTemplate();
      const link = "[format('{0}/#@{1}/resource{2}/workbook', environment().portal, tenant().tenantId, reference('workbook').outputs.id.value)]";
      const module = (template.resources as Record<string, Resource & { dependsOn?: string[] }>).functionApp!;
      expect((module.properties as { parameters: Record<string, { value: unknown }> }).parameters.workbookUrl).toEqual({ value: link });
      expect(module.dependsOn).toContain('workbook');
      expect(template.outputs?.WORKBOOK_URL).toEqual({ type: 'string', value: link });
      const functionApp = nested(template, 'functionApp');
      // Always set: a condition on the deployment-time workbook id kept the app settings from expanding (bicep snapshot).
      expect(functionApp.variables?.linkSettings).toEqual({ WBMON_WORKBOOK_URL: "[parameters('workbookUrl')]" });
      expect(SETTING_NAMES).toContain('WBMON_WORKBOOK_URL');
      // What the link becomes in public Azure is a workbook URL the app accepts.
      const example = `https://portal.azure.com/#@00000000-1111-2222-3333-444444444444/resource/subscriptions/s/resourceGroups/rg/providers/Microsoft.Insights/workbooks/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}/workbook`;
      expect(parseSettings({ WBMON_WORKBOOK_URL: example }).alerting.workbookUrl).toBe(example);
      // No setting names the app's own address: WEBSITE_HOSTNAME is the platform's, and WBMON_PUBLIC_URL comes from azd when set.
      expect(JSON.stringify(template)).not.toContain('WEBSITE_HOSTNAME');
      expect(JSON.stringify(template)).not.toMatch(/listKeys|functionKeys|\?code=/);
    });

    it('gives the host identity-based storage and Entra ID telemetry, never a key or a worker-runtime setting', { timeout: 180_000 }, async () => {
      const template = await mainTemplate();
      const functionApp = nested(template, 'functionApp');
      expect(Object.keys(functionApp.variables?.platformSettings as object).sort()).toEqual([
        'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
        'APPLICATIONINSIGHTS_CONNECTION_STRING',
        'AZURE_CLIENT_ID',
        'AzureWebJobsStorage__accountName',
        'AzureWebJobsStorage__clientId',
        'AzureWebJobsStorage__credential',
        'AzureWebJobsStorage__tableServiceUri',
      ]);
      const text = JSON.stringify(template);
      for (const banned of ['FUNCTIONS_WORKER_RUNTIME', 'WEBSITE_NODE_DEFAULT_VERSION', 'listKeys', 'AccountKey=', 'InstrumentationKey=']) {
        expect(text, banned).not.toContain(banned);
      }
    });

    it('boots the app on a first deployment: identity-based storage found, settings valid with no secret created yet', { timeout: 180_000 }, async () => {
      const template = await mainTemplate();
      const platform = Object.keys(nested(template, 'functionApp').variables?.platformSettings as object);
      const secretSettings = template.variables?.secretSettings as { setting: string; secret: string }[];
      // What the Function App sees: the platform settings with sample values, and every secret
      // setting as the literal Key Vault reference App Service leaves when the secret is missing.
      const sample: Record<string, string> = {
        AzureWebJobsStorage__accountName: 'stwbmonabc',
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: '11111111-2222-3333-4444-555555555555',
        AzureWebJobsStorage__tableServiceUri: 'https://stwbmonabc.table.core.windows.net/',
        APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/',
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=11111111-2222-3333-4444-555555555555;Authorization=AAD',
        AZURE_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      };
      expect(Object.keys(sample).sort()).toEqual([...platform].sort());
      const env: Record<string, string> = { ...sample };
      for (const s of secretSettings) env[s.setting] = `@Microsoft.KeyVault(VaultName=kv-wbmon-abc;SecretName=${s.secret})`;

      const settings = parseSettings(env);
      expect(settings.unresolvedSecrets).toEqual(secretSettings.map((s) => s.setting).sort());
      expect(settings.relays.size).toBe(0);
      expect(settings.telemetryConnection).toBe(sample.APPLICATIONINSIGHTS_CONNECTION_STRING);
      expect(storageTarget(env)).toEqual({ kind: 'identity', tableServiceUri: 'https://stwbmonabc.table.core.windows.net', clientId: sample.AzureWebJobsStorage__clientId });
      expect(parseAuthenticationString(env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING)).toEqual({ clientId: sample.AZURE_CLIENT_ID });
    });

    it('turns shared keys off on storage, local auth off on Application Insights, RBAC on Key Vault', { timeout: 180_000 }, async () => {
      const resources = allResources(await mainTemplate());
      const storage = one(resources, 'Microsoft.Storage/storageAccounts').properties as Record<string, unknown>;
      expect(storage).toMatchObject({ allowSharedKeyAccess: false, allowBlobPublicAccess: false, minimumTlsVersion: 'TLS1_2', supportsHttpsTrafficOnly: true });
      const table = one(resources, 'Microsoft.Storage/storageAccounts/tableServices/tables');
      expect(nested(await mainTemplate(), 'storage').parameters?.tableName).toBeDefined();
      expect(table.name).toContain("parameters('tableName')");
      expect((await mainTemplate()).variables?.stateTableName).toBe(DEFAULT_TABLE_NAME);

      const insights = one(resources, 'Microsoft.Insights/components').properties as Record<string, unknown>;
      expect(insights).toMatchObject({ DisableLocalAuth: true, IngestionMode: 'LogAnalytics' });
      const vault = one(resources, 'Microsoft.KeyVault/vaults').properties as Record<string, unknown>;
      expect(vault).toMatchObject({ enableRbacAuthorization: true, enableSoftDelete: true });
    });

    it('keeps every secret setting in Key Vault, as a secure parameter, under a name the app reads', { timeout: 180_000 }, async () => {
      const template = await mainTemplate();
      const secretSettings = template.variables?.secretSettings as { setting: string; secret: string; value: string }[];
      expect(secretSettings.map((s) => s.setting)).toEqual(['WBMON_RELAYS', 'WBMON_TEAMS_WEBHOOK_URL', 'WBMON_SMTP_URL', 'WBMON_WEBHOOK_URL', 'WBMON_WEBHOOK_SECRET']);
      for (const s of secretSettings) {
        expect(SETTING_NAMES).toContain(s.setting);
        const parameter = /^\[parameters\('(\w+)'\)\]$/.exec(s.value)?.[1];
        expect(parameter, s.setting).toBeDefined();
        expect(template.parameters?.[parameter!]?.type, parameter).toBe('securestring');
      }
      expect(template.parameters?.alertWebhookUrl?.type).toBe('securestring');
      // The app settings carry references only: the value of each is the reference format.
      expect(JSON.stringify(template)).toContain("'@Microsoft.KeyVault(VaultName={0};SecretName={1})'");
      for (const name of ['emailFrom', 'emailTo', 'emailVia']) expect(template.parameters?.[name]?.type).toBe('string');
      // Graph email (no password) is chosen with a plain parameter; empty leaves the app's default.
      expect(template.parameters?.emailVia).toMatchObject({ defaultValue: '', allowedValues: ['', 'graph', 'smtp'] });
      expect(JSON.stringify(template)).toContain("'WBMON_EMAIL_VIA', parameters('emailVia')");
    });

    it('can switch the tenant checks off with the host setting named after the registered function', { timeout: 180_000 }, async () => {
      const template = await mainTemplate();
      expect(template.parameters?.tenantChecks).toEqual({ type: 'bool', defaultValue: true, metadata: expect.anything() });
      expect(JSON.stringify(template)).toContain("'AzureWebJobs.checkTenant.Disabled', 'true'");
      expect(await readFile(join(ROOT, 'functions', 'checkTenant.ts'), 'utf8')).toContain("app.timer('checkTenant',");
    });

    it('assigns exactly the roles the app needs, from one list', { timeout: 180_000 }, async () => {
      const template = await mainTemplate();
      expect(template.variables?.appRoles).toEqual([
        { target: 'storage', role: 'Storage Blob Data Owner' },
        { target: 'storage', role: 'Storage Table Data Contributor' },
        { target: 'keyVault', role: 'Key Vault Secrets User' },
        { target: 'appInsights', role: 'Monitoring Metrics Publisher' },
      ]);
      const roleIds = nested(template, 'roles').variables?.roleIds as Record<string, string>;
      for (const { role } of template.variables?.appRoles as { role: string }[]) expect(roleIds[role], role).toMatch(/^[0-9a-f-]{36}$/);
      expect(roleIds['Key Vault Secrets Officer']).toBe('b86a8fe4-44ce-4948-aee5-eccb2c155cd7');
    });

    it("makes the round trip's token secret once, never overwriting what the app or `roundtrip login` wrote, and scopes the app's write role to it", { timeout: 180_000 }, async () => {
      const template = await mainTemplate();
      expect(template.parameters?.roundtripUser).toMatchObject({ type: 'string', defaultValue: '' });
      expect(template.parameters?.roundtripClientId).toMatchObject({ type: 'string', defaultValue: '' });
      expect(template.parameters?.roundtripSchedule).toMatchObject({ type: 'string', defaultValue: '0 30 * * * *' });
      expect(template.variables?.roundtripTokenSecret).toBe('wbmon-roundtrip-token');
      const vault = nested(template, 'keyVault').resources as Record<string, Resource & { condition?: string; '@options'?: Record<string, unknown> }>;
      // ARM skips a resource with onlyIfNotExists when it exists: a redeployment keeps the rotated token.
      expect(vault.roundtripToken).toMatchObject({
        type: 'Microsoft.KeyVault/vaults/secrets',
        condition: "[parameters('roundtrip')]",
        '@options': { onlyIfNotExists: [] },
        properties: { value: 'not-signed-in', contentType: 'text/plain' },
      });
      // The secrets given as parameters stay as they were: written only when given, every time.
      expect(vault.secret).not.toHaveProperty('@options');
      const roles = nested(template, 'roles').resources as Record<string, Resource & { scope?: string; existing?: boolean }>;
      expect(roles.secrets).toMatchObject({ existing: true, type: 'Microsoft.KeyVault/vaults/secrets' });
      expect(roles.secretRoles!.scope).toBe("[resourceId('Microsoft.KeyVault/vaults/secrets', parameters('keyVaultName'), variables('secretAssignments')[copyIndex()].secret)]");
      expect(template.variables?.roundtripRoles).toBe("[if(variables('roundtrip'), createArray(createObject('target', 'keyVaultSecret', 'secret', variables('roundtripTokenSecret'), 'role', 'Key Vault Secrets Officer')), createArray())]");
      // The roles module runs after the vault module, which makes the secret its scope needs.
      expect((template.resources as Record<string, { dependsOn?: string[] }>).roles!.dependsOn).toContain('keyVault');
    });

    it('gives the round trip the authority host of the cloud deployed to, never a literal one', { timeout: 180_000 }, async () => {
      const template = await mainTemplate();
      expect(template.variables?.loginEndpoint).toBe('[environment().authentication.loginEndpoint]');
      expect((template.variables?.roundtripSettings as string).endsWith(
        "createObject('WBMON_TENANT_ID', tenant().tenantId, 'WBMON_LOGIN_URL', if(endsWith(variables('loginEndpoint'), '/'), take(variables('loginEndpoint'), sub(length(variables('loginEndpoint')), 1)), variables('loginEndpoint'))))]",
      )).toBe(true);
      expect(JSON.stringify(template)).not.toMatch(/login\.microsoftonline|login\.chinacloudapi/);
    });

    it('alerts by email from Azure Monitor itself about the monitor (silent, or its own runs failing) and about its own standard tests', { timeout: 180_000 }, async () => {
      const alerts = nested(await mainTemplate(), 'alerts');
      const rules = [...(alerts.variables?.monitorRules as Record<string, unknown>[]), ...(alerts.variables?.standardTestRules as Record<string, unknown>[])];
      const names = ['monitor-silent', 'monitor-failing', 'standard-test-all-regions', 'standard-test-some-regions'];
      const queries = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readFile(join(INFRA, 'queries', `${n}.kql`), 'utf8')])));
      expect(rules.map((r) => r.name)).toEqual(names);
      // loadTextContent() compiles to a variable per file, referenced as [variables('$fxv#N')].
      const loaded = (r: Record<string, unknown>) => alerts.variables?.[/^\[variables\('(.+)'\)\]$/.exec(String(r.query))?.[1] ?? ''];
      for (const r of rules) expect(loaded(r)).toBe(queries[r.name as string]);
      const silent = rules.find((r) => r.name === 'monitor-silent')!;
      expect(silent).toMatchObject({ timeAggregation: 'Total', metricMeasureColumn: 'Results', operator: 'LessThan', threshold: 1, severity: 0 });
      expect(rules.find((r) => r.name === 'monitor-failing')).toMatchObject({ timeAggregation: 'Count', operator: 'GreaterThan', threshold: 0, dimensions: ['Timer'], windowMinutes: 180, severity: 1 });
      const resources = allResources(alerts);
      const ruleResources = resources.filter((r) => r.type === 'Microsoft.Insights/scheduledQueryRules');
      expect(ruleResources).toHaveLength(1); // one copy loop
      expect(ruleResources[0]!.properties).toMatchObject({ skipQueryValidation: true, autoMitigate: true, evaluationFrequency: 'PT5M' });
      const group = one(resources, 'Microsoft.Insights/actionGroups');
      expect(group.location).toBe('global');
    });
  });
}

// ---- walking a compiled template --------------------------------------------------------

interface Resource {
  type: string;
  name?: string;
  kind?: string;
  location?: string;
  sku?: unknown;
  identity?: unknown;
  properties?: Record<string, unknown>;
}

/** Resources of a template and of every module (nested deployment) in it, at any depth. */
function allResources(template: ArmTemplate): Resource[] {
  // `existing` declarations are references, not resources of this deployment.
  const list = Object.values((template.resources ?? {}) as Record<string, Resource & { existing?: boolean }>).filter((r) => !r.existing);
  return list.flatMap((r) => {
    const inner = r.type === 'Microsoft.Resources/deployments' ? (r.properties?.template as ArmTemplate | undefined) : undefined;
    return inner ? [r, ...allResources(inner)] : [r];
  });
}

/** The compiled template of main.bicep's module with this symbolic name. */
function nested(template: ArmTemplate, symbol: string): ArmTemplate {
  const module = (template.resources as Record<string, Resource>)[symbol];
  const inner = module?.properties?.template as ArmTemplate | undefined;
  if (!inner) throw new Error(`no module "${symbol}"`);
  return inner;
}

function one(resources: Resource[], type: string): Resource {
  const matching = resources.filter((r) => r.type === type);
  expect(matching, type).toHaveLength(1);
  return matching[0]!;
}
