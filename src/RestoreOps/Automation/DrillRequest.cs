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
    /// <summary>What to restore and where. Its <see cref="RestoreRequest.Backup"/> may be left out when <see cref="Source"/> finds it.</summary>
    public required RestoreRequest Restore { get; init; }
    /// <summary>
    /// Where the drill finds its backup (its Discover phase), when the caller has not found it already: a failure to
    /// find it is then part of the drill's record. Ignored when <see cref="RestoreRequest.Backup"/> is given.
    /// </summary>
    public BackupQuery? Source { get; init; }
    /// <summary>What to verify.</summary>
    public CheckSpec Checks { get; init; } = new();
    /// <summary>How long the target may take to accept sessions; null: 30 minutes.</summary>
    public TimeSpan? ReadyTimeout { get; init; }
    /// <summary>Keep the target when the drill does not pass, for a human to look at (a sweep removes it after expiry).</summary>
    public bool KeepOnFailure { get; init; }
    /// <summary>Keep the target whatever the verdict (a sweep removes it after expiry); <see cref="DrillRun.KeptTarget"/> says how to reach it.</summary>
    public bool Keep { get; init; }
    /// <summary>Write the evidence files here.</summary>
    public string? EvidencePath { get; init; }
    /// <summary>HMAC key for the record's signature.</summary>
    public byte[]? SigningKey { get; init; }
    /// <summary>Ping this URL when the drill passes (silence is the alarm).</summary>
    public Uri? HeartbeatUrl { get; init; }
    /// <summary>Also write the metrics to this file, for node-exporter's textfile collector.</summary>
    public string? TextfileCollectorPath { get; init; }
    /// <summary>Push the drill's metrics to this Prometheus Pushgateway.</summary>
    public Uri? PushgatewayUrl { get; init; }
    /// <summary>Who owns the procedure; null: the check file's <c>owner:</c>.</summary>
    public string? Owner { get; init; }
    /// <summary>Free-text notes for the record: the steps that needed human judgement.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>The command line that ran this drill, for the runbook (redacted by the engine before it is recorded).</summary>
    public string? Command { get; init; }
}

/// <summary>What a drill produced besides its record: the evidence files and anything a human should know.</summary>
/// <param name="Record">The drill record.</param>
/// <param name="EvidenceFiles">Files written, when an evidence path was given.</param>
/// <param name="Warnings">Heartbeat, metrics or evidence problems that did not change the verdict.</param>
/// <param name="KeptTarget">The restore target when the drill kept it (<see cref="DrillRequest.Keep"/>, <see cref="DrillRequest.KeepOnFailure"/>), with how to connect to it.</param>
public sealed record DrillRun(Model.DrillRecord Record, IReadOnlyList<string> EvidenceFiles, IReadOnlyList<string> Warnings, Model.RestoreCluster? KeptTarget = null)
{
    /// <summary>True when evidence was asked for and written: a pass without it is not a pass a schedule may count.</summary>
    public bool Recorded { get; init; } = true;
}
