/**
 * The azd hooks of azure.yaml: every one has a posix and a windows (PowerShell 7) variant, and
 * the postdeploy scripts (infra/hooks/postdeploy.sh and .ps1) do the same thing, run here for
 * real: sh, and pwsh as .ci/run installs it (a .NET tool in .cache/pwsh), each with a stand-in
 * `az` on PATH that records its arguments. The pwsh part is skipped, saying why, without pwsh.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

function findPwsh(): string | undefined {
  const candidates = [process.env.WBMON_PWSH, join(ROOT, '.cache', 'pwsh', process.platform === 'win32' ? 'pwsh.exe' : 'pwsh')];
  for (const c of candidates) if (c && existsSync(c)) return c;
  const onPath = spawnSync('pwsh', ['-NoProfile', '-Command', '[Environment]::ProcessPath'], { encoding: 'utf8' });
  return onPath.status === 0 ? 'pwsh' : undefined;
}
const PWSH = findPwsh();
if (!PWSH) console.warn('azd hook PowerShell tests skipped: no pwsh (dotnet tool install --tool-path .cache/pwsh PowerShell --version 7.6.9; .ci/run does)');

interface HookVariant {
  readonly shell: string;
  readonly run: string;
  readonly continueOnError: boolean;
}

/**
 * The hooks of azure.yaml (top level and per service) by name, each with its variants, read by
 * indentation: a hook is a key named pre<step> or post<step> whose children are posix/windows.
 */
function hooks(yaml: string): Map<string, Record<string, HookVariant>> {
  const lines = yaml.split('\n');
  const found = new Map<string, Record<string, HookVariant>>();
  const indent = (line: string) => line.length - line.trimStart().length;
  for (let i = 0; i < lines.length; i++) {
    const hook = /^( *)((?:pre|post)\w+):\s*$/.exec(lines[i]!);
    if (!hook) continue;
    const variants: Record<string, HookVariant> = {};
    let j = i + 1;
    while (j < lines.length && (lines[j]!.trim() === '' || indent(lines[j]!) > hook[1]!.length)) {
      const variant = /^ *(posix|windows):\s*$/.exec(lines[j]!);
      if (variant) {
        const depth = indent(lines[j]!);
        const fields: Record<string, string> = {};
        let k = j + 1;
        while (k < lines.length && (lines[k]!.trim() === '' || indent(lines[k]!) > depth)) {
          const field = /^ *(\w+): *(.*)$/.exec(lines[k]!);
          if (field && indent(lines[k]!) === depth + 2) fields[field[1]!] = field[2]!;
          k++;
        }
        variants[variant[1]!] = { shell: fields['shell'] ?? '', run: fields['run'] ?? '', continueOnError: fields['continueOnError'] === 'true' };
        j = k;
      } else j++;
    }
    found.set(hook[2]!, variants);
  }
  return found;
}

const yaml = readFileSync(join(ROOT, 'azure.yaml'), 'utf8');

describe('the azd hooks of azure.yaml', () => {
  it('are read from the file: prepackage of the service and postdeploy', () => {
    expect([...hooks(yaml).keys()]).toEqual(['prepackage', 'postdeploy']);
  });

  it('each have a posix (sh) and a windows (pwsh) variant', () => {
    for (const [name, variants] of hooks(yaml)) {
      expect(Object.keys(variants).sort(), name).toEqual(['posix', 'windows']);
      expect(variants.posix!.shell, name).toBe('sh');
      expect(variants.windows!.shell, name).toBe('pwsh');
      expect(variants.posix!.continueOnError, name).toBe(variants.windows!.continueOnError);
    }
  });

  it('run the postdeploy scripts, the .sh and the .ps1, which exist', () => {
    const postdeploy = hooks(yaml).get('postdeploy')!;
    expect(postdeploy.posix!.run).toBe('./infra/hooks/postdeploy.sh');
    expect(postdeploy.windows!.run).toBe('./infra/hooks/postdeploy.ps1');
    for (const v of Object.values(postdeploy)) expect(existsSync(join(ROOT, v.run)), v.run).toBe(true);
  });

  it('find a hook without a windows variant (the check can fail)', () => {
    const onlyPosix = 'hooks:\n  postprovision:\n    posix:\n      shell: sh\n      run: echo hi\n';
    expect(hooks(onlyPosix)).toEqual(new Map([['postprovision', { posix: { shell: 'sh', run: 'echo hi', continueOnError: false } }]]));
  });
});

// ---- the postdeploy scripts, run ------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), 'wbmon-azd-hooks-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A folder with a stand-in `az` that appends its arguments, one per line, to `log` and exits with `code`. */
function fakeAz(name: string, code: number): { bin: string; log: string } {
  const bin = join(work, name);
  const log = join(work, `${name}.log`);
  spawnSync('mkdir', ['-p', bin]);
  const az = join(bin, 'az');
  writeFileSync(az, `#!/bin/sh\nfor a in "$@"; do echo "$a" >> '${log}'; done\n${code === 0 ? '' : 'echo "ERROR: (AuthorizationFailed) no access" >&2\n'}exit ${code}\n`);
  chmodSync(az, 0o755);
  return { bin, log };
}

const AZD_ENV = { AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000001', AZURE_RESOURCE_GROUP: 'rg-wbmon', FUNCTION_APP_NAME: 'func-wbmon-abc' };
const EXPECTED_ARGS = [
  'rest',
  '--method',
  'post',
  '--url',
  '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-wbmon/providers/Microsoft.Web/sites/func-wbmon-abc/config/configreferences/appsettings/refresh?api-version=2022-03-01',
];

interface Shell {
  readonly name: string;
  readonly available: boolean;
  run(path: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string };
}

/** Only these on PATH besides the stand-in: the shell must not find a real az. */
const SYSTEM_PATH = ['/usr/bin', '/bin'].join(delimiter);

const shells: Shell[] = [
  {
    name: 'sh (posix)',
    available: true,
    run: (path, env) => spawnSync('sh', [join(ROOT, 'infra', 'hooks', 'postdeploy.sh')], { encoding: 'utf8', env: { PATH: path, ...env } }),
  },
  {
    name: 'pwsh (windows)',
    available: PWSH !== undefined,
    run: (path, env) =>
      spawnSync(PWSH!, ['-NoProfile', '-NonInteractive', '-File', join(ROOT, 'infra', 'hooks', 'postdeploy.ps1')], {
        encoding: 'utf8',
        // pwsh needs HOME (its profile folder) and DOTNET_ROOT when installed as a .NET tool.
        env: { PATH: path, HOME: work, ...(process.env.DOTNET_ROOT ? { DOTNET_ROOT: process.env.DOTNET_ROOT } : {}), ...env },
        timeout: 120_000,
      }),
  },
];

for (const shell of shells) {
  describe.skipIf(!shell.available)(`the postdeploy hook under ${shell.name}`, () => {
    it('asks App Service to refresh the Key Vault references of the deployed app, with the Azure CLI', { timeout: 120_000 }, () => {
      const az = fakeAz(`ok-${shell.name.split(' ')[0]}`, 0);
      const run = shell.run(`${az.bin}${delimiter}${SYSTEM_PATH}`, AZD_ENV);
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe('Key Vault references refreshed');
      expect(run.status).toBe(0);
      expect(readFileSync(az.log, 'utf8').trim().split('\n')).toEqual(EXPECTED_ARGS);
    });

    it('says so and fails (azd goes on: continueOnError) when az rest fails', { timeout: 120_000 }, () => {
      const az = fakeAz(`fail-${shell.name.split(' ')[0]}`, 1);
      const run = shell.run(`${az.bin}${delimiter}${SYSTEM_PATH}`, AZD_ENV);
      expect(run.stdout).toContain('Key Vault references not refreshed (az rest failed, see above)');
      expect(run.stderr).toContain('AuthorizationFailed');
      expect(run.status).toBe(1);
    });

    it('points to the README without the Azure CLI, and succeeds', { timeout: 120_000 }, () => {
      const run = shell.run(SYSTEM_PATH, AZD_ENV);
      expect(run.stdout.trim()).toBe('Azure CLI not found: refresh the Key Vault references by hand (README, Registering a relay)');
      expect(run.status).toBe(0);
    });

    it('names what the azd environment lacks instead of calling az with an empty name', { timeout: 120_000 }, () => {
      const az = fakeAz(`missing-${shell.name.split(' ')[0]}`, 0);
      const run = shell.run(`${az.bin}${delimiter}${SYSTEM_PATH}`, { AZURE_SUBSCRIPTION_ID: AZD_ENV.AZURE_SUBSCRIPTION_ID });
      expect(run.stdout.trim()).toBe('Key Vault references not refreshed: the azd environment lacks AZURE_RESOURCE_GROUP FUNCTION_APP_NAME (run azd provision first)');
      expect(run.status).toBe(1);
      expect(existsSync(az.log)).toBe(false);
    });
  });
}

describe.skipIf(!PWSH)('the PowerShell hook scripts', () => {
  it('parse without errors in PowerShell 7', { timeout: 120_000 }, () => {
    const file = join(ROOT, 'infra', 'hooks', 'postdeploy.ps1');
    const script = `$e = $null; $null = [System.Management.Automation.Language.Parser]::ParseFile('${file.replace(/'/g, "''")}', [ref]$null, [ref]$e); $e.Count`;
    const run = spawnSync(PWSH!, ['-NoProfile', '-NonInteractive', '-Command', script], { encoding: 'utf8', env: { ...process.env, HOME: work } });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('0');
  });
});
