namespace RestoreOps.Model;

/// <summary>The stages of a drill, in order.</summary>
public enum DrillPhase
{
    /// <summary>Finding the backup.</summary>
    Discover,
    /// <summary>Preparing the isolated target (binaries, directories, ports).</summary>
    Provision,
    /// <summary>Fetching and unpacking the base backup (streamed: the two overlap).</summary>
    Download,
    /// <summary>Preparing the data directory and recovery settings, restoring a dump.</summary>
    BaseRestore,
    /// <summary>From server start until replay reached its target and the server promoted.</summary>
    WalReplay,
    /// <summary>From promotion until a read/write session is proven.</summary>
    Ready,
    /// <summary>Running the verification checks.</summary>
    Checks,
    /// <summary>Stopping the instance and deleting everything the drill created.</summary>
    Cleanup,
}

/// <summary>Overall drill verdict.</summary>
public enum DrillVerdict
{
    /// <summary>Restored, verified, objectives met.</summary>
    Passed,
    /// <summary>The backup did not restore, or a check or objective failed.</summary>
    Failed,
    /// <summary>The drill could not be carried out (infrastructure, configuration, cancellation).</summary>
    Error,
}

/// <summary>Why a drill did not pass.</summary>
public enum DrillFailureCategory
{
    /// <summary>Bad input (parameters, paths, recovery target).</summary>
    Configuration,
    /// <summary>The environment failed (credentials, network, binaries).</summary>
    Infrastructure,
    /// <summary>The backup did not restore.</summary>
    Restore,
    /// <summary>The restore worked but a check failed.</summary>
    Checks,
    /// <summary>Something the drill created could not be removed.</summary>
    Cleanup,
    /// <summary>The drill was stopped (Ctrl+C, a deadline).</summary>
    Cancelled,
}

/// <summary>Start, end and outcome of one phase.</summary>
public sealed class PhaseTiming
{
    /// <summary>Which phase.</summary>
    public required DrillPhase Phase { get; init; }
    /// <summary>Start (UTC).</summary>
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>End (UTC).</summary>
    public DateTimeOffset EndedAt { get; set; }
    /// <summary>Whether the phase finished without error.</summary>
    public bool Succeeded { get; set; }
    /// <summary>What the phase did, in numbers (bytes, segments, files).</summary>
    public string? Detail { get; set; }
    /// <summary>Elapsed time.</summary>
    public TimeSpan Duration => EndedAt >= StartedAt ? EndedAt - StartedAt : TimeSpan.Zero;
}

/// <summary>What cleanup removed and whether anything was left behind.</summary>
public sealed class CleanupOutcome
{
    /// <summary>True when everything the drill created is gone.</summary>
    public bool Succeeded { get; set; }
    /// <summary>Skipped on purpose (a recovery target, or <c>--keep</c>).</summary>
    public bool Kept { get; set; }
    /// <summary>What was removed, e.g. <c>process 1234</c>, <c>directory /tmp/…</c>.</summary>
    public List<string> Removed { get; } = new();
    /// <summary>Problems met while cleaning up.</summary>
    public List<string> Problems { get; } = new();
}

/// <summary>A short, serialisable summary of the restored backup.</summary>
public sealed class BackupSummary
{
    /// <summary>Backup id.</summary>
    public required string Id { get; init; }
    /// <summary>Backup name, if any.</summary>
    public string? Name { get; init; }
    /// <summary>Tool that took it.</summary>
    public required string Method { get; init; }
    /// <summary>Catalogue kind.</summary>
    public required BackupSourceKind SourceKind { get; init; }
    /// <summary>Start (UTC).</summary>
    public DateTimeOffset? BeginTime { get; init; }
    /// <summary>End (UTC).</summary>
    public DateTimeOffset? EndTime { get; init; }
    /// <summary>First WAL.</summary>
    public string? BeginWal { get; init; }
    /// <summary>Consistency WAL.</summary>
    public string? EndWal { get; init; }
    /// <summary>Timeline.</summary>
    public int? Timeline { get; init; }
    /// <summary>PostgreSQL major version.</summary>
    public int? PostgresMajorVersion { get; init; }
    /// <summary>Compression of the base archive.</summary>
    public string? Compression { get; init; }

    /// <summary>Summarises a backup.</summary>
    public static BackupSummary From(Backup b) => new()
    {
        Id = b.Id, Name = b.Name, Method = b.Method, SourceKind = b.SourceKind,
        BeginTime = b.BeginTime, EndTime = b.EndTime, BeginWal = b.BeginWal, EndWal = b.EndWal,
        Timeline = b.Timeline, PostgresMajorVersion = b.PostgresMajorVersion, Compression = b.Compression,
    };
}

/// <summary>
/// The evidence of one drill: which backup, how old, how long each phase took, what the checks found,
/// whether everything was cleaned up, and the verdict.
/// </summary>
/// <example><code>var record = await runner.RunAsync(options, progress, ct); Console.WriteLine(record.Verdict);</code></example>
public sealed class DrillRecord
{
    /// <summary>Version of this document's shape.</summary>
    public int SchemaVersion { get; init; } = 1;
    /// <summary>Unique drill id.</summary>
    public required string DrillId { get; init; }
    /// <summary>RestoreOps version that ran the drill.</summary>
    public required string ToolVersion { get; init; }
    /// <summary>Machine the drill ran on.</summary>
    public required string Host { get; init; }
    /// <summary>Start (UTC).</summary>
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>End (UTC).</summary>
    public DateTimeOffset EndedAt { get; set; }
    /// <summary>The source in the user's words.</summary>
    public string? Source { get; set; }
    /// <summary>Drill or recovery.</summary>
    public RestorePurpose Purpose { get; init; } = RestorePurpose.Drill;
    /// <summary>Where the restore ran.</summary>
    public RestoreTargetKind TargetKind { get; init; } = RestoreTargetKind.Local;
    /// <summary>The restored backup.</summary>
    public BackupSummary? Backup { get; set; }
    /// <summary>Backup age when the drill started (RPO's first term).</summary>
    public TimeSpan? BackupAge { get; set; }
    /// <summary>The requested recovery target.</summary>
    public string? RecoveryTarget { get; set; }
    /// <summary>The newest commit the restored data contains.</summary>
    public DateTimeOffset? AchievedRecoveryTime { get; set; }
    /// <summary>The WAL location replay ended at.</summary>
    public string? AchievedRecoveryLsn { get; set; }
    /// <summary>Per-phase timings.</summary>
    public List<PhaseTiming> Phases { get; } = new();
    /// <summary>Restore time (RTO): from the first restore phase to ready.</summary>
    public TimeSpan? RestoreDuration { get; set; }
    /// <summary>Whole drill, cleanup included.</summary>
    public TimeSpan TotalDuration => EndedAt >= StartedAt ? EndedAt - StartedAt : TimeSpan.Zero;
    /// <summary>Check results.</summary>
    public List<CheckResult> Checks { get; } = new();
    /// <summary>Cleanup outcome.</summary>
    public CleanupOutcome Cleanup { get; } = new();
    /// <summary>Verdict.</summary>
    public DrillVerdict Verdict { get; set; } = DrillVerdict.Error;
    /// <summary>Why the drill did not pass, if it did not.</summary>
    public DrillFailureCategory? FailureCategory { get; set; }
    /// <summary>The phase that failed, if any.</summary>
    public DrillPhase? FailedPhase { get; set; }
    /// <summary>Why the drill failed, naming the cause and the fix.</summary>
    public string? FailureMessage { get; set; }
}
