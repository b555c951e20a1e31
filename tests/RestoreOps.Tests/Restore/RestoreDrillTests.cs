using Npgsql;
using RestoreOps.Backups;
using RestoreOps.Checks;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Restore;

/// <summary>Drills against real backups: every flavour restores, PITR lands exactly, failures are named, nothing is left behind.</summary>
[Collection("backups")]
public sealed class RestoreDrillTests(BackupFixtures fx)
{
    private const int AllRows = F.RowsAtBackup + F.RowsBeforeTarget + F.RowsAfterTarget;
    private const int RowsAtTarget = F.RowsAtBackup + F.RowsBeforeTarget;

    private static RestoreCheck[] ExpectRows(int rows, int afterTarget) =>
    [
        new ConnectivityCheck("shop", TimeSpan.FromSeconds(10)),
        new RowCountCheck("shop", "public.orders", rows, rows),
        new SqlScalarCheck("rows after the target", "shop", "select count(*) from orders where batch = 'after-target'", afterTarget.ToString()),
        new RowCountCheck("shop", "public.archived_orders", F.RowsInTablespace, F.RowsInTablespace),
    ];

    private async Task<(DrillRecord Record, LocalRestore Restore)> DrillAsync(Func<CancellationToken, Task<Backup>> discover, RecoveryTarget target,
        IReadOnlyList<RestoreCheck> checks, LocalRestoreOptions? options = null, IProgress<DrillProgress>? progress = null, CancellationToken ct = default)
    {
        LocalRestore? restore = null;
        var record = await DrillRunner.RunAsync(new DrillOptions
        {
            DiscoverBackup = discover,
            RecoveryTarget = target,
            Checks = checks,
            Restore = options ?? fx.RestoreOptions(),
        }, progress, ct, r => restore = r);
        return (record, restore!);
    }

    private Func<CancellationToken, Task<Backup>> Latest(string server, RestoreOps.ObjectStoreOptions? options = null) => async ct =>
    {
        using var catalog = BarmanCloudCatalog.Create(F.DestinationPath, server, options ?? fx.S3.Options);
        return await catalog.GetLatestAsync(ct);
    };

    [Theory]
    [InlineData("plain", "none")]
    [InlineData("gzip", "gzip")]
    [InlineData("bzip2", "bzip2")]
    public async Task Barman_backup_of_each_compression_restores_to_the_end_of_the_archive(string server, string compression)
    {
        var (record, restore) = await DrillAsync(Latest(server), RecoveryTarget.Latest, ExpectRows(AllRows, F.RowsAfterTarget));

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Equal(fx.BackupIds[server], record.Backup!.Id);
        var backup = await Latest(server)(default);
        Assert.Contains(backup.Location.DataObjects, k => System.Text.RegularExpressions.Regex.IsMatch(k, @"/\d+\.tar(\.gz|\.bz2)?$"));
        if (server == "plain") Assert.Contains(backup.Location.DataObjects, k => k.EndsWith("/data_0001.tar", StringComparison.Ordinal));
        Assert.Equal(compression, record.Backup.Compression);
        Assert.All(record.Checks, c => Assert.Equal(CheckStatus.Passed, c.Status));
        Assert.True(restore.Prefetcher!.FilesFetched > 0);
        Assert.Equal(2, restore.Cluster.Timeline);
        Assert.True(record.Cleanup.Succeeded);
        Assert.NotNull(record.RestoreDuration);
        foreach (var phase in new[] { DrillPhase.Download, DrillPhase.BaseRestore, DrillPhase.WalReplay, DrillPhase.Ready, DrillPhase.Checks, DrillPhase.Cleanup })
            Assert.Contains(record.Phases, p => p.Phase == phase && p.Succeeded);
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task Pg_basebackup_tar_with_wal_directory_restores()
    {
        var (record, restore) = await DrillAsync(ct => LocalBackupCatalog.ReadBaseBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, ct),
            RecoveryTarget.Latest, ExpectRows(AllRows, F.RowsAfterTarget));

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Equal("pg_basebackup", record.Backup!.Method);
        Assert.Equal("fixture", record.Backup.Name);
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task Pg_basebackup_with_its_own_wal_restores_without_an_archive()
    {
        // -X fetch put the backup's WAL in base.tar: no archive needed, and the restore is the backup's moment.
        var (record, restore) = await DrillAsync(ct => LocalBackupCatalog.ReadBaseBackupAsync(fx.BaseBackupDirectory, null, ct),
            RecoveryTarget.Latest, ExpectRows(F.RowsAtBackup, 0));

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Null(restore.Prefetcher);
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task Pg_dump_restores_into_a_fresh_instance()
    {
        var (record, restore) = await DrillAsync(ct => LocalBackupCatalog.ReadDumpAsync(fx.DumpFile, ct),
            RecoveryTarget.Latest, ExpectRows(AllRows, F.RowsAfterTarget));

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Equal("pg_dump", record.Backup!.Method);
        Assert.Equal("shop", record.Backup.Name);
        Leftovers.AssertNone(restore);
    }

    public static TheoryData<string> Targets => new() { "time", "lsn", "name", "xid" };

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Point_in_time_restore_yields_exactly_the_rows_before_the_target(string kind)
    {
        var target = kind switch
        {
            "time" => RecoveryTarget.AtTime(fx.TargetTime),
            "lsn" => RecoveryTarget.AtLsn(fx.TargetLsn),
            "name" => RecoveryTarget.AtRestorePoint(F.RestorePoint),
            _ => RecoveryTarget.AtXid(fx.TargetXid),
        };
        var (record, restore) = await DrillAsync(Latest("gzip"), target, ExpectRows(RowsAtTarget, 0));

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Equal(target.ToString(), record.RecoveryTarget);
        Assert.NotNull(record.AchievedRecoveryTime);
        Assert.True(record.AchievedRecoveryTime <= fx.TargetTime, $"achieved {record.AchievedRecoveryTime:O} is after the target {fx.TargetTime:O}");
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task Point_in_time_restore_of_a_pg_basebackup()
    {
        var (record, _) = await DrillAsync(ct => LocalBackupCatalog.ReadBaseBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, ct),
            RecoveryTarget.AtTime(fx.TargetTime), ExpectRows(RowsAtTarget, 0));

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
    }

    [Fact]
    public async Task Newest_done_backup_is_chosen_over_a_newer_failed_one()
    {
        using var catalog = BarmanCloudCatalog.Create(F.DestinationPath, "gzip", fx.S3.Options);
        var all = await catalog.ListAsync(includeUnusable: true);
        var latest = await catalog.GetLatestAsync();

        Assert.Equal(fx.BackupIds["gzip"], latest.Id);
        var failed = Assert.Single(all, b => b.Status == BackupStatus.Failed);
        Assert.True(string.CompareOrdinal(failed.Id, latest.Id) > 0, "the FAILED backup must be the newer one for this test to mean anything");
        Assert.Contains("snappy", failed.Error);
        Assert.DoesNotContain(await catalog.ListAsync(), b => b.Status != BackupStatus.Done);
    }

    [Fact]
    public async Task Checks_that_do_not_hold_fail_the_drill()
    {
        var (record, restore) = await DrillAsync(Latest("gzip"), RecoveryTarget.AtTime(fx.TargetTime), ExpectRows(AllRows, F.RowsAfterTarget));

        Assert.Equal(DrillVerdict.Failed, record.Verdict);
        Assert.Equal(DrillFailureCategory.Checks, record.FailureCategory);
        var rows = Assert.Single(record.Checks, c => c.Name == "rows public.orders");
        Assert.Equal(CheckStatus.Failed, rows.Status);
        Assert.Equal(RowsAtTarget.ToString(), rows.Actual);
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task Truncated_data_tar_fails_with_a_message_naming_it()
    {
        await fx.S3.CopyPrefixAsync("pg/plain/", "pg/plain-truncated/", transform: (key, body) =>
            key.EndsWith("/data.tar", StringComparison.Ordinal) ? body[..(body.Length / 2)] : body);

        var (record, restore) = await DrillAsync(Latest("plain-truncated"), RecoveryTarget.Latest, ExpectRows(AllRows, F.RowsAfterTarget));

        Assert.Equal(DrillVerdict.Failed, record.Verdict);
        Assert.Equal(DrillFailureCategory.Restore, record.FailureCategory);
        Assert.Equal(DrillPhase.Download, record.FailedPhase);
        Assert.Contains("data.tar", record.FailureMessage);
        Assert.Contains("truncated", record.FailureMessage);
        Assert.Empty(record.Checks);
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task Zero_byte_data_tar_fails_with_a_message_naming_it()
    {
        await fx.S3.CopyPrefixAsync("pg/gzip/", "pg/gzip-empty/", include: key => !key.Contains(fx.FailedBackupId),
            transform: (key, body) => key.EndsWith("/data.tar.gz", StringComparison.Ordinal) ? [] : body);

        var (record, restore) = await DrillAsync(Latest("gzip-empty"), RecoveryTarget.Latest, ExpectRows(AllRows, F.RowsAfterTarget));

        Assert.Equal(DrillVerdict.Failed, record.Verdict);
        Assert.Equal(DrillPhase.Download, record.FailedPhase);
        Assert.Contains("data.tar.gz", record.FailureMessage);
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task Missing_wal_segment_after_the_backup_fails_instead_of_promoting_early()
    {
        var latest = await Latest("gzip")(default);
        var end = RestoreOps.Wal.WalFileName.Parse(latest.EndWal!);
        var dropped = RestoreOps.Wal.WalFileName.FromSegmentNumber(end.Timeline, end.SegmentNumber() + 1).ToString();
        var copied = await fx.S3.CopyPrefixAsync("pg/gzip/", "pg/gzip-gap/", include: key => !key.Contains(fx.FailedBackupId),
            transform: (key, body) => key.Contains($"/{dropped}.gz", StringComparison.Ordinal) ? null : body);
        Assert.True(copied > 3);

        var (record, restore) = await DrillAsync(Latest("gzip-gap"), RecoveryTarget.Latest, ExpectRows(AllRows, F.RowsAfterTarget));

        Assert.Equal(DrillVerdict.Failed, record.Verdict);
        Assert.Equal(DrillFailureCategory.Restore, record.FailureCategory);
        Assert.Contains(dropped, record.FailureMessage);
        Assert.Contains("gap", record.FailureMessage);
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task Missing_wal_segment_inside_the_backup_makes_it_unrestorable()
    {
        var latest = await Latest("plain")(default);
        await fx.S3.CopyPrefixAsync("pg/plain/", "pg/plain-nobegin/",
            transform: (key, body) => key.EndsWith("/" + latest.BeginWal, StringComparison.Ordinal) ? null : body);

        var (record, restore) = await DrillAsync(Latest("plain-nobegin"), RecoveryTarget.Latest, ExpectRows(AllRows, F.RowsAfterTarget));

        Assert.Equal(DrillVerdict.Failed, record.Verdict);
        Assert.Contains(latest.BeginWal!, record.FailureMessage);
        Assert.Contains("consistent", record.FailureMessage);
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task Target_beyond_the_archived_wal_fails_naming_the_end_of_the_archive()
    {
        var (record, restore) = await DrillAsync(Latest("gzip"), RecoveryTarget.AtTime(DateTimeOffset.UtcNow.AddHours(1)), ExpectRows(AllRows, 0));

        Assert.Equal(DrillVerdict.Failed, record.Verdict);
        Assert.Equal(DrillPhase.WalReplay, record.FailedPhase);
        Assert.Contains("end of the archived WAL", record.FailureMessage);
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task Target_time_before_the_backup_ended_is_refused_with_the_reason()
    {
        var backup = await Latest("gzip")(default);
        var (record, _) = await DrillAsync(_ => Task.FromResult(backup), RecoveryTarget.AtTime(backup.EndTime!.Value.AddMinutes(-5)), ExpectRows(AllRows, 0));

        Assert.NotEqual(DrillVerdict.Passed, record.Verdict);
        Assert.Equal(DrillFailureCategory.Configuration, record.FailureCategory);
        Assert.Contains("before backup", record.FailureMessage);
        Assert.Contains("older", record.FailureMessage);
    }

    [Fact]
    public async Task Wrong_s3_credentials_fail_with_a_message_naming_them_and_not_the_secret()
    {
        const string secret = "not-the-real-secret-4711";
        var wrong = fx.S3.Options with { AccessKeyId = "NOT-A-KEY", SecretAccessKey = secret };
        var (record, restore) = await DrillAsync(Latest("gzip", wrong), RecoveryTarget.Latest, ExpectRows(AllRows, 0), fx.RestoreOptions(wrong));

        Assert.Equal(DrillVerdict.Error, record.Verdict);
        Assert.Equal(DrillFailureCategory.Infrastructure, record.FailureCategory);
        Assert.Equal(DrillPhase.Discover, record.FailedPhase);
        Assert.Contains("credentials", record.FailureMessage);
        Assert.DoesNotContain(secret, RestoreOps.Evidence.DrillRecordJson.Serialize(record));
        Assert.Null(restore);
    }

    [Fact]
    public async Task Cancelling_during_replay_stops_and_removes_everything()
    {
        // Hold every segment after the backup's end, so the server cannot finish recovery (PostgreSQL 15 even
        // reads ahead into them before it declares consistency); cancel once the server has started.
        var backup = await Latest("bzip2")(default);
        var end = RestoreOps.Wal.WalFileName.Parse(backup.EndWal!);
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress(p => { if (p.Phase == DrillPhase.WalReplay && p.Status?.StartsWith("postgres pid", StringComparison.Ordinal) == true) cts.Cancel(); });
        var options = new LocalRestoreOptions
        {
            WorkRoot = fx.WorkRoot,
            ObjectStore = fx.S3.Options,
            ReadyTimeout = TimeSpan.FromSeconds(60),
            WrapWalArchive = archive => new HeldWalArchive(archive, name => RestoreOps.Wal.WalFileName.TryParse(name, out var w) && w.CompareTo(end) > 0),
        };

        var (record, restore) = await DrillAsync(_ => Task.FromResult(backup), RecoveryTarget.Latest, ExpectRows(AllRows, F.RowsAfterTarget), options, progress, cts.Token);

        Assert.True(record.FailureCategory == DrillFailureCategory.Cancelled, record.FailureMessage);
        Assert.Equal(DrillVerdict.Error, record.Verdict);
        Assert.Equal(DrillPhase.WalReplay, record.FailedPhase);
        Assert.True(record.Cleanup.Succeeded, string.Join("; ", record.Cleanup.Problems));
        Assert.Contains(record.Cleanup.Removed, r => r.StartsWith("postgres pid", StringComparison.Ordinal));
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task A_wal_fetch_that_fails_once_is_retried_and_the_drill_passes()
    {
        var backup = await Latest("gzip")(default);
        var attempts = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var options = new LocalRestoreOptions
        {
            WorkRoot = fx.WorkRoot,
            ObjectStore = fx.S3.Options,
            ReadyTimeout = TimeSpan.FromMinutes(3),
            WrapWalArchive = archive => new FailingOnceWalArchive(archive, attempts),
        };

        var (record, restore) = await DrillAsync(_ => Task.FromResult(backup), RecoveryTarget.Latest, ExpectRows(AllRows, F.RowsAfterTarget), options);

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.NotEmpty(attempts);
        Assert.All(attempts.Values, n => Assert.Equal(2, n));
        Assert.Equal(0, restore.Prefetcher!.FilesFailed);
        Leftovers.AssertNone(restore);
    }

    /// <summary>Every segment's first fetch breaks off as a dropped connection would; the second succeeds.</summary>
    private sealed class FailingOnceWalArchive(RestoreOps.Wal.IWalArchive inner, System.Collections.Concurrent.ConcurrentDictionary<string, int> attempts) : RestoreOps.Wal.IWalArchive
    {
        public string Description => inner.Description;
        public Task<IReadOnlyList<RestoreOps.Wal.WalArchiveFile>> ListAsync(RestoreOps.Wal.WalFileName from, CancellationToken ct) => inner.ListAsync(from, ct);
        public Task<Stream> OpenAsync(RestoreOps.Wal.WalArchiveFile file, CancellationToken ct) =>
            attempts.AddOrUpdate(file.Name, 1, (_, n) => n + 1) == 1
                ? throw new IOException($"connection reset while fetching {file.Name}")
                : inner.OpenAsync(file, ct);
    }

    /// <summary>A WAL archive that never delivers the files <paramref name="hold"/> names (until cancelled).</summary>
    private sealed class HeldWalArchive(RestoreOps.Wal.IWalArchive inner, Func<string, bool> hold) : RestoreOps.Wal.IWalArchive
    {
        public string Description => inner.Description;
        public Task<IReadOnlyList<RestoreOps.Wal.WalArchiveFile>> ListAsync(RestoreOps.Wal.WalFileName from, CancellationToken ct) => inner.ListAsync(from, ct);
        public async Task<Stream> OpenAsync(RestoreOps.Wal.WalArchiveFile file, CancellationToken ct)
        {
            if (hold(file.Name)) await Task.Delay(Timeout.Infinite, ct);
            return await inner.OpenAsync(file, ct);
        }
    }

    [Fact]
    public async Task Restored_instance_listens_on_loopback_only_and_needs_the_generated_password()
    {
        LocalRestore? restore = null;
        try
        {
            var backup = await Latest("gzip")(default);
            restore = LocalRestore.Create(backup, RecoveryTarget.Immediate, fx.RestoreOptions(), DrillRunner.NewDrillId());
            await restore.RunAsync(null, default);
            // Restored data, spooled WAL and logs are the database's content: no other local user may read them.
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(restore.Cluster.WorkDirectory!));

            var withPassword = restore.ClientConnectionString("shop");
            await using (var ok = new NpgsqlConnection(withPassword.ConnectionString))
            {
                await ok.OpenAsync();
                await using var cmd = new NpgsqlCommand("select inet_server_addr()::text, current_setting('archive_mode'), current_setting('listen_addresses')", ok);
                await using var r = await cmd.ExecuteReaderAsync();
                await r.ReadAsync();
                Assert.Equal("127.0.0.1/32", r.GetString(0));
                Assert.Equal("off", r.GetString(1));
                Assert.Equal("127.0.0.1", r.GetString(2));
            }
            var wrong = restore.ClientConnectionString("shop");
            wrong.Password = "guess";
            var e = await Assert.ThrowsAsync<PostgresException>(async () =>
            {
                await using var c = new NpgsqlConnection(wrong.ConnectionString);
                await c.OpenAsync();
            });
            Assert.Equal("28P01", e.SqlState);
            Assert.DoesNotContain(withPassword.Password!, restore.Cluster.Connection!.ToString());
        }
        finally
        {
            if (restore is not null)
            {
                Assert.True((await restore.RemoveAsync()).Succeeded);
                Leftovers.AssertNone(restore);
            }
        }
    }

    [Theory]
    [InlineData("barman")]
    [InlineData("pg_basebackup")]
    public async Task Tablespaces_are_restored_inside_the_work_directory_never_at_the_source_path(string flavour)
    {
        var before = Directory.GetFileSystemEntries(fx.TablespaceDirectory, "*", SearchOption.AllDirectories).Length;
        var backup = flavour == "barman" ? await Latest("gzip")(default) : await LocalBackupCatalog.ReadBaseBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, default);
        var restore = LocalRestore.Create(backup, RecoveryTarget.Latest, fx.RestoreOptions(), DrillRunner.NewDrillId());
        try
        {
            await restore.RunAsync(null, default);
            await using var c = new NpgsqlConnection(restore.AdminConnectionString("shop").ConnectionString);
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand("select pg_tablespace_location(oid) from pg_tablespace where spcname = 'archive'", c);
            var location = (string)(await cmd.ExecuteScalarAsync())!;
            Assert.StartsWith(restore.Cluster.WorkDirectory!, location);
            await using var count = new NpgsqlCommand("select count(*) from archived_orders", c);
            Assert.Equal((long)F.RowsInTablespace, await count.ExecuteScalarAsync());
            Assert.Equal(before, Directory.GetFileSystemEntries(fx.TablespaceDirectory, "*", SearchOption.AllDirectories).Length);
        }
        finally
        {
            Assert.True((await restore.RemoveAsync()).Succeeded);
            Leftovers.AssertNone(restore);
        }
    }

    /// <summary>Progress reported inline (Progress&lt;T&gt; would post to the thread pool, after the moment has passed).</summary>
    private sealed class SyncProgress(Action<DrillProgress> onReport) : IProgress<DrillProgress>
    {
        public void Report(DrillProgress value) => onReport(value);
    }
}
