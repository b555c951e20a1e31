using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>
/// Judges a record against its objectives (RPO: backup age and data age; RTO: restore time) and turns a breach
/// into a Failed verdict whose message says by how much.
/// </summary>
/// <example>
/// <code>
/// ObjectiveEvaluator.Apply(record, new DrillObjectives { MaxBackupAge = TimeSpan.FromHours(26) });
/// // record.Objectives[0].Message: "backup age 30h0m exceeds the objective 26h0m by 4h0m"
/// </code>
/// </example>
public static class ObjectiveEvaluator
{
    /// <summary>The verdict of each objective that is set, without touching the record.</summary>
    /// <param name="record">The drill's record.</param>
    /// <param name="objectives">The limits to judge it by.</param>
    /// <param name="spelling">Whose spelling the results' messages name inputs in.</param>
    public static IReadOnlyList<ObjectiveResult> Evaluate(DrillRecord record, DrillObjectives objectives, InputSpelling spelling = InputSpelling.Neutral)
    {
        var results = new List<ObjectiveResult>();
        if (objectives.MaxBackupAge is { } maxBackupAge)
            results.Add(Judge(ObjectiveKind.BackupAge, "backup age", maxBackupAge, record.BackupAge,
                "the backup has no end time (it may still be running or its catalogue entry is incomplete)"));
        if (objectives.MaxDataAge is { } maxDataAge)
            results.Add(Judge(ObjectiveKind.DataAge, "data age", maxDataAge, record.DataAge,
                $"the restore reports no achieved recovery point (it failed, or the source, e.g. a dump, carries no commit timestamps); drop {InputKeys.Name(InputKey.MaxDataAge, spelling)} for such sources"));
        if (objectives.MaxRestoreTime is { } maxRestoreTime)
            results.Add(Judge(ObjectiveKind.RestoreTime, "restore time", maxRestoreTime, record.RestoreDuration,
                "the restore did not reach ready"));
        return results;
    }

    /// <summary>
    /// Records the data age and the objective verdicts on <paramref name="record"/>. A drill that would otherwise pass
    /// becomes Failed (category <see cref="DrillFailureCategory.Objectives"/>) when an objective is breached or not measured;
    /// a drill that already failed keeps its own reason.
    /// </summary>
    /// <param name="record">The drill's record, changed in place.</param>
    /// <param name="objectives">The limits to judge it by; null or empty: none.</param>
    /// <param name="spelling">Whose spelling the messages name inputs in.</param>
    public static void Apply(DrillRecord record, DrillObjectives? objectives, InputSpelling spelling = InputSpelling.Neutral)
    {
        if (record.AchievedRecoveryTime is { } achieved) record.DataAge = record.StartedAt - achieved;
        record.Objectives.Clear();
        if (objectives is null || objectives.IsEmpty) return;
        record.Objectives.AddRange(Evaluate(record, objectives, spelling));
        var missed = record.Objectives.Where(o => o.Verdict != ObjectiveVerdict.Met).ToList();
        if (missed.Count == 0 || record.Verdict != DrillVerdict.Passed) return;
        record.Verdict = DrillVerdict.Failed;
        record.FailureCategory = DrillFailureCategory.Objectives;
        record.FailedPhase = null;
        record.FailureMessage = $"{missed.Count} objective(s) not met: " + string.Join("; ", missed.Select(o => o.Message)) + ".";
    }

    private static ObjectiveResult Judge(ObjectiveKind kind, string what, TimeSpan limit, TimeSpan? actual, string whyUnmeasured)
    {
        if (actual is not { } value)
            return new ObjectiveResult
            {
                Kind = kind, Limit = limit, Verdict = ObjectiveVerdict.NotMeasured,
                Message = $"{what} could not be measured against the objective {DurationText.Format(limit)}: {whyUnmeasured}",
            };
        // An age below zero means a time from the future: a wrong clock or a forged catalogue. Counting it as met would
        // make the stalest backup look the freshest.
        if (kind != ObjectiveKind.RestoreTime && -value > InputLimits.ClockSkewAllowance)
            return new ObjectiveResult
            {
                Kind = kind, Limit = limit, Actual = value, Verdict = ObjectiveVerdict.NotMeasured,
                Message = $"{what} could not be measured against the objective {DurationText.Format(limit)}: it is {DurationText.Format(value)}, a time {DurationText.Format(-value)} in the future (more than the {DurationText.Format(InputLimits.ClockSkewAllowance)} allowed for clock skew); check the clocks of the backup host and of this one",
            };
        var met = value <= limit;
        return new ObjectiveResult
        {
            Kind = kind, Limit = limit, Actual = value,
            Verdict = met ? ObjectiveVerdict.Met : ObjectiveVerdict.Breached,
            Message = met
                ? $"{what} {DurationText.Format(value)} is within the objective {DurationText.Format(limit)} ({DurationText.Format(limit - value)} to spare)"
                : $"{what} {DurationText.Format(value)} exceeds the objective {DurationText.Format(limit)} by {DurationText.Format(value - limit)}",
        };
    }
}
