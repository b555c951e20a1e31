namespace RestoreOps;

/// <summary>
/// The defaults every front end and every target kind share, defined once: a CLI drill, a cmdlet and a test that name
/// none of these get the same values, and the help of each front end says the same.
/// </summary>
/// <example><code>var wait = request.ReadyTimeout ?? RestoreDefaults.ReadyTimeout;</code></example>
public static class RestoreDefaults
{
    /// <summary>How long a restore may take to accept sessions: 30 minutes.</summary>
    public static TimeSpan ReadyTimeout { get; } = TimeSpan.FromMinutes(30);

    /// <summary>How long a drill target lives before a sweep may remove it: 6 hours.</summary>
    public static TimeSpan Expiry { get; } = TimeSpan.FromHours(6);

    /// <summary>WAL files fetched at once ahead of replay: 8.</summary>
    public const int WalParallelism = 8;
}
