namespace RestoreOps.Model;

/// <summary>Outcome of one verification check.</summary>
public enum CheckStatus
{
    /// <summary>The restored database met the expectation.</summary>
    Passed,
    /// <summary>It did not: the message says what differs and what to do.</summary>
    Failed,
    /// <summary>The check could not run (connection lost, SQL error, timeout).</summary>
    Error,
    /// <summary>Not applicable or not run.</summary>
    Skipped,
}

/// <summary>The result of one check against a restored database.</summary>
/// <example><code>if (results.Any(r => r.Status != CheckStatus.Passed)) return 1;</code></example>
public sealed class CheckResult
{
    /// <summary>Check name, unique within a drill.</summary>
    public required string Name { get; init; }
    /// <summary>Kind of check: <c>connectivity</c>, <c>row-count</c>, <c>sql</c>…</summary>
    public required string Category { get; init; }
    /// <summary>Outcome.</summary>
    public required CheckStatus Status { get; init; }
    /// <summary>Database the check ran in.</summary>
    public string? Database { get; init; }
    /// <summary>What was expected, in words (e.g. <c>between 10 and 20</c>).</summary>
    public string? Expected { get; init; }
    /// <summary>What was found.</summary>
    public string? Actual { get; init; }
    /// <summary>How long the check took.</summary>
    public TimeSpan Duration { get; init; }
    /// <summary>Human message; on failure it names the fix.</summary>
    public required string Message { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{Status,-7} {Name}: {Message}";
}
