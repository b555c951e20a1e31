#Requires -Version 7.4
# Get-RestoreOpsRbac: the module prints the same least-privilege Roles as `restoreops rbac` (the engine's one
# generator, proven rule by rule against a real API server in the xunit suite), and refuses a bad name with the fix.

Describe 'Get-RestoreOpsRbac' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $null = Import-RestoreOpsTestModule
    }

    It 'prints a Role and a RoleBinding per namespace, bound to the service account' {
        $yaml = Get-RestoreOpsRbac -SourceNamespace prod -DrillNamespace drills -ServiceAccount drill-bot
        $yaml | Should -BeOfType [string]
        ([regex]::Matches($yaml, '(?m)^kind: Role$')).Count | Should -Be 2
        ([regex]::Matches($yaml, '(?m)^kind: RoleBinding$')).Count | Should -Be 2
        $yaml | Should -Match '(?m)^  namespace: prod$'
        $yaml | Should -Match '(?m)^    name: drill-bot$'
        $yaml | Should -Not -Match 'pods/portforward'
        # The line that regenerates it names the cmdlet, in PowerShell's spelling, not the CLI's.
        $yaml | Should -Match '(?m)^# Regenerate with: Get-RestoreOpsRbac -SourceNamespace prod -DrillNamespace drills -ServiceAccount drill-bot$'
    }

    It 'adds the port-forward rule only with -PortForward' {
        Get-RestoreOpsRbac prod drills -PortForward | Should -Match 'resources: \["pods/portforward"\]'
    }

    It 'refuses a namespace that is not a Kubernetes name, saying how to write one' {
        { Get-RestoreOpsRbac -SourceNamespace 'Prod_DB' -DrillNamespace drills -ErrorAction Stop } |
            Should -Throw -ExpectedMessage "*source namespace 'Prod_DB' is not a valid Kubernetes name*"
    }
}
