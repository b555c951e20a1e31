using System.Diagnostics;
using System.Globalization;
using Amazon.S3.Model;
using RestoreOps.Backups;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Processes;

namespace RestoreOps.Benchmarks;

/// <summary>One timed restore: total seconds to ready, and (for RestoreOps) its phases.</summary>
internal sealed record RestoreSample(string Variant, int Segments, string Compression, int Run, double Seconds, string Phases);

/// <summary>
/// The three ways to get from a Barman Cloud backup to a promoted server, each verified to hold every row:
/// (a) RestoreOps; (b) barman-cloud-restore with restore_command = barman-cloud-wal-restore, as CNPG's
/// instance manager does with maxParallel 1; (c) the floor: the same objects fetched with plain parallel
/// GETs, untarred with GNU tar, replayed with cp as restore_command.
/// </summary>
internal static class RestoreVariants
{
    public static async Task<RestoreSample> RestoreOpsAsync(BenchSource src, string server, int run, CancellationToken ct)
    {
        using var catalog = BarmanCloudCatalog.Create(BenchSource.Destination, server, src.S3.Options);
        var backup = await catalog.GetLatestAsync(ct);
        var clock = Stopwatch.StartNew();
        var restore = LocalRestore.Create(backup, RecoveryTarget.Latest,
            new LocalRestoreOptions { WorkRoot = src.WorkRoot, ObjectStore = src.S3.Options, WalParallelism = 8 }, DrillRunner.NewDrillId());
        try
        {
            await restore.RunAsync(null, ct);
            var seconds = clock.Elapsed.TotalSeconds;
            await VerifyAsync(src, restore.Instance!);
            var phases = string.Join(";", restore.Cluster.Phases.Select(p => $"{p.Phase}={p.Duration.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture)}"));
            return new RestoreSample("restoreops", src.Segments, server, run, seconds, phases);
        }
        finally
        {
            await restore.RemoveAsync();
        }
    }

    public static async Task<RestoreSample> BarmanAsync(BenchSource src, string server, int run, CancellationToken ct)
    {
        using var catalog = BarmanCloudCatalog.Create(BenchSource.Destination, server, src.S3.Options);
        var backup = await catalog.GetLatestAsync(ct);
        var work = Path.Combine(src.WorkRoot, $"barman-{server}-{run}-{Guid.NewGuid():N}"[..40]);
        var clock = Stopwatch.StartNew();
        var (data, run_, log) = LocalInstance.CreateLayout(src.Account, work);
        Directory.Delete(data);   // barman-cloud-restore wants to create it
        await CommandRunner.RunCheckedAsync("barman-cloud-restore", "barman-cloud-restore",
            ["--endpoint-url", src.S3.Endpoint, BenchSource.Destination, server, backup.Id, data], src.Account, src.AwsEnvironment, ct);
        var seconds = await ReplayAsync(src, work, (data, run_, log),
            $"barman-cloud-wal-restore --endpoint-url {src.S3.Endpoint} {BenchSource.Destination} {server} %f %p", src.AwsEnvironment, clock, ct);
        return new RestoreSample("barman", src.Segments, server, run, seconds, "");
    }

    public static async Task<RestoreSample> FloorAsync(BenchSource src, string server, int run, CancellationToken ct)
    {
        using var catalog = BarmanCloudCatalog.Create(BenchSource.Destination, server, src.S3.Options);
        var backup = await catalog.GetLatestAsync(ct);
        var work = Path.Combine(src.WorkRoot, $"floor-{server}-{run}-{Guid.NewGuid():N}"[..40]);
        var clock = Stopwatch.StartNew();
        var (data, socket, log) = LocalInstance.CreateLayout(src.Account, work);
        var wal = src.Account.CreateDirectory(Path.Combine(work, "wal"), (UnixFileMode)0b111_101_101);
        var fetched = Path.Combine(work, "base");
        Directory.CreateDirectory(fetched);

        using var s3 = src.S3.CreateClient();
        var prefix = $"bench/{server}/";
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = S3rverServerBucket, Prefix = prefix + "wals/" };
        do
        {
            var page = await s3.ListObjectsV2Async(request, ct);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (request.ContinuationToken is not null);
        var downloads = keys.Where(k => !k.Contains(".backup", StringComparison.Ordinal))
            .Select(k => (Key: k, Path: Path.Combine(wal, Path.GetFileName(k).Replace(".gz", "", StringComparison.Ordinal)), Gunzip: k.EndsWith(".gz", StringComparison.Ordinal)))
            .Concat(backup.Location.DataObjects.Select(k => (Key: k, Path: Path.Combine(fetched, Path.GetFileName(k)), Gunzip: false)))
            .ToList();
        await Parallel.ForEachAsync(downloads, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (d, token) =>
        {
            using var response = await s3.GetObjectAsync(S3rverServerBucket, d.Key, token);
            await using var output = File.Create(d.Path);
            Stream body = d.Gunzip ? new System.IO.Compression.GZipStream(response.ResponseStream, System.IO.Compression.CompressionMode.Decompress) : response.ResponseStream;
            await using (body) await body.CopyToAsync(output, token);
        });
        foreach (var archive in Directory.GetFiles(fetched))
            await CommandRunner.RunCheckedAsync("tar", "tar", ["-xf", archive, "-C", data], null, null, ct);
        src.Account.Own(data, recursive: true);
        src.Account.Own(wal, recursive: true);
        var seconds = await ReplayAsync(src, work, (data, socket, log), $"cp {wal}/%f %p", null, clock, ct);
        return new RestoreSample("floor", src.Segments, server, run, seconds, "");
    }

    /// <summary>Recovers an unpacked data directory with <paramref name="restoreCommand"/>; returns the clock at promotion, then verifies and removes it.</summary>
    private static async Task<double> ReplayAsync(BenchSource src, string work, (string Data, string Socket, string Log) layout, string restoreCommand,
        IReadOnlyDictionary<string, string?>? environment, Stopwatch clock, CancellationToken ct)
    {
        var signal = Path.Combine(layout.Data, "recovery.signal");
        File.WriteAllBytes(signal, []);
        src.Account.Own(signal);
        await using var instance = new LocalInstance(src.Binaries, src.Account, layout.Data, layout.Socket, layout.Log, LocalInstance.FreeLoopbackPort(), "postgres");
        await instance.StartAsync(new Dictionary<string, string>
        {
            ["archive_mode"] = "off",
            ["restore_command"] = restoreCommand,
            ["recovery_target_action"] = "promote",
        }, environment, ct);
        await WaitPromotedAsync(instance, ct);
        var seconds = clock.Elapsed.TotalSeconds;
        await VerifyAsync(src, instance);
        await instance.StopAsync();
        Directory.Delete(work, recursive: true);
        return seconds;
    }

    private const string S3rverServerBucket = RestoreOps.Tests.Fixtures.S3rverServer.Bucket;

    /// <summary>The same readiness rule for every variant: the server says it accepts connections and is out of recovery.</summary>
    private static Task WaitPromotedAsync(LocalInstance instance, CancellationToken ct) =>
        instance.PollAsync(async token =>
        {
            if (!instance.HasLogged(LocalInstance.LogMarker.Ready)) return false;
            return (bool?)await instance.ScalarAsync("postgres", "select not pg_is_in_recovery()", token) == true;
        }, TimeSpan.FromMinutes(30), "promote", ct);

    private static async Task VerifyAsync(BenchSource src, LocalInstance instance)
    {
        var rows = (long)(await instance.ScalarAsync("postgres", "select count(*) from events", CancellationToken.None, 600))!;
        if (rows != src.ExpectedRows)
            throw new InvalidOperationException($"restore holds {rows} rows, expected {src.ExpectedRows}: the measurement is void");
    }
}
