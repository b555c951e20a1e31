namespace RestoreOps.Model;

/// <summary>
/// One stage a front end performed on a restore target (discover, create, wait, check, export, remove, or a whole CLI
/// drill), with the command a person would type to repeat it. Never changes once made; secrets are redacted before it
/// is made.
/// </summary>
public sealed class RunbookStep
{
    /// <summary>What the step did: discover, create, wait, check, export, remove, or drill (a CLI run that did them all).</summary>
    public required string Stage { get; init; }
    /// <summary>The cmdlet call or CLI line that repeats it, secrets redacted.</summary>
    public required string Command { get; init; }
    /// <summary>When it started (UTC).</summary>
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>How long it took.</summary>
    public TimeSpan Duration { get; init; }
    /// <summary>Whether it did what it was asked.</summary>
    public bool Succeeded { get; init; }
    /// <summary>What came of it, in a few words (the backup chosen, the phase reached, the verdict, the failure).</summary>
    public string? Outcome { get; init; }

    /// <summary>The step in one line, for list views.</summary>
    public override string ToString() => $"{Stage} {(Succeeded ? "ok" : "FAILED")} {Duration.TotalSeconds:0.000}s: {Command}";
}
