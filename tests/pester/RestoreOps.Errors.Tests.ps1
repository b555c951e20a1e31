#Requires -Version 7.4
# Bad input gives ErrorRecords a user can act on: a category to filter on, the object it is about (TargetObject),
# and the fix as ErrorDetails.RecommendedAction. They are non-terminating (the pipeline goes on with the next item);
# -ErrorAction Stop makes them terminating, with the same record.

Describe 'Errors a user can act on' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $null = Import-RestoreOpsTestModule

        # Asserts what every RestoreOps error carries, returning nothing (Should throws on the first miss).
        function Assert-ActionableError {
            param(
                [Parameter(Mandatory)] [System.Management.Automation.ErrorRecord] $ErrorRecord,
                [Parameter(Mandatory)] [string] $ErrorId,
                [Parameter(Mandatory)] [string[]] $Category,
                [Parameter(Mandatory)] [AllowNull()] [object] $Target
            )
            $ErrorRecord.FullyQualifiedErrorId | Should -BeLike "$ErrorId,RestoreOps.PowerShell.Commands.*"
            "$($ErrorRecord.CategoryInfo.Category)" | Should -BeIn $Category
            $ErrorRecord.TargetObject | Should -Be $Target
            $ErrorRecord.ErrorDetails | Should -Not -BeNullOrEmpty -Because 'the message and the fix travel in ErrorDetails'
            $ErrorRecord.ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty -Because 'every RestoreOps error names its fix'
            $ErrorRecord.ErrorDetails.Message | Should -Not -BeNullOrEmpty
            $ErrorRecord.ErrorDetails.Message | Should -Not -Match 'Fix:' -Because 'the fix is the recommended action, not part of the message'
        }

        $labelOnly = New-TestLabelOnlyBackup -Path (Join-Path $TestDrive 'label-only')
        $backup = Get-LocalBackup -Path $labelOnly -ErrorAction Stop
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'restores')
    }

    AfterAll {
        Remove-TestRestoreTarget -WorkRoot $workRoot
    }

    Context 'Get-LocalBackup on a path that does not exist' {
        BeforeAll {
            $missing = Join-Path $TestDrive 'no-such-backup'
        }

        It 'writes a non-terminating error naming the path and the fix' {
            $output = @(Get-LocalBackup -Path $missing -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0
            @($problems).Count | Should -Be 1
            Assert-ActionableError -ErrorRecord $problems[0] -ErrorId 'GetLocalBackupFailed' -Category 'ObjectNotFound', 'InvalidArgument' -Target $missing
            $problems[0].ErrorDetails.Message | Should -BeLike "*$missing*"
            $problems[0].ErrorDetails.RecommendedAction | Should -BeLike '*-WalPath*'
            $problems[0].ErrorDetails.RecommendedAction | Should -Not -Match '--[a-z]' -Because 'the engine names inputs as cmdlet parameters here, never as CLI options'
        }

        It 'goes on with the next path in the pipeline' {
            $output = @($missing, $labelOnly | Get-LocalBackup -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 1
            $output[0].Id | Should -Be 'label-only'
            @($problems).Count | Should -Be 1
        }

        It 'is terminating with -ErrorAction Stop, with the same record' {
            $caught = $null
            $reached = $false
            try {
                $null = Get-LocalBackup -Path $missing -ErrorAction Stop
                $reached = $true
            }
            catch {
                $caught = $_
            }
            $reached | Should -BeFalse -Because '-ErrorAction Stop stops at the error'
            $caught | Should -Not -BeNullOrEmpty
            Assert-ActionableError -ErrorRecord $caught -ErrorId 'GetLocalBackupFailed' -Category 'ObjectNotFound', 'InvalidArgument' -Target $missing
        }
    }

    Context 'Get-LocalBackup -WalPath on a folder that does not exist' {
        It 'refuses at once, naming -WalPath, instead of a drill failing later' {
            $missingWal = Join-Path $TestDrive 'no-such-wal'
            $output = @(Get-LocalBackup -Path $labelOnly -WalPath $missingWal -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0
            @($problems).Count | Should -Be 1
            Assert-ActionableError -ErrorRecord $problems[0] -ErrorId 'GetLocalBackupFailed' -Category 'InvalidArgument' -Target $labelOnly
            $problems[0].ErrorDetails.Message | Should -BeLike "*$missingWal*"
            $problems[0].ErrorDetails.RecommendedAction | Should -BeLike '*-WalPath*'
        }
    }

    Context 'Export-DrillEvidence where it cannot write' {
        BeforeAll {
            $record = [RestoreOps.Model.DrillRecord]@{
                DrillId = 'pester-export'; ToolVersion = 'pester'; Host = 'pester'; StartedAt = [DateTimeOffset]::UtcNow; Source = 'pester/source'
            }
        }

        It 'a -Path that is a file says so and what to pass instead' {
            $file = Join-Path $TestDrive 'record.json'
            Set-Content -LiteralPath $file -Value '{}'
            $output = @($record | Export-DrillEvidence -Path $file -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0
            @($problems).Count | Should -Be 1
            Assert-ActionableError -ErrorRecord $problems[0] -ErrorId 'ExportDrillEvidenceFailed' -Category 'InvalidArgument' -Target $record
            $problems[0].ErrorDetails.Message | Should -BeLike "*-Path '$file'*"
            $problems[0].ErrorDetails.RecommendedAction | Should -BeLike '*folder*'
        }

        It 'a -Path that cannot be created names -Path and the fix' -Skip:(-not $IsLinux) {
            $output = @($record | Export-DrillEvidence -Path '/proc/restoreops-nope' -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0
            @($problems).Count | Should -Be 1
            Assert-ActionableError -ErrorRecord $problems[0] -ErrorId 'ExportDrillEvidenceFailed' -Category 'InvalidArgument' -Target $record
            $problems[0].ErrorDetails.Message | Should -BeLike "*-Path '/proc/restoreops-nope'*"
        }
    }

    Context 'Input errors are ErrorRecords before anything starts (documented in about_RestoreOps)' {
        BeforeAll {
            $noBinaries = New-TestDirectory -Path (Join-Path $TestDrive 'no-binaries')
        }

        It 'Invoke-RestoreDrill with -PostgresBinDirectory holding no PostgreSQL writes an error and no record' {
            $output = @($backup | Invoke-RestoreDrill -Local -WorkRoot $workRoot -PostgresBinDirectory $noBinaries -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0 -Because 'a drill that could not start on bad input is no drill record'
            @($problems).Count | Should -Be 1
            Assert-ActionableError -ErrorRecord $problems[0] -ErrorId 'InvokeRestoreDrillFailed' -Category 'InvalidArgument' -Target $backup
            @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
        }

        It 'New-RestoreCluster with the same input writes the error itself, not the background restore later' {
            $output = @($backup | New-RestoreCluster -Local -WorkRoot $workRoot -PostgresBinDirectory $noBinaries -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0
            @($problems).Count | Should -Be 1
            Assert-ActionableError -ErrorRecord $problems[0] -ErrorId 'NewRestoreClusterFailed' -Category 'InvalidArgument' -Target $backup
            @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
        }

        It 'Invoke-RestoreDrill with a malformed -Check writes an error and restores nothing' {
            $output = @($backup | Invoke-RestoreDrill -Local -WorkRoot $workRoot -Check @{ kind = 'row-count'; tabel = 'orders' } -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0
            @($problems).Count | Should -Be 1
            Assert-ActionableError -ErrorRecord $problems[0] -ErrorId 'InvokeRestoreDrillFailed' -Category 'InvalidArgument' -Target $backup
            $problems[0].ErrorDetails.Message | Should -BeLike "*'tabel'*"
            @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
        }

        It 'Invoke-RestoreDrill with a check file that does not exist writes an error and restores nothing' {
            $output = @($backup | Invoke-RestoreDrill -Local -WorkRoot $workRoot -Path (Join-Path $TestDrive 'no-checks.yaml') -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0
            @($problems).Count | Should -Be 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'InvokeRestoreDrillFailed,*'
            $problems[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
            @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
        }
    }

    Context 'Durations' {
        It 'every TimeSpan parameter takes durations such as 30m' {
            $timeSpans = @(Get-Command -Module RestoreOps | ForEach-Object { $c = $_; $c.Parameters.Values |
                    Where-Object { $_.ParameterType -in [TimeSpan], [Nullable[TimeSpan]] } | ForEach-Object { [pscustomobject]@{ Command = $c.Name; Parameter = $_ } } })
            $timeSpans.Count | Should -BeGreaterThan 5
            foreach ($p in $timeSpans) {
                @($p.Parameter.Attributes | Where-Object { $_.GetType().Name -eq 'DurationAttribute' }).Count |
                    Should -Be 1 -Because "$($p.Command) -$($p.Parameter.Name) takes the durations the CLI and check files take"
            }
        }

        It 'binds 30m, 1h30m and 7d, and keeps PowerShell''s own 00:30:00' {
            $empty = New-TestDirectory -Path (Join-Path $TestDrive 'durations')
            foreach ($value in '30m', '1h30m', '7d', '00:30:00', (New-TimeSpan -Minutes 30)) {
                $null = Get-DrillHistory -Path $empty -Summary -StaleAfter $value -ErrorAction Stop
            }
            $caught = $null
            try { $null = Get-DrillHistory -Path $empty -Summary -StaleAfter 'lots' -ErrorAction Stop } catch { $caught = $_ }
            $caught | Should -Not -BeNullOrEmpty
            "$caught" | Should -BeLike "*'lots' is not a duration*30m*"
        }
    }

    Context 'Get-LocalBackup on a folder that is not a base backup' {
        It 'says what the folder lacks and what to pass instead' {
            $empty = New-TestDirectory -Path (Join-Path $TestDrive 'not-a-backup')
            $null = Get-LocalBackup -Path $empty -ErrorAction SilentlyContinue -ErrorVariable problems
            @($problems).Count | Should -Be 1
            Assert-ActionableError -ErrorRecord $problems[0] -ErrorId 'GetLocalBackupFailed' -Category 'ObjectNotFound', 'InvalidArgument' -Target $empty
            $problems[0].ErrorDetails.Message | Should -BeLike '*base.tar*'
            $problems[0].ErrorDetails.RecommendedAction | Should -BeLike 'Point -Path at *'
            $problems[0].ErrorDetails.RecommendedAction | Should -Not -Match '--base-backup'
        }
    }

    Context 'New-RestoreCluster with two recovery targets' {
        It 'refuses before creating anything, naming both parameters' {
            $output = @($backup | New-RestoreCluster -Local -WorkRoot $workRoot -TargetLsn '0/3000000' -TargetImmediate -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0
            @($problems).Count | Should -Be 1
            Assert-ActionableError -ErrorRecord $problems[0] -ErrorId 'NewRestoreClusterFailed' -Category 'InvalidArgument' -Target $backup
            $problems[0].ErrorDetails.Message | Should -BeLike '*-TargetLsn*'
            $problems[0].ErrorDetails.Message | Should -BeLike '*-TargetImmediate*'
            @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
        }

        It 'is terminating with -ErrorAction Stop' {
            $caught = $null
            try {
                $null = $backup | New-RestoreCluster -Local -WorkRoot $workRoot -TargetTime ([DateTimeOffset]::UtcNow) -TargetName 'before_migration' -ErrorAction Stop
            }
            catch {
                $caught = $_
            }
            $caught | Should -Not -BeNullOrEmpty -Because '-ErrorAction Stop turns the error into an exception'
            Assert-ActionableError -ErrorRecord $caught -ErrorId 'NewRestoreClusterFailed' -Category 'InvalidArgument' -Target $backup
            @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
        }
    }

    Context 'Invoke-RestoreCheck with a malformed -Check hashtable' {
        BeforeAll {
            $pgBin = Find-PostgresBinDirectory
            $checkRoot = New-TestDirectory -Path (Join-Path $TestDrive 'check-restores')
            $cluster = $null
            if ($null -ne $pgBin) {
                $source = New-TestBaseBackup -Root (Join-Path $TestDrive 'source') -BinDirectory $pgBin
                try {
                    $cluster = Get-LocalBackup -Path $source.BaseDirectory -WalPath $source.WalDirectory -ErrorAction Stop |
                        New-RestoreCluster -Local -WorkRoot $checkRoot -PostgresBinDirectory $pgBin -ErrorAction Stop |
                        Wait-ClusterReady -Timeout (New-TimeSpan -Minutes 5) -ErrorAction Stop
                }
                catch {
                    Remove-TestRestoreTarget -WorkRoot $checkRoot
                    throw
                }
            }
        }

        AfterAll {
            Remove-TestRestoreTarget -WorkRoot $checkRoot
        }

        It 'names the bad key and its check, and what it must be' {
            if ($null -eq $cluster) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            # 'exact' must be a whole number; a quoted one is text.
            $bad = @{ kind = 'row-count'; table = 'public.orders'; database = 'shop'; exact = 'lots' }
            $output = @($cluster | Invoke-RestoreCheck -Check $bad -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0 -Because 'a malformed check is an error of the input, not a failed drill'
            @($problems).Count | Should -Be 1
            Assert-ActionableError -ErrorRecord $problems[0] -ErrorId 'InvokeRestoreCheckFailed' -Category 'InvalidArgument' -Target $cluster
            $problems[0].ErrorDetails.Message | Should -BeLike "*'exact'*"
        }

        It 'names an unknown key' {
            if ($null -eq $cluster) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            $typo = @{ kind = 'row-count'; tabel = 'public.orders'; database = 'shop'; min = 1 }
            $null = $cluster | Invoke-RestoreCheck -Check $typo -ErrorAction SilentlyContinue -ErrorVariable problems
            @($problems).Count | Should -Be 1
            Assert-ActionableError -ErrorRecord $problems[0] -ErrorId 'InvokeRestoreCheckFailed' -Category 'InvalidArgument' -Target $cluster
            $problems[0].ErrorDetails.Message | Should -BeLike "*'tabel'*"
        }

        It 'is terminating with -ErrorAction Stop, and the target stays usable' {
            if ($null -eq $cluster) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
            $caught = $null
            try {
                $null = $cluster | Invoke-RestoreCheck -Check @{ kind = 'no-such-kind' } -ErrorAction Stop
            }
            catch {
                $caught = $_
            }
            $caught | Should -Not -BeNullOrEmpty
            Assert-ActionableError -ErrorRecord $caught -ErrorId 'InvokeRestoreCheckFailed' -Category 'InvalidArgument' -Target $cluster
            $good = $cluster | Invoke-RestoreCheck -Check @{ kind = 'row-count'; table = 'public.orders'; database = 'shop'; min = 1 } -ErrorAction Stop
            $good.Verdict | Should -Be 'Passed'
        }
    }
}
