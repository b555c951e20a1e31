using System.Globalization;
using System.Text;
using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>
/// Writes a record's runbook (<c>&lt;drillId&gt;.runbook.md</c>): the commands that were run on the target, in order, with
/// timings and outcomes, the recovery point they reached and the checks that proved it, so the next person can repeat
/// the procedure by copying the commands. Rendered from the redacted record, so it holds no secret.
/// </summary>
/// <example><code>File.WriteAllText($"{record.DrillId}.runbook.md", RunbookWriter.Write(record));</code></example>
public static class RunbookWriter
{
    /// <summary>The record's runbook as Markdown, secrets redacted.</summary>
    public static string Write(DrillRecord record)
    {
        var r = DrillRecordJson.RedactedCopy(record);
        var sb = new StringBuilder();
        var what = r.Purpose == RestorePurpose.Recovery ? "Recovery" : "Restore drill";
        sb.Append(CultureInfo.InvariantCulture, $"# Runbook: {what} {r.DrillId} ({r.Verdict.ToString().ToUpperInvariant()})\n\n");
        if (r.Owner is { } owner) sb.Append(CultureInfo.InvariantCulture, $"Owner: {Text(owner)}\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"Source: {Text(r.Source ?? "-")}; target: {r.TargetKind}");
        if (r.Backup is { } b) sb.Append(CultureInfo.InvariantCulture, $"; backup {b.Method} {b.Id}{(b.EndTime is { } end ? $" (ended {Instant(end)})" : "")}");
        sb.Append(".\n\n## Steps\n\n");
        if (r.Runbook.Count == 0)
            sb.Append("No commands were recorded for this target (the record was made by a front end that does not record them).\n");
        var i = 0;
        foreach (var step in r.Runbook)
        {
            sb.Append(CultureInfo.InvariantCulture,
                $"{++i}. **{step.Stage}** at {Instant(step.StartedAt)}, {Seconds(step.Duration)}: {(step.Succeeded ? "ok" : "FAILED")}{(step.Outcome is { } o ? $" ({Text(o)})" : "")}\n\n");
            var language = step.Command.StartsWith("restoreops ", StringComparison.Ordinal) ? "sh" : "powershell";
            sb.Append(CultureInfo.InvariantCulture, $"   ```{language}\n   {step.Command.Replace("\n", "\n   ", StringComparison.Ordinal)}\n   ```\n\n");
        }
        if (r.Phases.Count > 0)
        {
            sb.Append("## Restore phases\n\n| Phase | Duration | | Detail |\n|---|---|---|---|\n");
            foreach (var p in r.Phases)
                sb.Append(CultureInfo.InvariantCulture, $"| {p.Phase} | {Seconds(p.Duration)} | {(p.Succeeded ? "ok" : "FAILED")} | {Cell(p.Detail ?? "")} |\n");
            sb.Append('\n');
        }
        sb.Append("## Recovery point\n\n");
        sb.Append(CultureInfo.InvariantCulture, $"- Requested: {Text(r.RecoveryTarget ?? "latest")}\n");
        sb.Append(CultureInfo.InvariantCulture, $"- Achieved: {(r.AchievedRecoveryTime is { } a ? Instant(a) : "unknown")}{(r.AchievedRecoveryLsn is { } lsn ? $" at {lsn}" : "")}\n\n");
        sb.Append("## Checks that proved it\n\n");
        if (r.Checks.Count == 0) sb.Append("No checks ran.\n\n");
        else
        {
            sb.Append("| Check | Status | Expected | Actual |\n|---|---|---|---|\n");
            foreach (var c in r.Checks)
                sb.Append(CultureInfo.InvariantCulture, $"| {Cell(c.Name)} | {c.Status} | {Cell(c.Expected ?? "")} | {Cell(c.Actual ?? "")} |\n");
            sb.Append('\n');
        }
        if (r.Notes.Count > 0)
        {
            sb.Append("## Notes\n\n");
            foreach (var n in r.Notes) sb.Append(CultureInfo.InvariantCulture, $"- {Text(n)}\n");
            sb.Append('\n');
        }
        var target = r.Purpose == RestorePurpose.Recovery && r.Cleanup.Kept
            ? "kept as a recovery target (never swept; remove it by name when it is no longer needed)"
            : r.Cleanup.ToString();
        sb.Append(CultureInfo.InvariantCulture, $"Verdict: {r.Verdict.ToString().ToUpperInvariant()}{(r.FailureMessage is { } why ? $": {Text(why)}" : "")}. Target: {target}.\n");
        return sb.ToString();
    }

    private static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    private static string Seconds(TimeSpan t) => Math.Round(t.TotalSeconds, 3).ToString("0.000", CultureInfo.InvariantCulture) + " s";
    // Outside code blocks, markup in a message or a name must not render.
    private static string Text(string s) => s.Replace("<", "&lt;", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
    private static string Cell(string s) => Text(s).Replace("|", "\\|", StringComparison.Ordinal);
}
