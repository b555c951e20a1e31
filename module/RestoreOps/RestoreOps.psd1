#
# Module manifest for RestoreOps.
# Layout of the packaged module (scripts/package-module.sh, build.ps1 -Task Package):
#   RestoreOps.psd1, RestoreOps.PowerShell.dll, RestoreOps.Model.dll       module root
#   RestoreOps.Format.ps1xml, RestoreOps.Types.ps1xml                       default views, computed properties
#   en-US/RestoreOps.PowerShell.dll-Help.xml, en-US/about_RestoreOps.help.txt   help (generated from docs/cmdlets)
#   Dependencies/RestoreOps.dll + Npgsql, AWSSDK.*, ...                     loaded in the module's own
#                                                                           AssemblyLoadContext, never listed here
#
@{
    RootModule           = 'RestoreOps.PowerShell.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = 'f00478a8-1e73-4d47-8ce7-ab007e94500c'
    Author               = 'RestoreOps contributors'
    CompanyName          = 'RestoreOps'
    Copyright            = '(c) RestoreOps contributors. All rights reserved.'
    Description          = 'Restore drills for PostgreSQL and CloudNativePG backups: restore a Barman Cloud, CNPG or local backup into a throwaway instance, verify it, and record the achieved recovery point, durations and check results as evidence.'

    CompatiblePSEditions = @('Core')
    PowerShellVersion    = '7.4'

    # Explicit lists only, never wildcards: the [Cmdlet] classes of RestoreOps.PowerShell.dll, all of them.
    CmdletsToExport      = @(
        'Export-DrillEvidence'
        'Find-RecoveryPoint'
        'Get-BarmanBackup'
        'Get-CnpgBackup'
        'Get-DrillHistory'
        'Get-LocalBackup'
        'Get-RestoreCluster'
        'Get-RestoreOpsRbac'
        'Invoke-RestoreCheck'
        'Invoke-RestoreDrill'
        'New-CnpgBackup'
        'New-RestoreCluster'
        'New-RestoreDemoBackup'
        'Remove-RestoreCluster'
        'Send-DrillHeartbeat'
        'Wait-ClusterReady'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()

    # Default table and list views for the pipeline objects, and the computed properties they show.
    FormatsToProcess     = @('RestoreOps.Format.ps1xml')
    TypesToProcess       = @('RestoreOps.Types.ps1xml')

    # Every file of the packaged module PowerShell or Get-Help reads; the package scripts check each one exists.
    FileList             = @(
        'RestoreOps.psd1'
        'RestoreOps.PowerShell.dll'
        'RestoreOps.Model.dll'
        'RestoreOps.Format.ps1xml'
        'RestoreOps.Types.ps1xml'
        'en-US/RestoreOps.PowerShell.dll-Help.xml'
        'en-US/about_RestoreOps.help.txt'
        'Dependencies/RestoreOps.dll'
    )

    PrivateData          = @{
        PSData = @{
            Tags = @('PostgreSQL', 'CloudNativePG', 'CNPG', 'Barman', 'Backup', 'Restore', 'DisasterRecovery', 'Kubernetes', 'PSEdition_Core', 'Linux')
            # LicenseUri and ProjectUri: not set until the project has a published licence and home page.
            ReleaseNotes = @'
0.1.0
- New-RestoreDemoBackup: the demo drill through the module (New-RestoreDemoBackup | Invoke-RestoreDrill -Local).
- Restore drills of CNPG, Barman Cloud and local backups into throwaway CNPG Clusters or local PostgreSQL,
  stage by stage (New-RestoreCluster | Wait-ClusterReady | Invoke-RestoreCheck) or in one command (Invoke-RestoreDrill).
- Evidence as sealed JSON, JUnit, Markdown, HTML and Prometheus text; history and heartbeats.
'@
        }
    }
}
