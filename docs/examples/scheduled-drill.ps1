#Requires -Version 7.4
#Requires -Modules RestoreOps
<#
.SYNOPSIS
    A scheduled restore drill: sweep leftovers, restore the newest backup into a throwaway target, verify it, keep
    the evidence, ping the heartbeat, and exit with the verdict.

.DESCRIPTION
    Made for a Kubernetes CronJob whose container runs pwsh with the RestoreOps module installed (a manifest is at
    the end of this file), but it runs the same from a shell or any other scheduler. Every setting comes from the
    environment, so one image serves every database:

      Source: one of
        RESTOREOPS_SOURCE_NAMESPACE, RESTOREOPS_SOURCE_CLUSTER   a CloudNativePG cluster: its newest completed
                                                                 Backup is restored into a temporary CNPG Cluster
        RESTOREOPS_BARMAN_DESTINATION, RESTOREOPS_BARMAN_SERVER  a Barman Cloud catalogue (s3://...): its newest
                                                                 backup is restored into a local PostgreSQL in
                                                                 this container (needs the server binaries);
                                                                 credentials from the usual AWS_* variables
      RESTOREOPS_DRILL_NAMESPACE   where temporary CNPG Clusters go (default: restoreops-drills)
      RESTOREOPS_CHECKS            check file (default: /config/checks.yaml; docs/checks.md); without one, a
                                   connectivity check only
      RESTOREOPS_EVIDENCE          evidence folder, ideally a persistent volume (default: /evidence)
      RESTOREOPS_HEARTBEAT_URL     dead man's switch pinged only when the drill passed (optional)
      RESTOREOPS_MAX_BACKUP_AGE    RPO objective, e.g. 1.02:00:00 for 26 hours (optional)
      RESTOREOPS_MAX_DATA_AGE      RPO objective for the newest restored commit (optional)
      RESTOREOPS_MAX_RESTORE_TIME  RTO objective, e.g. 00:30:00 (optional)
      RESTOREOPS_TIMEOUT           how long the target may take to become ready (default: 00:45:00)
      RESTOREOPS_SIGNING_KEY       HMAC key for the evidence (read by Invoke-RestoreDrill itself; optional)

    Exit codes, as the restoreops CLI's: 0 the drill passed; 1 the backup did not restore, or a check or objective
    failed; 2 configuration error (the message names the setting and the fix); 3 the drill could not be carried out
    (infrastructure, credentials, cancelled). Kubernetes records a non-zero exit as a failed Job, and the heartbeat
    monitor raises the alarm when the ping does not come.

.EXAMPLE
    $env:RESTOREOPS_SOURCE_NAMESPACE = 'prod'; $env:RESTOREOPS_SOURCE_CLUSTER = 'app-db'
    ./scheduled-drill.ps1

    Restores the newest completed CNPG Backup of prod/app-db into a temporary Cluster in restoreops-drills.

.EXAMPLE
    $env:RESTOREOPS_BARMAN_DESTINATION = 's3://backups/pg'; $env:RESTOREOPS_BARMAN_SERVER = 'app-db'
    $env:RESTOREOPS_MAX_BACKUP_AGE = '1.02:00:00'
    ./scheduled-drill.ps1

    Restores the newest Barman Cloud backup of app-db locally and fails the drill when it is older than 26 hours.
#>
[CmdletBinding()]
param()

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
# Progress bars make no sense in a Job's log.
$ProgressPreference = 'SilentlyContinue'

function Get-Setting {
    param(
        [Parameter(Mandatory)] [string] $Name,
        [string] $Default
    )
    $value = [Environment]::GetEnvironmentVariable($Name)
    if ([string]::IsNullOrWhiteSpace($value)) { return $Default }
    return $value.Trim()
}

function Get-DurationSetting {
    param([Parameter(Mandatory)] [string] $Name, [string] $Default)
    $text = Get-Setting -Name $Name -Default $Default
    if (-not $text) { return $null }
    $duration = [TimeSpan]::Zero
    if (-not [TimeSpan]::TryParse($text, [cultureinfo]::InvariantCulture, [ref] $duration) -or $duration -le [TimeSpan]::Zero) {
        throw [System.ArgumentException]::new("$Name='$text' is not a positive duration. Write it as [d.]hh:mm:ss, e.g. 1.02:00:00 for 26 hours.")
    }
    return $duration
}

function Write-Log {
    param([Parameter(Mandatory)] [string] $Message)
    # One timestamped line per event: what kubectl logs and log collectors expect.
    Write-Host ('{0:yyyy-MM-ddTHH:mm:ssZ} {1}' -f [DateTime]::UtcNow, $Message)
}

function Get-ExitCode {
    # The CLI's exit codes, from a drill record.
    param([Parameter(Mandatory)] [RestoreOps.Model.DrillRecord] $Record)
    if ($Record.Verdict -eq [RestoreOps.Model.DrillVerdict]::Passed) { return 0 }
    if ($Record.Verdict -eq [RestoreOps.Model.DrillVerdict]::Failed) { return 1 }
    if ($Record.FailureCategory -eq [RestoreOps.Model.DrillFailureCategory]::Configuration) { return 2 }
    return 3
}

$exitCode = 3
try {
    # ---- settings ------------------------------------------------------------------------------------------
    $sourceNamespace = Get-Setting -Name RESTOREOPS_SOURCE_NAMESPACE
    $sourceCluster = Get-Setting -Name RESTOREOPS_SOURCE_CLUSTER
    $barmanDestination = Get-Setting -Name RESTOREOPS_BARMAN_DESTINATION
    $barmanServer = Get-Setting -Name RESTOREOPS_BARMAN_SERVER
    $local = [bool]$barmanDestination
    if ($local -and -not $barmanServer) {
        throw [System.ArgumentException]::new('RESTOREOPS_BARMAN_DESTINATION is set but RESTOREOPS_BARMAN_SERVER is not: set the Barman server name (the folder under the destination path).')
    }
    if (-not $local -and -not ($sourceNamespace -and $sourceCluster)) {
        throw [System.ArgumentException]::new('No source: set RESTOREOPS_SOURCE_NAMESPACE and RESTOREOPS_SOURCE_CLUSTER (a CNPG cluster), or RESTOREOPS_BARMAN_DESTINATION and RESTOREOPS_BARMAN_SERVER (a Barman Cloud catalogue).')
    }
    $drillNamespace = Get-Setting -Name RESTOREOPS_DRILL_NAMESPACE -Default 'restoreops-drills'
    $checks = Get-Setting -Name RESTOREOPS_CHECKS -Default '/config/checks.yaml'
    $evidence = Get-Setting -Name RESTOREOPS_EVIDENCE -Default '/evidence'
    $heartbeat = Get-Setting -Name RESTOREOPS_HEARTBEAT_URL

    $drill = @{
        EvidencePath = $evidence
        Timeout      = Get-DurationSetting -Name RESTOREOPS_TIMEOUT -Default '00:45:00'
        ErrorAction  = 'Stop'
    }
    if (Test-Path -LiteralPath $checks -PathType Leaf) {
        $drill.Path = $checks
    }
    else {
        Write-Log "No check file at ${checks}: only connectivity is checked."
    }
    foreach ($objective in @(
            @{ Parameter = 'MaxBackupAge'; Variable = 'RESTOREOPS_MAX_BACKUP_AGE' }
            @{ Parameter = 'MaxDataAge'; Variable = 'RESTOREOPS_MAX_DATA_AGE' }
            @{ Parameter = 'MaxRestoreTime'; Variable = 'RESTOREOPS_MAX_RESTORE_TIME' })) {
        $limit = Get-DurationSetting -Name $objective.Variable
        if ($null -ne $limit) { $drill[$objective.Parameter] = $limit }
    }
    if ($heartbeat) { $drill.HeartbeatUrl = [uri]$heartbeat }

    # ---- sweep: what an earlier run left behind (killed pod, node loss) -------------------------------------
    # Only drill targets past their expiry, never recovery targets; a failed sweep does not stop today's drill.
    $sweep = @{ Orphaned = $true; Confirm = $false; PassThru = $true; ErrorAction = 'Continue' }
    if (-not $local) { $sweep.Namespace = $drillNamespace }
    foreach ($removed in @(Remove-RestoreCluster @sweep)) {
        Write-Log "Swept orphaned restore target $removed (drill $($removed.DrillId), expired $($removed.ExpiresAt))."
    }

    # ---- the drill ---------------------------------------------------------------------------------------------
    if ($local) {
        Write-Log "Finding the newest backup of $barmanServer in $barmanDestination."
        $backup = Get-BarmanBackup -DestinationPath $barmanDestination -ServerName $barmanServer -Latest -ErrorAction Stop
        $drill.Local = $true
    }
    else {
        Write-Log "Finding the newest completed backup of $sourceNamespace/$sourceCluster."
        $backup = Get-CnpgBackup -Namespace $sourceNamespace -Cluster $sourceCluster -Latest -ErrorAction Stop
        $drill.Namespace = $drillNamespace
    }
    Write-Log "Restoring backup $($backup.Id) of $($backup.Source), ended $('{0:u}' -f $backup.EndTime), $($backup.AgeText) old."

    # Restore, wait, check, judge the objectives, write the evidence, ping the heartbeat when it passed, and remove
    # the target whatever happened: Invoke-RestoreDrill does all of it and returns the record.
    $record = $backup | Invoke-RestoreDrill @drill
    $exitCode = Get-ExitCode -Record $record

    Write-Log "Drill $($record.DrillId): $($record.Verdict). Restore $($record.RestoreDuration), checks $($record.ChecksPassed), evidence in $evidence."
    if ($record.Verdict -ne [RestoreOps.Model.DrillVerdict]::Passed) {
        Write-Log "Why: $($record.FailureMessage)"
        foreach ($check in @($record.Checks | Where-Object { $_.Status -ne [RestoreOps.Model.CheckStatus]::Passed })) {
            Write-Log "  $check"
        }
    }
    if (-not $record.Cleanup.Succeeded) {
        Write-Log "Cleanup incomplete: $($record.Cleanup.Problems -join '; ')"
    }
}
catch {
    # Configuration mistakes (a missing setting, a bad duration, an invalid check file) exit 2; anything else 3.
    $exitCode = if ($_.Exception -is [System.ArgumentException] -or $_.CategoryInfo.Category -eq [System.Management.Automation.ErrorCategory]::InvalidArgument) { 2 } else { 3 }
    Write-Log "Drill not carried out: $($_.Exception.Message)"
    if ($null -ne $_.ErrorDetails -and $_.ErrorDetails.RecommendedAction) {
        Write-Log "Fix: $($_.ErrorDetails.RecommendedAction)"
    }
}

Write-Log "Exit code $exitCode."
exit $exitCode

<#
A CronJob that runs this script every night at 02:30. The image holds pwsh 7.4+, the RestoreOps module (on
PSModulePath) and, for local restores, the PostgreSQL server binaries. Its service account may list Backups and
Clusters in the source namespace and create, watch and delete Clusters in the drill namespace.

apiVersion: batch/v1
kind: CronJob
metadata:
  name: app-db-restore-drill
  namespace: restoreops-drills
spec:
  schedule: "30 2 * * *"
  concurrencyPolicy: Forbid          # never two drills of one database at once
  startingDeadlineSeconds: 3600
  jobTemplate:
    spec:
      backoffLimit: 0                # a failed drill is a result, not something to retry
      activeDeadlineSeconds: 7200
      template:
        spec:
          serviceAccountName: restoreops-drill
          restartPolicy: Never
          containers:
            - name: drill
              image: registry.example.com/restoreops:0.1.0
              command: ["pwsh", "-NoProfile", "-NonInteractive", "-File", "/scripts/scheduled-drill.ps1"]
              env:
                - { name: RESTOREOPS_SOURCE_NAMESPACE, value: prod }
                - { name: RESTOREOPS_SOURCE_CLUSTER, value: app-db }
                - { name: RESTOREOPS_MAX_BACKUP_AGE, value: "1.02:00:00" }
                - { name: RESTOREOPS_MAX_RESTORE_TIME, value: "00:30:00" }
                - name: RESTOREOPS_HEARTBEAT_URL
                  valueFrom: { secretKeyRef: { name: restoreops-drill, key: heartbeat-url } }
                - name: RESTOREOPS_SIGNING_KEY
                  valueFrom: { secretKeyRef: { name: restoreops-drill, key: signing-key } }
              volumeMounts:
                - { name: scripts, mountPath: /scripts }
                - { name: config, mountPath: /config }
                - { name: evidence, mountPath: /evidence }
          volumes:
            - { name: scripts, configMap: { name: restoreops-drill-script } }
            - { name: config, configMap: { name: app-db-checks } }
            - { name: evidence, persistentVolumeClaim: { claimName: restoreops-evidence } }
#>
