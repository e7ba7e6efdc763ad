import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { remediationFor } from '../src/alerting/remediation.js';

const sh = readFileSync(new URL('../infra/grant-graph-permissions.sh', import.meta.url), 'utf8');
const ps1 = readFileSync(new URL('../infra/grant-graph-permissions.ps1', import.meta.url), 'utf8');

/** The words of `permissions=(A B C)`, and what `--mail-send` adds. */
function shPermissions(): string[] {
  const lists = [...sh.matchAll(/^permissions=\(([^)]*)\)$/gm)];
  expect(lists).toHaveLength(1);
  return lists[0]![1]!.trim().split(/\s+/);
}

/** The strings of `$permissions = @('A', 'B', 'C')`. */
function ps1Permissions(): string[] {
  const lists = [...ps1.matchAll(/^\$permissions = @\(([^)]*)\)$/gm)];
  expect(lists).toHaveLength(1);
  const items = lists[0]![1]!.split(',').map((s) => s.trim());
  for (const item of items) expect(item).toMatch(/^'[A-Za-z.]+'$/);
  return items.map((s) => s.slice(1, -1));
}

describe('the Graph permission scripts', () => {
  it('grant exactly the same permissions in the .sh and the .ps1', () => {
    expect(shPermissions()).toEqual(['Organization.Read.All', 'AuditLog.Read.All', 'Directory.Read.All', 'Synchronization.Read.All']);
    expect(ps1Permissions()).toEqual(shPermissions());
    expect(sh).toContain('--mail-send) permissions+=(Mail.Send) ;;');
    expect(ps1).toContain("if ($MailSend) { $permissions += 'Mail.Send' }");
  });

  it('use the same Microsoft Graph app id and grant only application roles', () => {
    const graphAppId = '00000003-0000-0000-c000-000000000000';
    expect(sh).toContain(`graph_app_id="${graphAppId}"`);
    expect(ps1).toContain(`$graphAppId = '${graphAppId}'`);
    expect(sh).toContain("contains(allowedMemberTypes, 'Application')");
    expect(ps1).toContain("$_.AllowedMemberTypes -contains 'Application'");
  });

  it('have a .ps1 that parses as far as a parse check without PowerShell goes: balanced brackets and quotes, a mandatory principal id', () => {
    const code = ps1.replace(/<#[\s\S]*?#>/g, '').replace(/#[^\n]*/g, '');
    const stack: string[] = [];
    let quote: string | undefined;
    for (const ch of code) {
      if (quote) {
        if (ch === quote) quote = undefined;
        continue;
      }
      if (ch === "'" || ch === '"') quote = ch;
      else if ('({['.includes(ch)) stack.push(ch);
      else if (')}]'.includes(ch)) expect(stack.pop(), ch).toBe({ ')': '(', '}': '{', ']': '[' }[ch]);
    }
    expect(quote).toBeUndefined();
    expect(stack).toEqual([]);
    expect(ps1).toMatch(/\[Parameter\(Mandatory = \$true\)\]\s*\[ValidatePattern\('[^']+'\)\]\s*\[string\] \$PrincipalId/);
    expect(ps1).toContain("$ErrorActionPreference = 'Stop'");
  });

  it('are both named, with their arguments, by the graph_permission remediation', () => {
    const r = remediationFor({ checkKind: 'tenant', code: 'graph_permission', phase: 'graph', location: 'tenant', target: 'contoso.onmicrosoft.com' });
    expect(r.steps[0]).toContain('infra/grant-graph-permissions.sh <principal id>');
    expect(r.steps[1]).toContain('./infra/grant-graph-permissions.ps1 -PrincipalId <principal id>');
    for (const permission of shPermissions()) expect(r.summary).toContain(permission);
  });
});
