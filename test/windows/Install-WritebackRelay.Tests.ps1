# Pester 6 tests of packaging/windows/Install-WritebackRelay.ps1, run by test/installer-pester.test.ts
# (PowerShell 7 on Linux). The Windows-only commands (service creation, sc.exe, icacls, group
# membership, the local group lookup, event source, the pre-flight process) are the script's Wb*
# wrapper functions, replaced here by test doubles; everything else (paths, settings file, copied
# files, whether the agent's trace folder exists, the state kept on upgrade and uninstall) runs for
# real in TestDrive.

Describe 'Install-WritebackRelay.ps1' {
BeforeAll {
    $script:Installer = Join-Path $PSScriptRoot '..' '..' 'packaging' 'windows' 'Install-WritebackRelay.ps1'
    . $script:Installer
    $script:GoodSecret = 'x' * 40
    $script:Url = 'https://wbmon.example.net'

    function New-FakePackage {
        $dir = Join-Path $TestDrive ('pkg-' + [guid]::NewGuid().ToString('n'))
        New-Item -ItemType Directory -Path $dir | Out-Null
        foreach ($f in 'writeback-monitor-relay.exe', 'WinSW.exe', 'WinSW.exe.config', 'README.txt', 'THIRD-PARTY-NOTICES.txt', 'WinSW-LICENSE.txt') {
            Set-Content -LiteralPath (Join-Path $dir $f) -Value "fake $f v2"
        }
        Copy-Item -LiteralPath $script:Installer -Destination (Join-Path $dir 'Install-WritebackRelay.ps1')
        return $dir
    }

    function ScCalls {
        $script:scCalls
    }
}

BeforeEach {
    $env:ProgramFiles = Join-Path $TestDrive ('pf-' + [guid]::NewGuid().ToString('n'))
    $env:ProgramData = Join-Path $TestDrive ('pd-' + [guid]::NewGuid().ToString('n'))
    New-Item -ItemType Directory -Path $env:ProgramFiles, $env:ProgramData | Out-Null
    $script:Package = New-FakePackage
    $script:Paths = Get-WbPaths
    $script:scCalls = [System.Collections.Generic.List[string]]::new()
    $script:icacls = [System.Collections.Generic.List[string]]::new()
    # Every system change in order, to check what must come before what.
    $script:sequence = [System.Collections.Generic.List[string]]::new()
    $script:lines = [System.Collections.Generic.List[string]]::new()
    $script:preflightEnv = $null

    Mock Write-WbLine { $script:lines.Add($Text) }
    Mock Test-WbAdministrator { $true }
    Mock Get-WbService { $null }
    Mock Get-WbServiceAccount { 'NT SERVICE\WritebackMonitorRelay' }
    Mock New-WbService { }
    Mock Invoke-WbSc { $script:scCalls.Add($Arguments -join ' '); $script:sequence.Add("sc $($Arguments -join ' ')") }
    Mock Invoke-WbIcacls { $script:icacls.Add($Arguments -join ' '); $script:sequence.Add("icacls $($Arguments -join ' ')") }
    Mock Start-WbService { $script:sequence.Add("start $Name") }
    Mock Stop-WbService { }
    Mock Add-WbGroupMember { $script:sequence.Add("add $GroupSid $Member") }
    Mock Remove-WbGroupMember { $script:sequence.Add("remove $GroupSid $Member") }
    # No Entra Connect Sync here unless a test says so (and no agent trace folder: TestDrive has none).
    Mock Get-WbLocalGroupSid { $null }
    Mock Register-WbEventSource { }
    Mock Unregister-WbEventSource { }
    Mock Get-WbMachineDomain { 'corp.contoso.com' }
    Mock Invoke-WbPreflight {
        $script:preflightEnv = $Environment.Clone()
        @{ ExitCode = 0; Output = @('2026-12-01T10:00:00.000Z relay connect01: heartbeat 1 accepted (HTTP 202); 3/3 targets up; delivered 1, buffered 0, dropped 0') }
    }
}

Describe 'a first install' {
    BeforeEach {
        Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package
    }

    It 'registers the service WritebackMonitorRelay, "Writeback Monitor Relay", on the WinSW wrapper by its quoted path' {
        Should -Invoke New-WbService -Times 1 -Exactly -ParameterFilter {
            $Name -eq 'WritebackMonitorRelay' -and $DisplayName -eq 'Writeback Monitor Relay' -and $BinaryPathName -eq "`"$(Join-Path $script:Paths.ProgramDir 'WritebackMonitorRelay.exe')`""
        }
    }

    It 'sets delayed automatic start and the virtual account NT SERVICE\WritebackMonitorRelay' {
        ScCalls | Should -Contain 'config WritebackMonitorRelay start= delayed-auto obj= NT SERVICE\WritebackMonitorRelay DisplayName= Writeback Monitor Relay'
    }

    It 'sets recovery actions that restart it after a crash or an exit with an error' {
        ScCalls | Should -Contain 'failure WritebackMonitorRelay reset= 86400 actions= restart/60000/restart/60000/restart/300000'
        ScCalls | Should -Contain 'failureflag WritebackMonitorRelay 1'
    }

    It 'lets only the service account and Administrators read the secret, and gives the account its state folder' {
        $script:icacls | Should -Contain "$($script:Paths.Settings) /inheritance:r /grant:r *S-1-5-32-544:F NT SERVICE\WritebackMonitorRelay:R"
        $script:icacls | Should -Contain "$($script:Paths.DataDir) /inheritance:r /grant:r *S-1-5-32-544:(OI)(CI)F *S-1-5-18:(OI)(CI)F NT SERVICE\WritebackMonitorRelay:(OI)(CI)M"
    }

    It 'writes the settings the relay reads, as UTF-8 without a byte-order mark' {
        $bytes = [System.IO.File]::ReadAllBytes($script:Paths.Settings)
        $bytes[0] | Should -Be ([byte][char]'{')
        $values = (Get-Content -LiteralPath $script:Paths.Settings -Raw | ConvertFrom-Json).Values
        $values.WBMON_MONITOR_URL | Should -Be $script:Url
        $values.WBMON_RELAY_ID | Should -Be 'connect01'
        $values.WBMON_RELAY_SECRET | Should -Be $script:GoodSecret
        $values.WBMON_RELAY_STATE_DIR | Should -Be $script:Paths.DataDir
        # The machine's domain, so the virtual account can find the PDC emulator in DNS.
        $values.WBMON_AD_DOMAINS | Should -Be 'corp.contoso.com'
    }

    It 'adds the account to Event Log Readers (by SID) and registers the event source' {
        Should -Invoke Add-WbGroupMember -Times 1 -Exactly -ParameterFilter { $GroupSid -eq 'S-1-5-32-573' -and $Member -eq 'NT SERVICE\WritebackMonitorRelay' }
        Should -Invoke Register-WbEventSource -Times 1 -Exactly -ParameterFilter { $Source -eq 'WritebackMonitorRelay' }
    }

    It 'runs the pre-flight from the package with the new settings and an empty state folder, then starts the service' {
        Should -Invoke Invoke-WbPreflight -Times 1 -Exactly -ParameterFilter { $Exe -eq (Join-Path $script:Package 'writeback-monitor-relay.exe') }
        $script:preflightEnv.WBMON_MONITOR_URL | Should -Be $script:Url
        $script:preflightEnv.WBMON_RELAY_SECRET | Should -Be $script:GoodSecret
        $script:preflightEnv.WBMON_RELAY_STATE_DIR | Should -Not -Be $script:Paths.DataDir
        Should -Invoke Start-WbService -Times 1 -Exactly -ParameterFilter { $Name -eq 'WritebackMonitorRelay' }
    }

    It 'installs the relay, WinSW under the service name with its XML, and the documents' {
        foreach ($f in 'writeback-monitor-relay.exe', 'WritebackMonitorRelay.exe', 'WritebackMonitorRelay.exe.config', 'WritebackMonitorRelay.xml', 'Install-WritebackRelay.ps1', 'THIRD-PARTY-NOTICES.txt') {
            Join-Path $script:Paths.ProgramDir $f | Should -Exist
        }
        [xml] $xml = Get-Content -LiteralPath $script:Paths.WrapperXml -Raw
        $xml.service.id | Should -Be 'WritebackMonitorRelay'
        $xml.service.executable | Should -Be $script:Paths.Relay
        $xml.service.arguments | Should -Be 'relay'
        $xml.service.workingdirectory | Should -Be $script:Paths.DataDir
        $xml.service.logpath | Should -Be $script:Paths.Logs
        $xml.service.stoptimeout | Should -Be '60 sec'
    }
}

Describe 'the account' {
    It 'is the gMSA given with -Account, in the service, the ACLs and the group' {
        Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -Account 'CONTOSO\wbrelay$' -PackageDir $script:Package
        ScCalls | Should -Contain 'config WritebackMonitorRelay start= delayed-auto obj= CONTOSO\wbrelay$ DisplayName= Writeback Monitor Relay'
        $script:icacls | Should -Contain "$($script:Paths.Settings) /inheritance:r /grant:r *S-1-5-32-544:F CONTOSO\wbrelay`$:R"
        Should -Invoke Add-WbGroupMember -ParameterFilter { $Member -eq 'CONTOSO\wbrelay$' }
    }

    It 'refuses an account that needs a password, changing nothing' {
        { Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -Account 'CONTOSO\alice' -PackageDir $script:Package } |
            Should -Throw -ExpectedMessage '-Account: "CONTOSO\alice" must be a virtual account*'
        Should -Invoke Invoke-WbPreflight -Times 0 -Exactly
    }
}

Describe 'the sync engines: ADSyncBrowse on a Connect Sync server, the trace folder on a Cloud Sync agent server' {
    BeforeAll {
        # A local group's SID (machine SID + RID): ADSyncBrowse has no well-known one.
        $script:BrowseSid = 'S-1-5-21-3623811015-3361044348-30300820-1013'
        $script:Virtual = 'NT SERVICE\WritebackMonitorRelay'
        $script:Gmsa = 'CONTOSO\wbrelay$'
        function Invoke-FirstInstall([string] $Account) {
            $a = @{ MonitorUrl = $script:Url; RelayId = 'connect01'; Secret = (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force); PackageDir = $script:Package }
            if ($Account) { $a.Account = $Account }
            Install-WbRelay @a
        }
        # The icacls calls on the trace folder, each as its arguments joined by ' | ' (the path has spaces).
        function TraceCalls { @($script:icaclsArgs | Where-Object { $_[0] -eq $script:Trace } | ForEach-Object { $_ -join ' | ' }) }
    }
    BeforeEach {
        $script:Trace = Join-Path $env:ProgramData 'Microsoft' 'Azure AD Connect Provisioning Agent' 'Trace'
        # Each icacls call as its argument array, to compare the arguments exactly.
        $script:icaclsArgs = [System.Collections.Generic.List[object]]::new()
        Mock Invoke-WbIcacls { $script:icacls.Add($Arguments -join ' '); $script:icaclsArgs.Add(@($Arguments)); $script:sequence.Add("icacls $($Arguments -join ' ')") }
    }

    It 'reads the trace folder where the relay reads it: %ProgramData%\Microsoft\Azure AD Connect Provisioning Agent\Trace' {
        $script:Paths.AgentTrace | Should -Be $script:Trace
    }

    It 'on a Connect Sync server adds the account to the local group ADSyncBrowse, by its SID, before the service starts, and says so' {
        Mock Get-WbLocalGroupSid { if ($Name -eq 'ADSyncBrowse') { $script:BrowseSid } }
        Invoke-FirstInstall
        Should -Invoke Get-WbLocalGroupSid -ParameterFilter { $Name -eq 'ADSyncBrowse' }
        Should -Invoke Add-WbGroupMember -Times 1 -Exactly -ParameterFilter { $GroupSid -eq $script:BrowseSid -and $Member -eq $script:Virtual }
        Should -Invoke Add-WbGroupMember -Times 2 -Exactly
        $script:sequence.IndexOf("add $script:BrowseSid $script:Virtual") | Should -BeLessThan $script:sequence.IndexOf('start WritebackMonitorRelay')
        $script:lines | Should -Contain 'ADSyncBrowse: NT SERVICE\WritebackMonitorRelay is a member, so the relay can read staging mode (Get-ADSyncScheduler).'
    }

    It 'adds it again on an upgrade, already a member being no error' {
        Mock Get-WbLocalGroupSid { if ($Name -eq 'ADSyncBrowse') { $script:BrowseSid } }
        Invoke-FirstInstall
        Mock Get-WbService { [pscustomobject]@{ Name = 'WritebackMonitorRelay'; Status = 'Running' } }
        { Install-WbRelay -PackageDir $script:Package } | Should -Not -Throw
        Should -Invoke Add-WbGroupMember -Times 2 -Exactly -ParameterFilter { $GroupSid -eq $script:BrowseSid -and $Member -eq $script:Virtual }
        Should -Invoke Remove-WbGroupMember -Times 0 -Exactly
    }

    It 'without Connect Sync (no local group ADSyncBrowse) skips it, saying why in one line' {
        Invoke-FirstInstall
        Should -Invoke Add-WbGroupMember -Times 0 -Exactly -ParameterFilter { $GroupSid -ne 'S-1-5-32-573' }
        @($script:lines | Where-Object { $_ -like 'ADSyncBrowse*' }) | Should -Be @('ADSyncBrowse: skipped: this server has no local group ADSyncBrowse (no Entra Connect Sync here, or it uses domain groups).')
    }

    It 'on a Cloud Sync agent server grants the account read on the trace folder, inherited by its files (OI)(CI), keeping the ACEs there' {
        New-Item -ItemType Directory -Force -Path $script:Trace | Out-Null
        Invoke-FirstInstall
        # /grant adds to the folder's ACL; no /grant:r, /inheritance or /remove, nothing but R.
        TraceCalls | Should -Be @("$script:Trace | /grant | NT SERVICE\WritebackMonitorRelay:(OI)(CI)R")
        $script:sequence.IndexOf("icacls $script:Trace /grant NT SERVICE\WritebackMonitorRelay:(OI)(CI)R") | Should -BeLessThan $script:sequence.IndexOf('start WritebackMonitorRelay')
        $script:lines | Should -Contain "Provisioning agent trace: NT SERVICE\WritebackMonitorRelay may read $script:Trace (read only, inherited by its files)."
    }

    It 'without the agent (no trace folder) skips it, saying why in one line, and creates no folder' {
        Invoke-FirstInstall
        TraceCalls | Should -HaveCount 0
        @($script:lines | Where-Object { $_ -like 'Provisioning agent trace*' }) | Should -Be @("Provisioning agent trace: skipped: $script:Trace does not exist (no Entra Cloud Sync provisioning agent here).")
        $script:Trace | Should -Not -Exist
    }

    It 'with -Account a gMSA, puts the gMSA in ADSyncBrowse and on the trace folder' {
        Mock Get-WbLocalGroupSid { if ($Name -eq 'ADSyncBrowse') { $script:BrowseSid } }
        New-Item -ItemType Directory -Force -Path $script:Trace | Out-Null
        Invoke-FirstInstall -Account $script:Gmsa
        Should -Invoke Add-WbGroupMember -Times 1 -Exactly -ParameterFilter { $GroupSid -eq $script:BrowseSid -and $Member -eq 'CONTOSO\wbrelay$' }
        Should -Invoke Add-WbGroupMember -Times 0 -Exactly -ParameterFilter { $Member -eq $script:Virtual }
        TraceCalls | Should -Be @("$script:Trace | /grant | CONTOSO\wbrelay`$:(OI)(CI)R")
    }

    It 'an upgrade to a new -Account moves both from the previous account to it' {
        Mock Get-WbLocalGroupSid { if ($Name -eq 'ADSyncBrowse') { $script:BrowseSid } }
        New-Item -ItemType Directory -Force -Path $script:Trace | Out-Null
        Mock Get-WbService { [pscustomobject]@{ Name = 'WritebackMonitorRelay'; Status = 'Running' } }
        New-Item -ItemType Directory -Force -Path $script:Paths.DataDir | Out-Null
        Set-Content -LiteralPath $script:Paths.Settings -Value (@{ Values = @{ WBMON_MONITOR_URL = $script:Url; WBMON_RELAY_ID = 'connect01'; WBMON_RELAY_SECRET = $script:GoodSecret } } | ConvertTo-Json)
        Install-WbRelay -Account $script:Gmsa -PackageDir $script:Package
        Should -Invoke Remove-WbGroupMember -Times 1 -Exactly -ParameterFilter { $GroupSid -eq $script:BrowseSid -and $Member -eq $script:Virtual }
        Should -Invoke Add-WbGroupMember -Times 1 -Exactly -ParameterFilter { $GroupSid -eq $script:BrowseSid -and $Member -eq 'CONTOSO\wbrelay$' }
        TraceCalls | Should -Be @("$script:Trace | /remove:g | NT SERVICE\WritebackMonitorRelay", "$script:Trace | /grant | CONTOSO\wbrelay`$:(OI)(CI)R")
    }

    It 'a failure to add or to grant is one line with the command to run by hand, and the install goes on' {
        Mock Get-WbLocalGroupSid { if ($Name -eq 'ADSyncBrowse') { $script:BrowseSid } }
        New-Item -ItemType Directory -Force -Path $script:Trace | Out-Null
        Mock Add-WbGroupMember { if ($GroupSid -eq $script:BrowseSid) { throw 'Access is denied.' } }
        Mock Invoke-WbIcacls { if ($Arguments[0] -eq $script:Trace) { throw 'icacls.exe failed (exit 5): Access is denied.' } }
        { Invoke-FirstInstall } | Should -Not -Throw
        Should -Invoke Start-WbService -Times 1 -Exactly
        ScCalls | Should -Not -Contain 'delete WritebackMonitorRelay'
        $script:lines | Should -Contain 'ADSyncBrowse: could not add NT SERVICE\WritebackMonitorRelay (Access is denied.); the relay reports stagingMode null until it is a member: Add-LocalGroupMember -Group ADSyncBrowse -Member "NT SERVICE\WritebackMonitorRelay", then Restart-Service WritebackMonitorRelay'
        $script:lines | Should -Contain "Provisioning agent trace: could not grant NT SERVICE\WritebackMonitorRelay read access (icacls.exe failed (exit 5): Access is denied.); the relay cannot read the agent's trace until: icacls `"$script:Trace`" /grant `"NT SERVICE\WritebackMonitorRelay:(OI)(CI)R`""
    }

    It 'a first install that fails after them takes both back, before it deletes the service' {
        Mock Get-WbLocalGroupSid { if ($Name -eq 'ADSyncBrowse') { $script:BrowseSid } }
        New-Item -ItemType Directory -Force -Path $script:Trace | Out-Null
        Mock Register-WbEventSource { throw 'event log unavailable' }
        { Invoke-FirstInstall } | Should -Throw -ExpectedMessage 'event log unavailable'
        Should -Invoke Remove-WbGroupMember -Times 1 -Exactly -ParameterFilter { $GroupSid -eq $script:BrowseSid -and $Member -eq $script:Virtual }
        TraceCalls | Should -Be @("$script:Trace | /grant | NT SERVICE\WritebackMonitorRelay:(OI)(CI)R", "$script:Trace | /remove:g | NT SERVICE\WritebackMonitorRelay")
        $delete = $script:sequence.IndexOf('sc delete WritebackMonitorRelay')
        $delete | Should -BeGreaterThan $script:sequence.IndexOf("remove $script:BrowseSid $script:Virtual")
        $delete | Should -BeGreaterThan $script:sequence.IndexOf("icacls $script:Trace /remove:g $script:Virtual")
    }
}

Describe 'the Windows calls behind the group seams' {
    # The real Add-WbGroupMember, Remove-WbGroupMember and Get-WbLocalGroupSid over stand-ins of the
    # LocalAccounts cmdlets (absent on Linux), with the errors those cmdlets give.
    BeforeAll {
        if (-not (Get-Command Add-LocalGroupMember -ErrorAction SilentlyContinue)) {
            function Add-LocalGroupMember { [CmdletBinding()] param([string] $SID, [object] $Member) }
            function Remove-LocalGroupMember { [CmdletBinding()] param([string] $SID, [object] $Member) }
            function Get-LocalGroup { [CmdletBinding()] param([string] $Name) }
        }
        function New-LocalAccountsError([string] $Id, [string] $Message) {
            [System.Management.Automation.ErrorRecord]::new([System.Exception]::new($Message), $Id, [System.Management.Automation.ErrorCategory]::InvalidOperation, $null)
        }
    }

    It 'Add-WbGroupMember: an account already in the group (MemberExists) is done, with no error and no net.exe' {
        Mock Add-LocalGroupMember { throw (New-LocalAccountsError 'MemberExists,Microsoft.PowerShell.Commands.AddLocalGroupMemberCommand' 'NT SERVICE\WritebackMonitorRelay is already a member of group ADSyncBrowse.') }
        { & (Get-Command Add-WbGroupMember -CommandType Function) -GroupSid 'S-1-5-21-3623811015-3361044348-30300820-1013' -Member 'NT SERVICE\WritebackMonitorRelay' } | Should -Not -Throw
        Should -Invoke Add-LocalGroupMember -Times 1 -Exactly -ParameterFilter { $SID -eq 'S-1-5-21-3623811015-3361044348-30300820-1013' -and $Member -eq 'NT SERVICE\WritebackMonitorRelay' }
    }

    It 'Remove-WbGroupMember: an account not in the group (MemberNotFound) is done, with no error and no net.exe' {
        Mock Remove-LocalGroupMember { throw (New-LocalAccountsError 'MemberNotFound,Microsoft.PowerShell.Commands.RemoveLocalGroupMemberCommand' 'NT SERVICE\WritebackMonitorRelay was not found in group ADSyncBrowse.') }
        { & (Get-Command Remove-WbGroupMember -CommandType Function) -GroupSid 'S-1-5-21-3623811015-3361044348-30300820-1013' -Member 'NT SERVICE\WritebackMonitorRelay' } | Should -Not -Throw
        Should -Invoke Remove-LocalGroupMember -Times 1 -Exactly
    }

    It 'Get-WbLocalGroupSid: the SID of a local group, $null when there is none (GroupNotFound)' {
        Mock Get-LocalGroup { [pscustomobject]@{ Name = 'ADSyncBrowse'; SID = [pscustomobject]@{ Value = 'S-1-5-21-3623811015-3361044348-30300820-1013' } } } -ParameterFilter { $Name -eq 'ADSyncBrowse' }
        Mock Get-LocalGroup { throw (New-LocalAccountsError 'GroupNotFound,Microsoft.PowerShell.Commands.GetLocalGroupCommand' "Group $Name was not found.") } -ParameterFilter { $Name -ne 'ADSyncBrowse' }
        & (Get-Command Get-WbLocalGroupSid -CommandType Function) -Name 'ADSyncBrowse' | Should -Be 'S-1-5-21-3623811015-3361044348-30300820-1013'
        & (Get-Command Get-WbLocalGroupSid -CommandType Function) -Name 'ADSyncOperators' | Should -BeNullOrEmpty
    }
}

Describe 'an upgrade' {
    BeforeEach {
        New-Item -ItemType Directory -Force -Path (Join-Path $script:Paths.DataDir 'outbox'), $script:Paths.ProgramDir | Out-Null
        Set-Content -LiteralPath (Join-Path $script:Paths.DataDir 'sequence') -Value '1796164732908' -NoNewline
        Set-Content -LiteralPath (Join-Path $script:Paths.DataDir 'outbox' '0001796164732908.json') -Value '{"buffered":true}' -NoNewline
        Set-Content -LiteralPath (Join-Path $script:Paths.ProgramDir 'writeback-monitor-relay.exe') -Value 'fake v1'
        $old = [ordered]@{ IsEncrypted = $false; Values = [ordered]@{ WBMON_MONITOR_URL = $script:Url; WBMON_RELAY_ID = 'connect01'; WBMON_RELAY_SECRET = $script:GoodSecret; WBMON_RELAY_TARGETS = 'https://extra.example/' } }
        Set-Content -LiteralPath $script:Paths.Settings -Value ($old | ConvertTo-Json)
        Mock Get-WbService { [pscustomobject]@{ Name = 'WritebackMonitorRelay'; Status = 'Running' } }
    }

    It 'stops the service, replaces the program, keeps the buffer, the sequence file and the settings, and starts it again' {
        Install-WbRelay -PackageDir $script:Package
        Should -Invoke Stop-WbService -Times 1 -Exactly -ParameterFilter { $Name -eq 'WritebackMonitorRelay' }
        Should -Invoke New-WbService -Times 0 -Exactly
        ScCalls | Should -Contain 'config WritebackMonitorRelay start= delayed-auto obj= NT SERVICE\WritebackMonitorRelay DisplayName= Writeback Monitor Relay'
        (Get-Content -LiteralPath $script:Paths.Relay -Raw).Trim() | Should -Be 'fake writeback-monitor-relay.exe v2'
        Get-Content -LiteralPath (Join-Path $script:Paths.DataDir 'sequence') -Raw | Should -Be '1796164732908'
        Get-Content -LiteralPath (Join-Path $script:Paths.DataDir 'outbox' '0001796164732908.json') -Raw | Should -Be '{"buffered":true}'
        $values = (Get-Content -LiteralPath $script:Paths.Settings -Raw | ConvertFrom-Json).Values
        $values.WBMON_RELAY_SECRET | Should -Be $script:GoodSecret
        $values.WBMON_RELAY_TARGETS | Should -Be 'https://extra.example/'
        Should -Invoke Start-WbService -Times 1 -Exactly
    }

    It 'runs the pre-flight on the real state folder, after the stop, so the buffer goes out in order' {
        Install-WbRelay -PackageDir $script:Package
        $script:preflightEnv.WBMON_RELAY_STATE_DIR | Should -Be $script:Paths.DataDir
        $script:preflightEnv.WBMON_RELAY_TARGETS | Should -Be 'https://extra.example/'
    }

    It 'keeps the gMSA the service runs as when -Account is not given again' {
        Mock Get-WbServiceAccount { 'CONTOSO\wbrelay$' }
        Install-WbRelay -PackageDir $script:Package
        ScCalls | Should -Contain 'config WritebackMonitorRelay start= delayed-auto obj= CONTOSO\wbrelay$ DisplayName= Writeback Monitor Relay'
        Should -Invoke Remove-WbGroupMember -Times 0 -Exactly
    }

    It 'moves the grants and the group membership to a new -Account' {
        Install-WbRelay -Account 'CONTOSO\wbrelay$' -PackageDir $script:Package
        $script:icacls | Should -Contain "$($script:Paths.DataDir) /remove:g NT SERVICE\WritebackMonitorRelay /T"
        Should -Invoke Remove-WbGroupMember -Times 1 -Exactly -ParameterFilter { $Member -eq 'NT SERVICE\WritebackMonitorRelay' }
        Should -Invoke Add-WbGroupMember -Times 1 -Exactly -ParameterFilter { $Member -eq 'CONTOSO\wbrelay$' }
    }

    It 'takes a new secret when one is given' {
        $newSecret = 'y' * 40
        $file = Join-Path $TestDrive 'secret.txt'
        Set-Content -LiteralPath $file -Value $newSecret
        Install-WbRelay -SecretFile $file -PackageDir $script:Package
        (Get-Content -LiteralPath $script:Paths.Settings -Raw | ConvertFrom-Json).Values.WBMON_RELAY_SECRET | Should -Be $newSecret
    }

    It 'whose pre-flight fails changes nothing and starts the installed relay again' {
        Mock Invoke-WbPreflight { @{ ExitCode = 1; Output = @('relay connect01: heartbeat 5 not accepted (unauthorized, HTTP 401): bad signature') } }
        { Install-WbRelay -PackageDir $script:Package } | Should -Throw -ExpectedMessage 'pre-flight failed, nothing was changed and the installed relay runs on: the monitor at https://wbmon.example.net refused this relay*'
        (Get-Content -LiteralPath $script:Paths.Relay -Raw).Trim() | Should -Be 'fake v1'
        Should -Invoke Start-WbService -Times 1 -Exactly
        $script:scCalls.Count | Should -Be 0
    }
}

Describe 'a failing pre-flight stops a first install, naming what to fix, with nothing installed' {
    It 'when the monitor refuses the relay (HTTP 401)' {
        Mock Invoke-WbPreflight { @{ ExitCode = 1; Output = @('relay connect01: heartbeat 1 not accepted (unauthorized, HTTP 401): bad signature') } }
        { Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package } |
            Should -Throw -ExpectedMessage 'pre-flight failed, nothing was installed: the monitor at https://wbmon.example.net refused this relay: check that -RelayId and the secret match*'
        Should -Invoke New-WbService -Times 0 -Exactly
        Should -Invoke Start-WbService -Times 0 -Exactly
        $script:scCalls.Count | Should -Be 0
        $script:Paths.ProgramDir | Should -Not -Exist
        $script:Paths.DataDir | Should -Not -Exist
    }

    It 'when the monitor cannot be reached' {
        Mock Invoke-WbPreflight { @{ ExitCode = 1; Output = @('heartbeat 1: not delivered (retry): https://wbmon.example.net: ECONNREFUSED') } }
        { Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package } |
            Should -Throw -ExpectedMessage '*could not be reached or did not answer: check outbound HTTPS (443)*same proxy and firewall as the ADSync service*'
        $script:Paths.ProgramDir | Should -Not -Exist
    }

    It 'when the relay finds its settings wrong' {
        Mock Invoke-WbPreflight { @{ ExitCode = 2; Output = @('WBMON_RELAY_TARGETS: "x" is not a URL') } }
        { Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package } |
            Should -Throw -ExpectedMessage "pre-flight failed, nothing was installed: the relay's settings are wrong: WBMON_RELAY_TARGETS*"
    }
}

Describe 'a pre-flight that cannot even start the relay' {
    It 'says so, starts the installed relay again on an upgrade, and changes nothing' {
        Mock Get-WbService { [pscustomobject]@{ Name = 'WritebackMonitorRelay'; Status = 'Running' } }
        Mock Invoke-WbPreflight { throw 'This program is blocked by group policy.' }
        { Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package } |
            Should -Throw -ExpectedMessage '*writeback-monitor-relay.exe could not be started: This program is blocked by group policy. (if the zip was downloaded, run Unblock-File*'
        Should -Invoke Stop-WbService -Times 1 -Exactly
        Should -Invoke Start-WbService -Times 1 -Exactly
        $script:scCalls.Count | Should -Be 0
    }
}

Describe 'a first install that fails after the pre-flight' {
    It 'removes the service, the files and the group membership it had made' {
        Mock Register-WbEventSource { throw 'event log unavailable' }
        { Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package } | Should -Throw -ExpectedMessage 'event log unavailable'
        ScCalls | Should -Contain 'delete WritebackMonitorRelay'
        Should -Invoke Remove-WbGroupMember -ParameterFilter { $Member -eq 'NT SERVICE\WritebackMonitorRelay' }
        $script:Paths.ProgramDir | Should -Not -Exist
        $script:Paths.DataDir | Should -Not -Exist
        Should -Invoke Start-WbService -Times 0 -Exactly
    }
}

Describe 'bad input: one clear line, nothing done' {
    It 'a missing -MonitorUrl' {
        { Install-WbRelay -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package } |
            Should -Throw -ExpectedMessage "-MonitorUrl: required: the monitor's base URL, e.g. https://<app>.azurewebsites.net"
        Should -Invoke Invoke-WbPreflight -Times 0 -Exactly
        $script:Paths.ProgramDir | Should -Not -Exist
    }

    It 'a malformed -MonitorUrl, before even the administrator check' {
        { Install-WbRelay -MonitorUrl 'wbmon.example.net' -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package } |
            Should -Throw -ExpectedMessage '-MonitorUrl: "wbmon.example.net" is not a URL*'
        Should -Invoke Test-WbAdministrator -Times 0 -Exactly
    }

    It 'an http -MonitorUrl to another machine' {
        { Install-WbRelay -MonitorUrl 'http://wbmon.example.net' -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package } |
            Should -Throw -ExpectedMessage '*must be https (plain http only to this machine)'
    }

    It 'a short secret' {
        { Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString 'short' -AsPlainText -Force) -PackageDir $script:Package } |
            Should -Throw -ExpectedMessage '-Secret: must be at least 32 characters*'
    }

    It 'not run as an administrator' {
        Mock Test-WbAdministrator { $false }
        { Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package } |
            Should -Throw -ExpectedMessage 'run it as an administrator*'
        Should -Invoke Get-WbService -Times 0 -Exactly
        Should -Invoke Invoke-WbPreflight -Times 0 -Exactly
        $script:Paths.ProgramDir | Should -Not -Exist
    }
}

Describe 'uninstall' {
    BeforeEach {
        Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package
        New-Item -ItemType Directory -Force -Path (Join-Path $script:Paths.DataDir 'outbox') | Out-Null
        Set-Content -LiteralPath (Join-Path $script:Paths.DataDir 'sequence') -Value '42'
        Set-Content -LiteralPath (Join-Path $script:Paths.DataDir 'outbox' '0000000000000042.json') -Value '{}'
        Mock Get-WbService { [pscustomobject]@{ Name = 'WritebackMonitorRelay'; Status = 'Running' } }
        $script:scCalls.Clear()
    }

    It 'without -Purge removes the service, the program, the secret and the group membership, and keeps the buffer' {
        Uninstall-WbRelay
        Should -Invoke Stop-WbService -Times 1 -Exactly
        ScCalls | Should -Be @('delete WritebackMonitorRelay')
        Should -Invoke Remove-WbGroupMember -Times 1 -Exactly -ParameterFilter { $GroupSid -eq 'S-1-5-32-573' -and $Member -eq 'NT SERVICE\WritebackMonitorRelay' }
        $script:Paths.ProgramDir | Should -Not -Exist
        $script:Paths.Settings | Should -Not -Exist
        Join-Path $script:Paths.DataDir 'sequence' | Should -Exist
        Join-Path $script:Paths.DataDir 'outbox' '0000000000000042.json' | Should -Exist
        Should -Invoke Unregister-WbEventSource -Times 0 -Exactly
    }

    It 'with -Purge also removes the state folder and the event source' {
        Uninstall-WbRelay -Purge
        ScCalls | Should -Be @('delete WritebackMonitorRelay')
        $script:Paths.DataDir | Should -Not -Exist
        $script:Paths.ProgramDir | Should -Not -Exist
        Should -Invoke Unregister-WbEventSource -Times 1 -Exactly -ParameterFilter { $Source -eq 'WritebackMonitorRelay' }
    }

    It 'takes the account the service actually runs as out of Event Log Readers' {
        Mock Get-WbServiceAccount { 'CONTOSO\wbrelay$' }
        Uninstall-WbRelay
        Should -Invoke Remove-WbGroupMember -Times 1 -Exactly -ParameterFilter { $Member -eq 'CONTOSO\wbrelay$' }
    }

    It 'refuses to run without administrator rights, removing nothing' {
        Mock Test-WbAdministrator { $false }
        { Uninstall-WbRelay } | Should -Throw -ExpectedMessage 'run it as an administrator*'
        $script:scCalls.Count | Should -Be 0
        $script:Paths.ProgramDir | Should -Exist
    }
}

Describe 'uninstall on a server with Connect Sync and the agent' {
    BeforeAll {
        $script:BrowseSid = 'S-1-5-21-3623811015-3361044348-30300820-1013'
    }
    BeforeEach {
        $script:Trace = Join-Path $env:ProgramData 'Microsoft' 'Azure AD Connect Provisioning Agent' 'Trace'
        New-Item -ItemType Directory -Force -Path $script:Trace | Out-Null
        Mock Get-WbLocalGroupSid { if ($Name -eq 'ADSyncBrowse') { $script:BrowseSid } }
        Install-WbRelay -MonitorUrl $script:Url -RelayId 'connect01' -Secret (ConvertTo-SecureString $script:GoodSecret -AsPlainText -Force) -PackageDir $script:Package
        Mock Get-WbService { [pscustomobject]@{ Name = 'WritebackMonitorRelay'; Status = 'Running' } }
        $script:scCalls.Clear(); $script:icacls.Clear(); $script:sequence.Clear(); $script:lines.Clear()
    }

    It 'takes the account out of ADSyncBrowse and its ACE off the trace folder, before it deletes the service (a virtual account has no name without it)' {
        Uninstall-WbRelay
        Should -Invoke Remove-WbGroupMember -Times 1 -Exactly -ParameterFilter { $GroupSid -eq $script:BrowseSid -and $Member -eq 'NT SERVICE\WritebackMonitorRelay' }
        @($script:icacls | Where-Object { $_.StartsWith($script:Trace) }) | Should -Be @("$script:Trace /remove:g NT SERVICE\WritebackMonitorRelay")
        $script:sequence | Should -Be @(
            'remove S-1-5-32-573 NT SERVICE\WritebackMonitorRelay',
            "remove $script:BrowseSid NT SERVICE\WritebackMonitorRelay",
            "icacls $script:Trace /remove:g NT SERVICE\WritebackMonitorRelay",
            'sc delete WritebackMonitorRelay')
        $script:lines | Should -Contain 'ADSyncBrowse: NT SERVICE\WritebackMonitorRelay is no longer a member.'
        $script:lines | Should -Contain "Provisioning agent trace: NT SERVICE\WritebackMonitorRelay has no read ACE on $script:Trace any more."
        # The agent's folder itself stays.
        $script:Trace | Should -Exist
    }

    It 'takes out the gMSA the service runs as' {
        Mock Get-WbServiceAccount { 'CONTOSO\wbrelay$' }
        Uninstall-WbRelay -Purge
        Should -Invoke Remove-WbGroupMember -Times 1 -Exactly -ParameterFilter { $GroupSid -eq $script:BrowseSid -and $Member -eq 'CONTOSO\wbrelay$' }
        @($script:icacls | Where-Object { $_.StartsWith($script:Trace) }) | Should -Be @("$script:Trace /remove:g CONTOSO\wbrelay`$")
    }

    It 'where neither is there any more skips both, saying so, and removes the rest' {
        Mock Get-WbLocalGroupSid { $null }
        Remove-Item -LiteralPath $script:Trace -Recurse -Force
        Uninstall-WbRelay
        Should -Invoke Remove-WbGroupMember -Times 1 -Exactly
        Should -Invoke Remove-WbGroupMember -Times 1 -Exactly -ParameterFilter { $GroupSid -eq 'S-1-5-32-573' }
        $script:icacls.Count | Should -Be 0
        ScCalls | Should -Be @('delete WritebackMonitorRelay')
        $script:lines | Should -Contain 'ADSyncBrowse: skipped: this server has no local group ADSyncBrowse.'
        $script:lines | Should -Contain "Provisioning agent trace: skipped: $script:Trace does not exist."
    }

    It 'when icacls cannot remove the ACE says so, with the command, and removes the rest' {
        Mock Invoke-WbIcacls { throw 'icacls.exe failed (exit 5): Access is denied.' }
        { Uninstall-WbRelay } | Should -Not -Throw
        ScCalls | Should -Be @('delete WritebackMonitorRelay')
        $script:Paths.ProgramDir | Should -Not -Exist
        $script:lines | Should -Contain "Provisioning agent trace: could not remove NT SERVICE\WritebackMonitorRelay's read access (icacls.exe failed (exit 5): Access is denied.); remove it by hand: icacls `"$script:Trace`" /remove:g `"NT SERVICE\WritebackMonitorRelay`""
    }

    It 'run again, with the service gone, skips them in one line' {
        Mock Get-WbService { $null }
        Uninstall-WbRelay
        Should -Invoke Remove-WbGroupMember -Times 0 -Exactly -ParameterFilter { $GroupSid -eq $script:BrowseSid }
        $script:icacls.Count | Should -Be 0
        $script:scCalls.Count | Should -Be 0
        $script:lines | Should -Contain 'ADSyncBrowse and provisioning agent trace: skipped: service WritebackMonitorRelay is not installed, so there is no account of it to remove.'
    }
}

Describe 'the script as a process' {
    # The real entry point: one line on stderr, exit 1, for bad input.
    It 'a malformed -MonitorUrl: one line, exit 1' {
        $pwsh = if ($env:WBMON_PWSH) { $env:WBMON_PWSH } else { (Get-Command pwsh).Source }
        $err = Join-Path $TestDrive 'stderr.txt'
        $p = Start-Process -FilePath $pwsh -ArgumentList @('-NoProfile', '-NonInteractive', '-File', (Join-Path $script:Package 'Install-WritebackRelay.ps1'), '-MonitorUrl', 'not-a-url', '-RelayId', 'connect01') -RedirectStandardError $err -RedirectStandardOutput (Join-Path $TestDrive 'stdout.txt') -Wait -PassThru
        $p.ExitCode | Should -Be 1
        @(Get-Content -LiteralPath $err) | Should -Be @('Install-WritebackRelay: -MonitorUrl: "not-a-url" is not a URL; give the monitor''s base URL, e.g. https://<app>.azurewebsites.net')
    }

    It 'run without administrator rights: one line, exit 1' {
        $pwsh = if ($env:WBMON_PWSH) { $env:WBMON_PWSH } else { (Get-Command pwsh).Source }
        $err = Join-Path $TestDrive 'stderr2.txt'
        $secretFile = Join-Path $TestDrive 's.txt'
        Set-Content -LiteralPath $secretFile -Value ('z' * 40)
        # From the fake package, so the files beside the script are there; this machine is no Windows administrator.
        $p = Start-Process -FilePath $pwsh -ArgumentList @('-NoProfile', '-NonInteractive', '-File', (Join-Path $script:Package 'Install-WritebackRelay.ps1'), '-MonitorUrl', $script:Url, '-RelayId', 'connect01', '-SecretFile', $secretFile) -RedirectStandardError $err -RedirectStandardOutput (Join-Path $TestDrive 'stdout2.txt') -Wait -PassThru
        $p.ExitCode | Should -Be 1
        @(Get-Content -LiteralPath $err) | Should -Be @('Install-WritebackRelay: run it as an administrator: in an elevated PowerShell ("Run as administrator")')
    }
}
}
