#Requires -Version 5.1
<#
.SYNOPSIS
Installs, upgrades or removes the writeback-monitor relay as the Windows service WritebackMonitorRelay.

.DESCRIPTION
Run it as an administrator from the folder the zip was unpacked into, on the Entra Connect server:

  .\Install-WritebackRelay.ps1 -MonitorUrl https://<app>.azurewebsites.net -RelayId connect01 -SecretFile .\secret.txt

It checks the settings, runs "writeback-monitor-relay.exe relay --once" as a pre-flight and prints its
verdict (and stops, changing nothing, when the monitor does not accept the heartbeat), then:
  - copies the relay and WinSW (the service wrapper) to %ProgramFiles%\writeback-monitor\relay\;
  - writes the settings to %ProgramData%\writeback-monitor\relay\local.settings.json, readable only by
    the service account and Administrators (the buffer, sequence file and logs live beside it);
  - registers the service WritebackMonitorRelay ("Writeback Monitor Relay"): automatic (delayed) start,
    restarted by the Service Control Manager after a crash, running as the virtual account
    NT SERVICE\WritebackMonitorRelay, or the group managed service account given with -Account;
  - adds that account to the local Event Log Readers group and registers the event source
    WritebackMonitorRelay in the Application log;
  - for the sync-engine checks, only where they apply: on an Entra Connect Sync server (the local
    group ADSyncBrowse exists) adds the account to ADSyncBrowse, so the relay can read staging
    mode; on an Entra Cloud Sync provisioning agent server (its trace folder
    %ProgramData%\Microsoft\Azure AD Connect Provisioning Agent\Trace exists) grants the account
    read access to that folder, inherited by its files, beside the ACEs already there. Each is
    one line of output, done or skipped and why; then starts the service.

Re-running it (from a newer zip) upgrades in place and keeps the buffer and the sequence file; the
settings already installed are kept unless given again. -Uninstall removes the service, the program
files, the settings (with the secret), the group memberships and the trace folder's read ACE, and
keeps the buffer unless -Purge.

.PARAMETER MonitorUrl
The monitor's base URL (https); heartbeats go to <MonitorUrl>/api/heartbeat.
.PARAMETER RelayId
This relay's id: its key in WBMON_RELAYS on the monitor.
.PARAMETER Secret
The relay's secret from WBMON_RELAYS, as a SecureString (e.g. -Secret (Read-Host -AsSecureString)).
.PARAMETER SecretFile
A file holding the secret (the first line is used). Delete it after the install.
.PARAMETER MonitorKey
The function key of the heartbeat endpoint, when the monitor runs on Azure Functions.
.PARAMETER Account
The service account: NT SERVICE\WritebackMonitorRelay (default) or a gMSA (DOMAIN\name$).
.PARAMETER Uninstall
Removes the service. The buffer stays unless -Purge.
.PARAMETER Purge
With -Uninstall: also removes the state folder (buffer, sequence file, logs) and the event source.
#>
[CmdletBinding(DefaultParameterSetName = 'Install')]
param(
    [Parameter(ParameterSetName = 'Install')][string] $MonitorUrl,
    [Parameter(ParameterSetName = 'Install')][string] $RelayId,
    [Parameter(ParameterSetName = 'Install')][System.Security.SecureString] $Secret,
    [Parameter(ParameterSetName = 'Install')][string] $SecretFile,
    [Parameter(ParameterSetName = 'Install')][string] $MonitorKey,
    [Parameter(ParameterSetName = 'Install')][string] $Account,
    [Parameter(ParameterSetName = 'Uninstall', Mandatory = $true)][switch] $Uninstall,
    [Parameter(ParameterSetName = 'Uninstall')][switch] $Purge
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

$script:ServiceName = 'WritebackMonitorRelay'
$script:DisplayName = 'Writeback Monitor Relay'
$script:EventSource = 'WritebackMonitorRelay'
$script:DefaultAccount = 'NT SERVICE\WritebackMonitorRelay'
$script:Description = 'Tests the path of Entra ID password writeback from this server and reports it to writeback-monitor.'
# Well-known SIDs, so that names in other languages do not matter.
$script:AdministratorsSid = 'S-1-5-32-544'
$script:SystemSid = 'S-1-5-18'
$script:EventLogReadersSid = 'S-1-5-32-573'
# Entra Connect Sync's own local group (created by its installer, so no well-known SID): its
# members may read the sync service's settings, Get-ADSyncScheduler's StagingModeEnabled among them.
$script:ADSyncBrowseGroup = 'ADSyncBrowse'
# Restart after 1 min, again after 1 min, then after 5 min; the count resets after a day without failure.
$script:FailureActions = 'restart/60000/restart/60000/restart/300000'
$script:FailureReset = '86400'
$script:MinSecretLength = 32

class WbInstallError : System.Exception {
    WbInstallError([string] $message) : base($message) {}
}

function Get-WbPaths {
    $programFiles = Join-Path (Join-Path $env:ProgramFiles 'writeback-monitor') 'relay'
    $data = Join-Path (Join-Path $env:ProgramData 'writeback-monitor') 'relay'
    [pscustomobject]@{
        ProgramDir = $programFiles
        DataDir    = $data
        Settings   = Join-Path $data 'local.settings.json'
        Logs       = Join-Path $data 'logs'
        # The Cloud Sync provisioning agent's trace folder, as the relay reads it (src/relay/cloud-sync.ts).
        AgentTrace = Join-Path (Join-Path (Join-Path $env:ProgramData 'Microsoft') 'Azure AD Connect Provisioning Agent') 'Trace'
        Relay      = Join-Path $programFiles 'writeback-monitor-relay.exe'
        Wrapper    = Join-Path $programFiles "$script:ServiceName.exe"
        WrapperXml = Join-Path $programFiles "$script:ServiceName.xml"
    }
}

# ---------------------------------------------------------------------------------------------
# Windows-only commands, each behind one small function: the Pester tests replace these with
# test doubles and assert the exact calls. Nothing else in this script touches the system but
# plain file operations.
# ---------------------------------------------------------------------------------------------

# The AD DNS domain this server is joined to, or $null. A virtual service account has no
# USERDNSDOMAIN, so the relay is told the domain whose PDC emulator it looks up in DNS.
function Get-WbMachineDomain {
    try {
        $computer = Get-CimInstance -ClassName Win32_ComputerSystem -ErrorAction Stop
        if ($computer.PartOfDomain) { return [string] $computer.Domain }
    } catch { }
    return $null
}

function Test-WbAdministrator {
    try {
        $principal = New-Object System.Security.Principal.WindowsPrincipal([System.Security.Principal.WindowsIdentity]::GetCurrent())
        return $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
    } catch {
        return $false
    }
}

function Get-WbService([string] $Name) {
    Get-Service -Name $Name -ErrorAction SilentlyContinue
}

function Get-WbServiceAccount([string] $Name) {
    (Get-CimInstance -ClassName Win32_Service -Filter "Name='$Name'").StartName
}

function New-WbService([string] $Name, [string] $BinaryPathName, [string] $DisplayName, [string] $Description) {
    New-Service -Name $Name -BinaryPathName $BinaryPathName -DisplayName $DisplayName -Description $Description -StartupType Automatic | Out-Null
}

function Invoke-WbSc([string[]] $Arguments) {
    $output = & (Join-Path $env:SystemRoot 'System32\sc.exe') @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw [WbInstallError]::new("sc.exe $($Arguments[0]) failed (exit $LASTEXITCODE): $(($output | Out-String).Trim())") }
}

function Invoke-WbIcacls([string[]] $Arguments) {
    $output = & (Join-Path $env:SystemRoot 'System32\icacls.exe') @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { throw [WbInstallError]::new("icacls.exe failed on $($Arguments[0]) (exit $LASTEXITCODE): $(($output | Out-String).Trim())") }
}

function Start-WbService([string] $Name) {
    Start-Service -Name $Name
}

function Stop-WbService([string] $Name) {
    # The relay finishes its current cycle first (WinSW sends it Ctrl+C and waits up to 60 s).
    Stop-Service -Name $Name
}

function Add-WbGroupMember([string] $GroupSid, [string] $Member) {
    try {
        Add-LocalGroupMember -SID $GroupSid -Member $Member -ErrorAction Stop
    } catch {
        if ($_.FullyQualifiedErrorId -like 'MemberExists*') { return }
        # Virtual accounts are not always found by Add-LocalGroupMember; net.exe takes them.
        $group = (New-Object System.Security.Principal.SecurityIdentifier($GroupSid)).Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
        $output = & (Join-Path $env:SystemRoot 'System32\net.exe') localgroup $group $Member /add 2>&1
        if ($LASTEXITCODE -ne 0 -and -not (($output | Out-String) -match '1378')) {
            throw [WbInstallError]::new("could not add $Member to the local group $group ($GroupSid): $(($output | Out-String).Trim())")
        }
    }
}

function Remove-WbGroupMember([string] $GroupSid, [string] $Member) {
    try {
        Remove-LocalGroupMember -SID $GroupSid -Member $Member -ErrorAction Stop
    } catch {
        if ($_.FullyQualifiedErrorId -like 'MemberNotFound*') { return }
        # As in Add-WbGroupMember: net.exe takes the virtual accounts Remove-LocalGroupMember may not
        # find. 1377: not a member. Never fatal: nothing the relay needs depends on it.
        try {
            $group = (New-Object System.Security.Principal.SecurityIdentifier($GroupSid)).Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
            $output = & (Join-Path $env:SystemRoot 'System32\net.exe') localgroup $group $Member /delete 2>&1
            if ($LASTEXITCODE -ne 0 -and -not (($output | Out-String) -match '1377')) { Write-Verbose "group membership: $(($output | Out-String).Trim())" }
        } catch { Write-Verbose "group membership: $($_.Exception.Message)" }
    }
}

# The SID of the local group $Name, or $null when this server has no such local group.
function Get-WbLocalGroupSid([string] $Name) {
    try {
        return [string] (Get-LocalGroup -Name $Name -ErrorAction Stop).SID.Value
    } catch {
        if ($_.FullyQualifiedErrorId -like 'GroupNotFound*') { return $null }
        # No LocalAccounts module (32-bit PowerShell): ask the LSA, for this machine's group only.
        try {
            $sid = (New-Object System.Security.Principal.NTAccount($env:COMPUTERNAME, $Name)).Translate([System.Security.Principal.SecurityIdentifier])
            return $sid.Value
        } catch { return $null }
    }
}

function Register-WbEventSource([string] $Source) {
    if (-not [System.Diagnostics.EventLog]::SourceExists($Source)) {
        [System.Diagnostics.EventLog]::CreateEventSource($Source, 'Application')
    }
}

function Unregister-WbEventSource([string] $Source) {
    if ([System.Diagnostics.EventLog]::SourceExists($Source)) { [System.Diagnostics.EventLog]::DeleteEventSource($Source) }
}

function Invoke-WbPreflight([string] $Exe, [hashtable] $Environment, [string] $WorkingDirectory) {
    $psi = New-Object System.Diagnostics.ProcessStartInfo
    $psi.FileName = $Exe
    $psi.Arguments = 'relay --once'
    $psi.WorkingDirectory = $WorkingDirectory
    $psi.UseShellExecute = $false
    $psi.CreateNoWindow = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.StandardOutputEncoding = [System.Text.Encoding]::UTF8
    $psi.StandardErrorEncoding = [System.Text.Encoding]::UTF8
    foreach ($name in $Environment.Keys) { $psi.EnvironmentVariables[$name] = [string] $Environment[$name] }
    $process = [System.Diagnostics.Process]::Start($psi)
    $stderr = $process.StandardError.ReadToEndAsync()
    $stdout = $process.StandardOutput.ReadToEnd()
    if (-not $process.WaitForExit(180000)) {
        $process.Kill()
        return @{ ExitCode = -1; Output = @('the pre-flight did not finish within 3 minutes') }
    }
    $process.WaitForExit()
    $lines = @(($stdout + "`n" + $stderr.Result) -split "`r?`n" | Where-Object { $_ -ne '' })
    return @{ ExitCode = $process.ExitCode; Output = $lines }
}

# ---------------------------------------------------------------------------------------------
# The installer itself: plain PowerShell over the functions above.
# ---------------------------------------------------------------------------------------------

function Write-WbLine([string] $Text) {
    Write-Host $Text
}

function ConvertTo-WbPlainText([System.Security.SecureString] $Value) {
    (New-Object System.Net.NetworkCredential('', $Value)).Password
}

function Test-WbMonitorUrl([string] $Url) {
    $uri = $null
    if (-not [System.Uri]::TryCreate($Url, [System.UriKind]::Absolute, [ref] $uri) -or -not ($uri.Scheme -in @('https', 'http'))) {
        return "-MonitorUrl: `"$Url`" is not a URL; give the monitor's base URL, e.g. https://<app>.azurewebsites.net"
    }
    if ($uri.Scheme -ne 'https' -and -not $uri.IsLoopback) { return "-MonitorUrl: `"$Url`" must be https (plain http only to this machine)" }
    return $null
}

function Read-WbSettings([string] $Path) {
    $values = [ordered]@{}
    if (Test-Path -LiteralPath $Path) {
        $json = Get-Content -LiteralPath $Path -Raw | ConvertFrom-Json
        if ($null -ne $json.PSObject.Properties['Values']) {
            foreach ($p in $json.Values.PSObject.Properties) { $values[$p.Name] = [string] $p.Value }
        }
    }
    return $values
}

function Write-WbSettings([string] $Path, $Values) {
    $json = [ordered]@{ IsEncrypted = $false; Values = $Values } | ConvertTo-Json -Depth 3
    [System.IO.File]::WriteAllText($Path, $json, (New-Object System.Text.UTF8Encoding($false)))
}

function Get-WbWrapperXml($Paths) {
    $e = { param($t) [System.Security.SecurityElement]::Escape($t) }
    @"
<?xml version="1.0" encoding="utf-8"?>
<!-- Written by Install-WritebackRelay.ps1; re-running it rewrites this file. WinSW reads it. -->
<service>
  <id>$script:ServiceName</id>
  <name>$script:DisplayName</name>
  <description>$(& $e $script:Description)</description>
  <executable>$(& $e $Paths.Relay)</executable>
  <arguments>relay</arguments>
  <workingdirectory>$(& $e $Paths.DataDir)</workingdirectory>
  <logpath>$(& $e $Paths.Logs)</logpath>
  <log mode="roll-by-size">
    <sizeThreshold>10240</sizeThreshold>
    <keepFiles>8</keepFiles>
  </log>
  <stoptimeout>60 sec</stoptimeout>
  <stopparentprocessfirst>true</stopparentprocessfirst>
</service>
"@
}

function Get-WbPreflightAdvice([int] $ExitCode, [string[]] $Output, [string] $Url) {
    $text = $Output -join "`n"
    if ($ExitCode -eq 2) { return "the relay's settings are wrong: $(($Output | Select-Object -First 3) -join '; ')" }
    if ($text -match '\(unauthorized') {
        return "the monitor at $Url refused this relay: check that -RelayId and the secret match this relay's entry in WBMON_RELAYS on the monitor, that -MonitorKey is the heartbeat function's key, and that this server's clock is right"
    }
    if ($text -match '\(retry') {
        return "the monitor at $Url could not be reached or did not answer: check outbound HTTPS (443) from this server to it, through the same proxy and firewall as the ADSync service, and that the monitor is running"
    }
    if ($ExitCode -eq -1) { return "$($Output -join '; ') (if the zip was downloaded, run Unblock-File on it before unpacking)" }
    return "the pre-flight failed (exit $ExitCode); the lines above say why"
}

# The sync-engine checks' access (docs/relay.md, "Both sync engines"), each only where its engine
# is installed, each one line of output. Not fatal: without them the relay runs, and its heartbeat
# says what it could not read (stagingMode null; cloudsync_read_problem), so a failure here is a
# line with the command to run by hand, not a failed install.
#
# What only a real Windows Server can show (the tests here replace the group and icacls calls):
#  - that ADSyncBrowse membership is what lets the account's Get-ADSyncScheduler read
#    StagingModeEnabled (Microsoft documents the ADSync groups as what the sync service lets read
#    its settings, not this cmdlet by name); the service's token takes the group at its next start,
#    which follows here; and a Connect installed on a domain controller, or with custom groups,
#    has domain groups instead, which this skips (the skip line says so; add the account by hand);
#  - the real ACL of the agent's trace folder: that (OI)(CI)R there reaches the trace files
#    (a file or subfolder whose inheritance is turned off keeps the account out), and that the
#    agent does not reset the folder's ACL when it upgrades itself (then re-run this script).
function Grant-WbSyncEngineAccess([string] $Account, $Paths) {
    $browseSid = Get-WbLocalGroupSid $script:ADSyncBrowseGroup
    if ($browseSid) {
        try {
            # Already a member is fine (Add-WbGroupMember takes that as done).
            Add-WbGroupMember -GroupSid $browseSid -Member $Account
            Write-WbLine "$($script:ADSyncBrowseGroup): $Account is a member, so the relay can read staging mode (Get-ADSyncScheduler)."
        } catch {
            Write-WbLine "$($script:ADSyncBrowseGroup): could not add $Account ($($_.Exception.Message)); the relay reports stagingMode null until it is a member: Add-LocalGroupMember -Group $($script:ADSyncBrowseGroup) -Member `"$Account`", then Restart-Service $script:ServiceName"
        }
    } else {
        Write-WbLine "$($script:ADSyncBrowseGroup): skipped: this server has no local group $($script:ADSyncBrowseGroup) (no Entra Connect Sync here, or it uses domain groups)."
    }
    if (Test-Path -LiteralPath $Paths.AgentTrace -PathType Container) {
        try {
            # /grant (not /grant:r, no /inheritance): adds one read ACE, inherited by subfolders (CI)
            # and files (OI), to the ACEs already there; run again, it merges into the same ACE.
            Invoke-WbIcacls @($Paths.AgentTrace, '/grant', "$($Account):(OI)(CI)R")
            Write-WbLine "Provisioning agent trace: $Account may read $($Paths.AgentTrace) (read only, inherited by its files)."
        } catch {
            Write-WbLine "Provisioning agent trace: could not grant $Account read access ($($_.Exception.Message)); the relay cannot read the agent's trace until: icacls `"$($Paths.AgentTrace)`" /grant `"$($Account):(OI)(CI)R`""
        }
    } else {
        Write-WbLine "Provisioning agent trace: skipped: $($Paths.AgentTrace) does not exist (no Entra Cloud Sync provisioning agent here)."
    }
}

# Undoes Grant-WbSyncEngineAccess for $Account; safe when either was never there.
function Revoke-WbSyncEngineAccess([string] $Account, $Paths) {
    $browseSid = Get-WbLocalGroupSid $script:ADSyncBrowseGroup
    if ($browseSid) {
        Remove-WbGroupMember -GroupSid $browseSid -Member $Account
        Write-WbLine "$($script:ADSyncBrowseGroup): $Account is no longer a member."
    } else {
        Write-WbLine "$($script:ADSyncBrowseGroup): skipped: this server has no local group $($script:ADSyncBrowseGroup)."
    }
    if (Test-Path -LiteralPath $Paths.AgentTrace -PathType Container) {
        try {
            # Removes the account's allow ACEs on the folder only (what /grant added); the inherited
            # ones on its files go with it. No ACE (never granted) is no error.
            Invoke-WbIcacls @($Paths.AgentTrace, '/remove:g', $Account)
            Write-WbLine "Provisioning agent trace: $Account has no read ACE on $($Paths.AgentTrace) any more."
        } catch {
            Write-WbLine "Provisioning agent trace: could not remove $Account's read access ($($_.Exception.Message)); remove it by hand: icacls `"$($Paths.AgentTrace)`" /remove:g `"$Account`""
        }
    } else {
        Write-WbLine "Provisioning agent trace: skipped: $($Paths.AgentTrace) does not exist."
    }
}

function Install-WbRelay {
    param(
        [string] $MonitorUrl,
        [string] $RelayId,
        [System.Security.SecureString] $Secret,
        [string] $SecretFile,
        [string] $MonitorKey,
        [string] $Account,
        [string] $PackageDir = $PSScriptRoot
    )
    # 1. What can be checked before anything else: the parameters as given.
    $problems = New-Object System.Collections.Generic.List[string]
    if ($MonitorUrl) { $p = Test-WbMonitorUrl $MonitorUrl; if ($p) { $problems.Add($p) } }
    if ($RelayId -and $RelayId -notmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$') {
        $problems.Add("-RelayId: `"$RelayId`" must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    }
    if ($Secret -and $SecretFile) { $problems.Add('-Secret and -SecretFile: give one of them, not both') }
    $secretText = $null
    if ($Secret) { $secretText = ConvertTo-WbPlainText $Secret }
    if ($SecretFile) {
        if (-not (Test-Path -LiteralPath $SecretFile -PathType Leaf)) { $problems.Add("-SecretFile: `"$SecretFile`" does not exist") }
        else { $secretText = [string] ((Get-Content -LiteralPath $SecretFile -TotalCount 1) -join '').Trim() }
    }
    if ($null -ne $secretText -and $secretText.Length -lt $script:MinSecretLength) { $problems.Add("-Secret: must be at least $script:MinSecretLength characters (the secret of this relay in WBMON_RELAYS on the monitor)") }
    if ($Account -and $Account -notmatch '^(NT SERVICE\\[A-Za-z0-9_.-]+|[^\\\s]+\\[^\\\s]+\$)$') {
        $problems.Add("-Account: `"$Account`" must be a virtual account (NT SERVICE\name) or a group managed service account (DOMAIN\name$)")
    }
    $absent = @(@('writeback-monitor-relay.exe', 'WinSW.exe', 'WinSW.exe.config') | Where-Object { -not (Test-Path -LiteralPath (Join-Path $PackageDir $_)) })
    if ($absent.Count -gt 0) { $problems.Add("$($absent -join ', ') missing beside the script in $PackageDir`: unpack the whole zip and run the script from there") }
    if ($problems.Count -gt 0) { throw [WbInstallError]::new($problems -join [Environment]::NewLine) }
    if (-not (Test-WbAdministrator)) { throw [WbInstallError]::new('run it as an administrator: in an elevated PowerShell ("Run as administrator")') }

    # 2. Upgrade or first install: the installed settings fill in what is not given again.
    $paths = Get-WbPaths
    $service = Get-WbService $script:ServiceName
    $upgrade = $null -ne $service
    $previousAccount = $null
    if ($upgrade) { $previousAccount = Get-WbServiceAccount $script:ServiceName }
    # An upgrade keeps the account the service runs as unless -Account says otherwise.
    if (-not $Account) { $Account = if ($previousAccount) { $previousAccount } else { $script:DefaultAccount } }
    $values = Read-WbSettings $paths.Settings
    if ($MonitorUrl) { $values['WBMON_MONITOR_URL'] = $MonitorUrl }
    if ($RelayId) { $values['WBMON_RELAY_ID'] = $RelayId }
    if ($null -ne $secretText) { $values['WBMON_RELAY_SECRET'] = $secretText }
    if ($MonitorKey) { $values['WBMON_MONITOR_KEY'] = $MonitorKey }
    $values['WBMON_RELAY_STATE_DIR'] = $paths.DataDir
    if (-not $values.Contains('WBMON_AD_DOMAINS') -and -not $values.Contains('WBMON_DC_HOST')) {
        $domain = Get-WbMachineDomain
        if ($domain) { $values['WBMON_AD_DOMAINS'] = $domain }
    }
    $missing = @()
    if (-not $values.Contains('WBMON_MONITOR_URL')) { $missing += '-MonitorUrl: required: the monitor''s base URL, e.g. https://<app>.azurewebsites.net' }
    if (-not $values.Contains('WBMON_RELAY_ID')) { $missing += '-RelayId: required: this relay''s id, its key in WBMON_RELAYS on the monitor' }
    if (-not $values.Contains('WBMON_RELAY_SECRET')) { $missing += '-Secret or -SecretFile: required: this relay''s secret from WBMON_RELAYS on the monitor' }
    if ($missing.Count -gt 0) { throw [WbInstallError]::new($missing -join [Environment]::NewLine) }

    # 3. The pre-flight, before anything is changed. An upgrade stops the service first, so the
    #    pre-flight sends the buffer in order from the real state folder; a first install uses an
    #    empty folder (sequence numbers follow the clock, so the service's next ones are larger).
    $wasRunning = $upgrade -and $service.Status -eq 'Running'
    if ($wasRunning) { Write-WbLine "Stopping $script:ServiceName (it finishes its current cycle)..."; Stop-WbService $script:ServiceName }
    $scratch = Join-Path ([System.IO.Path]::GetTempPath()) ("wbmon-preflight-" + [guid]::NewGuid().ToString('n'))
    New-Item -ItemType Directory -Path $scratch | Out-Null
    try {
        $environment = @{}
        foreach ($k in $values.Keys) { $environment[$k] = $values[$k] }
        if (-not $upgrade) { $environment['WBMON_RELAY_STATE_DIR'] = $scratch }
        Write-WbLine "Pre-flight: writeback-monitor-relay.exe relay --once to $($values['WBMON_MONITOR_URL'])"
        try {
            $preflight = Invoke-WbPreflight -Exe (Join-Path $PackageDir 'writeback-monitor-relay.exe') -Environment $environment -WorkingDirectory $scratch
        } catch {
            # Blocked by policy (AppLocker, a downloaded file not unblocked), or not startable at all.
            $preflight = @{ ExitCode = -1; Output = @("writeback-monitor-relay.exe could not be started: $($_.Exception.Message)") }
        }
        foreach ($line in $preflight.Output) { Write-WbLine "  $line" }
    } finally {
        Remove-Item -LiteralPath $scratch -Recurse -Force -ErrorAction SilentlyContinue
    }
    if ($preflight.ExitCode -ne 0) {
        if ($wasRunning) { Start-WbService $script:ServiceName }
        $what = if ($upgrade) { 'nothing was changed and the installed relay runs on' } else { 'nothing was installed' }
        throw [WbInstallError]::new("pre-flight failed, $what`: $(Get-WbPreflightAdvice $preflight.ExitCode $preflight.Output $values['WBMON_MONITOR_URL'])")
    }
    Write-WbLine 'Pre-flight: the monitor accepted the heartbeat.'

    # 4. Files, service, permissions. A first install that fails half-way is removed again.
    $createdProgramDir = -not (Test-Path -LiteralPath $paths.ProgramDir)
    $createdDataDir = -not (Test-Path -LiteralPath $paths.DataDir)
    $createdService = $false
    try {
        New-Item -ItemType Directory -Force -Path $paths.ProgramDir, $paths.DataDir, $paths.Logs | Out-Null
        Copy-Item -LiteralPath (Join-Path $PackageDir 'writeback-monitor-relay.exe') -Destination $paths.Relay -Force
        Copy-Item -LiteralPath (Join-Path $PackageDir 'WinSW.exe') -Destination $paths.Wrapper -Force
        Copy-Item -LiteralPath (Join-Path $PackageDir 'WinSW.exe.config') -Destination "$($paths.Wrapper).config" -Force
        foreach ($doc in @('Install-WritebackRelay.ps1', 'README.txt', 'THIRD-PARTY-NOTICES.txt', 'WinSW-LICENSE.txt')) {
            $from = Join-Path $PackageDir $doc
            if (Test-Path -LiteralPath $from) { Copy-Item -LiteralPath $from -Destination (Join-Path $paths.ProgramDir $doc) -Force }
        }
        [System.IO.File]::WriteAllText($paths.WrapperXml, (Get-WbWrapperXml $paths), (New-Object System.Text.UTF8Encoding($false)))

        if (-not $upgrade) {
            # Quoted: a path with spaces must never be an unquoted service path.
            New-WbService -Name $script:ServiceName -BinaryPathName "`"$($paths.Wrapper)`"" -DisplayName $script:DisplayName -Description $script:Description
            $createdService = $true
        }
        Invoke-WbSc @('config', $script:ServiceName, 'start=', 'delayed-auto', 'obj=', $Account, 'DisplayName=', $script:DisplayName)
        Invoke-WbSc @('description', $script:ServiceName, $script:Description)
        Invoke-WbSc @('failure', $script:ServiceName, 'reset=', $script:FailureReset, 'actions=', $script:FailureActions)
        # Recovery also when the relay exits with an error, not only when it crashes.
        Invoke-WbSc @('failureflag', $script:ServiceName, '1')

        # The account exists now (a virtual account exists with its service): grant it its folder,
        # and the secret to it and the Administrators only.
        Invoke-WbIcacls @($paths.DataDir, '/inheritance:r', '/grant:r', "*$($script:AdministratorsSid):(OI)(CI)F", "*$($script:SystemSid):(OI)(CI)F", "$($Account):(OI)(CI)M")
        if (-not (Test-Path -LiteralPath $paths.Settings)) { New-Item -ItemType File -Path $paths.Settings | Out-Null }
        Invoke-WbIcacls @($paths.Settings, '/inheritance:r', '/grant:r', "*$($script:AdministratorsSid):F", "$($Account):R")
        Write-WbSettings $paths.Settings $values

        if ($previousAccount -and $previousAccount -ne $Account) {
            # An upgrade that changes the account takes everything from the previous one.
            Invoke-WbIcacls @($paths.DataDir, '/remove:g', $previousAccount, '/T')
            Remove-WbGroupMember -GroupSid $script:EventLogReadersSid -Member $previousAccount
            Revoke-WbSyncEngineAccess -Account $previousAccount -Paths $paths
        }
        Add-WbGroupMember -GroupSid $script:EventLogReadersSid -Member $Account
        Grant-WbSyncEngineAccess -Account $Account -Paths $paths
        Register-WbEventSource $script:EventSource
        Start-WbService $script:ServiceName
    } catch {
        if (-not $upgrade) {
            Write-WbLine 'The install failed; removing what it had done.'
            # The memberships and the ACE first: a virtual account's name resolves only while its
            # service exists.
            Remove-WbGroupMember -GroupSid $script:EventLogReadersSid -Member $Account
            if ($createdService) {
                try { Revoke-WbSyncEngineAccess -Account $Account -Paths $paths } catch { Write-Verbose $_.Exception.Message }
                try { Invoke-WbSc @('delete', $script:ServiceName) } catch { Write-Verbose $_.Exception.Message }
            }
            if ($createdProgramDir) { Remove-Item -LiteralPath $paths.ProgramDir -Recurse -Force -ErrorAction SilentlyContinue }
            if ($createdDataDir) { Remove-Item -LiteralPath $paths.DataDir -Recurse -Force -ErrorAction SilentlyContinue }
        }
        throw [WbInstallError]::new("$($_.Exception.Message)$(if ($upgrade) { ' (the upgrade stopped half-way: run the script again)' })")
    }
    $verb = if ($upgrade) { 'upgraded' } else { 'installed' }
    Write-WbLine "Writeback Monitor Relay $verb`: service $script:ServiceName runs as $Account."
    Write-WbLine "Settings: $($paths.Settings); logs: $($paths.Logs); events: Application log, source $script:EventSource."
}

function Uninstall-WbRelay {
    param([switch] $Purge)
    if (-not (Test-WbAdministrator)) { throw [WbInstallError]::new('run it as an administrator: in an elevated PowerShell ("Run as administrator")') }
    $paths = Get-WbPaths
    $service = Get-WbService $script:ServiceName
    $account = $script:DefaultAccount
    if ($null -ne $service) {
        $installedAs = Get-WbServiceAccount $script:ServiceName
        if ($installedAs) { $account = $installedAs }
        if ($service.Status -ne 'Stopped') { Write-WbLine "Stopping $script:ServiceName (it finishes its current cycle)..."; Stop-WbService $script:ServiceName }
    }
    # The memberships and the trace folder's ACE before the service goes: a virtual account's name
    # (NT SERVICE\WritebackMonitorRelay) resolves only while its service exists.
    Remove-WbGroupMember -GroupSid $script:EventLogReadersSid -Member $account
    if ($null -ne $service) {
        Revoke-WbSyncEngineAccess -Account $account -Paths $paths
        Invoke-WbSc @('delete', $script:ServiceName)
    } else {
        Write-WbLine "ADSyncBrowse and provisioning agent trace: skipped: service $script:ServiceName is not installed, so there is no account of it to remove."
    }
    if (Test-Path -LiteralPath $paths.ProgramDir) { Remove-Item -LiteralPath $paths.ProgramDir -Recurse -Force }
    if ($Purge) {
        if (Test-Path -LiteralPath $paths.DataDir) { Remove-Item -LiteralPath $paths.DataDir -Recurse -Force }
        Unregister-WbEventSource $script:EventSource
        Write-WbLine "Writeback Monitor Relay removed, with its buffer, logs and event source."
    } else {
        # The secret goes with the service; the buffer and the sequence file stay for a reinstall.
        if (Test-Path -LiteralPath $paths.Settings) { Remove-Item -LiteralPath $paths.Settings -Force }
        Write-WbLine "Writeback Monitor Relay removed. Its buffer and logs stay in $($paths.DataDir) (remove them with -Uninstall -Purge)."
    }
}

# Dot-sourced (the Pester tests): define the functions only.
if ($MyInvocation.InvocationName -eq '.') { return }

try {
    if ($PSCmdlet.ParameterSetName -eq 'Uninstall') {
        Uninstall-WbRelay -Purge:$Purge
    } else {
        Install-WbRelay -MonitorUrl $MonitorUrl -RelayId $RelayId -Secret $Secret -SecretFile $SecretFile -MonitorKey $MonitorKey -Account $Account
    }
    exit 0
} catch {
    foreach ($line in ($_.Exception.Message -split "`r?`n")) { [Console]::Error.WriteLine("Install-WritebackRelay: $line") }
    exit 1
}
