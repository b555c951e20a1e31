#Requires -Version 7.4
# The module's demo, as the README runs it: New-RestoreDemoBackup builds the CLI demo's source (a sample database,
# a real base backup and WAL archive, writes around a recovery target) and its output carries the target and the
# check file into the next cmdlet by property name. Without PostgreSQL's server binaries every test is skipped.

Describe 'New-RestoreDemoBackup' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $null = Import-RestoreOpsTestModule
        $pgBin = Find-PostgresBinDirectory
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'demo')
        $demo = $null
        if ($null -ne $pgBin) {
            $demo = New-RestoreDemoBackup -WorkRoot $workRoot -PostgresBinDirectory $pgBin -ErrorAction Stop
        }
    }

    AfterAll {
        Remove-TestRestoreTarget -WorkRoot $workRoot
    }

    It 'returns a base backup with its recovery target and its check file' {
        if ($null -eq $demo) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $demo | Should -BeOfType ([RestoreOps.Model.Backup])
        $demo.SourceKind | Should -Be 'LocalBaseBackup'
        $demo.TargetTime | Should -BeOfType ([DateTimeOffset])
        $demo.TargetTime | Should -BeGreaterThan $demo.EndTime -Because 'the target lies in the writes after the backup'
        $demo.CheckPath | Should -Exist
        $demo.DemoDirectory | Should -BeLike "$workRoot*"
        # The check file is the documented example, byte for byte.
        (Get-Content -LiteralPath $demo.CheckPath -Raw) | Should -Be (Get-Content -LiteralPath (Join-Path $RestoreOpsRepositoryRoot 'docs/examples/demo-checks.yaml') -Raw)
    }

    It 'pipes into Invoke-RestoreDrill -Local, which restores to its target and passes every check of the checklist' {
        if ($null -eq $demo) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $evidence = Join-Path $TestDrive 'demo-evidence'
        $record = $demo | Invoke-RestoreDrill -Local -WorkRoot $workRoot -PostgresBinDirectory $pgBin -EvidencePath $evidence -ErrorAction Stop
        $record.Verdict | Should -Be 'Passed' -Because "$($record.FailureMessage)"
        $record.RecoveryTarget | Should -BeLike 'time *'
        $kinds = @($record.Checks | ForEach-Object { $_.Category } | Sort-Object -Unique)
        foreach ($kind in 'schema', 'migrations', 'row-count', 'key-records', 'roles', 'grants', 'read-write', 'foreign-keys', 'sequences', 'recovery-point') {
            $kinds | Should -Contain $kind
        }
        @($record.Checks | Where-Object Status -ne 'Passed').Count | Should -Be 0
        @($record.Checks).Count | Should -BeGreaterOrEqual 15
        $record.Cleanup.Kept | Should -BeFalse
        Join-Path $evidence "$($record.DrillId).json" | Should -Exist
    }

    It 'pipes into New-RestoreCluster -Local | Wait-ClusterReady | Invoke-RestoreCheck -Path $demo.CheckPath' {
        if ($null -eq $demo) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $cluster = $demo | New-RestoreCluster -Local -WorkRoot $workRoot -PostgresBinDirectory $pgBin -ErrorAction Stop |
            Wait-ClusterReady -Timeout (New-TimeSpan -Minutes 5) -ErrorAction Stop
        try {
            "$($cluster.RecoveryTarget)" | Should -BeLike 'time *' -Because 'the target came from the demo object by property name'
            $record = $cluster | Invoke-RestoreCheck -Path $demo.CheckPath -ErrorAction Stop
            $record.Verdict | Should -Be 'Passed' -Because "$($record.FailureMessage)"
        }
        finally {
            $cluster | Remove-RestoreCluster -Confirm:$false
        }
    }

    It 'a target given on the command line wins over the demo object''s' {
        if ($null -eq $demo) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        # At the end of the backup only its 1000 orders exist: the demo's row count fails there.
        $record = $demo | Invoke-RestoreDrill -Local -WorkRoot $workRoot -PostgresBinDirectory $pgBin -TargetTime $demo.EndTime -ErrorAction Stop
        $record.Verdict | Should -Be 'Failed'
        ($record.Checks | Where-Object Name -eq 'orders at the recovery target').Status | Should -Be 'Failed'
    }

    It '-WhatIf creates nothing' {
        $whatIfRoot = New-TestDirectory -Path (Join-Path $TestDrive 'demo-whatif')
        @(New-RestoreDemoBackup -WorkRoot $whatIfRoot -WhatIf).Count | Should -Be 0
        @(Get-ChildItem -LiteralPath $whatIfRoot -Force).Count | Should -Be 0
    }

    It 'names the missing PostgreSQL binaries as an error with the fix' {
        $empty = New-TestDirectory -Path (Join-Path $TestDrive 'no-bin')
        $output = @(New-RestoreDemoBackup -WorkRoot $workRoot -PostgresBinDirectory $empty -ErrorAction SilentlyContinue -ErrorVariable problems)
        $output.Count | Should -Be 0
        @($problems).Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'NewRestoreDemoBackupFailed,*'
        $problems[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        $problems[0].ErrorDetails.Message | Should -BeLike "*$empty*"
    }
}
