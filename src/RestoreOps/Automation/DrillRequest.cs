namespace RestoreOps.Automation;

/// <summary>A whole drill: restore, wait, check, record, notify, clean up.</summary>
/// <example>
/// <code>
/// var run = await engine.RunDrillAsync(new DrillRequest
/// {
///     Restore = new RestoreRequest { Backup = latest, Kind = RestoreTargetKind.Local },
///     Checks = new CheckSpec { Path = "checks.yaml" },
///     EvidencePath = "/evidence",
/// }, progress, ct);
/// </code>
/// </example>
public sealed class DrillRequest
{
    /// <summary>What to restore and where.</summary>
    public required RestoreRequest Restore { get; init; }
    /// <summary>What to verify.</summary>
    public CheckSpec Checks { get; init; } = new();
    /// <summary>How long the target may take to accept sessions; null: 30 minutes.</summary>
    public TimeSpan? ReadyTimeout { get; init; }
    /// <summary>Keep the target when the drill does not pass, for a human to look at (a sweep removes it after expiry).</summary>
    public bool KeepOnFailure { get; init; }
    /// <summary>Write the evidence files here.</summary>
    public string? EvidencePath { get; init; }
    /// <summary>HMAC key for the record's signature.</summary>
    public byte[]? SigningKey { get; init; }
    /// <summary>Ping this URL when the drill passes (silence is the alarm).</summary>
    public Uri? HeartbeatUrl { get; init; }
    /// <summary>Also write the metrics to this file, for node-exporter's textfile collector.</summary>
    public string? TextfileCollectorPath { get; init; }
}

/// <summary>What a drill produced besides its record: the evidence files and anything a human should know.</summary>
/// <param name="Record">The drill record.</param>
/// <param name="EvidenceFiles">Files written, when an evidence path was given.</param>
/// <param name="Warnings">Heartbeat or evidence problems that did not change the verdict.</param>
public sealed record DrillRun(Model.DrillRecord Record, IReadOnlyList<string> EvidenceFiles, IReadOnlyList<string> Warnings);
