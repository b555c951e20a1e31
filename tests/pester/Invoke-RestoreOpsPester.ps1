#Requires -Version 7.4
<#
.SYNOPSIS
    Runs the Pester suite (tests/pester/*.Tests.ps1) with Pester 5, writing NUnit XML results for scripts/test.sh.
.DESCRIPTION
    Not a test file (Invoke-Pester runs *.Tests.ps1 only): scripts/test.sh calls it. Pester comes from PSModulePath
    (scripts/setup.sh puts 5.7.1 in tools/pwsh-modules).

    The XML holds one test-case per test that ran. A file that could not run at all (it does not parse, its
    BeforeDiscovery throws) is not in it, and a failing AfterAll leaves its tests passed: those failed containers and
    blocks go, one line each, into <ResultPath>.problems.txt, so the caller counts every failure Pester counts.
    Exit code 0 when nothing failed, 1 otherwise.
.EXAMPLE
    PSModulePath=$PWD/tools/pwsh-modules tools/pwsh/pwsh -NoProfile -File tests/pester/Invoke-RestoreOpsPester.ps1 -ResultPath artifacts/test-results/pester/testResults.xml
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ResultPath,

    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')]
    [string] $Verbosity = 'Detailed'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# The suite is written for Pester 5's syntax and configuration object.
Import-Module -Name Pester -MinimumVersion 5.0 -MaximumVersion 5.999.999 -ErrorAction Stop
$pester = Get-Module -Name Pester
Write-Host "Pester $($pester.Version) from $($pester.ModuleBase); PowerShell $($PSVersionTable.PSVersion)"

$ResultPath = [System.IO.Path]::GetFullPath($ResultPath)
$problemsPath = "$ResultPath.problems.txt"
$null = New-Item -ItemType Directory -Path (Split-Path -Parent $ResultPath) -Force
Remove-Item -LiteralPath $ResultPath, $problemsPath -Force -ErrorAction SilentlyContinue

$config = New-PesterConfiguration
$config.Run.Path = $PSScriptRoot
$config.Run.PassThru = $true
$config.Output.Verbosity = $Verbosity
# Escape sequences make a CI log or a redirected file hard to read.
if ([Console]::IsOutputRedirected -or $env:NO_COLOR) { $config.Output.RenderMode = 'Plaintext' }
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$config.TestResult.OutputPath = $ResultPath
$result = Invoke-Pester -Configuration $config

function Get-ErrorSummary([object[]] $ErrorRecord) {
    $first = @($ErrorRecord) | Select-Object -First 1
    if ($null -eq $first) { return 'no error recorded' }
    # One line: a parse error's message spans several (where, the code, then what is wrong).
    $message = ("$($first.Exception.Message)" -replace '\s*\r?\n\s*', ' ').Trim()
    if ($message.Length -gt 300) { $message = $message.Substring(0, 300) + '...' }
    return $message
}
$problems = @(
    foreach ($container in $result.FailedContainers) { "Pester could not run $($container.Item): $(Get-ErrorSummary $container.ErrorRecord)" }
    foreach ($block in $result.FailedBlocks) { "Pester block '$($block.ExpandedPath)' failed in its setup or teardown: $(Get-ErrorSummary $block.ErrorRecord)" }
)
if ($problems.Count -gt 0) { Set-Content -LiteralPath $problemsPath -Value $problems -Encoding utf8NoBOM }

$failures = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
exit ([int]($failures -gt 0))
