#Requires -Version 7.4
# Incident recovery from PowerShell (issue 15, items 4 and 5): a recovery target is created only after confirmation
# (-Force in scripts), outlives Remove-Module and the session, and is never swept; a staged pipeline leaves a runbook
# whose commands, run again, restore the same rows.

Describe 'Recovery targets and the runbook' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $module = Import-RestoreOpsTestModule
        $manifest = Join-Path $module.ModuleBase 'RestoreOps.psd1'
        $pgBin = Find-PostgresBinDirectory
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'recovery')
        $source = $null
        if ($null -ne $pgBin) {
            $source = New-TestBaseBackup -Root (Join-Path $TestDrive 'source') -BinDirectory $pgBin
        }
        $allRows = if ($null -ne $source) { @{ kind = 'row-count'; name = 'orders'; database = $source.Database; table = $source.Table; exact = $source.RowsAfterReplay } }
        $pwsh = @([Environment]::ProcessPath)
        if ([System.IO.Path]::GetFileNameWithoutExtension($pwsh[0]) -eq 'dotnet') { $pwsh += Join-Path $PSHOME 'pwsh.dll' }
        function Invoke-ChildPwsh([string] $Script, [object[]] $Arguments) {
            $path = Join-Path $TestDrive "child-$([guid]::NewGuid().ToString('N')).ps1"
            Set-Content -LiteralPath $path -Value $Script
            @(& $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $path @Arguments 2>&1 | ForEach-Object { "$_" })
        }
    }

    AfterAll {
        Remove-TestRestoreTarget -WorkRoot $workRoot
    }

    It 'a session that cannot ask for confirmation is refused a recovery target and told to pass -Force' {
        if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $output = Invoke-ChildPwsh -Script @'
param($Manifest, $Base, $Wal, $WorkRoot, $PgBin)
Import-Module $Manifest
Get-LocalBackup -Path $Base -WalPath $Wal | New-RestoreCluster -Local -Purpose Recovery -Name unconfirmed -WorkRoot $WorkRoot -PostgresBinDirectory $PgBin -ErrorVariable failed -ErrorAction SilentlyContinue
"errors: $($failed.Count)"
$failed | ForEach-Object { "error: $($_.Exception.Message) fix: $($_.ErrorDetails.RecommendedAction)" }
'@ -Arguments @($manifest, $source.BaseDirectory, $source.WalDirectory, $workRoot, $pgBin)
        ($output -join "`n") | Should -BeLike '*errors: 1*'
        ($output -join "`n") | Should -BeLike '*Creating recovery target unconfirmed needs confirmation*-Force*'
        Test-Path -LiteralPath (Join-Path $workRoot 'restoreops-unconfirmed') | Should -BeFalse
    }

    It 'a recovery target made with -Force survives Remove-Module, the session and a sweep, and is checked afterwards' {
        if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $name = "kept-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        $output = Invoke-ChildPwsh -Script @'
param($Manifest, $Base, $Wal, $WorkRoot, $PgBin, $Name)
$ErrorActionPreference = 'Stop'
Import-Module $Manifest
$target = Get-LocalBackup -Path $Base -WalPath $Wal | New-RestoreCluster -Local -Purpose Recovery -Name $Name -Force -WorkRoot $WorkRoot -PostgresBinDirectory $PgBin |
    Wait-ClusterReady -Timeout 00:05:00
"ready $($target.Name) $($target.Phase)"
Remove-Module RestoreOps
'@ -Arguments @($manifest, $source.BaseDirectory, $source.WalDirectory, $workRoot, $pgBin, $name)
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        ($output -join "`n") | Should -BeLike "*ready restoreops-$name Ready*"
        ($output -join "`n") | Should -Not -BeLike "*removed local restore target restoreops-$name*"

        Remove-RestoreCluster -Orphaned -WorkRoot $workRoot -Confirm:$false -ErrorAction Stop
        $found = @(Get-RestoreCluster -WorkRoot $workRoot -Name "restoreops-$name")
        $found.Count | Should -Be 1 -Because 'neither Remove-Module, the end of its session nor a sweep removes a recovery target'
        $found[0].Purpose | Should -Be 'Recovery'
        $found[0].DrillId | Should -Be $name
        $record = $found[0] | Invoke-RestoreCheck -Check $allRows -ErrorAction Stop
        $record.Verdict | Should -Be 'Passed' -Because "$($record.FailureMessage)"
        $found[0] | Remove-RestoreCluster -Confirm:$false -ErrorAction Stop
        Test-Path -LiteralPath $found[0].WorkDirectory | Should -BeFalse
    }

    It 'a staged pipeline writes a runbook of the commands it ran, and running them again gives the same rows' {
        if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $evidence = Join-Path $TestDrive 'runbook-evidence'
        $target = Get-LocalBackup -Path $source.BaseDirectory -WalPath $source.WalDirectory -ErrorAction Stop |
            New-RestoreCluster -Local -WorkRoot $workRoot -PostgresBinDirectory $pgBin -ErrorAction Stop |
            Wait-ClusterReady -Timeout 00:05:00 -ErrorAction Stop
        $written = $target | Invoke-RestoreCheck -Check $allRows -ErrorAction Stop |
            Export-DrillEvidence -Path $evidence -Owner 'dba-oncall' -Note 'took the newest base backup', 'no WAL gap seen' -ErrorAction Stop
        $target | Remove-RestoreCluster -Confirm:$false -ErrorAction Stop

        $written.Record.Owner | Should -Be 'dba-oncall'
        @($written.Record.Runbook.Stage) | Should -Be @('discover', 'create', 'wait', 'check', 'export')
        @($target.Steps.Stage)[-1] | Should -Be 'remove'
        $runbookPath = @($written.Files | Where-Object { $_ -like '*.runbook.md' })
        $runbookPath.Count | Should -Be 1
        $runbook = Get-Content -Raw -LiteralPath $runbookPath[0]
        $runbook | Should -BeLike '*Owner: dba-oncall*'
        $runbook | Should -BeLike '*- took the newest base backup*'
        $runbook | Should -BeLike "*Get-LocalBackup -Path '*' -WalPath '*'*New-RestoreCluster -Local*Wait-ClusterReady -Timeout*Invoke-RestoreCheck -Check @(@{*Export-DrillEvidence -Path '*'*"
        $runbook | Should -BeLike '*## Checks that proved it*orders*Passed*'
        (Get-Content -Raw -LiteralPath $written.RecordPath | ConvertFrom-Json).owner | Should -Be 'dba-oncall'
        @(Get-DrillHistory -Path $evidence -ErrorAction Stop).Count | Should -Be 1 -Because 'the sealed record, owner and notes included, still verifies'

        # A person repeats it: the runbook's commands from discover to check, piped as they were run.
        $commands = @($written.Record.Runbook | Where-Object Stage -in 'discover', 'create', 'wait', 'check' | ForEach-Object Command)
        $again = Invoke-Expression ($commands -join ' | ')
        try {
            $again.Verdict | Should -Be 'Passed' -Because "$($again.FailureMessage)"
            @($again.Checks | ForEach-Object Actual) | Should -Be @($written.Record.Checks | ForEach-Object Actual)
        }
        finally {
            Remove-TestRestoreTarget -WorkRoot $workRoot
        }
    }
}
