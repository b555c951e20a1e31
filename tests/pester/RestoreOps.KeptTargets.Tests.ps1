#Requires -Version 7.4
# What on-call does after a failed drill: look at the target it kept. A target kept by -KeepOnFailure is checked again
# in the same session, and a recovery target made by an earlier pwsh is checked after that pwsh has exited (issue 14,
# bug 4): both are found on disk and reached through their private unix socket.

Describe 'Checking restore targets this session did not create' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $module = Import-RestoreOpsTestModule
        $pgBin = Find-PostgresBinDirectory
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'kept')
        $source = $null
        if ($null -ne $pgBin) {
            $source = New-TestBaseBackup -Root (Join-Path $TestDrive 'source') -BinDirectory $pgBin
        }
        $allRows = if ($null -ne $source) { @{ kind = 'row-count'; name = 'orders'; database = $source.Database; table = $source.Table; exact = $source.RowsAfterReplay } }
    }

    AfterAll {
        Remove-TestRestoreTarget -WorkRoot $workRoot
    }

    It 'a target kept by Invoke-RestoreDrill -KeepOnFailure is checked again in the same session' {
        if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $tooFew = @{ kind = 'row-count'; name = 'orders'; database = $source.Database; table = $source.Table; exact = $source.RowsInBackup }
        $record = Get-LocalBackup -Path $source.BaseDirectory -WalPath $source.WalDirectory -ErrorAction Stop |
            Invoke-RestoreDrill -Local -WorkRoot $workRoot -PostgresBinDirectory $pgBin -Check $tooFew -KeepOnFailure -Confirm:$false -ErrorAction Stop
        $record.Verdict | Should -Be 'Failed'
        $record.Cleanup.Kept | Should -BeTrue

        $kept = @(Get-RestoreCluster -WorkRoot $workRoot -DrillId $record.DrillId)
        $kept.Count | Should -Be 1
        $kept[0].Phase | Should -Be 'Ready'
        $again = $kept[0] | Invoke-RestoreCheck -Check $allRows -ErrorAction Stop
        $again.Verdict | Should -Be 'Passed' -Because "$($again.FailureMessage)"
        $kept[0] | Remove-RestoreCluster -Confirm:$false -ErrorAction Stop
    }

    It 'a recovery target made by a pwsh that has exited is checked from this one' {
        if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $script = Join-Path $TestDrive 'make-recovery-target.ps1'
        Set-Content -LiteralPath $script -Value @'
param($Manifest, $Base, $Wal, $WorkRoot, $PgBin)
$ErrorActionPreference = 'Stop'
Import-Module $Manifest
$target = Get-LocalBackup -Path $Base -WalPath $Wal | New-RestoreCluster -Local -Purpose Recovery -Name "kept-$([guid]::NewGuid().ToString('N').Substring(0, 8))" -WorkRoot $WorkRoot -PostgresBinDirectory $PgBin -Confirm:$false |
    Wait-ClusterReady -Timeout 00:05:00
$target.Name
'@
        $pwsh = @([Environment]::ProcessPath)
        if ([System.IO.Path]::GetFileNameWithoutExtension($pwsh[0]) -eq 'dotnet') { $pwsh += Join-Path $PSHOME 'pwsh.dll' }
        $output = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $script (Join-Path $module.ModuleBase 'RestoreOps.psd1') `
            $source.BaseDirectory $source.WalDirectory $workRoot $pgBin 2>&1
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        $name = "$(@($output)[-1])".Trim()

        $found = @(Get-RestoreCluster -WorkRoot $workRoot -Name $name)
        $found.Count | Should -Be 1
        $found[0].Purpose | Should -Be 'Recovery'
        $found[0].Phase | Should -Be 'Ready' -Because 'a recovery target outlives the process that made it'
        $record = $found[0] | Invoke-RestoreCheck -Check $allRows -ErrorAction Stop
        $record.Verdict | Should -Be 'Passed' -Because "$($record.FailureMessage)"
        $found[0] | Remove-RestoreCluster -Confirm:$false -ErrorAction Stop
        Test-Path -LiteralPath $found[0].WorkDirectory | Should -BeFalse
    }
}
