using RestoreOps.Automation;
using RestoreOps.Model;

namespace RestoreOps;

public sealed partial class RestoreEngine
{
    /// <summary>
    /// Records a stage a front end performed on <paramref name="cluster"/> in its <see cref="RestoreCluster.Steps"/>:
    /// the command that repeats it (redacted here, so no front end can record a secret), when it started, how long it
    /// took until now, and its outcome. With <paramref name="record"/>, the record's runbook is brought up to date too.
    /// </summary>
    /// <returns>The step as recorded.</returns>
    public RunbookStep RecordStep(RestoreCluster cluster, string stage, string command, DateTimeOffset startedAt, bool succeeded, string? outcome, DrillRecord? record = null)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var step = Step(stage, command, startedAt, succeeded, outcome);
        cluster.AppendStep(step);
        if (record is not null)
        {
            record.Runbook.Clear();
            record.Runbook.AddRange(cluster.Steps);
        }
        return step;
    }

    /// <summary>A step not yet tied to a target (finding a backup): redacted here; the target restored from it starts its timeline with it.</summary>
    public RunbookStep NewStep(string stage, string command, DateTimeOffset startedAt, bool succeeded, string? outcome) =>
        Step(stage, command, startedAt, succeeded, outcome);

    /// <summary>Records a stage performed on a record alone (writing its evidence), after the target's steps.</summary>
    public RunbookStep RecordStep(DrillRecord record, string stage, string command, DateTimeOffset startedAt, bool succeeded, string? outcome)
    {
        ArgumentNullException.ThrowIfNull(record);
        var step = Step(stage, command, startedAt, succeeded, outcome);
        record.Runbook.Add(step);
        return step;
    }

    /// <summary>Sets the record's owner (when given) and adds notes: what people say about the procedure, redacted like the rest.</summary>
    public void Annotate(DrillRecord record, string? owner, IEnumerable<string>? notes)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!string.IsNullOrWhiteSpace(owner)) record.Owner = Redact(owner.Trim());
        foreach (var note in notes ?? [])
            if (!string.IsNullOrWhiteSpace(note)) record.Notes.Add(Redact(note.Trim())!);
    }

    private RunbookStep Step(string stage, string command, DateTimeOffset startedAt, bool succeeded, string? outcome)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(stage);
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        var now = DateTimeOffset.UtcNow;
        return new RunbookStep
        {
            Stage = stage,
            Command = Redact(command)!,
            StartedAt = startedAt,
            Duration = now > startedAt ? now - startedAt : TimeSpan.Zero,
            Succeeded = succeeded,
            Outcome = Redact(outcome),
        };
    }

    /// <summary>A whole CLI drill is one step: its command line did every stage; the record's phases time them.</summary>
    private void ApplyRunbook(DrillRecord record, DrillRequest request, string? checkFileOwner)
    {
        Annotate(record, request.Owner ?? checkFileOwner, request.Notes);
        if (request.Command is not { } command) return;
        var outcome = record.Verdict == DrillVerdict.Passed ? "passed" : $"{record.Verdict.ToString().ToLowerInvariant()}{(record.FailedPhase is { } p ? $" in {p}" : "")}";
        var step = new RunbookStep
        {
            Stage = "drill",
            Command = Redact(command)!,
            StartedAt = record.StartedAt,
            Duration = record.TotalDuration,
            Succeeded = record.Verdict == DrillVerdict.Passed,
            Outcome = $"{outcome}; target {record.Cleanup}",
        };
        record.Runbook.Add(step);
    }

    /// <summary>A recovery target is kept until someone removes it: it needs a name people will find it by.</summary>
    private static void RequireRecoveryName(RestoreRequest request)
    {
        if (request.Purpose != RestorePurpose.Recovery || request.Name is not null) return;
        throw new ConfigurationException("A recovery target is kept until someone removes it, so it needs a name to find it by; none was given.",
            $"Pass {InputKey.RestoreTargetName.Ref()} with a name that says what it holds, e.g. orders-before-truncate.", parameter: InputKey.RestoreTargetName);
    }
}
