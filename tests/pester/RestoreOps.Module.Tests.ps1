#Requires -Version 7.4
# The packaged module as a user gets it (artifacts/module/RestoreOps): it imports, exports exactly the cmdlets of
# its manifest, loads its views and computed properties, and every cmdlet has help (synopsis, description,
# examples, every parameter) and exactly the parameters written below (dbatools' habit: a changed parameter fails
# here until docs, help and tests are updated with it).

BeforeDiscovery {
    # Discovery needs the list before anything is imported: the manifest in the repository is the statement of it.
    $sourceManifest = Import-PowerShellDataFile -Path (Join-Path $PSScriptRoot '../../module/RestoreOps/RestoreOps.psd1')
    $cmdletCases = @($sourceManifest.CmdletsToExport | ForEach-Object { @{ Name = $_ } })
}

BeforeAll {
    # The module ships en-US help only, and Get-Help does not fall back to it: under LANG=C.UTF-8 (the invariant
    # culture, common in containers) or any other language it would find no help at all. Read the help in en-US.
    $previousUICulture = [System.Globalization.CultureInfo]::CurrentUICulture
    [System.Globalization.CultureInfo]::CurrentUICulture = [System.Globalization.CultureInfo]::GetCultureInfo('en-US')

    . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1')
    $module = Import-RestoreOpsTestModule
    $manifest = Import-PowerShellDataFile -Path (Join-Path $module.ModuleBase 'RestoreOps.psd1')

    $kubernetes = @('Context', 'Kubeconfig')
    # New-RestoreCluster and Invoke-RestoreDrill share these (RestoreTargetCmdlet).
    $restoreTarget = $kubernetes + @(
        'Backup', 'Local', 'Namespace', 'StorageSize', 'StorageClass', 'AllowSourceNamespace', 'WorkRoot',
        'PostgresBinDirectory', 'OsUser', 'EndpointUrl', 'Region', 'Credential', 'TargetTime', 'TargetLsn', 'TargetXid',
        'TargetName', 'TargetImmediate', 'TargetExclusive', 'Expiry', 'ObjectStore', 'Connect')
    $expectedParameters = @{
        'Export-DrillEvidence'  = @('Record', 'Path', 'SigningKeyVariable', 'TextfileCollectorPath', 'Owner', 'Note')
        'Find-RecoveryPoint'    = @('DestinationPath', 'ServerName', 'EndpointUrl', 'Region', 'Credential', 'WalPath', 'From', 'To', 'MinimumRows',
            'ResolveConnectionString', 'PostgresBinDirectory')
        'Get-BarmanBackup'      = @('DestinationPath', 'ServerName', 'BackupId', 'Latest', 'IncludeUnusable', 'EndpointUrl', 'Region', 'Credential')
        'Get-CnpgBackup'        = $kubernetes + @('Cluster', 'Namespace', 'Name', 'Latest')
        'New-CnpgBackup'        = $kubernetes + @('Cluster', 'Namespace', 'Method', 'Wait', 'Timeout')
        'Get-DrillHistory'      = @('Path', 'Source', 'Verdict', 'Last', 'Summary', 'StaleAfter')
        'Get-LocalBackup'       = @('Path', 'WalPath')
        'Get-RestoreCluster'    = $kubernetes + @('Name', 'DrillId', 'Namespace', 'AllNamespaces', 'Kind', 'WorkRoot', 'Orphaned')
        'Get-RestoreOpsRbac'    = @('SourceNamespace', 'DrillNamespace', 'ServiceAccount', 'ServiceAccountNamespace', 'PortForward')
        'Invoke-RestoreCheck'   = $kubernetes + @('InputObject', 'Path', 'Check', 'Database', 'MaxBackupAge', 'MaxDataAge', 'MaxRestoreTime', 'PreviousEvidencePath')
        'Invoke-RestoreDrill'   = $restoreTarget + @('Path', 'Check', 'Database', 'MaxBackupAge', 'MaxDataAge', 'MaxRestoreTime', 'Timeout',
            'KeepOnFailure', 'EvidencePath', 'SigningKeyVariable', 'HeartbeatUrl', 'ThrottleLimit', 'Owner', 'Note')
        'New-RestoreCluster'    = $restoreTarget + @('Name', 'DrillId', 'Purpose', 'Force')
        'New-RestoreDemoBackup' = @('WorkRoot', 'PostgresBinDirectory', 'OsUser')
        'Remove-RestoreCluster' = $kubernetes + @('InputObject', 'Name', 'Orphaned', 'Namespace', 'AllNamespaces', 'Kind', 'WorkRoot', 'Force', 'PassThru')
        'Send-DrillHeartbeat'   = @('Record', 'Url', 'Attempts')
        'Wait-ClusterReady'     = $kubernetes + @('InputObject', 'Name', 'Namespace', 'Timeout')
    }
    # -Verbose, -ErrorAction, ... and -WhatIf/-Confirm: PowerShell adds these, the cmdlet does not declare them.
    $commonParameters = @([System.Management.Automation.PSCmdlet]::CommonParameters) + @([System.Management.Automation.PSCmdlet]::OptionalCommonParameters)
}

AfterAll {
    [System.Globalization.CultureInfo]::CurrentUICulture = $previousUICulture
}

Describe 'The packaged RestoreOps module' {
    It 'is imported from the package' {
        $module.ModuleBase | Should -Be (Get-RestoreOpsTestModuleDirectory).TrimEnd('/', '\')
        $module.ModuleType | Should -Be 'Binary'
        $module.Version | Should -Be ([version]$manifest.ModuleVersion)
    }

    It 'exports exactly the cmdlets its manifest lists' {
        $exported = @(Get-Command -Module RestoreOps | ForEach-Object { $_.Name } | Sort-Object)
        $listed = @($manifest.CmdletsToExport | Sort-Object)
        $listed.Count | Should -Be 16
        ($exported -join ', ') | Should -Be ($listed -join ', ')
    }

    It 'exports cmdlets only: no functions, aliases or variables' {
        @(Get-Command -Module RestoreOps -CommandType 'Function', 'Alias').Count | Should -Be 0
        @($module.ExportedVariables.Keys).Count | Should -Be 0
    }

    It 'names only files the package has' {
        foreach ($file in $manifest.FileList) {
            Join-Path $module.ModuleBase $file | Should -Exist -Because "RestoreOps.psd1 FileList names $file"
        }
    }

    It 'keeps the engine and its dependencies out of the module root' {
        Join-Path $module.ModuleBase 'Dependencies/RestoreOps.dll' | Should -Exist
        $rootAssemblies = @(Get-ChildItem -LiteralPath $module.ModuleBase -Filter '*.dll' -File | ForEach-Object { $_.Name } | Sort-Object)
        ($rootAssemblies -join ', ') | Should -Be 'RestoreOps.Model.dll, RestoreOps.PowerShell.dll'
    }

    # The type of every cmdlet's output ([OutputType]); FormatTests.cs checks the same against the compiled metadata.
    It 'loads a default table view for <_>' -ForEach @(
        'RestoreOps.Model.Backup', 'RestoreOps.Model.RestoreCluster', 'RestoreOps.Model.DrillRecord', 'RestoreOps.Model.CheckResult',
        'RestoreOps.Model.DrillEvidence', 'RestoreOps.Model.DeliveryOutcome', 'RestoreOps.Model.ProvenRestore', 'RestoreOps.Model.RecoveryPoint') {
        $format = @(Get-FormatData -TypeName $_)
        $format.Count | Should -BeGreaterThan 0 -Because "RestoreOps.Format.ps1xml defines a view for $_"
        $tables = @($format.FormatViewDefinition | Where-Object { $_.Control -is [System.Management.Automation.TableControl] })
        $tables.Count | Should -BeGreaterThan 0
    }

    It 'adds the computed properties of RestoreOps.Types.ps1xml' {
        (Get-TypeData -TypeName 'RestoreOps.Model.RestoreCluster').Members.Keys | Should -Contain 'ExpiresIn'
        (Get-TypeData -TypeName 'RestoreOps.Model.DrillRecord').Members.Keys | Should -Contain 'ChecksPassed'
        (Get-TypeData -TypeName 'RestoreOps.Model.Backup').Members.Keys | Should -Contain 'AgeText'
    }

    It 'has an about_RestoreOps topic' {
        $about = Get-Help -Name about_RestoreOps -ErrorAction SilentlyContinue
        $about | Should -Not -BeNullOrEmpty -Because 'en-US/about_RestoreOps.help.txt ships with the module'
    }
}

Describe 'Cmdlet <Name>' -ForEach $cmdletCases {
    BeforeAll {
        $command = Get-Command -Name $Name -Module RestoreOps -ErrorAction Stop
        $help = Get-Help -Name $Name -Full -ErrorAction Stop
        # Without a help file PowerShell makes up help whose synopsis is the syntax ("Get-LocalBackup [-Path] ...").
        function Get-HelpProperty([object] $Object, [string] $Property) {
            if ($null -ne $Object -and $null -ne $Object.PSObject.Properties[$Property]) { return $Object.$Property }
            return $null
        }
    }

    It 'is a cmdlet of RestoreOps.PowerShell.dll' {
        $command.CommandType | Should -Be 'Cmdlet'
        $command.ImplementingType.Assembly.GetName().Name | Should -Be 'RestoreOps.PowerShell'
    }

    It 'has exactly the expected parameters' {
        $expected = @($expectedParameters[$Name] | Sort-Object -Unique)
        $expected.Count | Should -BeGreaterThan 0 -Because "the list above names $Name's parameters"
        $actual = @($command.Parameters.Keys | Where-Object { $_ -notin $commonParameters } | Sort-Object)
        ($actual -join ', ') | Should -Be ($expected -join ', ')
    }

    It 'has a synopsis of its own' {
        $synopsis = "$(Get-HelpProperty $help 'Synopsis')".Trim()
        $synopsis | Should -Not -BeNullOrEmpty
        $synopsis | Should -Not -BeLike "$Name *" -Because 'PowerShell shows the syntax as the synopsis when the cmdlet has no help'
    }

    It 'has a description' {
        $text = @(Get-HelpProperty $help 'description' | ForEach-Object { Get-HelpProperty $_ 'Text' }) -join ' '
        $text.Trim() | Should -Not -BeNullOrEmpty
    }

    It 'has at least one example with code' {
        $examples = @(Get-HelpProperty (Get-HelpProperty $help 'examples') 'example')
        $examples.Count | Should -BeGreaterThan 0
        foreach ($example in $examples) {
            "$(Get-HelpProperty $example 'code')".Trim() | Should -Not -BeNullOrEmpty
        }
    }

    It 'documents every parameter' {
        $documented = @(Get-HelpProperty (Get-HelpProperty $help 'parameters') 'parameter' | ForEach-Object { Get-HelpProperty $_ 'name' })
        foreach ($parameter in $expectedParameters[$Name]) {
            ($parameter -in $documented) | Should -BeTrue -Because "Get-Help $Name -Parameter $parameter should say what it does"
        }
    }
}
