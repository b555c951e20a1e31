#Requires -Version 7.4
# -WhatIf and -Confirm: the cmdlets that create or delete restore targets ask ShouldProcess first, and -WhatIf
# creates nothing. New-RestoreCluster and Invoke-RestoreDrill get a backup that reads as one but holds no data
# (New-TestLabelOnlyBackup), so these tests need no PostgreSQL, and even a -WhatIf that was ignored would leave a
# trace to find (a tracked target, a work directory, an evidence folder) rather than a finished restore.

Describe 'WhatIf and Confirm' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $null = Import-RestoreOpsTestModule
        $backup = New-TestLabelOnlyBackup -Path (Join-Path $TestDrive 'label-only') | Get-LocalBackup -ErrorAction Stop
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'restores')
        # What exists before: this session may hold targets of other test files.
        $before = @(Get-RestoreCluster -WorkRoot $workRoot | ForEach-Object { $_.Name })
        function Get-NewTarget {
            @(Get-RestoreCluster -WorkRoot $workRoot | Where-Object { $_.Name -notin $before })
        }
    }

    AfterAll {
        Remove-TestRestoreTarget -WorkRoot $workRoot
    }

    It 'the label-only backup reads as a finished base backup' {
        $backup | Should -BeOfType ([RestoreOps.Model.Backup])
        $backup.Status | Should -Be 'Done'
        $backup.SourceKind | Should -Be 'LocalBaseBackup'
    }

    It 'New-RestoreCluster -Local -WhatIf creates nothing and outputs nothing' {
        $output = @($backup | New-RestoreCluster -Local -WorkRoot $workRoot -WhatIf)
        $output.Count | Should -Be 0
        @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
        @(Get-NewTarget).Count | Should -Be 0
    }

    It 'Invoke-RestoreDrill -Local -WhatIf restores nothing and writes no evidence' {
        $evidencePath = Join-Path $TestDrive 'whatif-evidence'
        $output = @($backup | Invoke-RestoreDrill -Local -WorkRoot $workRoot -EvidencePath $evidencePath -WhatIf)
        $output.Count | Should -Be 0
        @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
        @(Get-NewTarget).Count | Should -Be 0
        $evidencePath | Should -Not -Exist
    }

    It '$WhatIfPreference has the same effect as -WhatIf' {
        $WhatIfPreference = $true
        try {
            $output = @($backup | New-RestoreCluster -Local -WorkRoot $workRoot)
        }
        finally {
            $WhatIfPreference = $false
        }
        $output.Count | Should -Be 0
        @(Get-ChildItem -LiteralPath $workRoot -Force).Count | Should -Be 0
    }

    It 'Remove-RestoreCluster declares ConfirmImpact High, so it asks before deleting by default' {
        $command = Get-Command -Name Remove-RestoreCluster -Module RestoreOps
        $attribute = @($command.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $true))[0]
        $attribute.SupportsShouldProcess | Should -BeTrue
        $attribute.ConfirmImpact | Should -Be ([System.Management.Automation.ConfirmImpact]::High)
        # The default $ConfirmPreference is High: a deletion prompts unless -Confirm:$false or -Force.
        $command.Parameters.Keys | Should -Contain 'WhatIf'
        $command.Parameters.Keys | Should -Contain 'Confirm'
        $command.Parameters.Keys | Should -Contain 'Force'
    }

    It 'New-RestoreCluster and Invoke-RestoreDrill support -WhatIf and -Confirm' {
        foreach ($name in 'New-RestoreCluster', 'Invoke-RestoreDrill') {
            $command = Get-Command -Name $name -Module RestoreOps
            $attribute = @($command.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $true))[0]
            $attribute.SupportsShouldProcess | Should -BeTrue -Because "$name creates a restore target"
        }
    }

    It 'New-CnpgBackup supports -WhatIf and -Confirm, and -WhatIf creates nothing' {
        $command = Get-Command -Name 'New-CnpgBackup' -Module RestoreOps
        $attribute = @($command.ImplementingType.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $true))[0]
        $attribute.SupportsShouldProcess | Should -BeTrue -Because 'it creates a Backup in the source namespace'
        # A kubeconfig that does not exist: a -WhatIf that went ahead would fail reading it.
        $missing = Join-Path $workRoot 'no-such-kubeconfig'
        $output = @(New-CnpgBackup -Namespace prod -Cluster app-db -Kubeconfig $missing -WhatIf -ErrorAction Stop)
        $output.Count | Should -Be 0
    }

    It 'Remove-RestoreCluster -Orphaned -WhatIf removes nothing' {
        $output = @(Remove-RestoreCluster -Orphaned -Kind 'Local' -WorkRoot $workRoot -WhatIf -PassThru -ErrorAction Stop)
        $output.Count | Should -Be 0
    }
}

Describe 'Remove-RestoreCluster -WhatIf on a running target' {
    BeforeAll {
        . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
        $null = Import-RestoreOpsTestModule
        $pgBin = Find-PostgresBinDirectory
        $workRoot = New-TestDirectory -Path (Join-Path $TestDrive 'running')
        $cluster = $null
        if ($null -ne $pgBin) {
            $source = New-TestBaseBackup -Root (Join-Path $TestDrive 'source') -BinDirectory $pgBin
            try {
                $cluster = Get-LocalBackup -Path $source.BaseDirectory -WalPath $source.WalDirectory -ErrorAction Stop |
                    New-RestoreCluster -Local -WorkRoot $workRoot -PostgresBinDirectory $pgBin -ErrorAction Stop |
                    Wait-ClusterReady -Timeout (New-TimeSpan -Minutes 5) -ErrorAction Stop
            }
            catch {
                Remove-TestRestoreTarget -WorkRoot $workRoot
                throw
            }
        }
    }

    AfterAll {
        Remove-TestRestoreTarget -WorkRoot $workRoot
    }

    It 'leaves the target running, then -Confirm:$false removes it' {
        if ($null -eq $cluster) { Set-ItResult -Skipped -Because $PostgresSkipReason; return }
        $cluster | Remove-RestoreCluster -WhatIf
        Test-Path -LiteralPath $cluster.WorkDirectory | Should -BeTrue
        @(Get-RestoreCluster -WorkRoot $workRoot -DrillId $cluster.DrillId).Count | Should -Be 1

        $cluster | Remove-RestoreCluster -Confirm:$false -ErrorAction Stop
        Test-Path -LiteralPath $cluster.WorkDirectory | Should -BeFalse
        @(Get-RestoreCluster -WorkRoot $workRoot -DrillId $cluster.DrillId).Count | Should -Be 0
    }
}
