#
# Module manifest for RestoreOps.
# Layout of the packaged module (scripts/package-module.sh, build.ps1 -Task Package):
#   RestoreOps.psd1, RestoreOps.PowerShell.dll, RestoreOps.Model.dll       module root
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

    # Explicit lists only, never wildcards. Cmdlets are added here as they are implemented.
    CmdletsToExport      = @()
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()

    # FormatsToProcess / TypesToProcess: added with RestoreOps.Format.ps1xml / RestoreOps.Types.ps1xml.

    FileList             = @(
        'RestoreOps.psd1'
        'RestoreOps.PowerShell.dll'
        'RestoreOps.Model.dll'
        'Dependencies/RestoreOps.dll'
    )

    PrivateData          = @{
        PSData = @{
            Tags = @('PostgreSQL', 'CloudNativePG', 'CNPG', 'Barman', 'Backup', 'Restore', 'DisasterRecovery', 'Kubernetes', 'PSEdition_Core', 'Linux')
            # LicenseUri and ProjectUri: not set until the project has a published licence and home page.
        }
    }
}
