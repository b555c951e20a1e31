using System.Globalization;
using System.Text;
using System.Xml;
using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>
/// Writes a record as JUnit XML (the Ant/Jenkins shape every CI understands): one <c>testsuite</c> per drill with
/// one <c>testcase</c> per phase, per check and per objective, plus a <c>verdict</c> case so a drill that failed
/// before any phase still shows red.
/// </summary>
/// <example><code>File.WriteAllText("drill.junit.xml", JUnitWriter.Write(record));</code></example>
public static class JUnitWriter
{
    /// <summary>The record as JUnit XML text, secrets redacted.</summary>
    public static string Write(DrillRecord record)
    {
        var r = DrillRecordJson.RedactedCopy(record);
        var cases = new List<Case>();
        foreach (var p in r.Phases)
            cases.Add(new Case("restoreops.phase", p.Phase.ToString(), p.Duration,
                p.Succeeded ? null : new Outcome("failure", $"{p.Phase} did not succeed", p.Detail ?? (r.FailedPhase == p.Phase ? r.FailureMessage : null) ?? "see the drill record"),
                p.Detail));
        foreach (var c in r.Checks)
            cases.Add(new Case($"restoreops.check.{c.Category}", c.Name, c.Duration, c.Status switch
            {
                CheckStatus.Failed => new Outcome("failure", c.Message, $"expected: {c.Expected}\nactual: {c.Actual}\n{c.Message}"),
                CheckStatus.Error => new Outcome("error", c.Message, c.Message),
                CheckStatus.Skipped => new Outcome("skipped", c.Message, null),
                _ => null,
            }, $"database: {c.Database}\nexpected: {c.Expected}\nactual: {c.Actual}\n{c.Message}"));
        foreach (var o in r.Objectives)
            cases.Add(new Case("restoreops.objective", o.Kind.ToString(), TimeSpan.Zero,
                o.Verdict == ObjectiveVerdict.Met ? null : new Outcome("failure", o.Message, o.Message), o.Message));
        cases.Add(new Case("restoreops.drill", "verdict", r.TotalDuration, r.Verdict switch
        {
            DrillVerdict.Passed => null,
            DrillVerdict.Failed => new Outcome("failure", r.FailureMessage ?? "The drill failed.", $"{r.FailureCategory}: {r.FailureMessage}"),
            _ => new Outcome("error", r.FailureMessage ?? "The drill could not be carried out.", $"{r.FailureCategory}: {r.FailureMessage}"),
        }, $"verdict: {r.Verdict}"));

        int Count(string kind) => cases.Count(c => c.Outcome?.Kind == kind);
        var suiteName = $"restoreops drill {r.DrillId}" + (r.Source is null ? "" : $" ({r.Source})");
        var sb = new StringBuilder();
        using (var x = XmlWriter.Create(sb, new XmlWriterSettings { Indent = true, OmitXmlDeclaration = false, Encoding = Encoding.UTF8 }))
        {
            x.WriteStartElement("testsuites");
            x.WriteAttributeString("name", "restoreops");
            WriteCounts(x, cases.Count, Count("failure"), Count("error"), Count("skipped"), r.TotalDuration);
            x.WriteStartElement("testsuite");
            x.WriteAttributeString("name", Clean(suiteName));
            WriteCounts(x, cases.Count, Count("failure"), Count("error"), Count("skipped"), r.TotalDuration);
            x.WriteAttributeString("timestamp", r.StartedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture));
            x.WriteAttributeString("hostname", Clean(r.Host));
            x.WriteAttributeString("id", "0");
            x.WriteStartElement("properties");
            void Property(string name, string? value)
            {
                if (value is null) return;
                x.WriteStartElement("property");
                x.WriteAttributeString("name", name);
                x.WriteAttributeString("value", Clean(value));
                x.WriteEndElement();
            }
            Property("drillId", r.DrillId);
            Property("toolVersion", r.ToolVersion);
            Property("source", r.Source);
            Property("backupId", r.Backup?.Id);
            Property("backupAgeSeconds", Seconds(r.BackupAge));
            Property("dataAgeSeconds", Seconds(r.DataAge));
            Property("restoreSeconds", Seconds(r.RestoreDuration));
            Property("verdict", r.Verdict.ToString());
            Property("digest", r.Digest);
            x.WriteEndElement();
            foreach (var c in cases)
            {
                x.WriteStartElement("testcase");
                x.WriteAttributeString("name", Clean(c.Name));
                x.WriteAttributeString("classname", Clean(c.ClassName));
                x.WriteAttributeString("time", Seconds(c.Time));
                if (c.Outcome is { } o)
                {
                    x.WriteStartElement(o.Kind);
                    x.WriteAttributeString("message", Clean(o.Message));
                    if (o.Kind != "skipped")
                    {
                        x.WriteAttributeString("type", Clean(c.ClassName));
                        if (o.Text is not null) x.WriteString(Clean(o.Text));
                    }
                    x.WriteEndElement();
                }
                if (c.Output is not null) x.WriteElementString("system-out", Clean(c.Output));
                x.WriteEndElement();
            }
            x.WriteEndElement();
            x.WriteEndElement();
        }
        // StringBuilder output declares utf-16; the file is written as UTF-8, so say so.
        return sb.ToString().Replace("encoding=\"utf-16\"", "encoding=\"utf-8\"", StringComparison.Ordinal) + "\n";
    }

    private static void WriteCounts(XmlWriter x, int tests, int failures, int errors, int skipped, TimeSpan time)
    {
        x.WriteAttributeString("tests", tests.ToString(CultureInfo.InvariantCulture));
        x.WriteAttributeString("failures", failures.ToString(CultureInfo.InvariantCulture));
        x.WriteAttributeString("errors", errors.ToString(CultureInfo.InvariantCulture));
        x.WriteAttributeString("skipped", skipped.ToString(CultureInfo.InvariantCulture));
        x.WriteAttributeString("time", Seconds(time));
    }

    private static string Seconds(TimeSpan t) => Math.Round(t.TotalSeconds, 3).ToString("0.###", CultureInfo.InvariantCulture);
    private static string? Seconds(TimeSpan? t) => t is { } v ? Seconds(v) : null;

    // XML 1.0 cannot carry most control characters, even escaped; a message from a failing server might hold one.
    private static string Clean(string s) => new(s.Where(XmlConvert.IsXmlChar).ToArray());

    private sealed record Outcome(string Kind, string Message, string? Text);
    private sealed record Case(string ClassName, string Name, TimeSpan Time, Outcome? Outcome, string? Output);
}
