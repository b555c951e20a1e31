namespace RestoreOps.Model;

/// <summary>Where a restore runs.</summary>
public enum RestoreTargetKind
{
    /// <summary>An ephemeral PostgreSQL on this machine, loopback and unix socket only.</summary>
    Local,
    /// <summary>A temporary CloudNativePG <c>Cluster</c>.</summary>
    Cnpg,
}

/// <summary>Why a restore runs: a drill is thrown away, a recovery is kept.</summary>
public enum RestorePurpose
{
    /// <summary>Throwaway target that expires and is always removed.</summary>
    Drill,
    /// <summary>Kept, named by the user, never removed automatically.</summary>
    Recovery,
}

/// <summary>Lifecycle of a restore target.</summary>
public enum RestoreClusterPhase
{
    /// <summary>Not started.</summary>
    Pending,
    /// <summary>Fetching and unpacking the base backup.</summary>
    Downloading,
    /// <summary>Replaying WAL towards the recovery target.</summary>
    Replaying,
    /// <summary>Promoted and accepting connections.</summary>
    Ready,
    /// <summary>The restore failed.</summary>
    Failed,
    /// <summary>Stopped and deleted.</summary>
    Removed,
}

/// <summary>How to connect to a restored instance. Never carries the password.</summary>
public sealed class ConnectionInfo
{
    /// <summary>Host name, IP address, or unix socket directory.</summary>
    public required string Host { get; init; }
    /// <summary>TCP port (also names the unix socket).</summary>
    public required int Port { get; init; }
    /// <summary>Login role.</summary>
    public required string Username { get; init; }
    /// <summary>Default database.</summary>
    public string Database { get; init; } = "postgres";
    /// <summary>Unix socket directory, when the instance has one.</summary>
    public string? SocketDirectory { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{Username}@{Host}:{Port}/{Database}";
}

/// <summary>
/// A throwaway (or, for a recovery, kept) PostgreSQL restored from a backup.
/// </summary>
/// <example>
/// <code>
/// await using var restored = await target.RestoreAsync(backup, RecoveryTarget.Latest, progress, ct);
/// Console.WriteLine(restored.Cluster.Connection);   // postgres@127.0.0.1:54012/postgres
/// </code>
/// </example>
public sealed class RestoreCluster
{
    /// <summary>Name of the target (local: the work directory's name; CNPG: the Cluster name).</summary>
    public required string Name { get; init; }
    /// <summary>Kubernetes namespace, for CNPG targets.</summary>
    public string? Namespace { get; init; }
    /// <summary>The drill that owns it.</summary>
    public required string DrillId { get; init; }
    /// <summary>Local or CNPG.</summary>
    public required RestoreTargetKind Kind { get; init; }
    /// <summary>Drill (thrown away) or recovery (kept).</summary>
    public RestorePurpose Purpose { get; init; } = RestorePurpose.Drill;
    /// <summary>The backup it was restored from.</summary>
    public required Backup Backup { get; init; }
    /// <summary>The requested recovery target.</summary>
    public required RecoveryTarget RecoveryTarget { get; init; }
    /// <summary>Current lifecycle phase.</summary>
    public RestoreClusterPhase Phase { get; set; } = RestoreClusterPhase.Pending;
    /// <summary>When the target was created (UTC).</summary>
    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;
    /// <summary>After this instant a sweep may remove it (drills only).</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>How to connect, once ready.</summary>
    public ConnectionInfo? Connection { get; set; }
    /// <summary>Local targets: the isolated working directory holding data, WAL spool, socket and log.</summary>
    public string? WorkDirectory { get; init; }
    /// <summary>Local targets: the postmaster's process id while it runs.</summary>
    public int? ProcessId { get; set; }
    /// <summary>The newest commit the restored data contains, as replay reported it.</summary>
    public DateTimeOffset? AchievedRecoveryTime { get; set; }
    /// <summary>The WAL location where replay ended.</summary>
    public string? AchievedRecoveryLsn { get; set; }
    /// <summary>
    /// Where replay had to reach for the restore to be complete: for a restore to the end of the archive, the end of the
    /// newest archived WAL segment. Null when nothing was planned (no WAL archive, or an explicit target).
    /// </summary>
    public string? PlannedReplayEndLsn { get; set; }
    /// <summary>Where replay actually ended: the end of the last WAL record the restored server applied.</summary>
    public string? ReplayEndLsn { get; set; }
    /// <summary>Timeline after promotion.</summary>
    public int? Timeline { get; set; }
    /// <summary>
    /// Timings of the restore's phases so far. Safe to read while the restore runs: every enumeration is a snapshot,
    /// and a phase that ends is replaced whole.
    /// </summary>
    public PhaseTimingList Phases { get; } = new();

    private System.Collections.Immutable.ImmutableList<RunbookStep> _timeline = System.Collections.Immutable.ImmutableList<RunbookStep>.Empty;

    /// <summary>
    /// What this session did to the target, in order, with the command that repeats each stage: the runbook evidence
    /// renders. Each read is a snapshot; the engine appends (<see cref="AppendStep"/>).
    /// </summary>
    public IReadOnlyList<RunbookStep> Steps => _timeline;

    /// <summary>Adds a step to <see cref="Steps"/>. Front ends go through the engine, which redacts the command first.</summary>
    public void AppendStep(RunbookStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        System.Collections.Immutable.ImmutableInterlocked.Update(ref _timeline, list => list.Add(step));
    }

    /// <inheritdoc />
    public override string ToString() => Namespace is null ? Name : $"{Namespace}/{Name}";
}
