using System.Security.Cryptography;
using RestoreOps.Backups;
using RestoreOps.Checks;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Wal;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Restore;

/// <summary>
/// A restore to the end of the archive passes only if replay reached the newest archived segment. PostgreSQL takes an
/// unreadable segment in the middle of the archive as the end of WAL and promotes; these archives are real ones with
/// one segment replaced, and the checks are deliberately ones that a truncated restore would also pass.
/// </summary>
[Collection("backups")]
public sealed class ReplayCompletenessTests(BackupFixtures fx)
{
    // Only connectivity: a restore that silently stopped early passes this, so the verdict must come from replay itself.
    private static readonly RestoreCheck[] LenientChecks = [new ConnectivityCheck("shop", TimeSpan.FromSeconds(10))];

    private async Task<(DrillRecord Record, LocalRestore Restore)> DrillAsync(Func<CancellationToken, Task<Backup>> discover, RecoveryTarget target)
    {
        LocalRestore? restore = null;
        var record = await DrillRunner.RunAsync(new DrillOptions
        {
            DiscoverBackup = discover,
            RecoveryTarget = target,
            Checks = LenientChecks,
            Restore = fx.RestoreOptions(),
        }, null, CancellationToken.None, r => restore = r);
        return (record, restore!);
    }

    private Func<CancellationToken, Task<Backup>> Latest(string server) => async ct =>
    {
        using var catalog = BarmanCloudCatalog.Create(F.DestinationPath, server, fx.S3.Options);
        return await catalog.GetLatestAsync(ct);
    };

    /// <summary>A copy of the plain server's archive as <paramref name="server"/>, one WAL segment after the backup replaced by random bytes.</summary>
    private async Task<WalFileName> CopyWithGarbageAsync(string server)
    {
        var backup = await Latest("plain")(default);
        var damaged = MiddleSegment(backup, await WalObjectNamesAsync("pg/plain/wals/"));
        await fx.S3.CopyPrefixAsync("pg/plain/", $"pg/{server}/", include: k => !k.Contains("/base/", StringComparison.Ordinal) || k.Contains(backup.Id, StringComparison.Ordinal),
            transform: (key, body) => key.EndsWith("/" + damaged, StringComparison.Ordinal) ? RandomNumberGenerator.GetBytes(body.Length) : body);
        return damaged;
    }

    private async Task<List<string>> WalObjectNamesAsync(string prefix)
    {
        using var client = fx.S3.CreateClient();
        var names = new List<string>();
        var request = new Amazon.S3.Model.ListObjectsV2Request { BucketName = "backups", Prefix = prefix };
        Amazon.S3.Model.ListObjectsV2Response page;
        do
        {
            page = await client.ListObjectsV2Async(request);
            names.AddRange((page.S3Objects ?? []).Select(o => Path.GetFileName(o.Key)));
            request.ContinuationToken = page.NextContinuationToken;
        } while (page.IsTruncated == true);
        return names;
    }

    /// <summary>A segment after the backup's end, not the last one when there are more: damage there cuts the restore short.</summary>
    private static WalFileName MiddleSegment(Backup backup, IEnumerable<string> archived)
    {
        var end = WalFileName.Parse(backup.EndWal!);
        var after = archived.Select(n => WalFileName.TryParse(n, out var w) ? w : (WalFileName?)null).OfType<WalFileName>()
            .Where(w => w.Timeline == end.Timeline && w.CompareTo(end) > 0).Order().ToList();
        // Damage to the newest segment cuts the restore short just the same; a middle one is taken when there is one.
        Assert.True(after.Count >= 1, $"the fixture archived no WAL after {end}");
        return after.Count == 1 ? after[0] : after[^2];
    }

    [Fact]
    public async Task Garbage_in_a_barman_wal_segment_mid_archive_fails_the_drill_naming_where_replay_stopped()
    {
        var damaged = await CopyWithGarbageAsync("plain-garbage");

        var (record, restore) = await DrillAsync(Latest("plain-garbage"), RecoveryTarget.Latest);

        Assert.Equal(DrillVerdict.Failed, record.Verdict);
        Assert.Equal(DrillFailureCategory.Restore, record.FailureCategory);
        Assert.Equal(DrillPhase.WalReplay, record.FailedPhase);
        Assert.Contains("Replay stopped in WAL segment", record.FailureMessage);
        Assert.Contains("PostgreSQL said", record.FailureMessage);
        Assert.NotNull(record.PlannedReplayEndLsn);
        Assert.NotNull(record.ReplayEndLsn);
        Assert.True(Lsn.Parse(record.ReplayEndLsn!) < Lsn.Parse(record.PlannedReplayEndLsn!));
        // Replay ended before the damaged segment.
        Assert.True(Lsn.Parse(record.ReplayEndLsn!).Value <= damaged.SegmentNumber() * 16UL * 1024 * 1024);
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task A_wal_segment_from_another_database_system_mid_archive_fails_the_drill()
    {
        // Another system's real segment: initdb writes one, with its own system identifier.
        var root = Path.Combine(fx.WorkRoot, $"foreign-{Guid.NewGuid():N}"[..20]);
        var archive = Path.Combine(root, "wal");
        fx.Account.CreateDirectory(root, (UnixFileMode)0b111_000_000);
        try
        {
            var other = await LocalInstance.InitializeAsync(fx.Binaries, fx.Account, Path.Combine(root, "other"), "postgres", default);
            var foreign = Directory.GetFiles(Path.Combine(other.DataDirectory, "pg_wal")).Single(f => WalFileName.TryParse(Path.GetFileName(f), out _));
            var backup = await LocalBackupCatalog.ReadBaseBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, default);
            var damaged = MiddleSegment(backup, Directory.GetFiles(fx.WalArchiveDirectory).Select(Path.GetFileName)!);
            Directory.CreateDirectory(archive);
            foreach (var f in Directory.GetFiles(fx.WalArchiveDirectory))
                File.Copy(Path.GetFileName(f) == damaged.ToString() ? foreign : f, Path.Combine(archive, Path.GetFileName(f)));

            var (record, restore) = await DrillAsync(ct => LocalBackupCatalog.ReadBaseBackupAsync(fx.BaseBackupDirectory, archive, ct), RecoveryTarget.Latest);

            Assert.Equal(DrillVerdict.Failed, record.Verdict);
            Assert.Equal(DrillFailureCategory.Restore, record.FailureCategory);
            Assert.Contains("Replay stopped in WAL segment", record.FailureMessage);
            Assert.Contains("different database system", record.FailureMessage);
            Leftovers.AssertNone(restore);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task Damage_before_an_explicit_target_fails_because_the_target_was_never_reached()
    {
        var damaged = await CopyWithGarbageAsync("plain-garbage-pitr");

        // A time after the whole archive: the target lies beyond the damage whichever segment holds it.
        var (record, restore) = await DrillAsync(Latest("plain-garbage-pitr"), RecoveryTarget.AtLsn(new Lsn((damaged.SegmentNumber() + 1) * 16UL * 1024 * 1024 + 40).ToString()));

        Assert.Equal(DrillVerdict.Failed, record.Verdict);
        Assert.Equal(DrillFailureCategory.Restore, record.FailureCategory);
        Assert.Contains("before the recovery target", record.FailureMessage);
        Leftovers.AssertNone(restore);
    }

    [Fact]
    public async Task A_complete_restore_records_where_replay_had_to_end_and_where_it_did()
    {
        var (record, restore) = await DrillAsync(Latest("gzip"), RecoveryTarget.Latest);

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        var planned = Lsn.Parse(record.PlannedReplayEndLsn!);
        var replayed = Lsn.Parse(record.ReplayEndLsn!);
        Assert.True(replayed <= planned, $"{replayed} > {planned}");
        // Replay ended inside the newest archived segment.
        Assert.Equal((planned.Value - 1) / (16UL * 1024 * 1024), (replayed.Value - 1) / (16UL * 1024 * 1024));
        Leftovers.AssertNone(restore);
    }
}
