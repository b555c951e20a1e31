#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests and packages RestoreOps.
.DESCRIPTION
    Build   : dotnet build RestoreOps.sln.
    Test    : on Linux, bash scripts/test.sh (xunit + Pester, last line "N passed, N failed, N skipped");
              elsewhere dotnet test, then Invoke-Pester on tests/pester.
    Package : lays out artifacts/module/RestoreOps/ (POWERSHELL.md section 1) and makes the Gallery package
              artifacts/gallery/RestoreOps.<version>.nupkg from it (scripts/publish-gallery-package.ps1): the manifest,
              RestoreOps.PowerShell.dll and RestoreOps.Model.dll in the root, format/type data when
              present, en-US/about_RestoreOps.help.txt and en-US/RestoreOps.PowerShell.dll-Help.xml (the
              MAML help tools/RestoreOps.HelpBuilder builds from docs/cmdlets/*.md; a page that breaks the
              platyPS schema fails the task, naming the file and section), and the engine with its
              third-party assemblies under Dependencies/.
              scripts/package-module.sh produces the same layout from bash.
.EXAMPLE
    ./build.ps1 -Task Build, Test, Package
.EXAMPLE
    pwsh ./build.ps1 -Task Build,Package

    The same list from bash or another shell: it arrives as one string, which the script splits at the commas.
#>
[CmdletBinding()]
param(
    # Not ValidateSet: from bash, `pwsh ./build.ps1 -Task Build,Package` passes the one string 'Build,Package'
    # (the comma only makes an array inside PowerShell), so the names are split and checked below.
    [ArgumentCompletions('Build', 'Test', 'Package')]
    [string[]] $Task = 'Build',

    [string] $Configuration = 'Release'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$knownTasks = 'Build', 'Test', 'Package'
$Task = @($Task | ForEach-Object { $_ -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
$unknown = @($Task | Where-Object { $_ -notin $knownTasks })
if ($unknown.Count -gt 0 -or $Task.Count -eq 0) {
    $what = if ($unknown.Count -gt 0) { "Unknown -Task '$($unknown -join "', '")'" } else { '-Task names no task' }
    throw "${what}: use one or more of $($knownTasks -join ', '), e.g. -Task Build,Package."
}

$root = $PSScriptRoot
$solution = Join-Path $root 'RestoreOps.sln'

function Invoke-Tool {
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @()
    )
    Write-Host "> $FilePath $($ArgumentList -join ' ')"
    & $FilePath @ArgumentList
    if ($LASTEXITCODE -ne 0) {
        throw "'$FilePath $($ArgumentList -join ' ')' failed with exit code $LASTEXITCODE."
    }
}

function Invoke-BuildTask {
    Invoke-Tool dotnet @('build', $solution, '-c', $Configuration, '--nologo')
}

function Invoke-TestTask {
    if ($IsLinux) {
        $env:CONFIGURATION = $Configuration
        Invoke-Tool bash @((Join-Path $root 'scripts/test.sh'))
        return
    }

    $results = Join-Path $root 'artifacts/test-results'
    if (Test-Path $results) { Remove-Item $results -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $results

    & dotnet test $solution -c $Configuration --nologo --logger trx --results-directory (Join-Path $results 'dotnet')
    $dotnetExit = $LASTEXITCODE

    $pesterFailed = 0
    if (Test-Path (Join-Path $root 'tests/pester/*.Tests.ps1')) {
        Import-Module Pester -MinimumVersion 5.0 -ErrorAction Stop
        $pesterResults = Join-Path $results 'pester'
        $null = New-Item -ItemType Directory -Path $pesterResults -Force
        # (not $configuration: PowerShell variable names are case-insensitive and $Configuration is a parameter)
        $pesterConfig = New-PesterConfiguration
        $pesterConfig.Run.Path = Join-Path $root 'tests/pester'
        $pesterConfig.Run.PassThru = $true
        $pesterConfig.Output.Verbosity = 'Detailed'
        $pesterConfig.TestResult.Enabled = $true
        $pesterConfig.TestResult.OutputPath = Join-Path $pesterResults 'testResults.xml'
        $pester = Invoke-Pester -Configuration $pesterConfig
        $pesterFailed = $pester.FailedCount + $pester.FailedBlocksCount + $pester.FailedContainersCount
    }
    else {
        Write-Host 'Pester suite skipped: no tests/pester/*.Tests.ps1 files'
    }

    if ($dotnetExit -ne 0 -or $pesterFailed -ne 0) {
        throw "Tests failed (dotnet test exit code $dotnetExit, $pesterFailed Pester failure(s))."
    }
}

function Invoke-PackageTask {
    $out = Join-Path $root 'artifacts/module/RestoreOps'
    $dependencies = Join-Path $out 'Dependencies'
    $temp = Join-Path ([System.IO.Path]::GetTempPath()) ("restoreops-package-" + [guid]::NewGuid())
    $psPublish = Join-Path $temp 'powershell'
    $enginePublish = Join-Path $temp 'engine'
    $helpBuilder = Join-Path $temp 'helpbuilder'
    $helpName = 'RestoreOps.PowerShell.dll-Help.xml'
    $helpXml = Join-Path $temp "help/$helpName"

    try {
        # Help first: a page that breaks the schema fails the task before the long publishes. The builder
        # names the file and section of every problem and writes nothing then.
        Invoke-Tool dotnet @('publish', (Join-Path $root 'tools/RestoreOps.HelpBuilder/RestoreOps.HelpBuilder.csproj'),
            '-c', $Configuration, '-o', $helpBuilder, '--nologo')
        Invoke-Tool dotnet @((Join-Path $helpBuilder 'RestoreOps.HelpBuilder.dll'),
            '--docs', (Join-Path $root 'docs/cmdlets'), '--out', $helpXml)

        Invoke-Tool dotnet @('publish', (Join-Path $root 'src/RestoreOps.PowerShell/RestoreOps.PowerShell.csproj'),
            '-c', $Configuration, '-o', $psPublish, '--nologo')
        Invoke-Tool dotnet @('publish', (Join-Path $root 'src/RestoreOps/RestoreOps.csproj'),
            '-c', $Configuration, '-o', $enginePublish, '--nologo')

        if (Test-Path $out) { Remove-Item $out -Recurse -Force }
        $null = New-Item -ItemType Directory -Path $dependencies -Force

        # Root: manifest, format/type data and en-US help from module/RestoreOps/, then the two
        # assemblies PowerShell loads itself.
        Copy-Item -Path (Join-Path $root 'module/RestoreOps/*') -Destination $out -Recurse -Force
        foreach ($name in 'RestoreOps.PowerShell.dll', 'RestoreOps.Model.dll') {
            $source = Join-Path $psPublish $name
            if (-not (Test-Path $source)) { throw "$name is missing from the RestoreOps.PowerShell publish output." }
            Copy-Item -Path $source -Destination $out
        }

        # en-US/: the about topic came with module/RestoreOps/; the cmdlet help is the file built above.
        $enUs = Join-Path $out 'en-US'
        $null = New-Item -ItemType Directory -Path $enUs -Force
        Copy-Item -Path $helpXml -Destination (Join-Path $enUs $helpName)
        if (-not (Test-Path (Join-Path $enUs 'about_RestoreOps.help.txt'))) {
            throw 'en-US/about_RestoreOps.help.txt is missing from module/RestoreOps/.'
        }

        # Dependencies/: the engine and its third-party assemblies; RestoreOps.Model stays in the root only.
        if (-not (Test-Path (Join-Path $enginePublish 'RestoreOps.dll'))) { throw 'RestoreOps.dll is missing from the engine publish output.' }
        Get-ChildItem -Path $enginePublish -Filter '*.dll' -File |
            Where-Object Name -NotIn 'RestoreOps.Model.dll', 'System.Management.Automation.dll' |
            Copy-Item -Destination $dependencies
        $runtimes = Join-Path $enginePublish 'runtimes'
        if (Test-Path $runtimes) { Copy-Item -Path $runtimes -Destination $dependencies -Recurse }

        # Every FileList entry of the manifest must exist in the module folder.
        $manifest = Import-PowerShellDataFile -Path (Join-Path $out 'RestoreOps.psd1')
        $missing = @($manifest.FileList | Where-Object { -not (Test-Path (Join-Path $out $_)) })
        if ($missing.Count -gt 0) { throw "RestoreOps.psd1 FileList names files the module folder does not have: $($missing -join ', ')" }

        Write-Host "Module laid out in $out"
        Get-ChildItem -Path $out -Recurse -File | ForEach-Object { '  ' + [System.IO.Path]::GetRelativePath($out, $_.FullName) }

        # The Gallery package, through Publish-PSResource to a local folder repository (offline).
        $nupkg = & (Join-Path $root 'scripts/publish-gallery-package.ps1') -ModulePath $out -OutputPath (Join-Path $root 'artifacts/gallery')
        Write-Host "Gallery package: $($nupkg.FullName)"
    }
    finally {
        if (Test-Path $temp) { Remove-Item $temp -Recurse -Force }
    }
}

Push-Location $root
try {
    foreach ($t in $Task) {
        Write-Host "== $t ($Configuration)"
        switch ($t) {
            'Build'   { Invoke-BuildTask }
            'Test'    { Invoke-TestTask }
            'Package' { Invoke-PackageTask }
        }
    }
}
finally {
    Pop-Location
}
