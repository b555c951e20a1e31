#Requires -Version 7.4
<#
.SYNOPSIS
    Makes the PowerShell Gallery package RestoreOps.<version>.nupkg from a laid-out module folder, offline.
.DESCRIPTION
    Publish-PSResource (Microsoft.PowerShell.PSResourceGet, shipped with pwsh 7.4+) publishes the module folder to
    a local folder repository: -OutputPath, registered under a name of its own for the duration and unregistered
    again, so nothing of the user's repository list changes. The .nupkg in -OutputPath is what the Gallery takes
    (Publish-PSResource -Repository PSGallery -ApiKey ... does the same against it) and what Install-PSResource and
    Save-PSResource install from a folder repository. build.ps1 -Task Package calls this after laying the module out.
.OUTPUTS
    System.IO.FileInfo: the .nupkg.
.EXAMPLE
    ./scripts/publish-gallery-package.ps1 -ModulePath artifacts/module/RestoreOps -OutputPath artifacts/gallery
#>
[CmdletBinding()]
[OutputType([System.IO.FileInfo])]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $OutputPath
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ModulePath = [System.IO.Path]::GetFullPath($ModulePath)
$OutputPath = [System.IO.Path]::GetFullPath($OutputPath)
$manifest = Import-PowerShellDataFile -Path (Join-Path $ModulePath 'RestoreOps.psd1')
$package = Join-Path $OutputPath "RestoreOps.$($manifest.ModuleVersion).nupkg"

$null = New-Item -ItemType Directory -Path $OutputPath -Force
# Publish-PSResource refuses a version the repository already has.
Remove-Item -LiteralPath $package -Force -ErrorAction SilentlyContinue

$repository = 'RestoreOpsPackage-' + [guid]::NewGuid().ToString('N')
Register-PSResourceRepository -Name $repository -Uri $OutputPath -Trusted
try {
    Publish-PSResource -Path $ModulePath -Repository $repository
}
finally {
    Unregister-PSResourceRepository -Name $repository
}
if (-not (Test-Path -LiteralPath $package -PathType Leaf)) {
    throw "Publish-PSResource wrote no $package (found: $((Get-ChildItem -LiteralPath $OutputPath -Name) -join ', '))."
}
Get-Item -LiteralPath $package
