using System.Globalization;
using System.Text;
using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>
/// Writes a record as Prometheus text exposition (format 0.0.4) for the node-exporter textfile collector or a
/// Pushgateway. Every series is labelled by <c>source</c>. Alert on
/// <c>time() - restoreops_drill_last_success_timestamp_seconds &gt; 2 * 86400</c>: silence is the alarm.
/// </summary>
/// <example><code>File.WriteAllText("/var/lib/node_exporter/textfile/restoreops.prom", PrometheusWriter.Write(record, lastSuccess));</code></example>
public static class PrometheusWriter
{
    /// <summary>The media type of what <see cref="Write"/> returns.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>
    /// The record as exposition text. <paramref name="lastSuccess"/> is when the last passed drill of this source ended
    /// (this one if it passed; otherwise from history); null writes 0, which any staleness alert treats as "never".
    /// </summary>
    public static string Write(DrillRecord record, DateTimeOffset? lastSuccess = null)
    {
        var r = DrillRecordJson.RedactedCopy(record);
        var source = $"source=\"{Escape(r.Source ?? "unknown")}\"";
        var sb = new StringBuilder();
        void Metric(string name, string type, string help, IEnumerable<(string Labels, double Value)> samples)
        {
            var list = samples.ToList();
            if (list.Count == 0) return;
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            foreach (var (labels, value) in list)
                sb.Append(name).Append('{').Append(labels).Append("} ").Append(Number(value)).Append('\n');
        }
        IEnumerable<(string, double)> One(double? value) => value is { } v ? [(source, v)] : [];

        if (r.Verdict == DrillVerdict.Passed) lastSuccess = r.EndedAt;
        Metric("restoreops_drill_last_success_timestamp_seconds", "gauge",
            "Unix time the last passed drill of this source ended; 0 if none is known.",
            One(lastSuccess is { } ls ? ls.ToUnixTimeMilliseconds() / 1000.0 : 0));
        Metric("restoreops_drill_timestamp_seconds", "gauge", "Unix time this drill ended, whatever its verdict.",
            One(r.EndedAt.ToUnixTimeMilliseconds() / 1000.0));
        Metric("restoreops_drill_verdict", "gauge", "1 for this drill's verdict, 0 for the others.",
            Enum.GetValues<DrillVerdict>().Select(v => ($"{source},verdict=\"{v.ToString().ToLowerInvariant()}\"", v == r.Verdict ? 1.0 : 0.0)));
        // A phase can run more than once (a retry); one series per phase, summed, keeps the exposition valid.
        Metric("restoreops_drill_duration_seconds", "gauge", "Seconds each phase of the last drill took.",
            r.Phases.GroupBy(p => p.Phase).OrderBy(g => g.Key)
                .Select(g => ($"{source},phase=\"{PhaseLabel(g.Key)}\"", g.Sum(p => p.Duration.TotalSeconds))));
        Metric("restoreops_drill_total_duration_seconds", "gauge", "Seconds the whole last drill took, cleanup included.", One(r.TotalDuration.TotalSeconds));
        Metric("restoreops_restore_duration_seconds", "gauge", "Restore time (RTO) of the last drill: first restore phase until ready.", One(r.RestoreDuration?.TotalSeconds));
        Metric("restoreops_backup_age_seconds", "gauge", "Age of the restored backup when the drill started (RPO).", One(r.BackupAge?.TotalSeconds));
        Metric("restoreops_data_age_seconds", "gauge", "Drill start minus the newest commit in the restored data (RPO).", One(r.DataAge?.TotalSeconds));
        Metric("restoreops_checks", "gauge", "Checks of the last drill by status.",
            Enum.GetValues<CheckStatus>().Select(s => ($"{source},status=\"{s.ToString().ToLowerInvariant()}\"", (double)r.Checks.Count(c => c.Status == s))));
        Metric("restoreops_objective_met", "gauge", "1 when the objective was met in the last drill, 0 when breached or not measured.",
            r.Objectives.Select(o => ($"{source},objective=\"{PhaseLabel(o.Kind)}\"", o.Verdict == ObjectiveVerdict.Met ? 1.0 : 0.0)));
        Metric("restoreops_cleanup_success", "gauge", "1 when the last drill removed everything it created (or kept it on request).", One(r.Cleanup.Succeeded ? 1 : 0));
        return sb.ToString();
    }

    /// <summary>snake_case of an enum name: <c>WalReplay</c> → <c>wal_replay</c>.</summary>
    internal static string PhaseLabel<T>(T value) where T : struct, Enum
    {
        var name = value.ToString();
        var sb = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i])) sb.Append('_');
            sb.Append(char.ToLowerInvariant(name[i]));
        }
        return sb.ToString();
    }

    private static string Number(double v) =>
        double.IsNaN(v) ? "NaN" : double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : v.ToString("R", CultureInfo.InvariantCulture);

    private static string Escape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
