using System.Diagnostics;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using System.Xml.Schema;
using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Evidence;

public class JUnitWriterTests
{
    internal static XDocument ValidateAgainstXsd(string xml)
    {
        var schemas = new XmlSchemaSet();
        schemas.Add(null, Path.Combine(TestLocations.RepositoryRoot, "tests", "RestoreOps.Tests", "Evidence", "junit-10.xsd"));
        var errors = new List<string>();
        var settings = new XmlReaderSettings { ValidationType = ValidationType.Schema, Schemas = schemas };
        settings.ValidationFlags |= XmlSchemaValidationFlags.ReportValidationWarnings;
        settings.ValidationEventHandler += (_, e) => errors.Add($"{e.Severity} line {e.Exception.LineNumber}: {e.Message}");
        using (var reader = XmlReader.Create(new StringReader(xml), settings)) while (reader.Read()) { }
        Assert.Empty(errors);
        return XDocument.Parse(xml);
    }

    [Fact]
    public void A_passed_drill_is_valid_junit_with_one_case_per_phase_check_and_objective()
    {
        var record = SampleRecords.Passed();
        var doc = ValidateAgainstXsd(JUnitWriter.Write(record));
        var suite = doc.Root!.Element("testsuite")!;
        var cases = suite.Elements("testcase").ToList();
        Assert.Equal(record.Phases.Count + record.Checks.Count + record.Objectives.Count + 1, cases.Count);
        Assert.Equal(record.Phases.Select(p => p.Phase.ToString()), cases.Where(c => (string)c.Attribute("classname")! == "restoreops.phase").Select(c => (string)c.Attribute("name")!));
        Assert.Equal("0", (string)suite.Attribute("failures")!);
        Assert.Equal(cases.Count.ToString(), (string)suite.Attribute("tests")!);
        Assert.DoesNotContain(cases, c => c.Element("failure") is not null || c.Element("error") is not null);
    }

    [Fact]
    public void A_failed_drill_shows_failures_errors_and_skips_where_ci_counts_them()
    {
        var record = SampleRecords.Failed();
        var xml = JUnitWriter.Write(record);
        File.WriteAllText(Path.Combine(TestLocations.Artifacts, "failed-drill.junit.xml"), xml);
        var suite = ValidateAgainstXsd(xml).Root!.Element("testsuite")!;
        // Failures: the checks phase, one check, one objective not measured, the verdict. Errors: one check.
        Assert.Equal("4", (string)suite.Attribute("failures")!);
        Assert.Equal("1", (string)suite.Attribute("errors")!);
        Assert.Equal("1", (string)suite.Attribute("skipped")!);
        var sql = suite.Elements("testcase").Single(c => (string)c.Attribute("name")! == "sql #1");
        Assert.Contains("10990", sql.Element("failure")!.Value);
        Assert.NotNull(suite.Elements("testcase").Single(c => (string)c.Attribute("name")! == "verdict").Element("failure"));
    }

    [Fact]
    public void The_xsd_rejects_what_a_junit_consumer_would()
    {
        var xml = JUnitWriter.Write(SampleRecords.Passed());
        Assert.ThrowsAny<Exception>(() => ValidateAgainstXsd(xml.Replace("classname=", "klass=")));
        Assert.ThrowsAny<Exception>(() => ValidateAgainstXsd(xml.Replace("time=\"1.2\"", "time=\"1,2\"")));
    }

    [Fact]
    public void Control_characters_in_messages_do_not_break_the_xml()
    {
        var record = SampleRecords.Passed();
        record.Checks.Add(new CheckResult { Name = "odd\u0001name", Category = "sql", Status = CheckStatus.Failed, Duration = TimeSpan.Zero, Message = "bell \u0007 <&> ]]>" });
        var doc = ValidateAgainstXsd(JUnitWriter.Write(record));
        Assert.Contains(doc.Descendants("failure"), f => f.Value.Contains("<&> ]]>"));
    }
}

public class PrometheusWriterTests
{
    internal static (int ExitCode, string Output) Promtool(string text)
    {
        var psi = new ProcessStartInfo("promtool", "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("promtool did not start; install Debian's prometheus package (scripts/setup.sh does).");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(text);
        p.StandardInput.Close();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void The_exposition_passes_promtool_check_metrics()
    {
        var text = PrometheusWriter.Write(SampleRecords.Failed(), SampleRecords.Start.AddDays(-1));
        File.WriteAllText(Path.Combine(TestLocations.Artifacts, "failed-drill.prom"), text);
        var (code, output) = Promtool(text);
        Assert.True(code == 0, $"promtool check metrics failed ({code}):\n{output}\n---\n{text}");
        // promtool passes a lint-clean file silently; any lint remark (naming, units, duplicates) shows here.
        Assert.Equal("", output.Trim());
    }

    [Fact]
    public void Promtool_really_rejects_broken_exposition()
    {
        var (code, _) = Promtool("# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\nnot a metric line\n");
        Assert.NotEqual(0, code);
    }

    [Fact]
    public void It_carries_the_series_alerts_are_written_against()
    {
        var record = SampleRecords.Passed(source: "s3://b/p\"q\\r");
        var text = PrometheusWriter.Write(record);
        var source = "source=\"s3://b/p\\\"q\\\\r\"";
        Assert.Contains($"restoreops_drill_last_success_timestamp_seconds{{{source}}} {record.EndedAt.ToUnixTimeMilliseconds() / 1000.0}\n", text.Replace(",", ","));
        Assert.Contains($"restoreops_drill_duration_seconds{{{source},phase=\"wal_replay\"}} ", text);
        Assert.Contains($"restoreops_backup_age_seconds{{{source}}} 18000\n", text);
        Assert.Contains($"restoreops_drill_verdict{{{source},verdict=\"passed\"}} 1\n", text);
        Assert.Contains($"restoreops_drill_verdict{{{source},verdict=\"failed\"}} 0\n", text);
        Assert.Equal(0, Promtool(text).ExitCode);
    }

    [Fact]
    public void A_failed_drill_reports_the_last_success_it_is_given_and_zero_when_none_is_known()
    {
        var failed = SampleRecords.Failed();
        var earlier = SampleRecords.Start.AddDays(-2);
        Assert.Matches(new Regex($"restoreops_drill_last_success_timestamp_seconds\\{{[^}}]*\\}} {earlier.ToUnixTimeSeconds()}\\n"), PrometheusWriter.Write(failed, earlier));
        Assert.Matches(new Regex("restoreops_drill_last_success_timestamp_seconds\\{[^}]*\\} 0\\n"), PrometheusWriter.Write(failed));
    }
}

public class MarkdownWriterTests
{
    [Fact]
    public void The_summary_names_the_verdict_ages_phases_checks_and_objectives()
    {
        var md = MarkdownWriter.Write(SampleRecords.Failed());
        File.WriteAllText(Path.Combine(TestLocations.Artifacts, "failed-drill.md"), md);
        Assert.StartsWith("# Restore drill 20261121-070000-def456: FAILED", md);
        Assert.Contains("| Backup age (RPO) | 5h0m (18000 s) |", md);
        Assert.Contains("| WalReplay |", md);
        Assert.Contains("| sql #1 | sql | ❌ Failed | 11000 | 10990 |", md);
        Assert.Contains("| DataAge | 1m0s (60 s) | - | ❌ NotMeasured |", md);
        // A pipe in a message must not open a new column.
        var record = SampleRecords.Passed();
        record.FailureMessage = "a | b\nc";
        Assert.Contains("a \\| b<br>c", MarkdownWriter.Write(record));
    }
}
