#Requires -Version 7.4
# build.ps1 as bash calls it: `pwsh ./build.ps1 -Task Build,Package` hands the script ONE argument, 'Build,Package'
# (the comma only makes an array inside PowerShell). The script must split it (issue 14, bug 7). An unknown name
# is refused before any task runs, so these tests build nothing.

Describe 'build.ps1 called from bash' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $build = Join-Path $RestoreOpsRepositoryRoot 'build.ps1'
        # This pwsh: a dotnet tool runs as 'dotnet pwsh.dll', an installed pwsh as itself.
        $pwsh = @([Environment]::ProcessPath)
        if ([System.IO.Path]::GetFileNameWithoutExtension($pwsh[0]) -eq 'dotnet') { $pwsh += Join-Path $PSHOME 'pwsh.dll' }
        function Invoke-BuildFromBash([string] $TaskArgument) {
            # bash -c 'exec "$@"': the arguments reach pwsh exactly as bash passes them, 'Nope,Build' as one word.
            $output = & bash -c 'exec "$@"' bash @pwsh -NoProfile -NonInteractive -File $build -Task $TaskArgument 2>&1
            [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output | ForEach-Object { "$_" }) -join "`n" }
        }
    }

    It 'splits a comma list given as one word, naming only the unknown task' {
        $result = Invoke-BuildFromBash 'Nope,Build'
        $result.ExitCode | Should -Not -Be 0
        $result.Output | Should -Match "Unknown -Task 'Nope'"
        $result.Output | Should -Not -Match 'Nope,Build' -Because "'Build' is a known task once the word is split"
    }

    It 'names every unknown task of the list and the valid ones' {
        $result = Invoke-BuildFromBash 'Nope, Nada'
        $result.ExitCode | Should -Not -Be 0
        $result.Output | Should -Match "Unknown -Task 'Nope', 'Nada'"
        $result.Output | Should -Match 'Build, Test, Package'
    }
}
