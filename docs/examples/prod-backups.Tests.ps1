#Requires -Version 7.4
#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '5.0' }, RestoreOps
<#
    Restore drills written as Pester tests: each production cluster's newest backup must restore into a throwaway
    CNPG Cluster and pass its checks. Run it wherever CI runs Pester, and the drill results land in the same
    test report as everything else:

        Invoke-Pester -Path ./prod-backups.Tests.ps1 -CI     # exits non-zero when a drill fails; testResults.xml

    Settings (environment, the same names as scheduled-drill.ps1):
        RESTOREOPS_SOURCES           clusters to drill, namespace/cluster, comma-separated (default: prod/app-db)
        RESTOREOPS_DRILL_NAMESPACE   where the temporary Clusters go (default: restoreops-drills)
        RESTOREOPS_CHECKS_DIR        folder of check files named <cluster>.yaml (default: ./checks); a cluster
                                     without one gets a connectivity check only
        RESTOREOPS_EVIDENCE          evidence folder (default: ./evidence)
        RESTOREOPS_MAX_BACKUP_AGE    RPO objective (default: 1.02:00:00, 26 hours: a nightly backup plus slack)
        RESTOREOPS_MAX_RESTORE_TIME  RTO objective (default: 01:00:00)
#>

BeforeDiscovery {
    # One Context per source, known before the tests run so each gets its own line in the report.
    $sourceList = if ($env:RESTOREOPS_SOURCES) { $env:RESTOREOPS_SOURCES } else { 'prod/app-db' }
    $sources = @($sourceList -split ',' | ForEach-Object { $_.Trim() } | Where-Object { $_ } | ForEach-Object {
            $namespace, $cluster = $_ -split '/', 2
            @{ Source = $_; Namespace = $namespace; Cluster = $cluster }
        })
}

Describe 'prod backups restore' {
    BeforeAll {
        Set-StrictMode -Version Latest
        $ProgressPreference = 'SilentlyContinue'
        function Get-Setting([string] $Name, [string] $Default) {
            $value = [Environment]::GetEnvironmentVariable($Name)
            if ([string]::IsNullOrWhiteSpace($value)) { $Default } else { $value.Trim() }
        }
        $drillNamespace = Get-Setting RESTOREOPS_DRILL_NAMESPACE 'restoreops-drills'
        $checksDirectory = Get-Setting RESTOREOPS_CHECKS_DIR (Join-Path $PWD 'checks')
        $evidence = Get-Setting RESTOREOPS_EVIDENCE (Join-Path $PWD 'evidence')
        $maxBackupAge = [TimeSpan]::Parse((Get-Setting RESTOREOPS_MAX_BACKUP_AGE '1.02:00:00'), [cultureinfo]::InvariantCulture)
        $maxRestoreTime = [TimeSpan]::Parse((Get-Setting RESTOREOPS_MAX_RESTORE_TIME '01:00:00'), [cultureinfo]::InvariantCulture)

        # Targets an earlier, killed run left behind; recovery targets are never touched.
        Remove-RestoreCluster -Orphaned -Namespace $drillNamespace -Confirm:$false -ErrorAction Continue
    }

    Context '<Source>' -ForEach $sources {
        It 'restores and passes checks' {
            $Cluster | Should -Not -BeNullOrEmpty -Because "RESTOREOPS_SOURCES names clusters as namespace/cluster, not '$Source'"

            $backup = Get-CnpgBackup -Namespace $Namespace -Cluster $Cluster -Latest -ErrorAction Stop
            $drill = @{
                Namespace      = $drillNamespace
                EvidencePath   = $evidence
                MaxBackupAge   = $maxBackupAge
                MaxRestoreTime = $maxRestoreTime
                ErrorAction    = 'Stop'
            }
            $checks = Join-Path $checksDirectory "$Cluster.yaml"
            if (Test-Path -LiteralPath $checks -PathType Leaf) { $drill.Path = $checks }

            # Restore, wait, check, judge the objectives, write the evidence, and remove the Cluster whatever happened.
            $record = $backup | Invoke-RestoreDrill @drill

            $record.Verdict | Should -Be 'Passed' -Because "$($record.FailureMessage) (evidence: $(Join-Path $evidence "$($record.DrillId).json"))"
            $record.Cleanup.Succeeded | Should -BeTrue -Because "a drill leaves nothing behind: $($record.Cleanup.Problems -join '; ')"
        }
    }
}
