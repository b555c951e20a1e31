using System.Globalization;
using System.Text;
using RestoreOps.Benchmarks;

// restore [--segments 20,100,300] [--runs 5] [--out DIR]
//   Restore-to-ready of one Barman Cloud backup with W WAL segments: RestoreOps vs barman-cloud-restore +
//   barman-cloud-wal-restore vs the floor, alternating the order run by run to cancel drift.
// ready [--runs 20] [--poll-runs 5] [--poll-interval 30] [--seed N] [--out DIR]
//   Delay from a CNPG Cluster turning ready on the fake API server to the waiter knowing it: RestoreOps'
//   watch (CnpgRestore.WaitReadyAsync) vs a CronJob-style GET every --poll-interval seconds.
// checks [--scales 15,50,150] [--runs 5] [--no-parallel-query] [--out DIR]
//   The check suite on pgbench databases, parallel runner (4) vs one at a time, with each check's own duration.
//   --no-parallel-query sets max_parallel_workers_per_gather = 0 on the benchmark's throwaway database and labels
//   its rows *-nopq; each invocation replaces only its own modes' rows in checks.csv and checks-per-check.csv.
var command = args.Length > 0 ? args[0] : "restore";
string Arg(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
var runs = int.Parse(Arg("--runs", "5"), CultureInfo.InvariantCulture);
var outDir = Arg("--out", Path.Combine("artifacts", "benchmarks"));
Directory.CreateDirectory(outDir);
var log = Console.Out;
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
// SIGTERM too (kill, a CI timeout): without it the runtime exits at once and the source's postmaster, s3rver and
// gigabytes of WAL stay behind.
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; cts.Cancel(); });

if (command == "catalogue")
{
    var row = await CatalogueBenchmark.RunAsync(int.Parse(Arg("--objects", "20000"), CultureInfo.InvariantCulture), runs, log, cts.Token);
    var text = "| WAL objects | RestoreOps list + plan, median (min–max) s | bare paged ListObjectsV2, median (min–max) s | ratio |\n|---|---|---|---|\n" + row + "\n";
    await File.WriteAllTextAsync(Path.Combine(outDir, "catalogue.md"), text);
    log.WriteLine(text);
    return 0;
}
if (command == "checks")
{
    var scales = Arg("--scales", "15,50,150").Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray();
    var text = await ChecksBenchmark.RunAsync(scales, runs, args.Contains("--no-parallel-query"), outDir, log, cts.Token);
    await File.WriteAllTextAsync(Path.Combine(outDir, "checks.md"), text);
    log.WriteLine(text);
    return 0;
}
if (command == "ready")
{
    // --runs counts watch waits here; the poll runs are counted apart because each costs up to a poll interval.
    var watchRuns = int.Parse(Arg("--runs", "20"), CultureInfo.InvariantCulture);
    var pollRuns = int.Parse(Arg("--poll-runs", "5"), CultureInfo.InvariantCulture);
    var pollInterval = TimeSpan.FromSeconds(double.Parse(Arg("--poll-interval", "30"), CultureInfo.InvariantCulture));
    var seed = int.Parse(Arg("--seed", Random.Shared.Next(1_000_000).ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
    log.WriteLine($"ready: {watchRuns} watch runs, {pollRuns} poll runs every {pollInterval.TotalSeconds:0.###} s, seed {seed}");
    var readySamples = await ReadyBenchmark.RunAsync(watchRuns, pollRuns, pollInterval, seed, Path.Combine(outDir, "ready-detection.csv"), log, cts.Token);
    var text = ReadyBenchmark.Summary(readySamples, pollInterval) + $"\nSeed {seed}.\n";
    await File.WriteAllTextAsync(Path.Combine(outDir, "ready-detection.md"), text);
    log.WriteLine();
    log.WriteLine(text);
    return 0;
}
if (command != "restore")
{
    Console.Error.WriteLine($"unknown benchmark '{command}'. Use: restore [--segments 20,100,300] [--runs 5] [--compression plain,gzip] [--out DIR] | catalogue [--objects 20000] [--runs 5] | checks [--scales 15,50,150] [--runs 5] [--no-parallel-query] | ready [--runs 20] [--poll-runs 5] [--poll-interval 30] [--seed N]");
    return 2;
}

var segments = Arg("--segments", "20,100,300").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
var compressions = Arg("--compression", "plain,gzip").Split(',');
var samples = new List<RestoreSample>();
var csv = Path.Combine(outDir, "restore.csv");
await File.WriteAllTextAsync(csv, "variant,segments,compression,run,seconds,phases\n");
foreach (var w in segments)
{
    log.WriteLine($"W={w}: preparing the source (this takes a while: barman archives each segment with a Python process)");
    await using var source = await BenchSource.CreateAsync(w, log, cts.Token);
    foreach (var compression in compressions)
    {
        for (var run = 1; run <= runs; run++)
        {
            // Rotate the order each run: a, b, c / b, c, a / c, a, b … so drift hits every variant alike.
            var order = new Func<Task<RestoreSample>>[]
            {
                () => RestoreVariants.RestoreOpsAsync(source, compression, run, cts.Token),
                () => RestoreVariants.BarmanAsync(source, compression, run, cts.Token),
                () => RestoreVariants.FloorAsync(source, compression, run, cts.Token),
            };
            for (var k = 0; k < order.Length; k++)
            {
                var sample = await order[(k + run - 1) % order.Length]();
                samples.Add(sample);
                await File.AppendAllTextAsync(csv, $"{sample.Variant},{sample.Segments},{sample.Compression},{sample.Run},{sample.Seconds.ToString("0.000", CultureInfo.InvariantCulture)},{sample.Phases}\n");
                log.WriteLine($"  W={w} {compression,-5} run {run} {sample.Variant,-10} {sample.Seconds,8:0.000} s {sample.Phases}");
            }
        }
    }
}

static double Median(IEnumerable<double> xs)
{
    var a = xs.Order().ToArray();
    return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
}
var md = new StringBuilder();
md.AppendLine("| W | WAL | RestoreOps median (min–max) s | barman median (min–max) s | floor median (min–max) s | a/b | a/c |");
md.AppendLine("|---|---|---|---|---|---|---|");
foreach (var g in samples.GroupBy(s => (s.Segments, s.Compression)))
{
    string Cell(string v)
    {
        var xs = g.Where(s => s.Variant == v).Select(s => s.Seconds).ToList();
        return $"{Median(xs):0.00} ({xs.Min():0.00}–{xs.Max():0.00})";
    }
    double M(string v) => Median(g.Where(s => s.Variant == v).Select(s => s.Seconds));
    md.AppendLine($"| {g.Key.Segments} | {g.Key.Compression} | {Cell("restoreops")} | {Cell("barman")} | {Cell("floor")} | {M("restoreops") / M("barman"):0.00} | {M("restoreops") / M("floor"):0.00} |");
}
md.AppendLine();
md.AppendLine("RestoreOps phase medians (s):");
md.AppendLine();
foreach (var g in samples.Where(s => s.Variant == "restoreops").GroupBy(s => (s.Segments, s.Compression)))
{
    var phases = g.SelectMany(s => s.Phases.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=')))
        .GroupBy(p => p[0]).Select(p => $"{p.Key} {Median(p.Select(x => double.Parse(x[1], CultureInfo.InvariantCulture))):0.00}");
    md.AppendLine($"- W={g.Key.Segments} {g.Key.Compression}: {string.Join(", ", phases)}");
}
var summary = Path.Combine(outDir, "restore.md");
await File.WriteAllTextAsync(summary, md.ToString());
log.WriteLine();
log.WriteLine(md.ToString());
log.WriteLine($"raw samples: {csv}; summary: {summary}");
return 0;
