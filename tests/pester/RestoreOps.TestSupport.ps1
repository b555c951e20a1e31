# Shared helpers for the Pester suite (not a test file: Invoke-Pester runs *.Tests.ps1 only).
# Dot-source it in a BeforeAll block:
#
#   BeforeAll { . (Join-Path $PSScriptRoot 'RestoreOps.TestSupport.ps1') }
#
# - Import-RestoreOpsTestModule  imports the packaged module (artifacts/module/RestoreOps), packaging it first with
#                                scripts/package-module.sh when it is missing or older than the sources.
# - Find-PostgresBinDirectory    the PostgreSQL server binaries, or $null (tests that need them skip with
#                                $PostgresSkipReason).
# - New-TestBaseBackup           a real source database, a pg_basebackup -Ft of it and its WAL archive, with more rows
#                                written after the backup so only a restore that replays the archive has them all.
# - New-TestLabelOnlyBackup      a directory that reads as a base backup (base.tar with backup_label and PG_VERSION)
#                                but holds no data: for tests that must never restore anything (-WhatIf, bad input).
# - New-TestDirectory            a folder the postgres OS user can traverse (work roots, evidence folders).
# - Remove-TestRestoreTarget     AfterAll safety net: removes whatever restore targets are left under a work root.

Set-StrictMode -Version Latest

# The repository: tests/pester/ is two levels below it.
$RestoreOpsRepositoryRoot = [System.IO.Path]::GetFullPath((Join-Path $PSScriptRoot '../..'))

$PostgresSkipReason = 'PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup, psql) were not found in $env:PG_BIN, ' +
    'next to initdb on PATH or under /usr/lib/postgresql/<major>/bin; install them (sudo bash scripts/setup.sh) to run this test'

# Rows in public.orders of the test source: in the base backup, and after replaying the archived WAL.
$TestRowsInBackup = 1000
$TestRowsAfterReplay = 1500

function Get-RestoreOpsTestModuleDirectory {
    # RESTOREOPS_TEST_MODULE points at an already laid-out module folder (as it does for the xunit tests).
    if ($env:RESTOREOPS_TEST_MODULE) {
        return [System.IO.Path]::GetFullPath($env:RESTOREOPS_TEST_MODULE)
    }
    return Join-Path $RestoreOpsRepositoryRoot 'artifacts/module/RestoreOps'
}

function Test-RestoreOpsPackageStale {
    param([Parameter(Mandatory)] [string] $ModuleDirectory)

    $manifest = Join-Path $ModuleDirectory 'RestoreOps.psd1'
    $assembly = Join-Path $ModuleDirectory 'RestoreOps.PowerShell.dll'
    if (-not (Test-Path -LiteralPath $manifest -PathType Leaf) -or -not (Test-Path -LiteralPath $assembly -PathType Leaf)) {
        return $true
    }
    $packagedAt = (Get-Item -LiteralPath $assembly).LastWriteTimeUtc
    # Everything the package is made from: code, manifest and views, help sources, the help builder.
    $sources = 'src', 'module/RestoreOps', 'docs/cmdlets', 'tools/RestoreOps.HelpBuilder' |
        ForEach-Object { Join-Path $RestoreOpsRepositoryRoot $_ } |
        Where-Object { Test-Path -LiteralPath $_ -PathType Container }
    $newer = Get-ChildItem -LiteralPath $sources -Recurse -File |
        Where-Object { $_.FullName -notmatch '[\\/](bin|obj)[\\/]' -and $_.LastWriteTimeUtc -gt $packagedAt } |
        Select-Object -First 1
    return $null -ne $newer
}

function Import-RestoreOpsTestModule {
    <#
    .SYNOPSIS
        Imports the packaged RestoreOps module and returns its PSModuleInfo, packaging it first when needed.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.PSModuleInfo])]
    param()

    $directory = Get-RestoreOpsTestModuleDirectory
    if (-not $env:RESTOREOPS_TEST_MODULE -and (Test-RestoreOpsPackageStale -ModuleDirectory $directory)) {
        $packager = Join-Path $RestoreOpsRepositoryRoot 'scripts/package-module.sh'
        Write-Host "Packaging the module: bash $packager"
        & bash $packager 2>&1 | ForEach-Object { Write-Host "  $_" }
        if ($LASTEXITCODE -ne 0) {
            throw "scripts/package-module.sh failed with exit code $LASTEXITCODE (output above); the Pester suite tests the packaged module."
        }
    }
    $manifest = Join-Path $directory 'RestoreOps.psd1'
    if (-not (Test-Path -LiteralPath $manifest -PathType Leaf)) {
        throw "No packaged module at $directory. Run: bash scripts/package-module.sh"
    }
    Import-Module -Name $manifest -ErrorAction Stop
    $module = Get-Module -Name RestoreOps | Where-Object { $_.ModuleBase.TrimEnd('/', '\') -eq $directory.TrimEnd('/', '\') } | Select-Object -First 1
    if ($null -eq $module) {
        throw "RestoreOps was imported, but not from $directory (loaded: $((Get-Module -Name RestoreOps).ModuleBase -join ', '))."
    }
    return $module
}

function Test-RunningAsRoot {
    if ($IsWindows) { return $false }
    return ((& id -u) -eq '0')
}

function Find-PostgresBinDirectory {
    <#
    .SYNOPSIS
        The folder holding initdb, pg_ctl, pg_basebackup and psql, or $null: PG_BIN, then the folder initdb on PATH
        really lives in (Debian links only some tools into /usr/local/bin), then /usr/lib/postgresql/<major>/bin,
        newest major first.
    #>
    [OutputType([string])]
    param()

    $tools = 'initdb', 'pg_ctl', 'pg_basebackup', 'psql'
    $candidates = [System.Collections.Generic.List[string]]::new()
    if ($env:PG_BIN) { $candidates.Add($env:PG_BIN) }
    $initdb = Get-Command -Name initdb -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($null -ne $initdb) {
        $target = [System.IO.File]::ResolveLinkTarget($initdb.Source, $true)
        $path = if ($null -ne $target) { $target.FullName } else { $initdb.Source }
        $candidates.Add([System.IO.Path]::GetDirectoryName($path))
    }
    if (Test-Path -LiteralPath '/usr/lib/postgresql' -PathType Container) {
        $majors = Get-ChildItem -LiteralPath '/usr/lib/postgresql' -Directory |
            Where-Object { $_.Name -match '^\d+$' } |
            Sort-Object -Property { [int]$_.Name } -Descending
        foreach ($major in $majors) { $candidates.Add((Join-Path $major.FullName 'bin')) }
    }
    foreach ($directory in $candidates) {
        $missing = @($tools | Where-Object { -not (Test-Path -LiteralPath (Join-Path $directory $_) -PathType Leaf) })
        if ($missing.Count -eq 0) { return $directory }
    }
    return $null
}

function Invoke-TestNative {
    <#
    .SYNOPSIS
        Runs a program (as the postgres OS user with -AsPostgres when the tests run as root), returns its output
        lines, and throws with that output when it exits non-zero.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [switch] $AsPostgres
    )

    if ($AsPostgres -and (Test-RunningAsRoot)) {
        # '--' quoted: a bare -- would be taken as PowerShell's own end-of-parameters marker.
        $output = & runuser -u postgres '--' $FilePath @ArgumentList 2>&1
    }
    else {
        $output = & $FilePath @ArgumentList 2>&1
    }
    $exitCode = $LASTEXITCODE
    $lines = @($output | ForEach-Object { "$_" })
    if ($exitCode -ne 0) {
        throw "'$FilePath $($ArgumentList -join ' ')' exited with code ${exitCode}:`n$($lines -join "`n")"
    }
    return $lines
}

function Invoke-TestSql {
    <#
    .SYNOPSIS
        Runs one SQL command against the test source over its private unix socket; returns the unaligned rows.
    #>
    [OutputType([string])]
    param(
        [Parameter(Mandatory)] [string] $BinDirectory,
        [Parameter(Mandatory)] [string] $SocketDirectory,
        [Parameter(Mandatory)] [string] $Database,
        [Parameter(Mandatory)] [string] $Query
    )

    Invoke-TestNative -FilePath (Join-Path $BinDirectory 'psql') -ArgumentList @(
        '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
        '-h', $SocketDirectory, '-p', '5432', '-U', 'postgres', '-d', $Database, '-c', $Query)
}

function New-TestBaseBackup {
    <#
    .SYNOPSIS
        Creates a real local backup as users make one, and returns where it is:
        initdb, a server archiving WAL into a folder (archive_command), a shop database with $TestRowsInBackup
        orders, pg_basebackup -Ft, then more orders (up to $TestRowsAfterReplay) that only the archived WAL holds.
        The source server is stopped again before this returns. As root, everything runs as the postgres OS user.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Root,
        [Parameter(Mandatory)] [string] $BinDirectory
    )

    $data = Join-Path $Root 'data'
    $wal = Join-Path $Root 'wal-archive'
    $socket = Join-Path $Root 'socket'
    $base = Join-Path $Root 'base-backup'
    $log = Join-Path $Root 'postgres.log'
    $pgCtl = Join-Path $BinDirectory 'pg_ctl'

    $null = New-TestDirectory -Path $Root
    $null = New-Item -ItemType Directory -Path $wal, $socket -Force
    if (Test-RunningAsRoot) {
        $null = Invoke-TestNative -FilePath chown -ArgumentList '-R', 'postgres:postgres', $Root
    }
    $null = Invoke-TestNative -AsPostgres -FilePath (Join-Path $BinDirectory 'initdb') -ArgumentList @(
        '-D', $data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync')

    # Settings appended to postgresql.conf rather than passed to pg_ctl -o, which goes through a shell.
    # No TCP listener: the private socket directory is the only way in, so the fixed port cannot collide.
    Add-Content -LiteralPath (Join-Path $data 'postgresql.conf') -Value @(
        ''
        '# restoreops pester source'
        "listen_addresses = ''"
        'port = 5432'
        "unix_socket_directories = '$socket'"
        'wal_level = replica'
        'archive_mode = on'
        "archive_command = 'test ! -f $wal/%f && cp %p $wal/%f'"
        'shared_buffers = 32MB'
        'fsync = off'
    )

    $null = Invoke-TestNative -AsPostgres -FilePath $pgCtl -ArgumentList '-D', $data, '-l', $log, '-w', '-t', '120', 'start'
    try {
        $sql = @{ BinDirectory = $BinDirectory; SocketDirectory = $socket }
        $null = Invoke-TestSql @sql -Database postgres -Query 'create database shop'
        $null = Invoke-TestSql @sql -Database shop -Query ("create table orders(id int primary key, amount numeric(10,2) not null); " +
            "insert into orders select g, g % 100 from generate_series(1, $TestRowsInBackup) g")

        $null = Invoke-TestNative -AsPostgres -FilePath (Join-Path $BinDirectory 'pg_basebackup') -ArgumentList @(
            '-h', $socket, '-p', '5432', '-U', 'postgres', '-D', $base, '-Ft', '-X', 'fetch', '-c', 'fast', '-l', 'restoreops-pester')

        # Written after the backup: a restore has these rows only if it replayed the archived WAL.
        $null = Invoke-TestSql @sql -Database shop -Query ("insert into orders select g, 1 from generate_series($($TestRowsInBackup + 1), $TestRowsAfterReplay) g")
        $segment = @(Invoke-TestSql @sql -Database postgres -Query 'select pg_walfile_name(pg_switch_wal())')[0]
        $deadline = [DateTime]::UtcNow.AddSeconds(120)
        do {
            Start-Sleep -Milliseconds 200
            $state = @(Invoke-TestSql @sql -Database postgres -Query "select coalesce(last_archived_wal >= '$segment', false) or failed_count > 0 from pg_stat_archiver")[0]
        } while ($state -ne 't' -and [DateTime]::UtcNow -lt $deadline)
        $archived = @(Invoke-TestSql @sql -Database postgres -Query "select coalesce(last_archived_wal >= '$segment', false) from pg_stat_archiver")[0]
        if ($archived -ne 't') {
            throw "The test source did not archive WAL segment $segment within 120 s. Server log:`n$(Get-Content -LiteralPath $log -Tail 30 -ErrorAction SilentlyContinue | Out-String)"
        }
    }
    finally {
        # Stopped whether or not the setup worked; a clean stop removes postmaster.pid.
        if (Test-Path -LiteralPath (Join-Path $data 'postmaster.pid')) {
            $null = Invoke-TestNative -AsPostgres -FilePath $pgCtl -ArgumentList '-D', $data, '-m', 'fast', '-w', '-t', '60', 'stop'
        }
    }

    [pscustomobject]@{
        BaseDirectory     = $base
        WalDirectory      = $wal
        BinDirectory      = $BinDirectory
        Database          = 'shop'
        Table             = 'public.orders'
        RowsInBackup      = $TestRowsInBackup
        RowsAfterReplay   = $TestRowsAfterReplay
    }
}

function New-TestLabelOnlyBackup {
    <#
    .SYNOPSIS
        A directory that Get-LocalBackup reads as a pg_basebackup -Ft backup of PostgreSQL 15 (base.tar holding
        backup_label and PG_VERSION) but that holds no data: restoring it would fail. For tests that must never get
        as far as a restore, and that run without PostgreSQL.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)

    $staging = "$Path.staging"
    $null = New-Item -ItemType Directory -Path $Path, $staging -Force
    $label = @(
        'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)'
        'CHECKPOINT LOCATION: 0/2000060'
        'BACKUP METHOD: streamed'
        'BACKUP FROM: primary'
        'START TIME: 2026-01-01 00:00:00 UTC'
        'LABEL: restoreops-pester-label-only'
        'START TIMELINE: 1'
    )
    [System.IO.File]::WriteAllText((Join-Path $staging 'backup_label'), (($label -join "`n") + "`n"))
    [System.IO.File]::WriteAllText((Join-Path $staging 'PG_VERSION'), "15`n")
    Add-Type -AssemblyName System.Formats.Tar
    [System.Formats.Tar.TarFile]::CreateFromDirectory($staging, (Join-Path $Path 'base.tar'), $false)
    Remove-Item -LiteralPath $staging -Recurse -Force
    return $Path
}

function Remove-TestRestoreTarget {
    <#
    .SYNOPSIS
        Best-effort cleanup for AfterAll blocks: removes every restore target whose work directory is under WorkRoot
        (this session's and any left on disk), never prompting; what cannot be removed is reported as a warning.
    #>
    param([Parameter(Mandatory)] [string] $WorkRoot)

    $targets = @(Get-RestoreCluster -WorkRoot $WorkRoot -Kind Local -ErrorAction SilentlyContinue |
        Where-Object { $null -ne $_.WorkDirectory -and $_.WorkDirectory.StartsWith($WorkRoot, [StringComparison]::Ordinal) })
    foreach ($target in $targets) {
        $target | Remove-RestoreCluster -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable problems
        foreach ($problem in @($problems)) { Write-Warning "Cleanup of restore target $($target.Name): $problem" }
    }
}

function New-TestDirectory {
    <#
    .SYNOPSIS
        Creates a folder (and returns its full path) that the postgres OS user can traverse when the tests run as
        root, whatever the umask: work roots and sources live under $TestDrive.
    #>
    [OutputType([string])]
    param([Parameter(Mandatory)] [string] $Path)

    $directory = New-Item -ItemType Directory -Path $Path -Force
    if (Test-RunningAsRoot) {
        $null = Invoke-TestNative -FilePath chmod -ArgumentList 'o+x', (Split-Path -Parent $directory.FullName)
        $null = Invoke-TestNative -FilePath chmod -ArgumentList '755', $directory.FullName
    }
    return $directory.FullName
}

function Lock-TestWalSegment {
    <#
    .SYNOPSIS
        Holds replay of a New-TestBaseBackup source: the newest archived WAL segment (the rows written after the backup)
        is moved aside and replaced by a named pipe, so a restore blocks reading it until Unlock-TestWalSegment writes the
        segment into the pipe. Returns the handle Unlock-TestWalSegment takes. Linux only (mkfifo).
    #>
    param([Parameter(Mandatory)] [string] $WalDirectory)

    $segment = Get-ChildItem -LiteralPath $WalDirectory -File | Where-Object Name -Match '^[0-9A-F]{24}$' | Sort-Object Name | Select-Object -Last 1
    $held = [pscustomobject]@{ Pipe = $segment.FullName; Copy = "$(Split-Path -Parent $WalDirectory)/held-$($segment.Name)"; Released = $false }
    Move-Item -LiteralPath $held.Pipe -Destination $held.Copy
    $null = Invoke-TestNative -FilePath mkfifo -ArgumentList $held.Pipe
    return $held
}

function Unlock-TestWalSegment {
    <#
    .SYNOPSIS
        Writes the held segment into its pipe (once), so replay goes on. A separate process writes it, bounded by
        timeout(1): opening a pipe for writing blocks until a reader opens it, and the reader may be gone.
    #>
    param(
        [Parameter(Mandatory)] [psobject] $Held,
        # Only free a reader that may be blocked: a reader that opened the pipe and gave up (a cancelled restore) is fine.
        [switch] $Quiet
    )

    if ($Held.Released) { return }
    # Once only, even when it fails: a second writer would wait for a reader that is gone.
    $Held.Released = $true
    try {
        $null = Invoke-TestNative -FilePath timeout -ArgumentList '120', 'sh', '-c', 'cat "$0" > "$1"', $Held.Copy, $Held.Pipe
    }
    catch {
        if (-not $Quiet) { throw }
    }
}
