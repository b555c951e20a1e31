using System.Diagnostics;
using System.Globalization;
using RestoreOps.Checks;
using RestoreOps.Local;

namespace RestoreOps.Benchmarks;

/// <summary>
/// The full check suite on pgbench databases of several sizes (scale 150 is about 2.2 GB), run by the parallel
/// runner and one check at a time, alternating, with the same checks, connections and timeouts.
/// </summary>
internal static class ChecksBenchmark
{
    public static async Task<List<string>> RunAsync(int[] scales, int runs, TextWriter log, CancellationToken ct)
    {
        var rows = new List<string>();
        var account = OsAccount.ForPostgres();
        var binaries = await PostgresBinaries.FindAsync(15, null, ct);
        foreach (var scale in scales)
        {
            var root = Directory.CreateTempSubdirectory("restoreops-checks-bench-").FullName;
            File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
            try
            {
                await using var pg = await LocalInstance.InitializeAsync(binaries, account, Path.Combine(root, "pg"), "postgres", ct);
                await pg.StartAsync(new Dictionary<string, string> { ["shared_buffers"] = "512MB", ["max_wal_size"] = "8GB", ["fsync"] = "off" }, null, ct);
                await pg.WaitForConnectionsAsync(TimeSpan.FromSeconds(60), ct);
                log.WriteLine($"scale {scale}: pgbench -i (foreign keys)");
                var c = pg.ConnectionString();
                await CommandRunner.RunCheckedAsync("pgbench -i", binaries.Tool("pgbench"),
                    ["-i", "-q", "--foreign-keys", "-s", scale.ToString(CultureInfo.InvariantCulture), "-h", c.Host!, "-p", c.Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "postgres"],
                    null, null, ct);
                var size = await pg.ScalarAsync("postgres", "select pg_size_pretty(pg_database_size('postgres'))", ct, 600);
                var suite = CheckFile.Parse(Suite(scale), "bench-checks.yaml");
                var context = new CheckContext(db => pg.ConnectionString(db), TimeSpan.FromMinutes(30));
                var samples = new List<(string Variant, double Seconds)>();
                for (var run = 1; run <= runs; run++)
                {
                    foreach (var parallelism in run % 2 == 1 ? new[] { 4, 1 } : [1, 4])
                    {
                        var clock = Stopwatch.StartNew();
                        var results = await CheckRunner.RunAsync(suite.Checks, context,
                            new CheckRunOptions { MaxParallelism = parallelism, CheckTimeout = TimeSpan.FromMinutes(30) }, null, ct);
                        var seconds = clock.Elapsed.TotalSeconds;
                        var bad = results.Where(r => r.Status != RestoreOps.Model.CheckStatus.Passed).ToList();
                        if (bad.Count > 0) throw new InvalidOperationException("checks did not pass, the measurement is void: " + string.Join("; ", bad.Select(b => b.Message)));
                        var variant = parallelism == 1 ? "sequential" : "parallel";
                        samples.Add((variant, seconds));
                        log.WriteLine($"  scale {scale} ({size}) run {run} {variant,-10} {seconds:0.000} s");
                    }
                }
                static double Median(IEnumerable<double> xs) { var a = xs.Order().ToArray(); return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2; }
                string Cell(string v) { var xs = samples.Where(s => s.Variant == v).Select(s => s.Seconds).ToList(); return $"{Median(xs):0.00} ({xs.Min():0.00}–{xs.Max():0.00})"; }
                var ratio = Median(samples.Where(s => s.Variant == "parallel").Select(s => s.Seconds)) / Median(samples.Where(s => s.Variant == "sequential").Select(s => s.Seconds));
                rows.Add($"| {scale} | {size} | {suite.Checks.Count} | {Cell("parallel")} | {Cell("sequential")} | {ratio.ToString("0.00", CultureInfo.InvariantCulture)} |");
                await pg.StopAsync();
            }
            finally
            {
                Directory.Delete(root, recursive: true);
            }
        }
        return rows;
    }

    /// <summary>Every check kind that applies to pgbench's schema, each doing real work over the whole database.</summary>
    private static string Suite(int scale) => $$"""
        version: 1
        database: postgres
        checks:
          - kind: connectivity
          - kind: schema
            tables: [public.pgbench_accounts, public.pgbench_branches, public.pgbench_tellers, public.pgbench_history]
          - kind: row-count
            table: public.pgbench_accounts
            exact: {{scale * 100000}}
          - kind: row-count
            table: public.pgbench_tellers
            exact: {{scale * 10}}
          - kind: sql
            name: balances sum to zero
            query: select sum(abalance) from pgbench_accounts
            equals: 0
          - kind: sql
            name: every account has a branch
            query: select 1 from pgbench_accounts a left join pgbench_branches b using (bid) where b.bid is null
            noRows: true
          - kind: foreign-keys
          - kind: sequences
          - kind: amcheck
            install: true
            budget: 30m
            timeout: 30m
        """;
}
