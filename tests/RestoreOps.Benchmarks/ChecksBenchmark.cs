using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using RestoreOps.Checks;
using RestoreOps.Local;
using RestoreOps.Processes;

namespace RestoreOps.Benchmarks;

/// <summary>
/// The full check suite on pgbench databases of several sizes (scale 150 is about 2.2 GB), run by the parallel
/// runner and one check at a time, alternating, with the same checks, connections and timeouts. Besides the wall
/// time of each suite run it records each check's own duration (as the runner reports it), the machine's busy CPU
/// time over the run, and once per scale the EXPLAIN (ANALYZE, BUFFERS) of the heaviest checks whose SQL is known.
/// </summary>
/// <remarks>
/// Raw samples go to <c>checks.csv</c> and <c>checks-per-check.csv</c>. A run with PostgreSQL's parallel query off
/// has its own mode labels (<c>parallel-nopq</c>, <c>sequential-nopq</c>), and each invocation replaces only the rows
/// of its own modes, so the two invocations fill one pair of files and one summary.
/// </remarks>
internal static class ChecksBenchmark
{
    private const string SuiteHeader = "scale,database_size,checks,mode,run,seconds,machine_cpu_busy_s";
    private const string PerCheckHeader = "scale,mode,run,check,seconds";

    public static async Task<string> RunAsync(int[] scales, int runs, bool noParallelQuery, string outDir, TextWriter log, CancellationToken ct)
    {
        var suffix = noParallelQuery ? "-nopq" : "";
        var suiteCsv = Path.Combine(outDir, "checks.csv");
        var perCheckCsv = Path.Combine(outDir, "checks-per-check.csv");
        var plansFile = Path.Combine(outDir, $"checks-plans{suffix}.txt");
        await KeepOtherModesAsync(suiteCsv, SuiteHeader, 3, suffix);
        await KeepOtherModesAsync(perCheckCsv, PerCheckHeader, 1, suffix);
        var plans = new StringBuilder();
        plans.AppendLine($"EXPLAIN (ANALYZE, BUFFERS) of the heaviest checks, parallel query {(noParallelQuery ? "off (max_parallel_workers_per_gather = 0 on the benchmark's database)" : "at PostgreSQL's defaults")}.");

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
                if (noParallelQuery)
                {
                    // A per-database default on this throwaway instance: the engine's own sessions and settings stay
                    // exactly as in production, only the server they talk to plans without parallel workers.
                    await pg.ExecuteAsync("postgres", "alter database postgres set max_parallel_workers_per_gather = 0", ct);
                    var seen = await pg.ScalarAsync("postgres", "show max_parallel_workers_per_gather", ct) as string;
                    if (seen != "0") throw new InvalidOperationException($"max_parallel_workers_per_gather is {seen} in a new session, not 0: the no-parallel-query measurement would be void.");
                }
                var size = (string)(await pg.ScalarAsync("postgres", "select pg_size_pretty(pg_database_size('postgres'))", ct, 600))!;
                var suite = CheckFile.Parse(Suite(scale), "bench-checks.yaml");
                var context = new CheckContext(db => pg.ConnectionString(db), TimeSpan.FromMinutes(30));
                var perCheck = new List<(string Mode, string Check, double Seconds)>();
                for (var run = 1; run <= runs; run++)
                {
                    foreach (var parallelism in run % 2 == 1 ? new[] { 4, 1 } : [1, 4])
                    {
                        var cpuBefore = MachineCpuBusySeconds();
                        var clock = Stopwatch.StartNew();
                        var results = await CheckRunner.RunAsync(suite.Checks, context,
                            new CheckRunOptions { MaxParallelism = parallelism, CheckTimeout = TimeSpan.FromMinutes(30) }, null, ct);
                        var seconds = clock.Elapsed.TotalSeconds;
                        var cpu = MachineCpuBusySeconds() - cpuBefore;
                        var bad = results.Where(r => r.Status != RestoreOps.Model.CheckStatus.Passed).ToList();
                        if (bad.Count > 0) throw new InvalidOperationException("checks did not pass, the measurement is void: " + string.Join("; ", bad.Select(b => b.Message)));
                        var mode = (parallelism == 1 ? "sequential" : "parallel") + suffix;
                        await File.AppendAllTextAsync(suiteCsv, string.Join(',', scale.ToString(CultureInfo.InvariantCulture), size, suite.Checks.Count.ToString(CultureInfo.InvariantCulture),
                            mode, run.ToString(CultureInfo.InvariantCulture), F(seconds), cpu is { } b ? F(b) : "") + "\n", ct);
                        foreach (var r in results)
                        {
                            perCheck.Add((mode, r.Name, r.Duration.TotalSeconds));
                            await File.AppendAllTextAsync(perCheckCsv, $"{scale},{mode},{run},{Csv(r.Name)},{F(r.Duration.TotalSeconds)}\n", ct);
                        }
                        var slowest = results.OrderByDescending(r => r.Duration).Take(3).Select(r => $"{r.Name} {r.Duration.TotalSeconds:0.00}");
                        log.WriteLine($"  scale {scale} ({size}) run {run} {mode,-15} {seconds:0.000} s, cpu busy {cpu:0.0} s; slowest: {string.Join(", ", slowest)}");
                    }
                }
                plans.AppendLine();
                plans.AppendLine($"=== scale {scale} ({size}) ===");
                await ExplainHeaviestAsync(pg, suite.Checks, perCheck.Where(p => p.Mode == "sequential" + suffix).ToList(), plans, ct);
                await File.WriteAllTextAsync(plansFile, plans.ToString(), ct);
                await pg.StopAsync();
            }
            finally
            {
                Directory.Delete(root, recursive: true);
            }
        }
        return await SummaryAsync(suiteCsv, perCheckCsv);
    }

    /// <summary>
    /// Plans of the three heaviest checks (by median sequential duration) whose SQL can be known from outside the
    /// engine. Foreign-keys and amcheck build their statements inside the check from the catalogue, and amcheck's
    /// work happens inside functions that EXPLAIN cannot see into, so they are named, not explained.
    /// </summary>
    private static async Task ExplainHeaviestAsync(LocalInstance pg, IReadOnlyList<RestoreCheck> checks, List<(string Mode, string Check, double Seconds)> sequential,
        StringBuilder plans, CancellationToken ct)
    {
        var ranked = checks.Select(k => (Check: k, Median: Median(sequential.Where(s => s.Check == k.Name).Select(s => s.Seconds))))
            .OrderByDescending(x => x.Median).ToList();
        var explained = 0;
        foreach (var (check, median) in ranked)
        {
            if (explained == 3) break;
            var sql = check switch
            {
                SqlScalarCheck s => s.Sql,
                SqlRowsCheck s => s.Sql,
                // RowCountCheck keeps its statement private; this is the same text it builds from Table.
                RowCountCheck r => $"select count(*) from {string.Join('.', r.Table.Split('.').Select(p => new NpgsqlCommandBuilder().QuoteIdentifier(p)))}",
                _ => null,
            };
            plans.AppendLine();
            if (sql is null)
            {
                plans.AppendLine($"-- {check.Name} ({check.Category}), median {median:0.000} s sequential: not explained, its SQL is built inside the check{(check is AmcheckCheck ? " and its time is spent inside amcheck's functions" : "")}.");
                if (check is AmcheckCheck) await TimeAmcheckByRelationAsync(pg, plans, ct);
                continue;
            }
            plans.AppendLine($"-- {check.Name} ({check.Category}), median {median:0.000} s sequential");
            plans.AppendLine($"-- {sql}");
            await using var conn = new NpgsqlConnection(pg.ConnectionString("postgres").ConnectionString);
            await conn.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("explain (analyze, buffers) " + sql, conn) { CommandTimeout = 1800 };
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) plans.AppendLine(reader.GetString(0));
            explained++;
        }
    }

    /// <summary>
    /// What EXPLAIN cannot show for amcheck: the same calls the check makes (verify_heapam, bt_index_check) on the
    /// largest relations, each timed alone, one session, in the check's order (largest first).
    /// </summary>
    private static async Task TimeAmcheckByRelationAsync(LocalInstance pg, StringBuilder plans, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(pg.ConnectionString("postgres").ConnectionString);
        await conn.OpenAsync(ct);
        var targets = new List<(string Name, string Kind, string Size)>();
        await using (var list = new NpgsqlCommand("""
            select c.oid::regclass::text, case when c.relkind = 'i' then 'index' else 'heap' end, pg_size_pretty(pg_relation_size(c.oid))
            from pg_class c join pg_namespace n on n.oid = c.relnamespace left join pg_am am on am.oid = c.relam
            where n.nspname = 'public' and ((c.relkind = 'i' and am.amname = 'btree') or c.relkind = 'r')
            order by pg_relation_size(c.oid) desc limit 4
            """, conn))
        await using (var r = await list.ExecuteReaderAsync(ct))
            while (await r.ReadAsync(ct)) targets.Add((r.GetString(0), r.GetString(1), r.GetString(2)));
        foreach (var t in targets)
        {
            var sql = t.Kind == "index"
                ? "select bt_index_check(@r::regclass)"
                : "select count(*) from (select 1 from verify_heapam(@r::regclass) limit 100) x";
            await using var cmd = new NpgsqlCommand(sql, conn) { CommandTimeout = 1800 };
            cmd.Parameters.AddWithValue("r", t.Name);
            var clock = Stopwatch.StartNew();
            await cmd.ExecuteNonQueryAsync(ct);
            plans.AppendLine($"--   {(t.Kind == "index" ? "bt_index_check" : "verify_heapam")}({t.Name}, {t.Size}): {clock.Elapsed.TotalSeconds:0.000} s");
        }
    }

    /// <summary>Rewrites <paramref name="path"/> with only the rows of the other invocation's modes, so this one replaces its own.</summary>
    private static async Task KeepOtherModesAsync(string path, string header, int modeColumn, string suffix)
    {
        var kept = File.Exists(path)
            ? (await File.ReadAllLinesAsync(path)).Skip(1).Where(l => l.Length > 0 && l.Split(',')[modeColumn].EndsWith("-nopq", StringComparison.Ordinal) != (suffix.Length > 0)).ToList()
            : [];
        await File.WriteAllLinesAsync(path, [header, .. kept]);
    }

    /// <summary>Markdown from the raw files, covering every mode they hold.</summary>
    private static async Task<string> SummaryAsync(string suiteCsv, string perCheckCsv)
    {
        var suite = (await File.ReadAllLinesAsync(suiteCsv)).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(','))
            .Select(p => (Scale: int.Parse(p[0], CultureInfo.InvariantCulture), Size: p[1], Checks: p[2], Mode: p[3], Seconds: D(p[5]), Cpu: p[6].Length > 0 ? D(p[6]) : double.NaN)).ToList();
        var perCheck = (await File.ReadAllLinesAsync(perCheckCsv)).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(','))
            .Select(p => (Scale: int.Parse(p[0], CultureInfo.InvariantCulture), Mode: p[1], Check: p[3], Seconds: D(p[4]))).ToList();
        var md = new StringBuilder();
        md.AppendLine("| pgbench scale | parallel query | database size | checks | parallel (4) median (min–max) s | sequential median (min–max) s | ratio | busy cores, parallel / sequential |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var g in suite.GroupBy(s => (s.Scale, Off: s.Mode.EndsWith("-nopq", StringComparison.Ordinal))).OrderBy(g => g.Key.Off).ThenBy(g => g.Key.Scale))
        {
            var sfx = g.Key.Off ? "-nopq" : "";
            string Cell(string m) { var xs = g.Where(s => s.Mode == m).Select(s => s.Seconds).ToList(); return xs.Count == 0 ? "–" : $"{Median(xs):0.00} ({xs.Min():0.00}–{xs.Max():0.00})"; }
            // Busy CPU seconds of the whole machine over wall seconds: 2.0 means both cores were busy throughout.
            string Cores(string m) => Median(g.Where(s => s.Mode == m).Select(s => s.Cpu / s.Seconds)).ToString("0.00", CultureInfo.InvariantCulture);
            var ratio = Median(g.Where(s => s.Mode == "parallel" + sfx).Select(s => s.Seconds)) / Median(g.Where(s => s.Mode == "sequential" + sfx).Select(s => s.Seconds));
            md.AppendLine($"| {g.Key.Scale} | {(g.Key.Off ? "off" : "on (default)")} | {g.First().Size} | {g.First().Checks} | {Cell("parallel" + sfx)} | {Cell("sequential" + sfx)} | {ratio.ToString("0.00", CultureInfo.InvariantCulture)} | {Cores("parallel" + sfx)} / {Cores("sequential" + sfx)} |");
        }
        var modes = new[] { "sequential", "parallel", "sequential-nopq", "parallel-nopq" }.Where(m => perCheck.Any(p => p.Mode == m)).ToList();
        foreach (var scale in perCheck.Select(p => p.Scale).Distinct().Order())
        {
            md.AppendLine();
            md.AppendLine($"Per check at scale {scale}, median s (each check's own duration as the runner reports it; in the parallel runs it includes waiting for the cores the other checks hold):");
            md.AppendLine();
            md.AppendLine($"| check | {string.Join(" | ", modes)} |");
            md.AppendLine($"|---|{string.Concat(modes.Select(_ => "---|"))}");
            var checks = perCheck.Where(p => p.Scale == scale).Select(p => p.Check).Distinct()
                .OrderByDescending(k => Median(perCheck.Where(p => p.Scale == scale && p.Check == k && p.Mode == modes[0]).Select(p => p.Seconds)));
            foreach (var k in checks)
                md.AppendLine($"| {k} | {string.Join(" | ", modes.Select(m => M(perCheck.Where(p => p.Scale == scale && p.Check == k && p.Mode == m).Select(p => p.Seconds))))} |");
            md.AppendLine($"| sum of checks | {string.Join(" | ", modes.Select(m => SumOfMedians(perCheck.Where(p => p.Scale == scale && p.Mode == m).ToList())))} |");
        }
        return md.ToString();

        static string M(IEnumerable<double> xs) { var a = xs.ToList(); return a.Count == 0 ? "–" : Median(a).ToString("0.000", CultureInfo.InvariantCulture); }
        static string SumOfMedians(List<(int Scale, string Mode, string Check, double Seconds)> rows) =>
            rows.GroupBy(r => r.Check).Sum(g => Median(g.Select(r => r.Seconds))).ToString("0.000", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// CPU time (all processes, all cores) the kernel counted as busy so far, from <c>/proc/stat</c>: with another
    /// benchmark on the machine this includes its share, so it tells whether the cores were saturated, not by whom.
    /// </summary>
    private static double? MachineCpuBusySeconds()
    {
        try
        {
            var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            // user nice system idle iowait irq softirq steal (guest time is already inside user); ticks are USER_HZ = 100 on Linux.
            return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100.0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    private static double Median(IEnumerable<double> xs)
    {
        var a = xs.Order().ToArray();
        if (a.Length == 0) return double.NaN;
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    private static string F(double x) => x.ToString("0.000", CultureInfo.InvariantCulture);
    private static double D(string x) => double.Parse(x, CultureInfo.InvariantCulture);
    private static string Csv(string x) => x.Replace(',', ';');

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
