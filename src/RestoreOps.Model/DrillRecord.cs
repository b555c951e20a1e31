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
    /// <summary>Restored and verified, but an objective (RPO or RTO) was breached or could not be measured.</summary>
    Objectives,
}

/// <summary>What a drill commits to: how old the backup and the restored data may be (RPO) and how long the restore may take (RTO).</summary>
/// <example><code>new DrillObjectives { MaxBackupAge = TimeSpan.FromHours(26), MaxRestoreTime = TimeSpan.FromMinutes(30) }</code></example>
public sealed class DrillObjectives
{
    /// <summary>RPO, first term: the restored backup may have ended at most this long before the drill started.</summary>
    public TimeSpan? MaxBackupAge { get; init; }
    /// <summary>RPO, second term: the newest commit in the restored data may be at most this long before the drill started.</summary>
    public TimeSpan? MaxDataAge { get; init; }
    /// <summary>RTO: the restore (first restore phase until ready) may take at most this long.</summary>
    public TimeSpan? MaxRestoreTime { get; init; }

    /// <summary>True when no objective is set.</summary>
    public bool IsEmpty => MaxBackupAge is null && MaxDataAge is null && MaxRestoreTime is null;

    /// <summary>The limits that are set, for list views.</summary>
    public override string ToString() => string.Join(", ", new[]
    {
        MaxBackupAge is { } b ? $"backup age <= {b}" : null,
        MaxDataAge is { } d ? $"data age <= {d}" : null,
        MaxRestoreTime is { } r ? $"restore time <= {r}" : null,
    }.Where(x => x is not null));
}

/// <summary>Which objective a verdict is about.</summary>
public enum ObjectiveKind
{
    /// <summary>Backup age against <see cref="DrillObjectives.MaxBackupAge"/>.</summary>
    BackupAge,
    /// <summary>Data age against <see cref="DrillObjectives.MaxDataAge"/>.</summary>
    DataAge,
    /// <summary>Restore time against <see cref="DrillObjectives.MaxRestoreTime"/>.</summary>
    RestoreTime,
}

/// <summary>Whether one objective was met.</summary>
public enum ObjectiveVerdict
{
    /// <summary>Measured and within the limit.</summary>
    Met,
    /// <summary>Measured and over the limit.</summary>
    Breached,
    /// <summary>Could not be measured (the restore failed, or the source reports no recovery point); does not count as met.</summary>
    NotMeasured,
}

/// <summary>One objective, what was measured, and the verdict.</summary>
public sealed class ObjectiveResult
{
    /// <summary>Which objective.</summary>
    public required ObjectiveKind Kind { get; init; }
    /// <summary>The committed limit.</summary>
    public required TimeSpan Limit { get; init; }
    /// <summary>What was measured, if anything.</summary>
    public TimeSpan? Actual { get; init; }
    /// <summary>The verdict.</summary>
    public required ObjectiveVerdict Verdict { get; init; }
    /// <summary>In words, with the margin or the overrun.</summary>
    public required string Message { get; init; }

    /// <summary>The verdict and what was compared, for list views.</summary>
    public override string ToString() => $"{Kind} {Verdict}: {Message}";
}

/// <summary>Who ran the drill and where.</summary>
public sealed class DrillEnvironment
{
    /// <summary>Machine name.</summary>
    public required string Host { get; init; }
    /// <summary>OS account that ran RestoreOps.</summary>
    public string? User { get; init; }
    /// <summary>Operating system description.</summary>
    public string? OperatingSystem { get; init; }
    /// <summary>.NET runtime description.</summary>
    public string? Runtime { get; init; }
    /// <summary>Kubernetes context, when the drill used Kubernetes.</summary>
    public string? KubernetesContext { get; init; }

    /// <summary>Where the drill ran, for list views.</summary>
    public override string ToString() => KubernetesContext is { } k ? $"{User}@{Host} ({OperatingSystem}; context {k})" : $"{User}@{Host} ({OperatingSystem})";

    /// <summary>The environment of the current process.</summary>
    public static DrillEnvironment Current(string? kubernetesContext = null) => new()
    {
        Host = System.Environment.MachineName,
        User = System.Environment.UserName,
        OperatingSystem = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        Runtime = System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
        KubernetesContext = kubernetesContext,
    };
}

/// <summary>
/// Start, end and outcome of one phase. Never changes once made, so whoever holds one (a formatter mid-restore) reads a
/// consistent phase: a phase that ends is a new instance (<see cref="End"/>) put in the old one's place
/// (<see cref="PhaseTimingList.Replace"/>).
/// </summary>
public sealed class PhaseTiming
{
    /// <summary>Which phase.</summary>
    public required DrillPhase Phase { get; init; }
    /// <summary>Start (UTC).</summary>
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>End (UTC); <c>default</c> while the phase runs.</summary>
    public DateTimeOffset EndedAt { get; init; }
    /// <summary>Whether the phase finished without error.</summary>
    public bool Succeeded { get; init; }
    /// <summary>What the phase did, in numbers (bytes, segments, files).</summary>
    public string? Detail { get; init; }
    /// <summary>Elapsed time.</summary>
    public TimeSpan Duration => EndedAt >= StartedAt ? EndedAt - StartedAt : TimeSpan.Zero;

    /// <summary>This phase, ended at <paramref name="endedAt"/> (default: now) with its outcome: a new instance.</summary>
    public PhaseTiming End(bool succeeded, string? detail, DateTimeOffset? endedAt = null) => new()
    {
        Phase = Phase,
        StartedAt = StartedAt,
        EndedAt = endedAt ?? DateTimeOffset.UtcNow,
        Succeeded = succeeded,
        Detail = detail,
    };
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

    /// <summary>One line for people: kept, nothing to remove, everything removed, or what is left.</summary>
    public override string ToString() =>
        Kept ? "kept on request"
        : !Succeeded ? "INCOMPLETE: " + string.Join("; ", Problems)
        : Removed.Count == 0 ? "nothing to remove"
        : "everything removed";
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
    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    /// <summary>The shape this build writes. 2 added environment, objectives, data age, digest and signature.</summary>
    public const int CurrentSchemaVersion = 2;
    /// <summary>Unique drill id.</summary>
    public required string DrillId { get; init; }
    /// <summary>RestoreOps version that ran the drill.</summary>
    public required string ToolVersion { get; init; }
    /// <summary>Machine the drill ran on.</summary>
    public required string Host { get; init; }
    /// <summary>Who ran the drill and where (host, user, OS, Kubernetes context).</summary>
    public DrillEnvironment? Environment { get; set; }
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
    /// <summary>Where replay had to reach for a restore to the end of the archive (end of the newest archived segment).</summary>
    public string? PlannedReplayEndLsn { get; set; }
    /// <summary>Where replay ended: the end of the last WAL record applied.</summary>
    public string? ReplayEndLsn { get; set; }
    /// <summary>Data age (RPO's second term): drill start minus <see cref="AchievedRecoveryTime"/>.</summary>
    public TimeSpan? DataAge { get; set; }
    /// <summary>Per-phase timings.</summary>
    public PhaseTimingList Phases { get; } = new();
    /// <summary>Restore time (RTO): from the first restore phase to ready.</summary>
    public TimeSpan? RestoreDuration { get; set; }
    /// <summary>Whole drill, cleanup included.</summary>
    public TimeSpan TotalDuration => EndedAt >= StartedAt ? EndedAt - StartedAt : TimeSpan.Zero;
    /// <summary>Check results.</summary>
    public List<CheckResult> Checks { get; } = new();
    /// <summary>Cleanup outcome.</summary>
    public CleanupOutcome Cleanup { get; } = new();
    /// <summary>Objectives and their verdicts; empty when none were set.</summary>
    public List<ObjectiveResult> Objectives { get; } = new();
    /// <summary>Verdict.</summary>
    public DrillVerdict Verdict { get; set; } = DrillVerdict.Error;
    /// <summary>Who owns the procedure (<c>-Owner</c>, <c>--owner</c>, or the check file's <c>owner:</c>).</summary>
    public string? Owner { get; set; }
    /// <summary>Free text from the people involved: the steps that needed human judgement.</summary>
    public List<string> Notes { get; } = new();
    /// <summary>The stages performed on the target, in order, each with the command that repeats it (the runbook).</summary>
    public List<RunbookStep> Runbook { get; } = new();

    /// <summary>The drill and its verdict, for list views of objects that hold a record.</summary>
    public override string ToString() => $"{DrillId} {Verdict}";
    /// <summary>Why the drill did not pass, if it did not.</summary>
    public DrillFailureCategory? FailureCategory { get; set; }
    /// <summary>The phase that failed, if any.</summary>
    public DrillPhase? FailedPhase { get; set; }
    /// <summary>Why the drill failed, naming the cause and the fix.</summary>
    public string? FailureMessage { get; set; }
    /// <summary><c>sha256:&lt;hex&gt;</c> of the record's canonical form (docs/evidence.md); set when the record is written.</summary>
    public string? Digest { get; set; }
    /// <summary><c>hmac-sha256:&lt;hex&gt;</c> of the canonical form with a key from the environment, when signing was asked for.</summary>
    public string? Signature { get; set; }
}
