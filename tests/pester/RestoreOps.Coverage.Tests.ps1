#Requires -Version 7.4
# The happy paths and documented errors that the other files do not reach, one Context per cmdlet. None needs
# PostgreSQL: records are built in memory or written by Export-DrillEvidence, and the heartbeat receiver is an
# HttpListener of this process. (Get-CnpgBackup and Get-BarmanBackup need Kubernetes and S3: xunit covers them.)

Describe 'Cmdlets without a restore' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $module = Import-RestoreOpsTestModule
        function New-Record([string] $Verdict = 'Passed') {
            $r = [RestoreOps.Model.DrillRecord]@{
                DrillId = 'pester-' + [guid]::NewGuid().ToString('N').Substring(0, 8); ToolVersion = 'pester'; Host = 'pester'
                StartedAt = [DateTimeOffset]::UtcNow.AddMinutes(-1); Source = '/backups/pester'
            }
            $r.EndedAt = [DateTimeOffset]::UtcNow
            $r.Verdict = $Verdict
            $r
        }
        $labelOnly = New-TestLabelOnlyBackup -Path (Join-Path $TestDrive 'label-only')
        $backup = Get-LocalBackup -Path $labelOnly -ErrorAction Stop
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'restores')
    }

    AfterAll {
        Remove-TestRestoreTarget -WorkRoot $workRoot
    }

    Context 'Export-DrillEvidence and Get-DrillHistory' {
        BeforeAll {
            $evidencePath = Join-Path $TestDrive 'evidence'
        }

        It 'writes a signed record that Get-DrillHistory reads back' {
            $env:RESTOREOPS_PESTER_KEY = 'pester-signing-key-0123456789abcdef'
            try {
                $record = New-Record
                $evidence = $record | Export-DrillEvidence -Path $evidencePath -SigningKeyVariable RESTOREOPS_PESTER_KEY -ErrorAction Stop
            }
            finally {
                Remove-Item Env:RESTOREOPS_PESTER_KEY
            }
            $evidence.RecordPath | Should -Exist
            (Get-Content -LiteralPath $evidence.RecordPath -Raw) | Should -Match 'hmac'
            $read = @(Get-DrillHistory -Path $evidencePath -Last 1)
            $read.Count | Should -Be 1
            $read[0].DrillId | Should -Be $record.DrillId
            @(Get-DrillHistory -Path $evidencePath -Verdict Failed).Count | Should -Be 0
        }

        It 'Export-DrillEvidence -SigningKeyVariable naming an unset variable is an error with the fix' {
            $output = @(New-Record | Export-DrillEvidence -Path $evidencePath -SigningKeyVariable RESTOREOPS_PESTER_UNSET -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0
            @($problems).Count | Should -Be 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'ExportDrillEvidenceFailed,*'
            $problems[0].ErrorDetails.RecommendedAction | Should -BeLike '*RESTOREOPS_PESTER_UNSET*'
        }

        It 'Get-DrillHistory warns about a tampered record and leaves it out' {
            $tampered = New-Record | Export-DrillEvidence -Path $evidencePath -ErrorAction Stop
            (Get-Content -LiteralPath $tampered.RecordPath -Raw) -replace '/backups/pester', '/backups/tampered' | Set-Content -LiteralPath $tampered.RecordPath -NoNewline
            $records = @(Get-DrillHistory -Path $evidencePath -WarningVariable warnings -WarningAction SilentlyContinue)
            $records.DrillId | Should -Not -Contain $tampered.DrillId
            ($warnings -join "`n") | Should -BeLike "*$($tampered.DrillId)*"
        }

        It 'Get-DrillHistory -Summary says when the last pass is stale' {
            $summary = @(Get-DrillHistory -Path $evidencePath -Summary -StaleAfter 1ms -WarningAction SilentlyContinue | Where-Object Source -eq '/backups/pester')
            $summary.Count | Should -Be 1
            "$($summary[0].Status)" | Should -Be 'Stale'
        }

        It 'Get-DrillHistory on a folder that does not exist is an error naming it' {
            $missing = Join-Path $TestDrive 'no-evidence'
            $null = Get-DrillHistory -Path $missing -ErrorAction SilentlyContinue -ErrorVariable problems
            @($problems).Count | Should -Be 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'GetDrillHistoryFailed,*'
            $problems[0].ErrorDetails.Message | Should -BeLike "*$missing*"
            $problems[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
        }
    }

    Context 'Send-DrillHeartbeat' {
        It 'pings the URL for a passed drill' {
            $listener = [System.Net.HttpListener]::new()
            $port = Get-Random -Minimum 20000 -Maximum 60000
            $listener.Prefixes.Add("http://127.0.0.1:$port/")
            $listener.Start()
            $ps = [powershell]::Create()
            try {
                $null = $ps.AddCommand('Import-Module').AddParameter('Name', (Join-Path $module.ModuleBase 'RestoreOps.psd1')).AddStatement()
                $null = $ps.AddCommand('Send-DrillHeartbeat').AddParameter('Record', (New-Record)).AddParameter('Url', "http://127.0.0.1:$port/ping").AddParameter('Attempts', 1)
                $handle = $ps.BeginInvoke()
                $context = $listener.GetContextAsync()
                $context.Wait([TimeSpan]::FromMinutes(1)) | Should -BeTrue -Because 'the heartbeat reaches the listener'
                $context.Result.Request.HttpMethod | Should -Be 'POST'
                $context.Result.Request.Url.AbsolutePath | Should -Be '/ping'
                $context.Result.Response.StatusCode = 200
                $context.Result.Response.Close()
                $outcome = @($ps.EndInvoke($handle))
                $outcome.Count | Should -Be 1
                $outcome[0].Sent | Should -BeTrue
                @($ps.Streams.Error).Count | Should -Be 0
            }
            finally {
                $ps.Dispose()
                $listener.Close()
            }
        }

        It 'is an error, with the outcome, when a passed drill''s ping does not arrive' {
            $outcome = @(New-Record | Send-DrillHeartbeat -Url 'http://127.0.0.1:9/nobody' -Attempts 1 -ErrorAction SilentlyContinue -ErrorVariable problems)
            $outcome.Count | Should -Be 1
            $outcome[0].Sent | Should -BeFalse
            @($problems).Count | Should -Be 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'HeartbeatNotSent,*'
            $problems[0].ErrorDetails.RecommendedAction | Should -BeLike '*drill itself passed*'
        }

        It 'refuses a URL that is not http(s)' {
            $null = New-Record | Send-DrillHeartbeat -Url 'ftp://example.invalid/ping' -ErrorAction SilentlyContinue -ErrorVariable problems
            @($problems).Count | Should -Be 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'SendDrillHeartbeatFailed,*'
            $problems[0].ErrorDetails.RecommendedAction | Should -BeLike '*https://*'
        }
    }

    Context 'Invoke-RestoreDrill input errors' {
        It 'refuses a -HeartbeatUrl that is not http(s) before restoring' {
            $output = @($backup | Invoke-RestoreDrill -Local -WorkRoot $workRoot -HeartbeatUrl 'ftp://example.invalid/ping' -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0
            @($problems).Count | Should -Be 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'InvokeRestoreDrillFailed,*'
            @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
        }

        It 'refuses -SigningKeyVariable naming an unset variable before restoring' {
            $output = @($backup | Invoke-RestoreDrill -Local -WorkRoot $workRoot -SigningKeyVariable RESTOREOPS_PESTER_UNSET -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable problems)
            $output.Count | Should -Be 0
            @($problems).Count | Should -Be 1
            $problems[0].ErrorDetails.RecommendedAction | Should -BeLike '*RESTOREOPS_PESTER_UNSET*'
            @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
        }
    }

    Context 'Remove-RestoreCluster and Get-RestoreCluster by name' {
        It 'Remove-RestoreCluster -Name of a target that does not exist is an error naming it' {
            $null = Remove-RestoreCluster -Name 'restoreops-no-such-target' -WorkRoot $workRoot -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable problems
            @($problems).Count | Should -Be 1
            $problems[0].FullyQualifiedErrorId | Should -BeLike 'RestoreClusterNotFound,*'
            $problems[0].ErrorDetails.RecommendedAction | Should -BeLike '*Get-RestoreCluster*'
        }

        It 'Get-RestoreCluster -Name of a target that does not exist returns nothing, without an error' {
            @(Get-RestoreCluster -Name 'restoreops-no-such-target' -WorkRoot $workRoot -ErrorAction Stop).Count | Should -Be 0
        }

        It 'Remove-RestoreCluster -Name -PassThru removes a target found by name and returns it Removed' {
            $target = $backup | New-RestoreCluster -Local -WorkRoot $workRoot -Confirm:$false -ErrorAction Stop
            $removed = @(Remove-RestoreCluster -Name $target.Name -WorkRoot $workRoot -Force -PassThru -ErrorAction Stop)
            $removed.Count | Should -Be 1
            "$($removed[0].Phase)" | Should -Be 'Removed'
            Test-Path -LiteralPath $target.WorkDirectory | Should -BeFalse
        }
    }
}
