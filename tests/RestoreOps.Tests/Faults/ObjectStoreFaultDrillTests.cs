using System.Globalization;
using System.Text;
using RestoreOps.Backups;
using RestoreOps.Checks;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.ObjectStore;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Restore;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Faults;

/// <summary>
/// Whole drills of the real Barman backups with the object store behind <see cref="FaultProxy"/>: a fault of the store
/// is an infrastructure error naming the object and the endpoint (never a hang, never a verdict on the backup), a
/// fault the reader can heal does not fail the drill, and a damaged stored object fails it, named.
/// </summary>
[Collection("backups")]
public sealed class ObjectStoreFaultDrillTests(BackupFixtures fx) : IAsyncLifetime
{
    private const int AllRows = F.RowsAtBackup + F.RowsBeforeTarget + F.RowsAfterTarget;
    private FaultProxy _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = new FaultProxy(fx.S3.Endpoint);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    /// <summary>The store through the proxy, with the read timeout lowered to 2 s and quick retries.</summary>
    private ObjectStoreOptions ThroughProxy => _proxy.Options(fx.S3.Options) with
    {
        ReadInactivityTimeout = TimeSpan.FromSeconds(2),
        ReadAttempts = 3,
        RetryDelay = TimeSpan.FromMilliseconds(50),
    };

    /// <summary>
    /// Drills the newest backup of <paramref name="server"/> (found directly in s3rver; the restore reads through
    /// <paramref name="store"/>). The guard turns a hang into a cancelled drill, so a regression fails instead of waiting.
    /// </summary>
    private async Task<(DrillRecord Record, LocalRestore? Restore)> DrillAsync(string server, ObjectStoreOptions store)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        LocalRestore? restore = null;
        var record = await DrillRunner.RunAsync(new DrillOptions
        {
            DiscoverBackup = async ct =>
            {
                using var catalog = BarmanCloudCatalog.Create(F.DestinationPath, server, fx.S3.Options);
                return await catalog.GetLatestAsync(ct);
            },
            RecoveryTarget = RecoveryTarget.Latest,
            Checks =
            [
                new ConnectivityCheck("shop", TimeSpan.FromSeconds(10)),
                new RowCountCheck("shop", "public.orders", AllRows, AllRows),
                new RowCountCheck("shop", "public.archived_orders", F.RowsInTablespace, F.RowsInTablespace),
            ],
            Restore = fx.RestoreOptions(store),
        }, null, guard.Token, r => restore = r);
        return (record, restore);
    }

    private static bool IsDataPart1(string key) => key.StartsWith("pg/plain/", StringComparison.Ordinal) && key.EndsWith("/data_0001.tar", StringComparison.Ordinal);

    [Fact]
    public async Task A_stalled_base_archive_is_an_infrastructure_error_naming_object_and_endpoint()
    {
        var rule = _proxy.Add(new FaultRule { Key = IsDataPart1, StallAt = 1_000_000 });

        var (record, restore) = await DrillAsync("plain", ThroughProxy);

        Assert.True(rule.Fired.Task.IsCompletedSuccessfully, "the proxy never stalled data_0001.tar");
        Assert.Equal(DrillVerdict.Error, record.Verdict);
        Assert.True(record.FailureCategory == DrillFailureCategory.Infrastructure, $"{record.FailureCategory}: {record.FailureMessage}");
        Assert.Equal(DrillPhase.Download, record.FailedPhase);
        Assert.Matches(@"s3://backups/pg/plain/base/[^ ]+/data_0001\.tar", record.FailureMessage);
        Assert.Contains(_proxy.Endpoint, record.FailureMessage);
        Assert.Contains("no data for 2 s", record.FailureMessage);
        Assert.Empty(record.Checks);
        Leftovers.AssertNone(restore!);
    }

    [Fact]
    public async Task A_stalled_wal_object_is_an_infrastructure_error_naming_the_wal_object_and_endpoint()
    {
        // The first segment replay asks for: the one the backup starts in.
        using var catalog = BarmanCloudCatalog.Create(F.DestinationPath, "plain", fx.S3.Options);
        var backup = await catalog.GetLatestAsync();
        var wal = backup.BeginWal!;
        var rule = _proxy.Add(new FaultRule { Key = k => k == $"pg/plain/wals/{wal[..16]}/{wal}", StallAt = 8192 });

        var (record, restore) = await DrillAsync("plain", ThroughProxy);

        Assert.True(rule.Fired.Task.IsCompletedSuccessfully, $"the proxy never stalled {wal}");
        Assert.Equal(DrillVerdict.Error, record.Verdict);
        Assert.True(record.FailureCategory == DrillFailureCategory.Infrastructure, $"{record.FailureCategory}: {record.FailureMessage}");
        Assert.Equal(DrillPhase.WalReplay, record.FailedPhase);
        Assert.Contains($"s3://backups/pg/plain/wals/{wal[..16]}/{wal}", record.FailureMessage);
        Assert.Contains(_proxy.Endpoint, record.FailureMessage);
        Assert.Contains("no data for 2 s", record.FailureMessage);
        Assert.DoesNotContain("last error: none", record.FailureMessage);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(record.FailureMessage!.Split('\n')[0], "Fix:"));
        Leftovers.AssertNone(restore!);
    }

    [Fact]
    public async Task A_reset_mid_base_archive_is_resumed_with_a_range_request_and_the_drill_passes()
    {
        var rule = _proxy.Add(new FaultRule { Key = IsDataPart1, ResetAt = 2_000_000, Times = 1 });

        var (record, restore) = await DrillAsync("plain", ThroughProxy);

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Equal(2_000_000, await rule.Fired.Task);
        var reads = _proxy.Requests.Where(r => r.Key is { } k && IsDataPart1(k)).ToList();
        Assert.Equal(2, reads.Count);
        Assert.Equal("reset", reads[0].Fault);
        Assert.Matches(@"^bytes=\d+-\d+$", reads[1].Range);
        Assert.True(long.Parse(reads[1].Range![6..reads[1].Range!.IndexOf('-')], CultureInfo.InvariantCulture) > 0, reads[1].Range);
        Assert.Equal(206, reads[1].Status);
        Leftovers.AssertNone(restore!);
    }

    [Fact]
    public async Task A_burst_of_503s_on_every_object_is_retried_and_the_drill_passes()
    {
        // Four 503s per object: one more than the SDK's own three attempts, for the base archives and every WAL segment.
        var rule = _proxy.Add(new FaultRule { Key = k => k.StartsWith("pg/plain/", StringComparison.Ordinal), Status503 = 4 });

        var (record, restore) = await DrillAsync("plain", ThroughProxy with { ReadAttempts = 4 });

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        var dataParts = _proxy.Requests.Where(r => r.Key is { } k && k.EndsWith(".tar", StringComparison.Ordinal)).Select(r => r.Key).Distinct().Count();
        Assert.True(dataParts >= 2, $"{dataParts} archives read");
        Assert.True(rule.Hits >= 4 * (dataParts + 1), $"{rule.Hits} 503s served");
        Leftovers.AssertNone(restore!);
    }

    [Fact]
    public async Task Flipped_bytes_in_a_stored_base_archive_fail_the_drill_naming_the_object()
    {
        await fx.S3.CopyPrefixAsync("pg/plain/", "pg/plain-rot/");
        using var catalog = BarmanCloudCatalog.Create(F.DestinationPath, "plain-rot", fx.S3.Options);
        var backup = await catalog.GetLatestAsync();
        var key = backup.Location.DataObjects.Single(k => k.EndsWith("/data_0001.tar", StringComparison.Ordinal));
        // Two bytes inside the largest file's data, not in a tar header: the tar reader cannot notice them, only the
        // checksum the store recorded at upload (the ETag) can. The ETag and length stay as they were.
        var file = fx.S3.StoredObjectFile(key);
        var offset = MiddleOfLargestMember(file);
        await using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
        {
            var two = new byte[2];
            stream.Position = offset;
            await stream.ReadExactlyAsync(two);
            two[0] ^= 0x5A;
            two[1] ^= 0xA5;
            stream.Position = offset;
            await stream.WriteAsync(two);
        }

        var (record, restore) = await DrillAsync("plain-rot", fx.S3.Options);

        Assert.Equal(DrillVerdict.Failed, record.Verdict);
        Assert.True(record.FailureCategory == DrillFailureCategory.Restore, $"{record.FailureCategory}: {record.FailureMessage}");
        Assert.Equal(DrillPhase.Download, record.FailedPhase);
        Assert.Contains($"s3://backups/{key}", record.FailureMessage);
        Assert.Contains(fx.S3.Endpoint, record.FailureMessage);
        Assert.Contains("is damaged", record.FailureMessage);
        Assert.Contains("ETag", record.FailureMessage);
        Leftovers.AssertNone(restore!);
    }

    /// <summary>The offset of the middle of the largest regular file's data in a tar file.</summary>
    private static long MiddleOfLargestMember(string tarFile)
    {
        using var stream = File.OpenRead(tarFile);
        var header = new byte[512];
        long position = 0, best = -1, bestSize = 0;
        while (position + 512 <= stream.Length)
        {
            stream.Position = position;
            stream.ReadExactly(header);
            if (header.All(b => b == 0)) break;
            var sizeText = Encoding.ASCII.GetString(header, 124, 12).Trim('\0', ' ');
            var size = sizeText.Length == 0 ? 0 : Convert.ToInt64(sizeText, 8);
            var type = (char)header[156];
            if ((type is '0' or '\0') && size > bestSize)
            {
                bestSize = size;
                best = position + 512 + size / 2;
            }
            position += 512 + (size + 511) / 512 * 512;
        }
        Assert.True(best > 0, $"no regular file found in {tarFile}");
        return best;
    }
}
