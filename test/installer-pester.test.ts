/**
 * The Windows installer's Pester suite (test/windows/Install-WritebackRelay.Tests.ps1), run with
 * PowerShell 7 and Pester 6 as .ci/run installs them: pwsh as a .NET tool in .cache/pwsh/,
 * Pester from NuGet in .cache/nuget/pester/. Skipped, saying why, only when no pwsh is found;
 * a pwsh without Pester fails, since .ci/run provides both.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

function findPwsh(): string | undefined {
  const candidates = [process.env.WBMON_PWSH, join(ROOT, '.cache', 'pwsh', process.platform === 'win32' ? 'pwsh.exe' : 'pwsh')];
  for (const c of candidates) if (c && existsSync(c)) return c;
  const onPath = spawnSync('pwsh', ['-NoProfile', '-Command', '[Environment]::ProcessPath'], { encoding: 'utf8' });
  return onPath.status === 0 ? 'pwsh' : undefined;
}

const PWSH = findPwsh();
const PESTER = join(ROOT, '.cache', 'nuget', 'pester', '6.2.0', 'tools', 'Pester.psd1');
if (!PWSH) console.warn('installer Pester tests skipped: no pwsh (dotnet tool install --tool-path .cache/pwsh PowerShell --version 7.6.9; .ci/run does)');

interface PesterSummary {
  passed: number;
  failed: number;
  failures: string[];
}

describe.skipIf(!PWSH)('Install-WritebackRelay.ps1 under Pester (PowerShell 7)', () => {
  it('passes every Pester test: service, start type, recovery, account, ACL, sync-engine rights, upgrade, uninstall, pre-flight, bad input', () => {
    expect(existsSync(PESTER), `Pester 6.2.0 is not at ${PESTER}: .ci/run restores it from NuGet`).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'wbmon-pester-'));
    try {
      const summary = join(dir, 'summary.json');
      const script = [
        "$ErrorActionPreference = 'Stop'",
        `Import-Module '${PESTER.replace(/'/g, "''")}'`,
        '$c = New-PesterConfiguration',
        `$c.Run.Path = '${join(ROOT, 'test', 'windows').replace(/'/g, "''")}'`,
        '$c.Run.PassThru = $true',
        "$c.Output.Verbosity = 'None'",
        '$r = Invoke-Pester -Configuration $c',
        '$failures = @($r.Failed | ForEach-Object { "$($_.ExpandedPath): $($_.ErrorRecord.Exception.Message)" })',
        `@{ passed = $r.PassedCount; failed = $r.FailedCount + $r.FailedContainersCount; failures = $failures } | ConvertTo-Json -Depth 3 | Set-Content -LiteralPath '${summary}'`,
      ].join('\n');
      const run = spawnSync(PWSH!, ['-NoProfile', '-NonInteractive', '-Command', script], {
        encoding: 'utf8',
        env: { ...process.env, WBMON_PWSH: PWSH! },
        timeout: 240_000,
      });
      expect(run.status, `pwsh failed: ${run.stderr}`).toBe(0);
      const result = JSON.parse(readFileSync(summary, 'utf8')) as PesterSummary;
      expect(result.failures ?? []).toEqual([]);
      expect(result.failed).toBe(0);
      expect(result.passed).toBeGreaterThanOrEqual(50);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
