#Requires -Version 7.4
# The PowerShell Gallery package as a user gets it, offline: scripts/publish-gallery-package.ps1 (what
# build.ps1 -Task Package runs) publishes the packaged module with Publish-PSResource to a local folder repository;
# Save-PSResource installs it from there into an empty folder; a fresh pwsh whose PSModulePath is that folder
# imports it by name and runs the demo drill.

Describe 'The Gallery package' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $module = Import-RestoreOpsTestModule
        $repositoryPath = Join-Path $TestDrive 'repository'
        $installPath = New-TestDirectory -Path (Join-Path $TestDrive 'modules')
        $package = & (Join-Path $RestoreOpsRepositoryRoot 'scripts/publish-gallery-package.ps1') -ModulePath $module.ModuleBase -OutputPath $repositoryPath

        $repository = 'RestoreOpsPester-' + [guid]::NewGuid().ToString('N')
        Register-PSResourceRepository -Name $repository -Uri $repositoryPath -Trusted
        try {
            Save-PSResource -Name RestoreOps -Repository $repository -Path $installPath -TrustRepository
        }
        finally {
            Unregister-PSResourceRepository -Name $repository
        }
        $installed = Join-Path $installPath "RestoreOps/$($module.Version)"
        # This pwsh, started afresh: a dotnet tool runs as 'dotnet pwsh.dll', an installed pwsh as itself.
        $pwsh = @([Environment]::ProcessPath)
        if ([System.IO.Path]::GetFileNameWithoutExtension($pwsh[0]) -eq 'dotnet') { $pwsh += Join-Path $PSHOME 'pwsh.dll' }
        $pgBin = Find-PostgresBinDirectory
    }

    It 'is RestoreOps.(version).nupkg with what the Gallery shows' {
        $package.Name | Should -Be "RestoreOps.$($module.Version).nupkg"
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [System.IO.Compression.ZipFile]::OpenRead($package.FullName)
        try {
            $entry = $zip.Entries | Where-Object FullName -eq 'RestoreOps.nuspec'
            $reader = [System.IO.StreamReader]::new($entry.Open())
            [xml] $nuspec = $reader.ReadToEnd()
            $reader.Dispose()
        }
        finally {
            $zip.Dispose()
        }
        $metadata = $nuspec.package.metadata
        $metadata.id | Should -Be 'RestoreOps'
        $metadata.version | Should -Be "$($module.Version)"
        $metadata.description | Should -Not -BeNullOrEmpty
        $metadata.tags | Should -BeLike '*PostgreSQL*'
        $metadata.releaseNotes | Should -Not -BeNullOrEmpty
    }

    It 'installs every file of the module folder' {
        $expected = @(Get-ChildItem -LiteralPath $module.ModuleBase -Recurse -File | ForEach-Object { [System.IO.Path]::GetRelativePath($module.ModuleBase, $_.FullName) } | Sort-Object)
        $actual = @(Get-ChildItem -LiteralPath $installed -Recurse -File | ForEach-Object { [System.IO.Path]::GetRelativePath($installed, $_.FullName) } |
            Where-Object { $_ -notlike 'PSGetModuleInfo.xml' } | Sort-Object)
        ($actual -join ', ') | Should -Be ($expected -join ', ')
    }

    It 'imports by name in a fresh pwsh whose PSModulePath is the install folder, and runs the demo drill' {
        if ($null -eq $pgBin) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'gallery-drill')
        $script = Join-Path $TestDrive 'gallery-drill.ps1'
        Set-Content -LiteralPath $script -Value @'
param($WorkRoot, $PgBin)
$ErrorActionPreference = 'Stop'
Import-Module RestoreOps
$demo = New-RestoreDemoBackup -WorkRoot $WorkRoot -PostgresBinDirectory $PgBin
$record = $demo | Invoke-RestoreDrill -Local -WorkRoot $WorkRoot -PostgresBinDirectory $PgBin -Confirm:$false
[pscustomobject]@{
    ModuleBase    = (Get-Module RestoreOps).ModuleBase
    Verdict       = "$($record.Verdict)"
    Checks        = "$($record.ChecksPassed)"
    Failure       = $record.FailureMessage
    DemoDirectory = $demo.DemoDirectory
} | ConvertTo-Json -Compress
'@
        $previous = $env:PSModulePath
        $env:PSModulePath = $installPath
        try {
            $output = & $pwsh[0] @($pwsh | Select-Object -Skip 1) -NoProfile -NonInteractive -File $script $workRoot $pgBin 2>&1
        }
        finally {
            $env:PSModulePath = $previous
        }
        $LASTEXITCODE | Should -Be 0 -Because ($output -join "`n")
        $result = ($output | Select-Object -Last 1) | ConvertFrom-Json
        $result.ModuleBase | Should -Be $installed
        $result.Verdict | Should -Be 'Passed' -Because $result.Failure
        $result.Checks | Should -Match '^(\d+)/\1$'
        $result.DemoDirectory | Should -Not -Exist -Because 'the engine deletes the demo source when the process exits'
        @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
    }
}
