using System.Globalization;
using System.Text;
using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>Writes a record as a Markdown summary for a pull request, a ticket or a CI job summary (<c>$GITHUB_STEP_SUMMARY</c>).</summary>
/// <example><code>File.AppendAllText(Environment.GetEnvironmentVariable("GITHUB_STEP_SUMMARY")!, MarkdownWriter.Write(record));</code></example>
public static class MarkdownWriter
{
    /// <summary>The record as Markdown, secrets redacted.</summary>
    public static string Write(DrillRecord record)
    {
        var r = DrillRecordJson.RedactedCopy(record);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"# Restore drill {Cell(r.DrillId)}: {r.Verdict.ToString().ToUpperInvariant()}\n\n");
        if (r.FailureMessage is { } why) sb.Append(CultureInfo.InvariantCulture, $"> **Why:** {Cell(why)}\n\n");
        sb.Append("| | |\n|---|---|\n");
        void Row(string k, string? v) { if (v is not null) sb.Append(CultureInfo.InvariantCulture, $"| {k} | {Cell(v)} |\n"); }
        Row("Source", r.Source);
        Row("Purpose", r.Purpose.ToString());
        Row("Owner", r.Owner);
        Row("Started (UTC)", Instant(r.StartedAt));
        Row("Ended (UTC)", Instant(r.EndedAt));
        Row("Ran on", r.Environment is { } e ? $"{e.User}@{e.Host} ({e.OperatingSystem})" + (e.KubernetesContext is null ? "" : $", context {e.KubernetesContext}") : r.Host);
        Row("Tool version", r.ToolVersion);
        if (r.Backup is { } b) Row("Backup", $"{b.Method} {b.Id}" + (b.EndTime is { } end ? $", ended {Instant(end)}" : ""));
        Row("Backup age (RPO)", Duration(r.BackupAge));
        Row("Recovery target", r.RecoveryTarget);
        Row("Achieved recovery point", r.AchievedRecoveryTime is { } a ? $"{Instant(a)}" + (r.AchievedRecoveryLsn is null ? "" : $" at {r.AchievedRecoveryLsn}") : r.AchievedRecoveryLsn);
        Row("Data age (RPO)", Duration(r.DataAge));
        Row("Restore time (RTO)", Duration(r.RestoreDuration));
        Row("Total", Duration(r.TotalDuration));
        Row("Cleanup", r.Cleanup.ToString());
        Row("Digest", r.Digest is null ? null : $"`{r.Digest}`" + (r.Signature is null ? "" : " (signed)"));

        if (r.Objectives.Count > 0)
        {
            sb.Append("\n## Objectives\n\n| Objective | Limit | Actual | Verdict | |\n|---|---|---|---|---|\n");
            foreach (var o in r.Objectives)
                sb.Append(CultureInfo.InvariantCulture, $"| {o.Kind} | {Duration(o.Limit)} | {Duration(o.Actual) ?? "-"} | {Mark(o.Verdict == ObjectiveVerdict.Met)} {o.Verdict} | {Cell(o.Message)} |\n");
        }
        if (r.Notes.Count > 0)
        {
            sb.Append("\n## Notes\n\n");
            foreach (var n in r.Notes) sb.Append(CultureInfo.InvariantCulture, $"- {Cell(n)}\n");
        }
        sb.Append("\n## Phases\n\n| Phase | Duration | | Detail |\n|---|---|---|---|\n");
        foreach (var p in r.Phases)
            sb.Append(CultureInfo.InvariantCulture, $"| {p.Phase} | {Duration(p.Duration)} | {Mark(p.Succeeded)} | {Cell(p.Detail ?? "")} |\n");
        if (r.Checks.Count > 0)
        {
            sb.Append("\n## Checks\n\n| Check | Category | Status | Expected | Actual | Message |\n|---|---|---|---|---|---|\n");
            foreach (var c in r.Checks)
                sb.Append(CultureInfo.InvariantCulture, $"| {Cell(c.Name)} | {Cell(c.Category)} | {Mark(c.Status is CheckStatus.Passed or CheckStatus.Skipped)} {c.Status} | {Cell(c.Expected ?? "")} | {Cell(c.Actual ?? "")} | {Cell(c.Message)} |\n");
        }
        return sb.ToString();
    }

    private static string Mark(bool ok) => ok ? "✅" : "❌";
    private static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    private static string? Duration(TimeSpan? t) => t is { } v ? $"{DurationText.Format(v)} ({Math.Round(v.TotalSeconds, 3).ToString(CultureInfo.InvariantCulture)} s)" : null;

    // A pipe or newline inside a cell would break the table; HTML in a message would render.
    private static string Cell(string s) => s.Replace("\\", "\\\\").Replace("|", "\\|").Replace("<", "&lt;").Replace("\r", "").Replace("\n", "<br>");
}
