#Requires -Version 7.4
# The cmdlets against the local engine and a real PostgreSQL, as a user strings them together:
#
#   Get-LocalBackup | New-RestoreCluster -Local | Wait-ClusterReady | Invoke-RestoreCheck | Export-DrillEvidence
#   Remove-RestoreCluster, Get-RestoreCluster
#   Get-LocalBackup | Invoke-RestoreDrill -Local
#
# The backup is made here, as users make one: initdb, a server archiving its WAL to a folder, pg_basebackup -Ft,
# then more rows that only the archived WAL holds. A check that counts every row therefore passes only when the
# restore replayed the archive. Without PostgreSQL's server binaries every test here is skipped, saying why.

Describe 'RestoreOps against a real local backup' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $null = Import-RestoreOpsTestModule
        $pgBin = Find-PostgresBinDirectory
        $source = $null
        if ($null -ne $pgBin) {
            $source = New-TestBaseBackup -Root (Join-Path $TestDrive 'source') -BinDirectory $pgBin
        }
        $readyTimeout = New-TimeSpan -Minutes 5
    }

    Context 'Get-LocalBackup | New-RestoreCluster -Local | Wait-ClusterReady | Invoke-RestoreCheck | Export-DrillEvidence' {
        BeforeAll {
            $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'stages')
            $evidencePath = Join-Path $TestDrive 'stages-evidence'
            $backup = $null
            $created = $null
            $evidence = $null
            if ($null -ne $source) {
                $allRows = @{ kind = 'row-count'; name = 'orders'; database = $source.Database; table = $source.Table; exact = $source.RowsAfterReplay }
                try {
                    $backup = Get-LocalBackup -Path $source.BaseDirectory -WalPath $source.WalDirectory -ErrorAction Stop
                    $evidence = $backup |
                        New-RestoreCluster -Local -WorkRoot $workRoot -PostgresBinDirectory $pgBin -OutVariable created -ErrorAction Stop |
                        Wait-ClusterReady -Timeout $readyTimeout -ErrorAction Stop |
                        Invoke-RestoreCheck -Check $allRows -ErrorAction Stop |
                        Export-DrillEvidence -Path $evidencePath -ErrorAction Stop
                }
                catch {
                    Remove-TestRestoreTarget -WorkRoot $workRoot
                    throw
                }
            }
            # New-RestoreCluster's output, kept by -OutVariable: the target the later tests look at and remove.
            $cluster = if ($null -ne $created -and @($created).Count -gt 0) { @($created)[0] } else { $null }
        }

        AfterAll {
            Remove-TestRestoreTarget -WorkRoot $workRoot
        }

        It 'reads the pg_basebackup directory and its WAL archive' {
            if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            $backup | Should -BeOfType ([RestoreOps.Model.Backup])
            $backup.SourceKind | Should -Be 'LocalBaseBackup'
            $backup.Status | Should -Be 'Done'
            $backup.Method | Should -Be 'pg_basebackup'
            $backup.Location.WalDirectory | Should -Be $source.WalDirectory
            $backup.EndTime | Should -Not -BeNullOrEmpty
            $backup.AgeText | Should -Not -BeNullOrEmpty
        }

        It 'restores, replays the archived WAL and passes the row count' {
            if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            $cluster | Should -Not -BeNullOrEmpty
            $cluster.Kind | Should -Be 'Local'
            $cluster.Phase | Should -Be 'Ready'
            $cluster.WorkDirectory | Should -BeLike "$workRoot*"
            $evidence | Should -BeOfType ([RestoreOps.Model.DrillEvidence])
            $evidence.Verdict | Should -Be 'Passed'
            $record = $evidence.Record
            $record.Verdict | Should -Be 'Passed'
            $record.FailureMessage | Should -BeNullOrEmpty
            @($record.Checks).Count | Should -Be 1
            $record.Checks[0].Name | Should -Be 'orders'
            $record.Checks[0].Status | Should -Be 'Passed'
            $record.ChecksPassed | Should -Be '1/1'
            $record.Cleanup.Kept | Should -BeTrue -Because 'Invoke-RestoreCheck leaves the target to Remove-RestoreCluster'
        }

        It 'writes the evidence: sealed JSON, JUnit, Markdown, HTML, the runbook and Prometheus text' {
            if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            $evidence.RecordPath | Should -Exist
            $evidence.RecordPath | Should -BeLike '*.json'
            @($evidence.Files).Count | Should -Be 6
            @($evidence.Files | Where-Object { $_ -like '*.runbook.md' }).Count | Should -Be 1
            foreach ($file in $evidence.Files) { $file | Should -Exist }
            # Get-DrillHistory reads it back and checks its digest.
            $history = @(Get-DrillHistory -Path $evidencePath | Where-Object { $_.DrillId -eq $evidence.DrillId })
            $history.Count | Should -Be 1
            $history[0].Verdict | Should -Be 'Passed'
        }

        It 'reports a check that does not hold as a Failed record, and sends no heartbeat for it' {
            if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            # The backup alone has fewer rows: this expectation holds only for a restore that did not replay the WAL.
            $backupRowsOnly = @{ kind = 'row-count'; name = 'orders in the base backup'; database = $source.Database; table = $source.Table; exact = $source.RowsInBackup }
            $failed = $cluster | Invoke-RestoreCheck -Check $backupRowsOnly -ErrorAction Stop
            $failed.Verdict | Should -Be 'Failed'
            $failed.FailureCategory | Should -Be 'Checks'
            $failed.ChecksPassed | Should -Be '0/1'
            $failed.Checks[0].Status | Should -Be 'Failed'
            $failed.FailureMessage | Should -Not -BeNullOrEmpty
            # Nothing is sent for a drill that did not pass (the missing ping is the alarm), so no receiver is needed.
            $outcome = $failed | Send-DrillHeartbeat -Url 'http://127.0.0.1:9/restoreops-pester' -ErrorAction Stop
            $outcome | Should -BeOfType ([RestoreOps.Model.DeliveryOutcome])
            $outcome.Sent | Should -BeFalse
            $outcome.Attempts | Should -Be 0
            ($outcome | Format-Table -DisplayError | Out-String -Width 250) | Should -Not -Match '#ERR'
        }

        It 'shows each object through its default views, without a failing column' {
            if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            $summary = @(Get-DrillHistory -Path $evidencePath -Summary)
            $summary.Count | Should -BeGreaterThan 0
            $objects = @($backup, $cluster, $evidence.Record, $evidence.Record.Checks[0], $evidence.Record.Phases[0], $evidence, $summary[0])
            foreach ($object in $objects) {
                $object | Should -Not -BeNullOrEmpty
                # -DisplayError shows #ERR in a cell whose script failed instead of leaving it blank.
                $table = $object | Format-Table -DisplayError | Out-String -Width 250
                $list = $object | Format-List -DisplayError | Out-String -Width 250
                $table | Should -Not -Match '#ERR' -Because "the table view of $($object.GetType().FullName) runs without errors"
                $list | Should -Not -Match '#ERR' -Because "the list view of $($object.GetType().FullName) runs without errors"
            }
            $recordTable = $evidence.Record | Format-Table | Out-String -Width 250
            $recordTable | Should -Match 'Verdict'
            $recordTable | Should -Match '1/1'
        }

        It 'Remove-RestoreCluster stops and deletes the target, and Get-RestoreCluster no longer lists it' {
            if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            Test-Path -LiteralPath $cluster.WorkDirectory | Should -BeTrue
            $postmaster = $cluster.ProcessId
            $cluster | Remove-RestoreCluster -Confirm:$false -ErrorAction Stop
            @(Get-RestoreCluster -WorkRoot $workRoot -DrillId $cluster.DrillId).Count | Should -Be 0
            @(Get-RestoreCluster -WorkRoot $workRoot | Where-Object { $_.WorkDirectory -like "$workRoot*" }).Count | Should -Be 0
            Test-Path -LiteralPath $cluster.WorkDirectory | Should -BeFalse
            if ($IsLinux -and $null -ne $postmaster) {
                # Stopped: no process with that pid runs on this data directory any more. (Get-Process would still
                # list a zombie that a container's init has not reaped; its command line is empty.)
                $commandLine = Get-Content -LiteralPath "/proc/$postmaster/cmdline" -Raw -ErrorAction SilentlyContinue
                "$commandLine" | Should -Not -BeLike "*$($cluster.WorkDirectory)*" -Because "the postmaster (pid $postmaster) was stopped"
            }
        }
    }

    Context 'Get-LocalBackup | Invoke-RestoreDrill -Local' {
        BeforeAll {
            $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'drill')
            $evidencePath = Join-Path $TestDrive 'drill-evidence'
            $record = $null
            if ($null -ne $source) {
                $allRows = @{ kind = 'row-count'; name = 'orders'; database = $source.Database; table = $source.Table; exact = $source.RowsAfterReplay }
                try {
                    $record = Get-LocalBackup -Path $source.BaseDirectory -WalPath $source.WalDirectory -ErrorAction Stop |
                        Invoke-RestoreDrill -Local -WorkRoot $workRoot -PostgresBinDirectory $pgBin -Check $allRows -EvidencePath $evidencePath -Timeout $readyTimeout -ErrorAction Stop
                }
                catch {
                    Remove-TestRestoreTarget -WorkRoot $workRoot
                    throw
                }
            }
        }

        AfterAll {
            Remove-TestRestoreTarget -WorkRoot $workRoot
        }

        It 'returns one Passed record with the RPO and RTO numbers' {
            if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            @($record).Count | Should -Be 1
            $record | Should -BeOfType ([RestoreOps.Model.DrillRecord])
            $record.Verdict | Should -Be 'Passed'
            $record.ChecksPassed | Should -Be '1/1'
            $record.TargetKind | Should -Be 'Local'
            $record.BackupAge | Should -Not -BeNullOrEmpty
            $record.RestoreDuration | Should -Not -BeNullOrEmpty
            $record.Duration | Should -Be $record.TotalDuration
        }

        It 'leaves nothing behind' {
            if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            $record.Cleanup.Succeeded | Should -BeTrue
            $record.Cleanup.Kept | Should -BeFalse
            @($record.Cleanup.Problems).Count | Should -Be 0
            @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
            @(Get-RestoreCluster -WorkRoot $workRoot -DrillId $record.DrillId).Count | Should -Be 0
        }

        It 'writes its evidence into -EvidencePath' {
            if ($null -eq $source) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            Join-Path $evidencePath "$($record.DrillId).json" | Should -Exist
        }
    }
}
