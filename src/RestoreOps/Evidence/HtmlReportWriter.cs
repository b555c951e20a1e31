using System.Globalization;
using System.Net;
using System.Text;
using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>
/// Writes a record as one self-contained HTML page (inline CSS and SVG, no scripts, no external assets, so it opens
/// from a CI artifact or a mail attachment): verdict, facts, a phase timeline, objectives, checks and, given earlier
/// records of the same source, trend charts of restore time, backup age and data age.
/// </summary>
/// <example><code>File.WriteAllText("drill.html", HtmlReportWriter.Write(record, DrillHistory.Load("evidence").ForSource(record.Source)));</code></example>
public static class HtmlReportWriter
{
    private const int ChartWidth = 1100;

    /// <summary>The page, secrets redacted. <paramref name="history"/> may include <paramref name="record"/>; it is counted once.</summary>
    public static string Write(DrillRecord record, IEnumerable<DrillRecord>? history = null)
    {
        var r = DrillRecordJson.RedactedCopy(record);
        var series = (history ?? [])
            .Where(h => h.DrillId != r.DrillId && (h.Source ?? "") == (r.Source ?? ""))
            .Select(DrillRecordJson.RedactedCopy)
            .Append(r)
            .OrderBy(h => h.StartedAt)
            .TakeLast(60)
            .ToList();
        var sb = new StringBuilder();
        var verdictClass = r.Verdict.ToString().ToLowerInvariant();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        sb.Append(CultureInfo.InvariantCulture, $"<title>Restore drill {E(r.DrillId)}: {r.Verdict}</title>");
        sb.Append("""
            <style>
            body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
            h1{font-size:22px;margin:0 0 8px} h2{font-size:17px;margin:24px 0 8px}
            .verdict{display:inline-block;padding:3px 10px;border-radius:4px;color:#fff;font-weight:600}
            .passed{background:#1a7f37} .failed{background:#cf222e} .error{background:#9a6700}
            table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
            th{background:#f6f8fa} .why{background:#fff8c5;border:1px solid #d4a72c;padding:8px;margin:8px 0}
            svg text{font-size:12px;font-family:inherit} .ok{fill:#2da44e} .bad{fill:#cf222e} .axis{stroke:#8c959f;stroke-width:1}
            .line{fill:none;stroke:#0969da;stroke-width:2} .dot{fill:#0969da} .limit{stroke:#cf222e;stroke-dasharray:4 3}
            </style></head><body>
            """);
        sb.Append(CultureInfo.InvariantCulture, $"<h1>Restore drill {E(r.DrillId)} <span class=\"verdict {verdictClass}\" id=\"verdict\">{r.Verdict.ToString().ToUpperInvariant()}</span></h1>");
        if (r.FailureMessage is { } why) sb.Append(CultureInfo.InvariantCulture, $"<div class=\"why\"><b>Why:</b> {E(why)}</div>");

        sb.Append("<table id=\"facts\">");
        void Row(string k, string? v) { if (v is not null) sb.Append(CultureInfo.InvariantCulture, $"<tr><th>{E(k)}</th><td>{E(v)}</td></tr>"); }
        Row("Source", r.Source);
        Row("Owner", r.Owner);
        Row("Started / ended (UTC)", $"{Instant(r.StartedAt)} / {Instant(r.EndedAt)}");
        Row("Ran on", r.Environment is { } env ? $"{env.User}@{env.Host} ({env.OperatingSystem})" + (env.KubernetesContext is null ? "" : $", context {env.KubernetesContext}") : r.Host);
        if (r.Backup is { } b) Row("Backup", $"{b.Method} {b.Id}" + (b.EndTime is { } end ? $", ended {Instant(end)}" : ""));
        Row("Backup age (RPO)", Dur(r.BackupAge));
        Row("Recovery target", r.RecoveryTarget);
        Row("Achieved recovery point", r.AchievedRecoveryTime is { } a ? Instant(a) + (r.AchievedRecoveryLsn is null ? "" : $" at {r.AchievedRecoveryLsn}") : r.AchievedRecoveryLsn);
        Row("Data age (RPO)", Dur(r.DataAge));
        Row("Restore time (RTO)", Dur(r.RestoreDuration));
        Row("Cleanup", r.Cleanup.ToString());
        Row("Tool version", r.ToolVersion);
        Row("Digest", r.Digest);
        sb.Append("</table>");
        if (r.Notes.Count > 0)
        {
            sb.Append("<h2>Notes</h2><ul id=\"notes\">");
            foreach (var n in r.Notes) sb.Append(CultureInfo.InvariantCulture, $"<li>{E(n)}</li>");
            sb.Append("</ul>");
        }

        sb.Append("<h2>Timeline</h2>");
        AppendTimeline(sb, r);

        if (r.Objectives.Count > 0)
        {
            sb.Append("<h2>Objectives</h2><table id=\"objectives\"><tr><th>Objective</th><th>Limit</th><th>Actual</th><th>Verdict</th><th>Message</th></tr>");
            foreach (var o in r.Objectives)
                sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{o.Kind}</td><td>{E(Dur(o.Limit))}</td><td>{E(Dur(o.Actual) ?? "-")}</td><td class=\"{(o.Verdict == ObjectiveVerdict.Met ? "" : "bad")}\">{o.Verdict}</td><td>{E(o.Message)}</td></tr>");
            sb.Append("</table>");
        }
        if (r.Checks.Count > 0)
        {
            sb.Append("<h2>Checks</h2><table id=\"checks\"><tr><th>Check</th><th>Category</th><th>Status</th><th>Expected</th><th>Actual</th><th>Message</th></tr>");
            foreach (var c in r.Checks)
                sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(c.Name)}</td><td>{E(c.Category)}</td><td>{c.Status}</td><td>{E(c.Expected ?? "")}</td><td>{E(c.Actual ?? "")}</td><td>{E(c.Message)}</td></tr>");
            sb.Append("</table>");
        }

        sb.Append(CultureInfo.InvariantCulture, $"<h2>Trends ({series.Count} drill{(series.Count == 1 ? "" : "s")} of this source)</h2>");
        if (series.Count < 2) sb.Append("<p id=\"trends-empty\">Trends appear once the evidence folder holds earlier records of this source.</p>");
        else
        {
            AppendTrend(sb, "trend-restore-time", "Restore time (RTO)", series, h => h.RestoreDuration, r.Objectives.FirstOrDefault(o => o.Kind == ObjectiveKind.RestoreTime)?.Limit);
            AppendTrend(sb, "trend-backup-age", "Backup age (RPO)", series, h => h.BackupAge, r.Objectives.FirstOrDefault(o => o.Kind == ObjectiveKind.BackupAge)?.Limit);
            AppendTrend(sb, "trend-data-age", "Data age (RPO)", series, h => h.DataAge, r.Objectives.FirstOrDefault(o => o.Kind == ObjectiveKind.DataAge)?.Limit);
        }
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    private static void AppendTimeline(StringBuilder sb, DrillRecord r)
    {
        const int left = 110, barHeight = 22, gap = 6;
        var plot = ChartWidth - left - 150;
        var start = r.Phases.Count == 0 ? r.StartedAt : r.Phases.Min(p => p.StartedAt);
        var end = r.Phases.Count == 0 ? r.EndedAt : r.Phases.Max(p => p.EndedAt);
        var span = Math.Max((end - start).TotalSeconds, 0.001);
        var height = r.Phases.Count * (barHeight + gap) + 30;
        sb.Append(CultureInfo.InvariantCulture, $"<svg id=\"timeline\" role=\"img\" aria-label=\"Phase timeline\" width=\"{ChartWidth}\" height=\"{height}\" viewBox=\"0 0 {ChartWidth} {height}\">");
        for (var i = 0; i < r.Phases.Count; i++)
        {
            var p = r.Phases[i];
            var x = left + (p.StartedAt - start).TotalSeconds / span * plot;
            // Even an instant phase gets a visible sliver: a missing bar reads as "did not run".
            var w = Math.Max(p.Duration.TotalSeconds / span * plot, 3);
            var y = i * (barHeight + gap);
            sb.Append(CultureInfo.InvariantCulture,
                $"<g class=\"phase\" data-phase=\"{p.Phase}\"><text x=\"0\" y=\"{y + 16}\">{p.Phase}</text>" +
                $"<rect class=\"{(p.Succeeded ? "ok" : "bad")}\" x=\"{x:0.#}\" y=\"{y}\" width=\"{w:0.#}\" height=\"{barHeight}\" rx=\"3\"><title>{E(p.Phase + ": " + Dur(p.Duration) + (p.Detail is null ? "" : " — " + p.Detail))}</title></rect>" +
                $"<text x=\"{x + w + 6:0.#}\" y=\"{y + 16}\">{E(Dur(p.Duration))}</text></g>");
        }
        var axisY = r.Phases.Count * (barHeight + gap) + 4;
        sb.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{left}\" y1=\"{axisY}\" x2=\"{left + plot}\" y2=\"{axisY}\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{axisY + 18}\">0 s</text><text x=\"{left + plot - 60}\" y=\"{axisY + 18}\">{E(Dur(end - start))}</text>");
        sb.Append("</svg>");
    }

    private static void AppendTrend(StringBuilder sb, string id, string title, List<DrillRecord> series, Func<DrillRecord, TimeSpan?> value, TimeSpan? limit)
    {
        const int height = 180, left = 70, top = 20, bottom = 30;
        var plot = ChartWidth - left - 20;
        var points = series.Select(h => (h.StartedAt, Seconds: value(h)?.TotalSeconds, h.Verdict)).Where(p => p.Seconds is not null).ToList();
        sb.Append(CultureInfo.InvariantCulture, $"<h3>{E(title)}</h3>");
        if (points.Count == 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<p id=\"{id}\">No measurements yet.</p>");
            return;
        }
        var max = Math.Max(points.Max(p => p.Seconds!.Value), limit?.TotalSeconds ?? 0) * 1.1;
        if (max <= 0) max = 1;
        var t0 = points.Min(p => p.StartedAt);
        var tspan = Math.Max((points.Max(p => p.StartedAt) - t0).TotalSeconds, 1);
        double X(DateTimeOffset t) => left + (t - t0).TotalSeconds / tspan * plot;
        double Y(double s) => top + (1 - s / max) * (height - top - bottom);
        sb.Append(CultureInfo.InvariantCulture, $"<svg id=\"{id}\" class=\"trend\" width=\"{ChartWidth}\" height=\"{height}\" viewBox=\"0 0 {ChartWidth} {height}\">");
        sb.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{left}\" y1=\"{height - bottom}\" x2=\"{left + plot}\" y2=\"{height - bottom}\"/><line class=\"axis\" x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{height - bottom}\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"4\" y=\"{top + 4}\">{E(DurationText.Format(TimeSpan.FromSeconds(max)))}</text><text x=\"4\" y=\"{height - bottom}\">0</text>");
        if (limit is { } l)
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"limit\" x1=\"{left}\" y1=\"{Y(l.TotalSeconds):0.#}\" x2=\"{left + plot}\" y2=\"{Y(l.TotalSeconds):0.#}\"><title>objective {E(DurationText.Format(l))}</title></line>");
        sb.Append("<polyline class=\"line\" points=\"");
        sb.AppendJoin(' ', points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{X(p.StartedAt):0.#},{Y(p.Seconds!.Value):0.#}")));
        sb.Append("\"/>");
        foreach (var p in points)
            sb.Append(CultureInfo.InvariantCulture, $"<circle class=\"{(p.Verdict == DrillVerdict.Passed ? "dot" : "bad")}\" cx=\"{X(p.StartedAt):0.#}\" cy=\"{Y(p.Seconds!.Value):0.#}\" r=\"4\"><title>{Instant(p.StartedAt)}: {E(DurationText.Format(TimeSpan.FromSeconds(p.Seconds!.Value)))}</title></circle>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"{height - 8}\">{Instant(t0)}</text><text x=\"{left + plot - 150}\" y=\"{height - 8}\">{Instant(points.Max(p => p.StartedAt))}</text>");
        sb.Append("</svg>");
    }

    private static string E(string? s) => WebUtility.HtmlEncode(s ?? "");
    private static string Instant(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    private static string? Dur(TimeSpan? t) => t is { } v ? DurationText.Format(v) : null;
}
