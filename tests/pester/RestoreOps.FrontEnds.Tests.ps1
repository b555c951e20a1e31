#Requires -Version 7.4
# One engine, one door: the same local backup drilled through the module (Invoke-RestoreDrill) and through the CLI
# (restoreops drill) gives the same record: the same verdict, backup, source, recovery target, phases and checks, in
# evidence files of the same shape. The CLI is the one this repository builds (RESTOREOPS_TEST_CLI names its dll;
# scripts/test.sh sets it); without it, or without PostgreSQL, the tests skip saying why, except in CI.

Describe 'The CLI and the cmdlets drill through one engine' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $null = Import-RestoreOpsTestModule
        $pgBin = Find-PostgresBinDirectory
        $cli = $env:RESTOREOPS_TEST_CLI
        if (-not $cli) {
            $cli = Get-ChildItem -Path (Join-Path $RestoreOpsRepositoryRoot 'src/RestoreOps.Cli/bin/*/net8.0/RestoreOps.Cli.dll') -ErrorAction SilentlyContinue |
                Sort-Object -Property LastWriteTimeUtc -Descending | Select-Object -First 1 -ExpandProperty FullName
        }
        $skip = if ($null -eq $pgBin) { $PostgresSkipReason }
                elseif (-not $cli -or -not (Test-Path -LiteralPath $cli)) { 'the CLI is not built (dotnet build src/RestoreOps.Cli, or set RESTOREOPS_TEST_CLI to RestoreOps.Cli.dll)' }
        if ($skip -and $env:CI -eq 'true') { throw "CI must run the front-end comparison, but $skip" }

        $module = $null
        $cliRecord = $null
        if (-not $skip) {
            $source = New-TestBaseBackup -Root (Join-Path $TestDrive 'source') -BinDirectory $pgBin
            $checks = Join-Path $TestDrive 'checks.yaml'
            Set-Content -LiteralPath $checks -Value @(
                "database: $($source.Database)"
                'checks:'
                "  - { kind: row-count, name: every order, table: $($source.Table), exact: $($source.RowsAfterReplay) }"
                "  - { kind: sql, name: replayed rows, query: 'select count(*) from orders where id > $($source.RowsInBackup)', equals: '$($source.RowsAfterReplay - $source.RowsInBackup)' }"
            )
            $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'work')
            $moduleEvidence = New-TestDirectory -Path (Join-Path $TestDrive 'module-evidence')
            $cliEvidence = New-TestDirectory -Path (Join-Path $TestDrive 'cli-evidence')
            try {
                $module = Get-LocalBackup -Path $source.BaseDirectory -WalPath $source.WalDirectory -ErrorAction Stop |
                    Invoke-RestoreDrill -Local -WorkRoot $workRoot -PostgresBinDirectory $pgBin -Path $checks -EvidencePath $moduleEvidence -ErrorAction Stop
                $out = & dotnet $cli drill --base-backup $source.BaseDirectory --wal-archive $source.WalDirectory --checks $checks `
                    --work-dir $workRoot --pg-bin $pgBin --evidence $cliEvidence --json 2>$null
                $cliExit = $LASTEXITCODE
                $cliRecord = ($out -join "`n") | ConvertFrom-Json
            }
            finally {
                Remove-TestRestoreTarget -WorkRoot $workRoot
            }
            $moduleJson = Get-Content -Raw -LiteralPath (Join-Path $moduleEvidence "$($module.DrillId).json") | ConvertFrom-Json
            $cliJson = Get-Content -Raw -LiteralPath (Join-Path $cliEvidence "$($cliRecord.drillId).json") | ConvertFrom-Json
        }
    }

    It 'both pass, and the CLI exits 0' {
        if ($skip) { Set-ItResult -Skipped -Because $skip; return }
        $module.Verdict | Should -Be 'Passed'
        $cliRecord.verdict | Should -Be 'passed'
        $cliExit | Should -Be 0
    }

    It 'records the same backup, source, target kind and recovery target' {
        if ($skip) { Set-ItResult -Skipped -Because $skip; return }
        $cliJson.backup.id | Should -Be $moduleJson.backup.id
        $cliJson.source | Should -Be $moduleJson.source
        $cliJson.targetKind | Should -Be $moduleJson.targetKind
        $cliJson.recoveryTarget | Should -Be $moduleJson.recoveryTarget
        $cliJson.purpose | Should -Be $moduleJson.purpose
    }

    It 'runs the same phases in the same order, all succeeded' {
        if ($skip) { Set-ItResult -Skipped -Because $skip; return }
        $modulePhases = @($moduleJson.phases | ForEach-Object { "$($_.phase):$($_.succeeded)" })
        $cliPhases = @($cliJson.phases | ForEach-Object { "$($_.phase):$($_.succeeded)" })
        $modulePhases.Count | Should -BeGreaterThan 3
        ($cliPhases -join ',') | Should -Be ($modulePhases -join ',')
    }

    It 'runs the same checks with the same results' {
        if ($skip) { Set-ItResult -Skipped -Because $skip; return }
        $moduleChecks = @($moduleJson.checks | ForEach-Object { "$($_.name)|$($_.category)|$($_.status)|$($_.actual)" })
        $cliChecks = @($cliJson.checks | ForEach-Object { "$($_.name)|$($_.category)|$($_.status)|$($_.actual)" })
        $moduleChecks.Count | Should -Be 2
        ($cliChecks -join "`n") | Should -Be ($moduleChecks -join "`n")
    }

    It 'writes evidence of the same shape, and both clean up' {
        if ($skip) { Set-ItResult -Skipped -Because $skip; return }
        $names = { param($o) @($o.PSObject.Properties.Name | Sort-Object) -join ',' }
        (& $names $cliJson) | Should -Be (& $names $moduleJson)
        $moduleJson.cleanup.succeeded | Should -BeTrue
        $cliJson.cleanup.succeeded | Should -BeTrue
        $moduleJson.cleanup.kept | Should -BeFalse
        $cliJson.cleanup.kept | Should -BeFalse
        @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
    }
}
