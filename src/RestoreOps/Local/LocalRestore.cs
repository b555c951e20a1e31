using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;
using RestoreOps.Backups;
using RestoreOps.Model;
using RestoreOps.Processes;
using RestoreOps.Wal;

namespace RestoreOps.Local;

/// <summary>
/// A backup restored into an ephemeral PostgreSQL on this machine: an isolated working directory, the base
/// backup unpacked, WAL fetched ahead in parallel, replay to the recovery target, promotion, and a generated
/// password. <see cref="RemoveAsync"/> takes it all away again and says what it removed.
/// </summary>
/// <example>
/// <code>
/// var restore = LocalRestore.Create(backup, RecoveryTarget.Latest, new LocalRestoreOptions(), drillId);
/// try { await restore.RunAsync(progress, ct); /* connect with restore.AdminConnectionString("app") */ }
/// finally { var outcome = await restore.RemoveAsync(); }
/// </code>
/// </example>
internal sealed partial class LocalRestore : IAsyncDisposable
{
    private readonly LocalRestoreOptions _options;
    private readonly string _password = ScramVerifier.NewPassword();
    private LocalInstance? _instance;
    private CancellationTokenSource? _prefetchStop;
    private Task? _prefetchTask;
    private WalRestorePlan? _plan;
    private TargetLease? _lease;
    private bool _removed;

    private LocalRestore(RestoreCluster cluster, LocalRestoreOptions options)
    {
        Cluster = cluster;
        _options = options;
    }

    /// <summary>The restore target, as the pipeline sees it.</summary>
    public RestoreCluster Cluster { get; }

    /// <summary>The WAL prefetcher of a base-backup restore, for measurements.</summary>
    public WalPrefetcher? Prefetcher { get; private set; }

    /// <summary>The running instance, once started.</summary>
    public LocalInstance? Instance => _instance;

    /// <summary>Prepares a restore (nothing is created yet). Rejects targets the backup cannot reach.</summary>
    public static LocalRestore Create(Backup backup, RecoveryTarget target, LocalRestoreOptions options, string drillId)
    {
        if (backup.Status != BackupStatus.Done)
            throw new ConfigurationException($"Backup {backup.Id} has status {backup.Status}; only finished (DONE) backups can be restored.",
                "Choose a DONE backup (the catalogue lists them first).");
        if (backup.SourceKind == BackupSourceKind.LocalDump && target.Kind is not (RecoveryTargetKind.Latest or RecoveryTargetKind.Immediate))
            throw new ConfigurationException($"A pg_dump file has no WAL, so it cannot be restored to {target}.",
                "Leave the recovery target out for dumps, or restore a base backup with its WAL archive.");
        if (target.Time is { } t && backup.EndTime is { } end && t < end)
            throw new ConfigurationException(
                $"The recovery target time {t:yyyy-MM-dd HH:mm:ss.ffffff}Z is before backup {backup.Id} ended ({end:yyyy-MM-dd HH:mm:ss}Z); a backup can only be rolled forward from its end.",
                "Choose a backup that ended before the target (an older one), or a later target time.");
        if (target.Kind == RecoveryTargetKind.Lsn && backup.EndLsn is { } endLsn && Lsn.TryParse(endLsn, out var e) && Lsn.Parse(target.Value!) < e)
            throw new ConfigurationException(
                $"The recovery target LSN {target.Value} is before backup {backup.Id} became consistent ({endLsn}).",
                "Choose an older backup or a later LSN.");

        // Resolved now: every later step (the postgres command line, the marker, cleanup) must name the same directory
        // whatever the current directory is by then.
        var workRoot = Path.GetFullPath(options.WorkRoot ?? Path.GetTempPath());
        var name = $"restoreops-{drillId}";
        var work = Path.Combine(workRoot, name);
        var now = DateTimeOffset.UtcNow;
        var cluster = new RestoreCluster
        {
            Name = name,
            DrillId = drillId,
            Kind = RestoreTargetKind.Local,
            Purpose = options.Purpose,
            Backup = backup,
            RecoveryTarget = target,
            CreatedAt = now,
            ExpiresAt = options.Purpose == RestorePurpose.Drill ? now + options.Expiry : null,
            WorkDirectory = work,
        };
        return new LocalRestore(cluster, options);
    }

    /// <summary>The password set for the client role, for the redactor; exists before the instance does.</summary>
    internal string GeneratedPassword => _password;

    /// <summary>Connection settings for RestoreOps' own sessions (private unix socket).</summary>
    public NpgsqlConnectionStringBuilder AdminConnectionString(string? database = null) =>
        (_instance ?? throw new InvalidOperationException("The restore has not started.")).ConnectionString(database ?? Cluster.Connection?.Database ?? "postgres");

    /// <summary>Connection settings a client would use: 127.0.0.1 with the generated password. Never logged or serialised.</summary>
    public NpgsqlConnectionStringBuilder ClientConnectionString(string? database = null)
    {
        var b = AdminConnectionString(database);
        b.Host = "127.0.0.1";
        b.Password = _password;
        return b;
    }

    /// <summary>Restores, replays and promotes. On failure the work directory stays until <see cref="RemoveAsync"/>.</summary>
    public async Task RunAsync(IProgress<DrillProgress>? progress, CancellationToken cancellationToken)
    {
        var backup = Cluster.Backup;
        var work = Cluster.WorkDirectory!;
        OsAccount account = null!;
        PostgresBinaries binaries = null!;
        try
        {
            await PhaseAsync(DrillPhase.Provision, async () =>
            {
                progress?.Report(new DrillProgress(DrillPhase.Provision, "Preparing an isolated local instance"));
                account = OsAccount.ForPostgres(_options.OsUser);
                binaries = await PostgresBinaries.FindAsync(backup.PostgresMajorVersion, _options.PostgresBinDirectory, cancellationToken).ConfigureAwait(false);
                _lease = LocalTargets.Claim(Cluster, account);
                return $"{binaries}, runs as {account.Name}";
            }).ConfigureAwait(false);

            if (backup.SourceKind == BackupSourceKind.LocalDump)
                await RestoreDumpAsync(binaries, account, progress, cancellationToken).ConfigureAwait(false);
            else
                await RestoreBaseBackupAsync(binaries, account, progress, cancellationToken).ConfigureAwait(false);

            await PhaseAsync(DrillPhase.Ready, async () =>
            {
                await ProveReadyAsync(cancellationToken).ConfigureAwait(false);
                return $"accepting read/write sessions on 127.0.0.1:{_instance!.Port}"
                    + (CatalogueSettingsReset.Count == 0 ? "" : $"; removed from the restored copy because they load code: {string.Join(", ", CatalogueSettingsReset)}");
            }).ConfigureAwait(false);
            Cluster.Phase = RestoreClusterPhase.Ready;
        }
        catch
        {
            Cluster.Phase = RestoreClusterPhase.Failed;
            throw;
        }
    }

    private async Task RestoreDumpAsync(PostgresBinaries binaries, OsAccount account, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        var dump = Cluster.Backup.Location.DumpFile!;
        var database = Cluster.Backup.Name ?? "postgres";
        await PhaseAsync(DrillPhase.BaseRestore, async () =>
        {
            progress?.Report(new DrillProgress(DrillPhase.BaseRestore, $"Restoring {Path.GetFileName(dump)} into a fresh instance"));
            Directory.CreateDirectory(Path.GetDirectoryName(Cluster.WorkDirectory!)!);
            _instance = await LocalInstance.InitializeAsync(binaries, account, Cluster.WorkDirectory!, _options.Superuser, ct).ConfigureAwait(false);
            LocalTargets.WriteMarker(Cluster, _instance);
            await _instance.StartAsync(new Dictionary<string, string> { ["archive_mode"] = "off" }, null, ct).ConfigureAwait(false);
            Cluster.ProcessId = _instance.ProcessId;
            await _instance.WaitForConnectionsAsync(TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
            var conn = _instance.ConnectionString();
            var args = new List<string> { "-h", conn.Host!, "-p", conn.Port.ToString(CultureInfo.InvariantCulture), "-U", conn.Username!, "--exit-on-error",
                // A dump carries no roles and the fresh instance has none of the source's tablespaces:
                // ownership, grants and TABLESPACE clauses would fail.
                "--no-owner", "--no-privileges", "--no-tablespaces", "-j", "2" };
            if (database == "postgres") args.AddRange(["-d", "postgres"]);
            else args.AddRange(["-C", "-d", "postgres"]);
            args.Add(dump);
            var r = await CommandRunner.RunAsync(binaries.Tool("pg_restore"), args, null, new Dictionary<string, string?> { ["PGPASSWORD"] = null }, ct).ConfigureAwait(false);
            if (r.ExitCode != 0)
                throw new RestoreFailedException($"pg_restore of {dump} failed (exit {r.ExitCode}): {r.Tail(8)}",
                    "The dump is damaged or needs objects (extensions, roles) this instance lacks; the lines above name them.");
            return $"database {database} restored by pg_restore";
        }).ConfigureAwait(false);
        Cluster.Connection = Connection(database);
    }

    private async Task RestoreBaseBackupAsync(PostgresBinaries binaries, OsAccount account, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        var backup = Cluster.Backup;
        var work = Cluster.WorkDirectory!;
        using var content = BackupContent.Open(backup, _options.ObjectStore);
        string data = null!, run = null!, log = null!, spool = null!, conf = null!, tablespaces = null!;
        var symlinks = new Dictionary<string, string>(StringComparer.Ordinal);
        var tablespaceOids = new List<string>();

        await PhaseAsync(DrillPhase.Download, async () =>
        {
            Cluster.Phase = RestoreClusterPhase.Downloading;
            Directory.CreateDirectory(Path.GetDirectoryName(work)!);
            (data, run, log) = LocalInstance.CreateLayout(account, work);
            const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            spool = account.CreateDirectory(Path.Combine(work, "wal-spool"), owner);
            conf = account.CreateDirectory(Path.Combine(work, "conf"), owner);
            tablespaces = account.CreateDirectory(Path.Combine(work, "tablespaces"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

            // Plan and start fetching WAL first: it downloads while the base backup does.
            if (content.WalArchive is { } walArchive)
            {
                progress?.Report(new DrillProgress(DrillPhase.Download, $"Listing WAL in {walArchive.Description}"));
                // pg_basebackup -X fetch/stream carries the WAL its backup needs inside the tar, so only a
                // Barman backup must find that range in the archive.
                _plan = await WalRestorePlan.CreateAsync(walArchive, backup, ct,
                    requireBackupRange: backup.SourceKind == BackupSourceKind.BarmanCloud).ConfigureAwait(false);
                if (_plan.FirstGapAfterBackup is { } gap && Cluster.RecoveryTarget.Kind == RecoveryTargetKind.Latest)
                    throw new RestoreFailedException(
                        $"The WAL archive {walArchive.Description} has a gap: segment {gap} is missing although later segments (up to {_plan.LastSegment}) exist. Replay would stop at the gap and silently lose everything after it.",
                        "Find out why the archiver skipped it (pg_stat_archiver, the archive's lifecycle rules); until then the newest recoverable point is just before the gap: restore with a target time before it.");
                Prefetcher = new WalPrefetcher(_options.WrapWalArchive?.Invoke(walArchive) ?? walArchive, _plan, spool, _options.WalParallelism);
                Prefetcher.Prepare();
                _prefetchStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var prefetcher = Prefetcher;
                var stop = _prefetchStop.Token;
                _prefetchTask = Task.Run(() => prefetcher.RunAsync(null, stop), CancellationToken.None);
            }

            long bytes = 0;
            var entries = 0;
            foreach (var archive in content.Archives)
            {
                progress?.Report(new DrillProgress(DrillPhase.Download, $"Downloading and unpacking {archive.Name}"));
                var destination = archive.Role switch
                {
                    ArchiveRole.Data => data,
                    ArchiveRole.Wal => Path.Combine(data, "pg_wal"),
                    _ => Path.Combine(tablespaces, archive.TablespaceOid!),
                };
                Directory.CreateDirectory(destination);
                if (archive.Role == ArchiveRole.Tablespace) tablespaceOids.Add(archive.TablespaceOid!);
                var meter = new ObjectStore.TransferMeter(progress, DrillPhase.Download, $"Downloading and unpacking {archive.Name}", archive.Name);
                await using var stream = await archive.Open(meter, ct).ConfigureAwait(false);
                var stats = await TarUnpacker.UnpackAsync(stream, destination, archive.Name, ct).ConfigureAwait(false);
                bytes += stats.Bytes;
                entries += stats.Entries;
                if (archive.Role == ArchiveRole.Data)
                    foreach (var (k, v) in stats.Symlinks) symlinks[k] = v;
            }
            foreach (var required in new[] { "PG_VERSION", "global/pg_control" })
                if (!File.Exists(Path.Combine(data, required)))
                    throw new RestoreFailedException(
                        $"The base backup of {backup.Id} is incomplete: {required} is missing after unpacking {content.Archives.Count} archive(s) ({entries} entries, {bytes:N0} bytes). The archive is empty or truncated.",
                        "Take a new backup and check the stored archive's size against what the backup tool reported.");
            return $"{content.Archives.Count} archive(s), {entries} entries, {bytes:N0} bytes";
        }).ConfigureAwait(false);

        string[] settingsLog = [];
        List<KeyValuePair<string, string>> settings = null!;
        await PhaseAsync(DrillPhase.BaseRestore, async () =>
        {
            Cluster.Phase = RestoreClusterPhase.Replaying;
            var version = (await File.ReadAllTextAsync(Path.Combine(data, "PG_VERSION"), ct).ConfigureAwait(false)).Trim();
            if (version != binaries.MajorVersion.ToString(CultureInfo.InvariantCulture))
                throw new InfrastructureException($"The backup is from PostgreSQL {version}, but the binaries found are {binaries.Version}.",
                    $"Install PostgreSQL {version} or pass {InputKey.PostgresBinDirectory.Ref()} with its bin directory.");
            PrepareDataDirectory(data, tablespaces, symlinks, tablespaceOids);
            SetSourceConfigurationAside(data, Path.Combine(work, "source-config"));
            account.Own(data, recursive: true);
            account.Own(tablespaces, recursive: true);
            File.SetUnixFileMode(data, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var control = await ControlData.ReadAsync(binaries, account, data, ct).ConfigureAwait(false);
            settings = RecoverySettings(conf, spool, control);
            settingsLog = settings.Select(kv => $"{kv.Key}={kv.Value}").ToArray();
            return $"recovery target {Cluster.RecoveryTarget}";
        }).ConfigureAwait(false);

        _instance = new LocalInstance(binaries, account, data, run, log, LocalInstance.FreeLoopbackPort(), _options.Superuser);
        LocalTargets.WriteMarker(Cluster, _instance);
        await PhaseAsync(DrillPhase.WalReplay, async () =>
        {
            progress?.Report(new DrillProgress(DrillPhase.WalReplay, "Replaying WAL", null, $"target {Cluster.RecoveryTarget}"));
            await _instance.StartAsync(settings, null, ct).ConfigureAwait(false);
            Cluster.ProcessId = _instance.ProcessId;
            progress?.Report(new DrillProgress(DrillPhase.WalReplay, "Replaying WAL", null, $"postgres pid {_instance.ProcessId} started"));
            await WaitUntilPromotedAsync(progress, ct).ConfigureAwait(false);
            await StopPrefetchAsync().ConfigureAwait(false);
            await ReadAchievedPointAsync(ct).ConfigureAwait(false);
            ProveReplayComplete();
            var p = Prefetcher;
            return p is null ? "no WAL archive" : $"{p.FilesFetched} WAL file(s) fetched ({p.BytesFetched:N0} bytes) of {_plan!.Files.Count} planned; replay ended at {Cluster.AchievedRecoveryLsn}";
        }).ConfigureAwait(false);
        Cluster.Connection = Connection("postgres");
    }

    /// <summary>
    /// Settings that the backup's own configuration could use to run a program, load code, write outside the work
    /// directory, hide damage from the verdict or blind RestoreOps' reading of the server log. The source's configuration
    /// files are set aside (<see cref="SetSourceConfigurationAside"/>); these go on the command line as well, so they hold
    /// even if a file we did not foresee is read. From PostgreSQL 15's GUC list (postgres --describe-config).
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string> UntrustedSettingsOverrides = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        // Programs.
        ["archive_cleanup_command"] = "",
        ["recovery_end_command"] = "",
        ["ssl_passphrase_command"] = "",
        ["ssl"] = "off",
        // Code.
        ["archive_library"] = "",
        ["shared_preload_libraries"] = "",
        ["session_preload_libraries"] = "",
        ["local_preload_libraries"] = "",
        ["dynamic_library_path"] = "$libdir",
        ["extension_destdir"] = "",
        ["jit_provider"] = "llvmjit",
        // Files outside the work directory, and triggers from them.
        ["external_pid_file"] = "",
        ["promote_trigger_file"] = "",
        ["unix_socket_group"] = "",
        ["unix_socket_permissions"] = "0700",
        // Damage that would otherwise be skipped or zeroed instead of failing the drill.
        ["zero_damaged_pages"] = "off",
        ["ignore_checksum_failure"] = "off",
        ["ignore_invalid_pages"] = "off",
        ["ignore_system_indexes"] = "off",
        ["allow_system_table_mods"] = "off",
        // Replay held back on purpose would look like a hang.
        ["recovery_min_apply_delay"] = "0",
        // The log lines RestoreOps reads (readiness, where and why replay ended) must be there, in English.
        ["lc_messages"] = "C",
        ["log_min_messages"] = "warning",
    };

    /// <summary>Settings a role or database of the backup may carry (ALTER ROLE/DATABASE … SET) that load code into a session.</summary>
    private static readonly string[] CatalogueLoadSettings = ["session_preload_libraries", "local_preload_libraries", "dynamic_library_path", "extension_destdir"];

    /// <summary>
    /// The same protection for every session RestoreOps opens: a role or database setting stored in the backup's own
    /// catalogue (ALTER ROLE … SET session_preload_libraries) outranks the command line but not the client's options.
    /// Built from <see cref="UntrustedSettingsOverrides"/>, so the two never disagree (declared after it: initialised in order).
    /// </summary>
    internal static readonly string SessionOverrides = string.Join(' ',
        CatalogueLoadSettings.Concat(["zero_damaged_pages", "ignore_checksum_failure"]).Select(k => $"-c {k}={UntrustedSettingsOverrides[k]}"));

    /// <summary>
    /// Moves the backup's configuration files out of the data directory into <paramref name="asideDirectory"/> (kept for
    /// a person to read, never for the server): PostgreSQL reads postgresql.auto.conf from the data directory whatever the
    /// command line says, and everything it includes with it.
    /// </summary>
    private static void SetSourceConfigurationAside(string data, string asideDirectory)
    {
        var files = new List<string> { "postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf" };
        // Included files are set aside too, when they live inside the data directory (outside it they are another
        // machine's paths, which the restore never reads anyway once the including file is gone).
        foreach (var name in files.Take(2).ToList())
        {
            var path = Path.Combine(data, name);
            if (!File.Exists(path)) continue;
            foreach (var line in File.ReadLines(path))
                if (IncludeDirective().Match(line) is { Success: true } m)
                {
                    var included = m.Groups[2].Value;
                    var full = Path.GetFullPath(Path.IsPathRooted(included) ? included : Path.Combine(data, included));
                    if (full.StartsWith(data + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                        files.Add(Path.GetRelativePath(data, full));
                }
        }
        foreach (var relative in files.Distinct(StringComparer.Ordinal))
        {
            var from = Path.Combine(data, relative);
            var to = Path.Combine(asideDirectory, relative);
            if (!File.Exists(from) && !Directory.Exists(from)) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            if (Directory.Exists(from)) Directory.Move(from, to);
            else File.Move(from, to, overwrite: true);
        }
    }

    [GeneratedRegex(@"^\s*(include|include_if_exists|include_dir)\s*=?\s*'([^']*)'", RegexOptions.IgnoreCase)]
    private static partial Regex IncludeDirective();

    /// <summary>
    /// A restore to the end of the archive is complete only if replay reached the newest archived segment. PostgreSQL
    /// takes a segment it cannot read (garbage, another system's WAL, a torn copy) as the end of WAL and promotes, so
    /// without this a drill would pass on data that silently stops at the damage.
    /// </summary>
    private void ProveReplayComplete()
    {
        if (Cluster.RecoveryTarget.Kind != RecoveryTargetKind.Latest || _plan?.LastSegmentOnNewestTimeline is not { } last) return;
        var size = (ulong)Cluster.Backup.WalSegmentSize;
        var plannedEnd = new Lsn((last.SegmentNumber(Cluster.Backup.WalSegmentSize) + 1) * size);
        Cluster.PlannedReplayEndLsn = plannedEnd.ToString();
        if (!Lsn.TryParse(Cluster.ReplayEndLsn, out var replayed))
            throw new RestoreFailedException("The restored server did not say where replay ended, so RestoreOps cannot prove that all archived WAL was applied.",
                "Report this with the server log below.", details: "Server log (last lines):\n" + _instance!.LogTail(40));
        // The segment holding the last byte replayed: a record that ends exactly on a boundary ends in the segment before.
        var replayedSegment = (replayed.Value - 1) / size;
        if (replayedSegment >= last.SegmentNumber(Cluster.Backup.WalSegmentSize)) return;
        var stoppedAt = WalFileName.FromSegmentNumber(last.Timeline, replayedSegment, Cluster.Backup.WalSegmentSize);
        var log = _instance!.LogTail(400);
        var reason = EndOfWalReason(log) is { } r ? $" PostgreSQL said: \"{r}\"." : " PostgreSQL logged no reason (the segment after it was missing or unreadable).";
        throw new RestoreFailedException(
            $"Replay stopped in WAL segment {stoppedAt} at {replayed}, but the archive holds WAL up to segment {last} (end {plannedEnd}): "
            + $"the restored data is missing everything after {replayed}.{reason}",
            $"The archived segment after {stoppedAt} is damaged or is not this database's WAL. Compare it with the source's copy, check the archiver, and take a new base backup; until then the newest recoverable point is {replayed}.",
            details: "Server log (last lines):\n" + _instance.LogTail(40));
    }

    /// <summary>The line in which PostgreSQL said why it found no more WAL, if it said.</summary>
    internal static string? EndOfWalReason(string log)
    {
        string? reason = null;
        foreach (var line in log.Split('\n'))
        {
            if (line.Contains("redo done at", StringComparison.Ordinal)) break;
            if (EndOfWalLine().Match(line) is { Success: true } m) reason = m.Groups[1].Value.Trim();
        }
        return reason;
    }

    [GeneratedRegex(@"(?:LOG|WARNING):\s+((?:invalid|unexpected|incorrect|missing contrecord|WAL file is from different|record with|contrecord|out-of-sequence|could not read|unexpected pageaddr).*)$")]
    private static partial Regex EndOfWalLine();

    private ConnectionInfo Connection(string database) => new()
    {
        Host = "127.0.0.1",
        Port = _instance!.Port,
        Username = _options.Superuser,
        Database = database,
        SocketDirectory = _instance.SocketDirectory,
    };

    private static void PrepareDataDirectory(string data, string tablespaces, Dictionary<string, string> symlinks, List<string> tablespaceOids)
    {
        // A backup taken from a standby (CNPG's default target) carries standby.signal: left in place, the
        // copy would stay a standby forever. recovery.conf makes PostgreSQL 12+ refuse to start.
        foreach (var leftover in new[] { "standby.signal", "recovery.signal", "recovery.conf", "postmaster.pid", "postmaster.opts" })
            File.Delete(Path.Combine(data, leftover));
        File.WriteAllBytes(Path.Combine(data, "recovery.signal"), []);
        foreach (var dir in new[] { "pg_wal", "pg_wal/archive_status", "pg_tblspc", "pg_replslot", "pg_stat_tmp", "pg_notify", "pg_serial", "pg_snapshots", "pg_subtrans", "pg_logical", "pg_logical/snapshots", "pg_logical/mappings", "pg_commit_ts", "pg_dynshmem", "pg_twophase" })
            Directory.CreateDirectory(Path.Combine(data, dir));

        // Tablespaces go inside the work directory, never to the source machine's paths.
        var map = Path.Combine(data, "tablespace_map");
        var mapped = new Dictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(map))
        {
            foreach (var line in File.ReadAllLines(map).Where(l => l.Length > 0))
            {
                var space = line.IndexOf(' ');
                if (space > 0) mapped[line[..space]] = line[(space + 1)..];
            }
        }
        foreach (var link in symlinks.Keys.Where(k => k.StartsWith("pg_tblspc/", StringComparison.Ordinal)))
            mapped.TryAdd(link["pg_tblspc/".Length..], symlinks[link]);
        foreach (var (oid, original) in mapped)
            if (!tablespaceOids.Contains(oid))
                throw new RestoreFailedException($"The backup uses tablespace {oid} (originally at {original}) but holds no archive for it ({oid}.tar).",
                    "The backup is incomplete; take a new one that includes every tablespace.");
        foreach (var oid in tablespaceOids)
        {
            var link = Path.Combine(data, "pg_tblspc", oid);
            if (Directory.Exists(link) && new DirectoryInfo(link).LinkTarget is null) Directory.Delete(link, true);
            else File.Delete(link);
            File.CreateSymbolicLink(link, Path.Combine(tablespaces, oid));
        }
        if (File.Exists(map))
            File.WriteAllLines(map, tablespaceOids.Select(oid => $"{oid} {Path.Combine(tablespaces, oid)}"));
    }

    private List<KeyValuePair<string, string>> RecoverySettings(string conf, string spool, ControlData control)
    {
        var script = Path.Combine(conf, "restore_wal.sh");
        File.WriteAllText(script, WalPrefetcher.RestoreScript(spool, Path.Combine(Cluster.WorkDirectory!, LocalTargets.LeaseFile)));
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var hba = Path.Combine(conf, "pg_hba.conf");
        File.WriteAllText(hba, """
            # Written by RestoreOps. The unix socket directory is private (0700), so trust there reaches only
            # RestoreOps and the instance's own account; TCP is loopback-only and needs the generated password.
            local   all   all                  trust
            host    all   all   127.0.0.1/32   scram-sha-256

            """);
        var ident = Path.Combine(conf, "pg_ident.conf");
        File.WriteAllText(ident, "");
        var config = Path.Combine(conf, "postgresql.conf");
        File.WriteAllText(config, "# RestoreOps passes every setting of this restore on the postgres command line.\n");

        var target = Cluster.RecoveryTarget;
        var s = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            // The source's own configuration is not used: it names its machine's paths, ports, archive
            // destination and preload libraries. postgresql.auto.conf is still read, so everything that
            // matters for safety is set here, on the command line, where it wins.
            ["config_file"] = config,
            ["hba_file"] = hba,
            ["ident_file"] = ident,
            ["archive_mode"] = "off",
            ["archive_command"] = "",
            ["primary_conninfo"] = "",
            ["primary_slot_name"] = "",
            ["synchronous_standby_names"] = "",
            ["hot_standby"] = "on",
            ["restore_command"] = $"/bin/sh {CommandRunner.ShellQuote(script)} %f %p",
            ["recovery_target_action"] = "promote",
            ["recovery_target_timeline"] = "latest",
            // Every target is cleared (over any left in postgresql.auto.conf) before the chosen one is set:
            // PostgreSQL rejects a second target when its setting is applied after another, even an empty one.
            ["recovery_target"] = "",
            ["recovery_target_time"] = "",
            ["recovery_target_lsn"] = "",
            ["recovery_target_xid"] = "",
            ["recovery_target_name"] = "",
            ["recovery_target_inclusive"] = target.Inclusive ? "on" : "off",
            ["log_line_prefix"] = "%m [%p] ",
            ["log_timezone"] = "UTC",
            ["timezone"] = "UTC",
        };
        foreach (var (k, v) in UntrustedSettingsOverrides) s[k] = v;
        foreach (var (k, v) in control.StandbyMinimums()) s[k] = v;
        var chosen = target.Kind switch
        {
            RecoveryTargetKind.Immediate => ("recovery_target", "immediate"),
            RecoveryTargetKind.Time => ("recovery_target_time", target.Value!),
            RecoveryTargetKind.Lsn => ("recovery_target_lsn", target.Value!),
            RecoveryTargetKind.Xid => ("recovery_target_xid", target.Value!),
            RecoveryTargetKind.Name => ("recovery_target_name", target.Value!),
            _ => ((string, string)?)null,
        };
        var ordered = s.Where(kv => kv.Key != chosen?.Item1).ToList();
        if (chosen is { } c) ordered.Add(new(c.Item1, c.Item2)); // last: applied after the clearing above
        return ordered;
    }

    private async Task WaitUntilPromotedAsync(IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        var instance = _instance!;
        try
        {
            await instance.PollAsync(async token =>
            {
                if (!instance.HasLogged(LocalInstance.LogMarker.ReadOnlyReady) && !instance.HasLogged(LocalInstance.LogMarker.Ready))
                    return false;
                await using var c = new NpgsqlConnection(instance.ConnectionString().ConnectionString);
                await c.OpenAsync(token).ConfigureAwait(false);
                await using var cmd = new NpgsqlCommand("select pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, '')", c);
                await using var r = await cmd.ExecuteReaderAsync(token).ConfigureAwait(false);
                await r.ReadAsync(token).ConfigureAwait(false);
                var inRecovery = r.GetBoolean(0);
                if (inRecovery)
                    progress?.Report(new DrillProgress(DrillPhase.WalReplay, "Replaying WAL", null,
                        $"replayed to {r.GetString(1)}; {Prefetcher?.FilesFetched ?? 0}/{_plan?.Files.Count ?? 0} WAL files fetched"));
                return !inRecovery;
            }, _options.ReadyTimeout, "finish recovery and promote", ct).ConfigureAwait(false);
        }
        catch (RestoreFailedException) when (instance.Exited.IsCompleted)
        {
            throw Diagnose(instance.LogTail(40));
        }
    }

    private RestoreOpsException Diagnose(string log)
    {
        var target = Cluster.RecoveryTarget;
        var details = "Server log (last lines):\n" + log;
        var fetchError = FetchError().Match(log);
        if (fetchError.Success)
            return Prefetcher?.FirstFailure is InvalidDataException or RestoreFailedException
                ? new RestoreFailedException($"Replay stopped because archived WAL is missing or damaged: {fetchError.Groups[1].Value.Trim()}.",
                    "The archive cannot restore past this file; check the archiver and take a new backup.", details: details)
                : new InfrastructureException($"Replay stopped because WAL could not be fetched: {fetchError.Groups[1].Value.Trim()}.",
                    "Check the object store's reachability and credentials, then run the drill again.", details: details);
        if (log.Contains("recovery ended before configured recovery target was reached", StringComparison.Ordinal))
        {
            var gap = _plan?.FirstGapAfterBackup is { } g ? $" The archive is missing segment {g}, so replay cannot pass it." : "";
            var last = _plan?.LastSegment is { } l ? $" The newest archived segment is {l}." : "";
            return new RestoreFailedException(
                $"Replay reached the end of the archived WAL before the recovery target ({target}).{gap}{last}",
                target.Kind == RecoveryTargetKind.Name
                    ? "Check the restore point's name (pg_create_restore_point) and that the WAL holding it was archived."
                    : "Choose an earlier target, or archive the WAL that holds the target (on the source: SELECT pg_switch_wal()).", details: details);
        }
        if (log.Contains("requested recovery stop point is before consistent recovery point", StringComparison.Ordinal))
            return new ConfigurationException($"The recovery target ({target}) lies before backup {Cluster.Backup.Id} became consistent.",
                "Choose an older backup or a later target.", details: details);
        if (log.Contains("WAL ends before end of online backup", StringComparison.Ordinal)
            || log.Contains("could not locate required checkpoint record", StringComparison.Ordinal))
            return new RestoreFailedException($"The WAL that backup {Cluster.Backup.Id} needs to become consistent ({Cluster.Backup.BeginWal}..{Cluster.Backup.EndWal}) is neither in the backup nor in the archive.",
                "Take backups with pg_basebackup -X stream, or make sure archive_command archived those segments.", details: details);
        if (log.Contains("insufficient parameter settings", StringComparison.Ordinal))
            return new RestoreFailedException("The restored server refused to replay: the source ran with larger settings than the restore.",
                "Report this: RestoreOps copies those settings from pg_control and should have matched them.", details: details);
        return new RestoreFailedException("PostgreSQL stopped during recovery.", "The server log below names the cause.", details: details);
    }

    [GeneratedRegex(@"RestoreOps could not fetch (.+)")]
    private static partial Regex FetchError();

    [GeneratedRegex(@"last completed transaction was at log time (.+)")]
    private static partial Regex LastTransaction();

    [GeneratedRegex(@"redo done at ([0-9A-F]+/[0-9A-F]+)")]
    private static partial Regex RedoDone();

    private async Task ReadAchievedPointAsync(CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(_instance!.ConnectionString().ConnectionString);
        await c.OpenAsync(ct).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand(
            "select pg_last_xact_replay_timestamp(), substring(pg_walfile_name(pg_current_wal_lsn()), 1, 8), pg_last_wal_replay_lsn()::text", c);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await r.ReadAsync(ct).ConfigureAwait(false);
        if (!r.IsDBNull(0)) Cluster.AchievedRecoveryTime = new DateTimeOffset(r.GetFieldValue<DateTime>(0), TimeSpan.Zero);
        Cluster.Timeline = int.Parse(r.GetString(1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if (!r.IsDBNull(2)) Cluster.ReplayEndLsn = r.GetString(2);
        var log = _instance.LogTail(400);
        if (RedoDone().Match(log) is { Success: true } m) Cluster.AchievedRecoveryLsn = m.Groups[1].Value;
        if (Cluster.AchievedRecoveryTime is null && LastTransaction().Match(log) is { Success: true } t
            && DateTimeOffset.TryParse(t.Groups[1].Value.Replace(" UTC", "Z"), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var at))
            Cluster.AchievedRecoveryTime = at;
    }

    private async Task ProveReadyAsync(CancellationToken ct)
    {
        // The password is set as a SCRAM verifier: the clear text never reaches the server or its log.
        await using (var admin = new NpgsqlConnection(AdminConnectionString("postgres").ConnectionString))
        {
            await admin.OpenAsync(ct).ConfigureAwait(false);
            var role = new NpgsqlCommandBuilder().QuoteIdentifier(_options.Superuser);
            await using var cmd = new NpgsqlCommand($"alter role {role} password '{ScramVerifier.Create(_password)}'", admin);
            await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            await ResetCatalogueLoadSettingsAsync(admin, ct).ConfigureAwait(false);
        }
        // Prove the path a user takes (TCP, password) and that the server accepts writes (an xid is assigned).
        await using var client = new NpgsqlConnection(ClientConnectionString("postgres").ConnectionString);
        await client.OpenAsync(ct).ConfigureAwait(false);
        await using var probe = new NpgsqlCommand("select pg_is_in_recovery(), txid_current()", client);
        await using var r = await probe.ExecuteReaderAsync(ct).ConfigureAwait(false);
        await r.ReadAsync(ct).ConfigureAwait(false);
        if (r.GetBoolean(0))
            throw new RestoreFailedException("The restored server is still in recovery after promotion was reported.", "See the server log.");
    }

    /// <summary>
    /// Removes, from the restored copy only, role and database settings that would load code into the sessions of
    /// whoever connects next (a person with psql, the checks): RestoreOps' own sessions override them through their
    /// options, a person's would not. What was removed is kept in <see cref="CatalogueSettingsReset"/>.
    /// </summary>
    private async Task ResetCatalogueLoadSettingsAsync(NpgsqlConnection admin, CancellationToken ct)
    {
        var found = new List<(string? Database, string? Role, string Setting)>();
        await using (var q = new NpgsqlCommand("""
            select d.datname, r.rolname, split_part(c, '=', 1)
            from pg_db_role_setting s
            left join pg_database d on d.oid = s.setdatabase
            left join pg_roles r on r.oid = s.setrole
            cross join lateral unnest(s.setconfig) c
            where split_part(c, '=', 1) = any(@names)
            """, admin))
        {
            q.Parameters.AddWithValue("names", CatalogueLoadSettings);
            await using var r = await q.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                found.Add((r.IsDBNull(0) ? null : r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.GetString(2)));
        }
        var quote = new NpgsqlCommandBuilder();
        foreach (var (database, role, setting) in found)
        {
            var sql = (database, role) switch
            {
                (null, { } ro) => $"alter role {quote.QuoteIdentifier(ro)} reset {setting}",
                ({ } db, null) => $"alter database {quote.QuoteIdentifier(db)} reset {setting}",
                ({ } db, { } ro) => $"alter role {quote.QuoteIdentifier(ro)} in database {quote.QuoteIdentifier(db)} reset {setting}",
                _ => null,
            };
            if (sql is null) continue;
            await using var reset = new NpgsqlCommand(sql, admin);
            await reset.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            CatalogueSettingsReset.Add($"{setting} of {(role is null ? "" : $"role {role}")}{(role is not null && database is not null ? " in " : "")}{(database is null ? "" : $"database {database}")}");
        }
    }

    /// <summary>Role/database settings from the backup that were removed from the restored copy because they load code.</summary>
    public List<string> CatalogueSettingsReset { get; } = new();

    private async Task StopPrefetchAsync()
    {
        if (_prefetchStop is null) return;
        await _prefetchStop.CancelAsync().ConfigureAwait(false);
        try { if (_prefetchTask is not null) await _prefetchTask.ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        _prefetchStop.Dispose();
        _prefetchStop = null;
    }

    private async Task<T> PhaseAsync<T>(DrillPhase phase, Func<Task<T>> work)
    {
        var timing = new PhaseTiming { Phase = phase, StartedAt = DateTimeOffset.UtcNow };
        Cluster.Phases.Add(timing);
        // The cluster is in the user's hands meanwhile: the ended phase replaces the open one whole, never field by field.
        T result;
        try
        {
            result = await work().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Cluster.Phases.Replace(timing, timing.End(false, e is OperationCanceledException ? "cancelled" : e.Message.Split('\n')[0]));
            throw;
        }
        Cluster.Phases.Replace(timing, timing.End(true, result?.ToString()));
        return result;
    }

    /// <summary>
    /// Stops the instance and the WAL fetch and deletes the work directory, then checks that no process,
    /// port or directory is left. Safe to call more than once, after any failure, and after cancellation.
    /// </summary>
    public async Task<CleanupOutcome> RemoveAsync()
    {
        var outcome = new CleanupOutcome();
        if (_removed) { outcome.Succeeded = true; return outcome; }
        await StopPrefetchAsync().ConfigureAwait(false);
        if (_lease is null)
        {
            // Nothing was created: the work directory (if any) is another restore's or a person's.
            outcome.Succeeded = true;
            _removed = true;
            return outcome;
        }
        var pid = _instance?.ProcessId;
        var port = _instance?.Port;
        if (_instance is not null)
        {
            try
            {
                if (await _instance.StopAsync().ConfigureAwait(false) is { } stopped) outcome.Removed.Add(stopped);
            }
            catch (Exception e)
            {
                outcome.Problems.Add($"stopping postgres: {e.Message}");
            }
        }
        try
        {
            if (_instance?.DeleteExternalSocketDirectory() is { } socketDir) outcome.Removed.Add(socketDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            outcome.Problems.Add($"deleting {_instance!.SocketDirectory}: {e.Message}");
        }
        var work = Cluster.WorkDirectory!;
        if (Directory.Exists(work))
        {
            try
            {
                Directory.Delete(work, recursive: true);
                outcome.Removed.Add($"directory {work}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                outcome.Problems.Add($"deleting {work}: {e.Message}");
            }
        }
        if (pid is { } p && Native.ProcessExists(p)) outcome.Problems.Add($"process {p} is still running");
        if (port is { } tcp && IsListening(tcp)) outcome.Problems.Add($"port {tcp} on 127.0.0.1 is still listening");
        if (Directory.Exists(work)) outcome.Problems.Add($"directory {work} still exists");
        if (_instance is not null && Directory.Exists(_instance.SocketDirectory)) outcome.Problems.Add($"directory {_instance.SocketDirectory} still exists");
        outcome.Succeeded = outcome.Problems.Count == 0;
        _removed = outcome.Succeeded;
        if (outcome.Succeeded)
        {
            Cluster.Phase = RestoreClusterPhase.Removed;
            _lease.Dispose();
        }
        Cluster.ProcessId = null;
        return outcome;
    }

    internal static bool IsListening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_options.Purpose == RestorePurpose.Drill) await RemoveAsync().ConfigureAwait(false);
    }
}
