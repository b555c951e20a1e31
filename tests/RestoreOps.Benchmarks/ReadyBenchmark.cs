using RestoreOps.Tests.Cnpg;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Model;
using RestoreOps.Tests.Kubernetes;

namespace RestoreOps.Benchmarks;

/// <summary>One ready-detection sample: how long after the Cluster became ready the waiter knew it.</summary>
internal sealed record ReadySample(string Variant, int Run, double FlipAfterSeconds, double DelaySeconds, int Requests);

/// <summary>
/// Ready detection on the CNPG path: the delay between the API server committing a recovery Cluster's ready
/// status and the waiter returning. "watch" is <see cref="CnpgRestore.WaitReadyAsync"/>; "poll" is the loop of
/// the usual restore-test CronJob (GET the Cluster, check readiness, sleep the poll interval). Both use the same
/// <see cref="KubernetesClient"/> over real HTTP against the same in-process fake API server, the same Cluster
/// created by <see cref="CnpgRestore.CreateAsync"/>, and the same readiness rule; only the waiting differs.
/// No PostgreSQL runs: the operator's part is reduced to two status writes, so the delay measured is the
/// waiter's alone.
/// </summary>
internal static class ReadyBenchmark
{
    private const string DrillNamespace = "drills";
    private const double WatchFlipMin = 0.2, WatchFlipMax = 3.0;

    public static async Task<List<ReadySample>> RunAsync(int watchRuns, int pollRuns, TimeSpan pollInterval, int seed, string csv,
        TextWriter log, CancellationToken ct)
    {
        await using var server = new FakeKubernetesServer();
        using var api = new KubernetesClient(KubernetesConfig.ForServer(server.Url, "bench-token", DrillNamespace, "bench"));
        var source = CnpgSourceCluster.From(SourceCluster());
        var backup = CnpgBackups.ToBackup(SourceBackup());
        var random = new Random(seed);
        await File.WriteAllTextAsync(csv, "variant,run,poll_interval_s,flip_after_s,delay_s,requests\n", ct);

        // Uncounted: the first wait pays for JIT and the first connection, which a drill pays at its start,
        // long before the cluster is ready, not at the moment readiness arrives.
        var warm = await OneAsync(server, api, source, backup, "watch", 0, 1.0, pollInterval, ct);
        log.WriteLine($"  warm-up watch {warm.DelaySeconds * 1000,9:0.000} ms (not counted)");

        var samples = new List<ReadySample>();
        var (w, p) = (0, 0);
        while (w < watchRuns || p < pollRuns)
        {
            // Spread the long poll runs evenly among the watch runs, so load from other work on the machine
            // falls on both variants rather than on whichever ran last.
            var poll = p < pollRuns && (w >= watchRuns || (double)p / pollRuns <= (double)w / Math.Max(watchRuns, 1));
            var variant = poll ? "poll" : "watch";
            var run = poll ? ++p : ++w;
            // The poll's flip is uniform over one poll period, so the ready instant falls at a uniform phase of
            // the poll cycle, as it does for a CronJob that knows nothing of when the restore will finish.
            var flipAfter = poll
                ? WatchFlipMin + random.NextDouble() * pollInterval.TotalSeconds
                : WatchFlipMin + random.NextDouble() * (WatchFlipMax - WatchFlipMin);
            var sample = await OneAsync(server, api, source, backup, variant, run, flipAfter, pollInterval, ct);
            samples.Add(sample);
            await File.AppendAllTextAsync(csv, string.Create(CultureInfo.InvariantCulture,
                $"{sample.Variant},{sample.Run},{pollInterval.TotalSeconds:0.###},{sample.FlipAfterSeconds:0.000},{sample.DelaySeconds:0.000000},{sample.Requests}\n"), ct);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {variant,-5} run {run,3}: ready at +{flipAfter,6:0.000} s, known {sample.DelaySeconds * 1000,10:0.000} ms later, {sample.Requests} API requests"));
        }
        return samples;
    }

    public static string Summary(IReadOnlyList<ReadySample> samples, TimeSpan pollInterval)
    {
        var text = new StringBuilder();
        text.AppendLine("| waiter | runs | ready after wait start (s) | median delay | p95 | min–max | mean | API requests per wait |");
        text.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var variant in new[] { "watch", "poll" })
        {
            var xs = samples.Where(s => s.Variant == variant).ToList();
            if (xs.Count == 0) continue;
            var d = xs.Select(s => s.DelaySeconds).ToList();
            var label = variant == "watch" ? "RestoreOps `WaitReadyAsync` (watch)" : $"poll every {pollInterval.TotalSeconds:0.###} s (GET)";
            var flips = xs.Select(s => s.FlipAfterSeconds).ToList();
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {label} | {xs.Count} | {flips.Min():0.0}–{flips.Max():0.0} | {Delay(Median(d))} | {Delay(Percentile(d, 0.95))} | {Delay(d.Min())}–{Delay(d.Max())} | {Delay(d.Average())} | {Median(xs.Select(s => (double)s.Requests)):0} |"));
        }
        var watch = samples.Where(s => s.Variant == "watch").Select(s => s.DelaySeconds).ToList();
        var poll = samples.Where(s => s.Variant == "poll").Select(s => s.DelaySeconds).ToList();
        if (watch.Count > 0 && poll.Count > 0)
        {
            text.AppendLine();
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Ratio of medians, poll / watch: {Median(poll) / Median(watch):0}×; watch median {Median(watch) * 1000:0.0} ms, p95 {Percentile(watch, 0.95) * 1000:0.0} ms, max {watch.Max() * 1000:0.0} ms."));
        }
        return text.ToString();
    }

    private static async Task<ReadySample> OneAsync(FakeKubernetesServer server, IKubernetesApi api, CnpgSourceCluster source, Backup backup,
        string variant, int run, double flipAfter, TimeSpan pollInterval, CancellationToken ct)
    {
        await using var restore = await CnpgRestore.CreateAsync(api, new RecoveryClusterRequest
        {
            Source = source,
            Backup = backup,
            DrillId = $"ready{variant}{run}{Guid.NewGuid().ToString("N")[..6]}",
            Namespace = DrillNamespace,
        }, ct);
        var name = restore.Name;
        // What the operator writes first (see OperatorSimulator): the waiter must see a Cluster that is not ready.
        server.Update(ResourceKind.Cluster, DrillNamespace, name, o => o["status"] = new JsonObject
        {
            ["phase"] = CnpgNames.PhaseSettingUpPrimary,
            ["phaseReason"] = $"Creating primary instance {name}-1",
            ["instances"] = 1,
            ["readyInstances"] = 0,
            ["conditions"] = new JsonArray(Condition("False", "ClusterIsNotReady", "Cluster Is Not Ready")),
        });

        long readyAt = 0;
        var requestsBefore = server.Requests.Count;
        var started = Stopwatch.GetTimestamp();
        var flip = Task.Run(async () =>
        {
            var due = TimeSpan.FromSeconds(flipAfter) - Stopwatch.GetElapsedTime(started);
            if (due > TimeSpan.Zero) await Task.Delay(due, ct);
            server.Update(ResourceKind.Cluster, DrillNamespace, name, o =>
            {
                var status = (JsonObject)o["status"]!;
                status["phase"] = CnpgNames.PhaseHealthy;
                status.Remove("phaseReason");
                status["readyInstances"] = 1;
                status["currentPrimary"] = $"{name}-1";
                status["timelineID"] = 2;
                status["conditions"] = new JsonArray(Condition("True", "ClusterIsReady", "Cluster is Ready"));
                // Stamped inside the server's lock, before the new revision is recorded and sent to watchers:
                // nothing can see the ready status earlier than this instant, so no delay can come out negative.
                readyAt = Stopwatch.GetTimestamp();
            });
        }, ct);

        var knownAt = variant == "watch"
            ? await Stamp(restore.WaitReadyAsync(TimeSpan.FromMinutes(5), null, ct))
            : await Stamp(PollReadyAsync(api, DrillNamespace, name, pollInterval, ct));
        await flip;
        var requests = server.Requests.Count - requestsBefore;

        if (readyAt == 0 || knownAt < readyAt)
            throw new InvalidOperationException($"{variant} run {run} returned before the Cluster was ready: the measurement is void");
        if (variant == "watch" && restore.Cluster.Phase != RestoreClusterPhase.Ready)
            throw new InvalidOperationException($"watch run {run} ended with phase {restore.Cluster.Phase}: the measurement is void");
        server.Remove(ResourceKind.Cluster, DrillNamespace, name);
        return new ReadySample(variant, run, flipAfter, Stopwatch.GetElapsedTime(readyAt, knownAt).TotalSeconds, requests);
    }

    // Taken in the continuation of the awaited task itself, before anything else of the run is done.
    private static async Task<long> Stamp(Task waiting)
    {
        await waiting;
        return Stopwatch.GetTimestamp();
    }

    /// <summary>
    /// The usual restore-test CronJob's wait, e.g. <c>until [ "$(kubectl get cluster … -o jsonpath=…)" = … ]; do
    /// sleep 30; done</c>: read the Cluster, stop if ready, else sleep a full interval and read again.
    /// </summary>
    private static async Task PollReadyAsync(IKubernetesApi api, string ns, string name, TimeSpan interval, CancellationToken ct)
    {
        while (true)
        {
            var cluster = await api.GetAsync(ResourceKind.Cluster, ns, name, ct);
            if (IsReady(cluster)) return;
            await Task.Delay(interval, ct);
        }
    }

    // The rule CnpgRestore applies (phase, Ready condition, readyInstances == spec.instances), so the poll cannot
    // stop earlier or later than the watch on a stricter or looser definition of ready.
    private static bool IsReady(JsonObject cluster)
    {
        var status = cluster["status"];
        if (status?["phase"]?.GetValue<string>() != CnpgNames.PhaseHealthy) return false;
        var ready = (status["conditions"] as JsonArray ?? []).OfType<JsonObject>()
            .Any(c => c["type"]?.GetValue<string>() == CnpgNames.ConditionReady && c["status"]?.GetValue<string>() == "True");
        return ready && CrdSchema.Number(status["readyInstances"]) == (CrdSchema.Number(cluster["spec"]?["instances"]) ?? 1);
    }

    private static JsonObject Condition(string status, string reason, string message) => new()
    {
        ["type"] = CnpgNames.ConditionReady,
        ["status"] = status,
        ["reason"] = reason,
        ["message"] = message,
        ["lastTransitionTime"] = DateTimeOffset.UtcNow.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
    };

    private static JsonObject SourceCluster() => CnpgResources.SourceCluster("prod", "shop-db", "s3://backups/shop", "http://minio:9000");

    private static JsonObject SourceBackup() => new()
    {
        ["apiVersion"] = CnpgNames.ApiVersion,
        ["kind"] = "Backup",
        ["metadata"] = new JsonObject { ["name"] = "shop-db-20261121", ["namespace"] = "prod", ["creationTimestamp"] = "2026-11-21T05:00:00Z" },
        ["spec"] = new JsonObject { ["cluster"] = new JsonObject { ["name"] = "shop-db" }, ["method"] = "barmanObjectStore" },
        ["status"] = new JsonObject
        {
            ["phase"] = CnpgNames.BackupCompleted,
            ["method"] = "barmanObjectStore",
            ["backupId"] = "20261121T050001",
            ["startedAt"] = "2026-11-21T05:00:01Z",
            ["stoppedAt"] = "2026-11-21T05:02:10Z",
            ["beginWal"] = "000000010000000000000004",
            ["endWal"] = "000000010000000000000005",
            ["majorVersion"] = 16,
        },
    };

    // The two waiters differ by four orders of magnitude: one unit for both would print the watch as 0.001 s.
    private static string Delay(double seconds) => seconds < 1
        ? string.Create(CultureInfo.InvariantCulture, $"{seconds * 1000:0.0} ms")
        : string.Create(CultureInfo.InvariantCulture, $"{seconds:0.00} s");

    private static double Median(IEnumerable<double> xs)
    {
        var a = xs.Order().ToArray();
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    // Nearest rank: with few samples p95 is an observed value (the maximum below 20 runs), never an interpolation.
    private static double Percentile(IReadOnlyCollection<double> xs, double p)
    {
        var a = xs.Order().ToArray();
        return a[Math.Clamp((int)Math.Ceiling(p * a.Length) - 1, 0, a.Length - 1)];
    }
}
