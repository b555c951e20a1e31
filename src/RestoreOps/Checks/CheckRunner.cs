using System.Globalization;
using System.Text.Json;
using RestoreOps.Model;

namespace RestoreOps.Checks;

/// <summary>How the runner schedules checks.</summary>
/// <example><code>new CheckRunOptions { MaxParallelism = 4, CheckTimeout = TimeSpan.FromMinutes(2) }</code></example>
public sealed record CheckRunOptions
{
    /// <summary>Default degree of parallelism: small, because a restored instance is usually a small throwaway.</summary>
    public const int DefaultParallelism = 4;

    /// <summary>How many checks run at once (each holds at most one connection at a time).</summary>
    public int MaxParallelism { get; init; } = DefaultParallelism;

    /// <summary>Longest one check may run unless it sets its own <see cref="RestoreCheck.Timeout"/>.</summary>
    public TimeSpan CheckTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Overrides the context's <c>statement_timeout</c> when set.</summary>
    public TimeSpan? StatementTimeout { get; init; }
}

/// <summary>Runs checks with bounded parallelism and per-check timeouts, and collects their results in input order.</summary>
/// <example><code>var results = await CheckRunner.RunAsync(suite.Checks, context, suite.RunOptions, progress, ct);</code></example>
public static class CheckRunner
{
    /// <summary>Runs checks with the default options. A check's failure never stops the others.</summary>
    public static Task<IReadOnlyList<CheckResult>> RunAsync(IEnumerable<RestoreCheck> checks, CheckContext context,
        IProgress<DrillProgress>? progress, CancellationToken cancellationToken) =>
        RunAsync(checks, context, new CheckRunOptions(), progress, cancellationToken);

    /// <summary>Runs checks, at most <paramref name="parallelism"/> at a time.</summary>
    public static Task<IReadOnlyList<CheckResult>> RunAsync(IEnumerable<RestoreCheck> checks, CheckContext context, int parallelism,
        IProgress<DrillProgress>? progress, CancellationToken cancellationToken) =>
        RunAsync(checks, context, new CheckRunOptions { MaxParallelism = parallelism }, progress, cancellationToken);

    /// <summary>Runs checks as <paramref name="options"/> say. Cancelling <paramref name="cancellationToken"/> stops all of them and throws.</summary>
    public static async Task<IReadOnlyList<CheckResult>> RunAsync(IEnumerable<RestoreCheck> checks, CheckContext context, CheckRunOptions options,
        IProgress<DrillProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxParallelism < 1)
            throw new ConfigurationException($"Check parallelism must be at least 1, not {options.MaxParallelism}.", "Set parallelism to 1 or more.");
        var list = checks.ToList();
        if (options.StatementTimeout is { } st) context = context with { StatementTimeout = st };
        if (context.PreviousResults is null && context.EvidenceDirectory is { } dir)
            context = context with { PreviousResults = await PreviousEvidence.LoadLatestAsync(dir, context.Source, cancellationToken).ConfigureAwait(false) };

        var results = new CheckResult[list.Count];
        var done = 0;
        using var gate = new SemaphoreSlim(options.MaxParallelism);
        try
        {
            var tasks = list.Select(async (check, i) =>
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    progress?.Report(new DrillProgress(DrillPhase.Checks, $"Checking {check.Name}", 100.0 * Volatile.Read(ref done) / list.Count));
                    results[i] = await RunOneAsync(check, context, check.Timeout ?? options.CheckTimeout, cancellationToken).ConfigureAwait(false);
                    Interlocked.Increment(ref done);
                }
                finally
                {
                    gate.Release();
                }
            }).ToList();
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        finally
        {
            // Every check has ended (a timed-out one was cancelled and awaited): the role made for them goes, even on cancellation.
            await context.Access.RemoveAsync(context).ConfigureAwait(false);
        }
        return results;
    }

    private static async Task<CheckResult> RunOneAsync(RestoreCheck check, CheckContext context, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var started = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            // Off the caller's thread: a check that does synchronous work before its first await must not hold up the others.
            return await Task.Run(() => check.RunAsync(context, limit.Token), limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !limit.IsCancellationRequested)
        {
            return check.Result(CheckStatus.Error, null, null,
                $"{check.Name} was cancelled from inside (a client-side timeout of the driver?) in database {check.Database}. Raise the check's timeouts or fix the connection settings.",
                started.Elapsed);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return check.Result(CheckStatus.Error, $"finishes within {Describe(timeout)}", "timed out",
                $"{check.Name} did not finish within its timeout of {Describe(timeout)} and was stopped. Raise 'timeout' for this check (or 'checkTimeout' for the file), or find out why the restored database is slow.",
                started.Elapsed);
        }
    }

    internal static string Describe(TimeSpan t) => t.TotalSeconds < 1
        ? $"{t.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture)} ms"
        : $"{t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s";
}

/// <summary>Reads the check results of earlier drill records, for checks that compare with the previous drill.</summary>
public static class PreviousEvidence
{
    /// <summary>
    /// The checks of the newest drill record (<c>*.json</c> with a <c>checks</c> array) in <paramref name="directory"/> whose
    /// <c>source</c> is <paramref name="source"/> (any source when null), or <c>null</c> when there is none. Only name,
    /// category, database, status, expected and actual are read.
    /// </summary>
    /// <example><code>var previous = await PreviousEvidence.LoadLatestAsync("/evidence", "cnpg://prod/shop", ct);</code></example>
    public static async Task<IReadOnlyList<CheckResult>?> LoadLatestAsync(string directory, string? source, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(directory)) return null;
        var candidates = new List<(DateTimeOffset StartedAt, List<CheckResult> Checks)>();
        foreach (var file in Directory.EnumerateFiles(directory, "*.json"))
        {
            try
            {
                await using var stream = File.OpenRead(file);
                using var doc = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("checks", out var checks) || checks.ValueKind != JsonValueKind.Array)
                    continue;
                if (source is not null && !(root.TryGetProperty("source", out var src) && src.ValueKind == JsonValueKind.String && src.GetString() == source))
                    continue;
                var started = root.TryGetProperty("startedAt", out var s) && s.ValueKind == JsonValueKind.String
                    && DateTimeOffset.TryParse(s.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
                    ? t : new DateTimeOffset(File.GetLastWriteTimeUtc(file), TimeSpan.Zero);
                var list = new List<CheckResult>();
                foreach (var c in checks.EnumerateArray())
                {
                    string? Text(string name) => c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
                    if (Text("name") is not { } name) continue;
                    list.Add(new CheckResult
                    {
                        Name = name,
                        Category = Text("category") ?? "",
                        Database = Text("database"),
                        Status = Enum.TryParse<CheckStatus>(Text("status"), ignoreCase: true, out var st) ? st : CheckStatus.Skipped,
                        Actual = Text("actual"),
                        Expected = Text("expected"),
                        Message = "",
                    });
                }
                candidates.Add((started, list));
            }
            catch (JsonException)
            {
                // Not a drill record (or half-written by someone else): other JSON may share the folder.
            }
        }
        return candidates.Count == 0 ? null : candidates.MaxBy(c => c.StartedAt).Checks;
    }
}
