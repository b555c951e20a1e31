using RestoreOps.Automation;
using RestoreOps.Backups;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Tests.Automation;
using RestoreOps.Tests.Fixtures;
using Xunit;
using I = RestoreOps.Tests.Fixtures.IncidentFixtures;

namespace RestoreOps.Tests.Restore;

/// <summary>
/// The restore an incident needs: to a point in time that may lie before the newest backup, from the backup that can
/// reach it, fetching only the WAL replay needs although the archive holds much more after the point.
/// </summary>
[Collection("incident")]
public sealed class IncidentRestoreTests(IncidentFixtures fx)
{
    private DrillRequest Drill(RecoveryTarget target, int expectedRows) => new()
    {
        Source = BackupQuery.Barman(BackupFixtures.DestinationPath, I.Server, objectStore: fx.S3.Options),
        Restore = new RestoreRequest { Kind = RestoreTargetKind.Local, RecoveryTarget = target, WorkRoot = fx.WorkRoot, ObjectStore = fx.S3.Options, WalParallelism = 2 },
        Checks = new CheckSpec
        {
            Checks = [new System.Collections.Hashtable { ["kind"] = "row-count", ["name"] = "orders", ["table"] = "public.orders", ["exact"] = expectedRows }],
            Settings = new System.Collections.Hashtable { ["database"] = "shop" },
        },
        ReadyTimeout = TimeSpan.FromMinutes(3),
    };

    [Fact]
    public async Task A_time_between_two_backups_restores_from_the_older_and_says_why()
    {
        var run = await TestEngine.Shared.RunDrillAsync(Drill(RecoveryTarget.AtTime(fx.BetweenBackups), I.RowsAtFirstBackup + I.RowsBeforeBetween), null, CancellationToken.None);

        var record = run.Record;
        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Equal(fx.FirstBackupId, record.Backup!.Id);
        var discover = record.Phases.Single(p => p.Phase == DrillPhase.Discover);
        Assert.Contains($"backup {fx.FirstBackupId}", discover.Detail);
        Assert.Contains("newest that ended before the target time", discover.Detail);
        Assert.Contains("1 newer backup(s) ended after it", discover.Detail);
    }

    [Fact]
    public async Task A_time_after_the_newest_backup_restores_from_the_newest()
    {
        var run = await TestEngine.Shared.RunDrillAsync(Drill(RecoveryTarget.AtTime(fx.NearSecondBackup),
            I.RowsAtFirstBackup + I.RowsBeforeBetween + I.RowsAfterBetween + I.RowsBeforeNear), null, CancellationToken.None);

        Assert.True(run.Record.Verdict == DrillVerdict.Passed, run.Record.FailureMessage);
        Assert.Equal(fx.SecondBackupId, run.Record.Backup!.Id);
    }

    [Fact]
    public async Task A_time_before_every_backup_fails_naming_the_earliest_recoverable_point()
    {
        var run = await TestEngine.Shared.RunDrillAsync(Drill(RecoveryTarget.AtTime(fx.BeforeEverything), 0), null, CancellationToken.None);

        var record = run.Record;
        Assert.Equal(DrillVerdict.Error, record.Verdict);
        Assert.Equal(DrillFailureCategory.Configuration, record.FailureCategory);
        Assert.Equal(DrillPhase.Discover, record.FailedPhase);
        Assert.Contains($"The oldest, {fx.FirstBackupId}, ended at", record.FailureMessage);
        Assert.Contains("earliest point these backups can restore to", record.FailureMessage);
        Assert.DoesNotContain(record.Phases, p => p.Phase == DrillPhase.Download);
    }

    [Fact]
    public async Task A_named_backup_that_ended_after_the_target_is_refused_not_replaced()
    {
        // Naming a backup is a choice the engine must not override; the error says how to let it choose.
        var request = Drill(RecoveryTarget.AtTime(fx.BetweenBackups), 0);
        var named = new DrillRequest
        {
            Source = BackupQuery.Barman(BackupFixtures.DestinationPath, I.Server, fx.SecondBackupId, fx.S3.Options),
            Restore = request.Restore,
            Checks = request.Checks,
        };

        var run = await TestEngine.Shared.RunDrillAsync(named, null, CancellationToken.None);

        Assert.Equal(DrillVerdict.Error, run.Record.Verdict);
        Assert.Equal(fx.SecondBackupId, run.Record.Backup!.Id);
        Assert.Contains("a backup can only be rolled forward from its end", run.Record.FailureMessage);
    }

    [Fact]
    public async Task Wal_fetched_for_a_target_near_a_backup_stays_within_the_window_however_much_follows()
    {
        const int window = 3;
        using var catalog = BarmanCloudCatalog.Create(BackupFixtures.DestinationPath, I.Server, fx.S3.Options);
        var backup = await catalog.GetAsync(fx.SecondBackupId);
        var restore = LocalRestore.Create(backup, RecoveryTarget.AtTime(fx.NearSecondBackup),
            new LocalRestoreOptions { WorkRoot = fx.WorkRoot, ObjectStore = fx.S3.Options, WalParallelism = 2, WalWindow = window }, DrillRunner.NewDrillId());
        try
        {
            await restore.RunAsync(null, CancellationToken.None);
            var asked = AskedSegments(restore);

            // Replay needed a few segments; the archive holds SegmentsAfterNear more, none of which may be fetched past the window.
            Assert.InRange(asked.Count, 1, 6);
            Assert.True(restore.Prefetcher!.FilesFetched <= asked.Count + window,
                $"fetched {restore.Prefetcher.FilesFetched} WAL files for {asked.Count} asked ({string.Join(", ", asked)}) with a window of {window}");
            Assert.Equal(0, restore.Prefetcher.FilesFailed);
            Assert.True(restore.Prefetcher.FilesFetched < I.SegmentsAfterNear);
            await AssertRowsAsync(restore, I.RowsAtFirstBackup + I.RowsBeforeBetween + I.RowsAfterBetween + I.RowsBeforeNear);
        }
        finally
        {
            await restore.RemoveAsync();
        }
    }

    [Fact]
    public async Task Replay_to_the_end_deletes_what_it_moved_past_so_the_spool_stays_within_the_window()
    {
        const int window = 2;
        using var catalog = BarmanCloudCatalog.Create(BackupFixtures.DestinationPath, I.Server, fx.S3.Options);
        var backup = await catalog.GetAsync(fx.SecondBackupId);
        var restore = LocalRestore.Create(backup, RecoveryTarget.Latest,
            new LocalRestoreOptions { WorkRoot = fx.WorkRoot, ObjectStore = fx.S3.Options, WalParallelism = 2, WalWindow = window }, DrillRunner.NewDrillId());
        try
        {
            await restore.RunAsync(null, CancellationToken.None);

            var prefetcher = restore.Prefetcher!;
            // Every segment is needed to reach the end, and still the spool never held more than a window and the one being read.
            Assert.True(prefetcher.FilesFetched > I.SegmentsAfterNear, $"fetched {prefetcher.FilesFetched}");
            Assert.True(prefetcher.FilesDeleted >= prefetcher.FilesFetched - (window + 3), $"deleted {prefetcher.FilesDeleted} of {prefetcher.FilesFetched}");
            var left = Directory.EnumerateFiles(Path.Combine(restore.Cluster.WorkDirectory!, "wal-spool"))
                .Where(f => RestoreOps.Wal.WalFileName.TryParse(Path.GetFileName(f), out _)).ToList();
            Assert.True(left.Count <= window + 3, $"{left.Count} segments left in the spool: {string.Join(", ", left.Select(Path.GetFileName))}");
            await AssertRowsAsync(restore, I.RowsAtFirstBackup + I.RowsBeforeBetween + I.RowsAfterBetween + I.RowsBeforeNear + 10 + I.GoodRowsAroundBadChanges);
        }
        finally
        {
            await restore.RemoveAsync();
        }
    }

    /// <summary>The segments the server asked its restore_command for (the script marks each ask in the spool).</summary>
    private static List<string> AskedSegments(LocalRestore restore) =>
        Directory.EnumerateFiles(Path.Combine(restore.Cluster.WorkDirectory!, "wal-spool"), "*.asked")
            .Select(f => Path.GetFileNameWithoutExtension(f)!)
            .Where(n => RestoreOps.Wal.WalFileName.TryParse(n, out _)).Order(StringComparer.Ordinal).ToList();

    private static async Task AssertRowsAsync(LocalRestore restore, long expected)
    {
        await using var c = new Npgsql.NpgsqlConnection(restore.AdminConnectionString("shop").ConnectionString);
        await c.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("select count(*) from orders", c);
        Assert.Equal(expected, (long)(await cmd.ExecuteScalarAsync())!);
    }
}
