using System.Diagnostics;
using System.Globalization;
using Amazon.S3.Model;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Wal;

namespace RestoreOps.Benchmarks;

/// <summary>
/// Catalogue work: plan a restore's WAL set from a Barman server holding N WAL objects, against a bare paged
/// ListObjectsV2 of the same prefix (the least any client must do). The objects have Barman's names and layout
/// (wals/&lt;16 hex&gt;/&lt;24 hex&gt;.gz) but tiny bodies: listing cost does not depend on object size, and
/// archiving 20,000 real segments with barman-cloud-wal-archive would take hours here.
/// </summary>
internal static class CatalogueBenchmark
{
    public static async Task<string> RunAsync(int objects, int runs, TextWriter log, CancellationToken ct)
    {
        using var s3 = new S3rverServer();
        using var client = s3.CreateClient();
        const string prefix = "bench/catalogue/wals/";
        log.WriteLine($"catalogue: uploading {objects} WAL objects");
        var first = new WalFileName(1, 0, 1);
        var names = Enumerable.Range(0, objects).Select(i => WalFileName.FromSegmentNumber(1, (ulong)i + 1)).ToList();
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (w, token) =>
            await s3.PutAsync(client, $"{prefix}{w.HashDirectory}/{w}.gz", [0x1f]));

        var backup = new Backup
        {
            Id = "20261121T000000", SourceKind = BackupSourceKind.BarmanCloud, Source = "s3://backups/bench/catalogue", Method = "barman-cloud",
            BeginWal = first.ToString(), EndWal = first.ToString(), Timeline = 1, Location = new BackupLocation(),
        };
        var samples = new List<(string Variant, double Seconds, int Count)>();
        for (var run = 1; run <= runs + 1; run++)
        {
            // The first round warms up both paths (JIT, connections) and is not counted.
            foreach (var variant in run % 2 == 0 ? new[] { "restoreops", "bare" } : ["bare", "restoreops"])
            {
                var clock = Stopwatch.StartNew();
                int count;
                if (variant == "bare")
                {
                    count = 0;
                    var request = new ListObjectsV2Request { BucketName = S3rverServer.Bucket, Prefix = prefix };
                    do
                    {
                        var page = await client.ListObjectsV2Async(request, ct);
                        count += page.S3Objects?.Count ?? 0;
                        request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
                    } while (request.ContinuationToken is not null);
                }
                else
                {
                    using var store = s3.CreateStore();
                    var archive = new BarmanCloudWalArchive(store, "bench", "catalogue");
                    var plan = await WalRestorePlan.CreateAsync(archive, backup, ct);
                    count = plan.Files.Count;
                }
                var seconds = clock.Elapsed.TotalSeconds;
                if (count != objects) throw new InvalidOperationException($"{variant} saw {count} objects, expected {objects}: the measurement is void");
                if (run > 1) samples.Add((variant, seconds, count));
                log.WriteLine($"  run {run - 1} {variant,-10} {seconds:0.000} s ({count} objects)");
            }
        }
        static double Median(IEnumerable<double> xs) { var a = xs.Order().ToArray(); return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2; }
        string Cell(string v) { var xs = samples.Where(s => s.Variant == v).Select(s => s.Seconds).ToList(); return $"{Median(xs):0.000} ({xs.Min():0.000}–{xs.Max():0.000})"; }
        var ratio = Median(samples.Where(s => s.Variant == "restoreops").Select(s => s.Seconds)) / Median(samples.Where(s => s.Variant == "bare").Select(s => s.Seconds));
        return $"| {objects} | {Cell("restoreops")} | {Cell("bare")} | {ratio.ToString("0.00", CultureInfo.InvariantCulture)} |";
    }
}
