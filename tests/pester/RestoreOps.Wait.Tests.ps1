#Requires -Version 7.4
# Wait-ClusterReady on a restore that cannot finish until the test lets it: the WAL segment written after the backup
# is replaced in the archive by a named pipe (mkfifo), so replay blocks there until the test writes the segment into
# the pipe. Nothing here sleeps or races the restore: the restore is held until the test releases it.
#
#   - a -Timeout gives up the wait, not the restore; waiting again works (issue 14, bug 2)
#   - Ctrl+C (a real PowerShell.Stop) prints the promised warning that the restore goes on (bug 1)
#   - -Name finds a local target on a machine without a kubeconfig (bug 3)

Describe 'Wait-ClusterReady on a restore held at a WAL segment' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $module = Import-RestoreOpsTestModule
        $pgBin = Find-PostgresBinDirectory
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'held')
        $cluster = $null
        $held = $null
        if ($null -ne $pgBin -and $IsLinux) {
            $source = New-TestBaseBackup -Root (Join-Path $TestDrive 'source') -BinDirectory $pgBin
            $held = Lock-TestWalSegment -WalDirectory $source.WalDirectory
            $cluster = Get-LocalBackup -Path $source.BaseDirectory -WalPath $source.WalDirectory -ErrorAction Stop |
                New-RestoreCluster -Local -WorkRoot $workRoot -PostgresBinDirectory $pgBin -ErrorAction Stop
        }

        # Runs Wait-ClusterReady in its own PowerShell, as a second pipeline of this process (the engine is the process's).
        function New-WaitPipeline([hashtable] $Parameters) {
            $ps = [powershell]::Create()
            $null = $ps.AddCommand('Import-Module').AddParameter('Name', (Join-Path $module.ModuleBase 'RestoreOps.psd1')).AddStatement()
            $null = $ps.AddCommand('Wait-ClusterReady')
            foreach ($name in $Parameters.Keys) { $null = $ps.AddParameter($name, $Parameters[$name]) }
            return $ps
        }
    }

    AfterAll {
        if ($null -ne $cluster) {
            # A reader blocked on the pipe would hold the restore's removal; give it what it waits for first.
            Unlock-TestWalSegment -Held $held -Quiet
            Remove-TestRestoreTarget -WorkRoot $workRoot
        }
    }

    It 'Ctrl+C stops the wait and warns that the restore goes on' {
        if ($null -eq $cluster) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $ps = New-WaitPipeline @{ InputObject = $cluster }
        $signal = 'RestoreOpsWaitProgress-' + [guid]::NewGuid()
        # The wait's first progress record is the signal that it is waiting (the relay replays the restore's last one).
        $null = Register-ObjectEvent -InputObject $ps.Streams.Progress -EventName DataAdded -SourceIdentifier $signal
        try {
            $handle = $ps.BeginInvoke()
            $event = Wait-Event -SourceIdentifier $signal -Timeout 120
            $event | Should -Not -BeNullOrEmpty -Because 'Wait-ClusterReady reports progress while it waits'
            $ps.Stop()
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            $warnings = @($ps.Streams.Warning | ForEach-Object { "$_" })
            $warnings | Should -HaveCount 1
            $warnings[0] | Should -BeLike "Stopped waiting for $($cluster.Name)*the restore goes on*"
        }
        finally {
            Unregister-Event -SourceIdentifier $signal -ErrorAction SilentlyContinue
            Remove-Event -SourceIdentifier $signal -ErrorAction SilentlyContinue
            $ps.Dispose()
        }
        $cluster.Phase | Should -Not -Be 'Failed'
    }

    It 'a -Timeout stops the wait with an error saying the restore goes on; the target is not Failed' {
        if ($null -eq $cluster) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $ps = New-WaitPipeline @{ InputObject = $cluster; Timeout = [TimeSpan]::FromSeconds(3) }
        try {
            $handle = $ps.BeginInvoke()
            # Bounded so that a wait that never returns fails this test instead of hanging the suite.
            $handle.AsyncWaitHandle.WaitOne([TimeSpan]::FromMinutes(2)) | Should -BeTrue -Because 'the wait gives up after its -Timeout'
            $output = $ps.EndInvoke($handle)
            @($output).Count | Should -Be 0
            @($ps.Streams.Error).Count | Should -Be 1
            $problem = $ps.Streams.Error[0]
            $problem.FullyQualifiedErrorId | Should -BeLike 'WaitClusterReadyFailed,*'
            $problem.ErrorDetails.Message | Should -BeLike '*goes on*'
            $problem.ErrorDetails.RecommendedAction | Should -BeLike '*-Timeout*'
        }
        finally {
            $ps.Dispose()
        }
        $cluster.Phase | Should -Not -Be 'Failed'
        $cluster.Phase | Should -Not -Be 'Ready'
    }

    It 'Invoke-RestoreCheck on the target that is still restoring says to wait for it first' {
        if ($null -eq $cluster) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $output = @($cluster | Invoke-RestoreCheck -ErrorAction SilentlyContinue -ErrorVariable problems)
        $output.Count | Should -Be 0
        @($problems).Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'InvokeRestoreCheckFailed,*'
        $problems[0].ErrorDetails.RecommendedAction | Should -BeLike '*Wait-ClusterReady*'
    }

    It 'once replay can go on, Wait-ClusterReady -Name finds the local target without any kubeconfig, and it is Ready' {
        if ($null -eq $cluster) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        Unlock-TestWalSegment -Held $held
        $previous = $env:KUBECONFIG
        $env:KUBECONFIG = Join-Path $TestDrive 'no-such-kubeconfig'
        try {
            $ready = Wait-ClusterReady -Name $cluster.Name -Timeout (New-TimeSpan -Minutes 5) -ErrorAction Stop
        }
        finally {
            $env:KUBECONFIG = $previous
        }
        $ready.Name | Should -Be $cluster.Name
        $ready.Phase | Should -Be 'Ready'
    }

    It 'the restore that outlived both waits holds every row' {
        if ($null -eq $cluster) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $record = $cluster | Invoke-RestoreCheck -Check @{ kind = 'row-count'; database = $source.Database; table = $source.Table; exact = $source.RowsAfterReplay } -ErrorAction Stop
        $record.Verdict | Should -Be 'Passed' -Because "$($record.FailureMessage)"
    }

    It 'Wait-ClusterReady -Name of a target that does not exist says so, not that a kubeconfig is missing' {
        $previous = $env:KUBECONFIG
        $env:KUBECONFIG = Join-Path $TestDrive 'no-such-kubeconfig'
        try {
            $null = Wait-ClusterReady -Name 'restoreops-no-such-target' -ErrorAction SilentlyContinue -ErrorVariable problems
        }
        finally {
            $env:KUBECONFIG = $previous
        }
        @($problems).Count | Should -Be 1
        $problems[0].FullyQualifiedErrorId | Should -BeLike 'RestoreClusterNotFound,*'
        $problems[0].ErrorDetails.RecommendedAction | Should -BeLike '*Get-RestoreCluster*'
    }
}
