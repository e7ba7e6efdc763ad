<#
.SYNOPSIS
Grants the monitor's managed identity the Microsoft Graph application permissions the tenant
checks read with: the PowerShell twin of infra/grant-graph-permissions.sh.

.DESCRIPTION
Organization.Read.All (licences, directory sync), AuditLog.Read.All with Directory.Read.All
(SSPR writeback failures: the directoryAudits API reference names both as its least
privileged application permissions; Directory.Read.All also lists the Cloud Sync
configurations' service principals), and Synchronization.Read.All (the Cloud Sync
configurations' provisioning jobs: quarantine, last run). Run once, as a Privileged Role
Administrator or Global Administrator, with Microsoft Graph PowerShell installed
(Install-Module Microsoft.Graph.Applications -Scope CurrentUser):

  ./infra/grant-graph-permissions.ps1 -PrincipalId <principal-id-of-the-managed-identity> [-MailSend]

The principal id is the managed identity's object id (az identity show --query principalId, or
az functionapp identity show --query principalId). Granting an application permission is admin
consent: it takes effect without a user prompt, and new tokens carry it within minutes (a
running app may hold a cached token for a while). Permissions already granted are left as they
are, so running it twice is harmless.

test/grant-graph-permissions.test.ts checks that this script and the .sh grant the same
permissions.
#>
[CmdletBinding()]
param(
  [Parameter(Mandatory = $true)]
  [ValidatePattern('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')]
  [string] $PrincipalId,
  # Also Mail.Send, for email through Microsoft Graph (WBMON_EMAIL_VIA=graph). On its own it lets
  # the identity send as ANY mailbox: restrict it with an application access policy at once
  # (docs/alerts.md), or use Exchange's RBAC for Applications instead and leave this off.
  [switch] $MailSend
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$permissions = @('Organization.Read.All', 'AuditLog.Read.All', 'Directory.Read.All', 'Synchronization.Read.All')
if ($MailSend) { $permissions += 'Mail.Send' }
$graphAppId = '00000003-0000-0000-c000-000000000000' # Microsoft Graph, the same in every tenant

Import-Module Microsoft.Graph.Applications
Connect-MgGraph -Scopes 'AppRoleAssignment.ReadWrite.All', 'Application.Read.All' -NoWelcome

$graph = Get-MgServicePrincipal -Filter "appId eq '$graphAppId'"
$existing = @(Get-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $PrincipalId -All)

foreach ($permission in $permissions) {
  $role = $graph.AppRoles | Where-Object { $_.Value -eq $permission -and $_.AllowedMemberTypes -contains 'Application' } | Select-Object -First 1
  if (-not $role) { throw "Microsoft Graph has no application permission $permission" }
  if ($existing | Where-Object { $_.AppRoleId -eq $role.Id -and $_.ResourceId -eq $graph.Id }) {
    Write-Output "${permission}: already granted"
    continue
  }
  New-MgServicePrincipalAppRoleAssignment -ServicePrincipalId $PrincipalId -PrincipalId $PrincipalId -ResourceId $graph.Id -AppRoleId $role.Id | Out-Null
  Write-Output "${permission}: granted"
}
