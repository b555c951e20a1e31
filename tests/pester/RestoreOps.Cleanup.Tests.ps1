#Requires -Version 7.4
# Cleanup is never silent, and what is shown is what is true (issue 14, bug 8):
#   - Ctrl+C in Invoke-RestoreDrill (a real PowerShell.Stop, on a drill held at a WAL segment) says what was removed
#   - Remove-Module says which local targets it removed and which it kept
#   - list views show nested objects as text, tables keep the end of long sources and wrap failures, and a removed
#     target shows neither an expiry nor a connection
#   - -Verbose says something in Wait-ClusterReady

Describe 'Ctrl+C in Invoke-RestoreDrill' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $module = Import-RestoreOpsTestModule
        $pgBin = Find-PostgresBinDirectory
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'stopped')
        $backup = $null
        if ($null -ne $pgBin -and $IsLinux) {
            $source = New-TestBaseBackup -Root (Join-Path $TestDrive 'source') -BinDirectory $pgBin
            $held = Lock-TestWalSegment -WalDirectory $source.WalDirectory
            $backup = Get-LocalBackup -Path $source.BaseDirectory -WalPath $source.WalDirectory -ErrorAction Stop
        }
    }

    AfterAll {
        if ($null -ne $backup) { Unlock-TestWalSegment -Held $held -Quiet }
        Remove-TestRestoreTarget -WorkRoot $workRoot
    }

    It 'removes the target and says so' {
        if ($null -eq $backup) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $ps = [powershell]::Create()
        $null = $ps.AddCommand('Import-Module').AddParameter('Name', (Join-Path $module.ModuleBase 'RestoreOps.psd1')).AddStatement()
        $null = $ps.AddCommand('Invoke-RestoreDrill').AddParameter('Backup', $backup).AddParameter('Local').AddParameter('WorkRoot', $workRoot).
            AddParameter('PostgresBinDirectory', $pgBin).AddParameter('Confirm', $false)
        $signal = 'RestoreOpsDrillProgress-' + [guid]::NewGuid()
        $null = Register-ObjectEvent -InputObject $ps.Streams.Progress -EventName DataAdded -SourceIdentifier $signal
        try {
            $handle = $ps.BeginInvoke()
            # Signalled by each progress record; stop once the drill is replaying WAL, where the held segment keeps it.
            do {
                $event = Wait-Event -SourceIdentifier $signal -Timeout 120
                $event | Should -Not -BeNullOrEmpty -Because 'the drill reports progress until it replays WAL'
                Remove-Event -EventIdentifier $event.EventIdentifier
            } until (@($ps.Streams.Progress | Where-Object CurrentOperation -eq 'WalReplay').Count -gt 0)
            $stopping = $ps.BeginStop($null, $null)
            # The restore's reader of the held segment may be what cleanup waits for.
            Unlock-TestWalSegment -Held $held -Quiet
            $ps.EndStop($stopping)
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            $warnings = @($ps.Streams.Warning | ForEach-Object { "$_" })
            $warnings | Should -HaveCount 1
            $warnings[0] | Should -BeLike '*was stopped; its restore target was removed (*'
        }
        finally {
            Unregister-Event -SourceIdentifier $signal -ErrorAction SilentlyContinue
            $ps.Dispose()
        }
        @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
    }
}

Describe 'Remove-Module' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $module = Import-RestoreOpsTestModule
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'removal')
        $labelOnly = New-TestLabelOnlyBackup -Path (Join-Path $TestDrive 'label-only')
    }

    It 'says which local targets it removed' {
        # Its own pwsh: only the last Remove-Module of a process removes the targets, and this one has the suite's import.
        $script = Join-Path $TestDrive 'remove-module.ps1'
        Set-Content -LiteralPath $script -Value @'
param($Manifest, $Backup, $WorkRoot)
$ErrorActionPreference = 'Stop'
Import-Module $Manifest
$target = Get-LocalBackup -Path $Backup | New-RestoreCluster -Local -WorkRoot $WorkRoot -Confirm:$false
"created $($target.Name)"
Remove-Module RestoreOps
'@
        $pwsh = @([Environment]::ProcessPath)
        if ([System.IO.Path]::GetFileNameWithoutExtension($pwsh[0]) -eq 'dotnet') { $pwsh += Join-Path $PSHOME 'pwsh.dll' }
        $output = @(& $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $script (Join-Path $module.ModuleBase 'RestoreOps.psd1') $labelOnly $workRoot 2>&1 |
            ForEach-Object { "$_" })
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        $name = ($output | Where-Object { $_ -like 'created *' }) -replace '^created ', ''
        $name | Should -Not -BeNullOrEmpty
        ($output -join "`n") | Should -BeLike "*RestoreOps removed local restore target $name (*"
        @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
    }
}

Describe 'What the views show' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $null = Import-RestoreOpsTestModule
        $pgBin = Find-PostgresBinDirectory
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'views')
        function New-Record([string] $Source, [string] $Failure) {
            $r = [RestoreOps.Model.DrillRecord]@{ DrillId = 'pester-' + [guid]::NewGuid().ToString('N').Substring(0, 8); ToolVersion = 'pester'; Host = 'pester'; StartedAt = [DateTimeOffset]::UtcNow; Source = $Source }
            $r.FailureMessage = $Failure
            $r
        }
    }

    AfterAll {
        Remove-TestRestoreTarget -WorkRoot $workRoot
    }

    It 'the record table keeps the distinguishing end of long sources and wraps long failures' {
        $failure = 'The restore failed because ' + ('something long happened; ' * 8) + 'THE END.'
        $one = New-Record '/var/backups/postgres/base/2026-11-21/shop-primary' $failure
        $two = New-Record '/var/backups/postgres/base/2026-11-21/shop-replica' $failure
        $table = $one, $two | Format-Table | Out-String -Width 120
        $table | Should -Match 'shop-primary'
        $table | Should -Match 'shop-replica'
        # Wrapped onto continuation lines (whose other cells are empty): without the spacing it reads through to the end.
        ($table -replace '\s', '') | Should -Match 'THEEND\.' -Because 'a failure is read in full'
    }

    It 'list views show nested objects as text, never as type names' {
        $record = New-Record '/backups/x' $null
        $record.Objectives.Add([RestoreOps.Model.ObjectiveResult]@{ Kind = 'BackupAge'; Limit = [TimeSpan]::FromHours(1); Verdict = 'Met'; Message = 'backup is 5m old' })
        $evidence = [RestoreOps.Model.DrillEvidence]@{ DrillId = $record.DrillId; Verdict = 'Passed'; Directory = '/e'; RecordPath = '/e/x.json'; Files = [string[]]@('/e/x.json'); Record = $record }
        $backup = New-TestLabelOnlyBackup -Path (Join-Path $TestDrive 'label-only') | Get-LocalBackup -ErrorAction Stop
        foreach ($object in $record, $evidence, $backup, $record.Objectives[0]) {
            $list = $object | Format-List | Out-String -Width 200
            $list | Should -Not -Match 'RestoreOps\.Model\.' -Because "$($object.GetType().Name)'s list view shows its nested objects as text"
            $all = $object | Format-List * | Out-String -Width 200
            $all | Should -Not -Match ': RestoreOps\.Model\.' -Because "every property of $($object.GetType().Name) reads as text"
        }
    }

    It 'a removed target shows neither an expiry nor a connection, and -Verbose says what Wait-ClusterReady did' {
        if ($null -eq $pgBin) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $demo = New-RestoreDemoBackup -WorkRoot $workRoot -PostgresBinDirectory $pgBin -ErrorAction Stop
        $cluster = $demo | New-RestoreCluster -Local -WorkRoot $workRoot -PostgresBinDirectory $pgBin -ErrorAction Stop
        $verbose = @($cluster | Wait-ClusterReady -Timeout (New-TimeSpan -Minutes 5) -Verbose -ErrorAction Stop 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object { "$_" })
        $verbose | Should -Not -BeNullOrEmpty
        ($verbose -join "`n") | Should -BeLike "*$($cluster.Name)*Ready*"
        $before = $cluster | Format-Table | Out-String -Width 200
        $before | Should -Match '127\.0\.0\.1'
        $cluster | Remove-RestoreCluster -Confirm:$false -ErrorAction Stop
        $cluster.Phase | Should -Be 'Removed'
        foreach ($view in ($cluster | Format-Table | Out-String -Width 200), ($cluster | Format-List | Out-String -Width 200)) {
            $view | Should -Not -Match '127\.0\.0\.1' -Because 'a removed target has nothing to connect to'
            $view | Should -Not -Match '\d+h \d+m|\d+m \d+s' -Because 'a removed target does not expire'
        }
    }
}
