using RestoreOps.Cli;
using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Evidence;

public class RedactionTests
{
    private const string Registered = "Rg7-registered-instance-PASSWORD-41";
    private const string AwsSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    private const string PemBody = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC";

    /// <summary>The secret part of each planted string: none may appear in any output.</summary>
    private static readonly string[] SecretValues =
    [
        Registered, Uri.EscapeDataString(Registered + "/x"), "hunter2-plain", "s3cr3t-url-pass", AwsSecret, "eyJhbGciOiJIUzI1NiJ9.payload.sig",
        "ConnStrPass123", "json-token-value-9", PemBody, "quoted pass phrase", "abcdEFGH-api-key-77",
    ];

    /// <summary>Secrets as they show up in the wild: in messages, connection strings, URLs, headers, environment dumps.</summary>
    private static readonly string Planted = string.Join(" ; ",
        $"instance password {Registered} and {Uri.EscapeDataString(Registered + "/x")}",
        "password=hunter2-plain",
        "postgresql://app:s3cr3t-url-pass@db.internal:5432/app",
        $"AWS_SECRET_ACCESS_KEY={AwsSecret}",
        $"key {AwsSecret} alone",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig",
        "Host=db;Username=app;Password=ConnStrPass123;Database=app",
        "{\"token\": \"json-token-value-9\"}",
        $"-----BEGIN PRIVATE KEY-----\n{PemBody}\n-----END PRIVATE KEY-----",
        "PGPASSWORD='quoted pass phrase'",
        "x-api-key: abcdEFGH-api-key-77");

    static RedactionTests()
    {
        Redactor.RegisterSecret(Registered);
        Redactor.RegisterSecret(Registered + "/x");
    }

    /// <summary>Every string input a record has, each carrying every planted secret.</summary>
    private static DrillRecord PlantedRecord(string drillId, DrillVerdict verdict)
    {
        var s = Planted;
        var r = new DrillRecord
        {
            DrillId = drillId, ToolVersion = "1.0.0 " + s, Host = "host " + s, StartedAt = SampleRecords.Start, EndedAt = SampleRecords.Start.AddMinutes(5),
            Environment = new DrillEnvironment { Host = s, User = s, OperatingSystem = s, Runtime = s, KubernetesContext = s },
            Source = "s3://bucket/path " + s,
            Backup = new BackupSummary { Id = s, Name = s, Method = s, SourceKind = BackupSourceKind.BarmanCloud, BeginWal = s, EndWal = s, Compression = s, EndTime = SampleRecords.Start.AddHours(-1) },
            BackupAge = TimeSpan.FromHours(1), RecoveryTarget = s, AchievedRecoveryLsn = s, AchievedRecoveryTime = SampleRecords.Start.AddMinutes(-1),
            RestoreDuration = TimeSpan.FromMinutes(2), DataAge = TimeSpan.FromMinutes(1),
            Verdict = verdict, FailureCategory = verdict == DrillVerdict.Passed ? null : DrillFailureCategory.Checks, FailureMessage = verdict == DrillVerdict.Passed ? null : s,
        };
        r.Phases.Add(new PhaseTiming { Phase = DrillPhase.Download, StartedAt = r.StartedAt, EndedAt = r.StartedAt.AddMinutes(1), Succeeded = false, Detail = s });
        r.Phases.Add(new PhaseTiming { Phase = DrillPhase.Ready, StartedAt = r.StartedAt.AddMinutes(1), EndedAt = r.StartedAt.AddMinutes(2), Succeeded = true, Detail = s });
        foreach (var status in Enum.GetValues<CheckStatus>())
            r.Checks.Add(new CheckResult { Name = $"{status} {s}", Category = s, Status = status, Database = s, Expected = s, Actual = s, Duration = TimeSpan.FromSeconds(1), Message = s });
        r.Cleanup.Removed.Add(s);
        r.Cleanup.Problems.Add(s);
        r.Owner = s;
        r.Notes.Add(s);
        r.Runbook.Add(new RunbookStep { Stage = "drill", Command = "restoreops drill " + s, StartedAt = r.StartedAt, Duration = TimeSpan.FromMinutes(5), Succeeded = false, Outcome = s });
        r.Objectives.Add(new ObjectiveResult { Kind = ObjectiveKind.RestoreTime, Limit = TimeSpan.FromMinutes(1), Actual = TimeSpan.FromMinutes(2), Verdict = ObjectiveVerdict.Breached, Message = s });
        return r;
    }

    private static void AssertClean(string what, string output)
    {
        foreach (var secret in SecretValues)
            Assert.False(output.Contains(secret, StringComparison.Ordinal), $"{what} contains the secret '{secret}'");
        // The planted text did reach the output, redacted: an empty or truncated writer must not pass this test.
        Assert.True(output.Contains(Redactor.Mask, StringComparison.Ordinal) || output.Contains("%2A%2A%2A", StringComparison.Ordinal), $"{what} shows no redaction mark");
    }

    [Fact]
    public async Task No_planted_secret_reaches_any_writer()
    {
        var dir = TestLocations.NewTempDirectory();
        // An earlier record in the folder feeds the HTML trends and the last-success metric: it is input too.
        await DrillRecordJson.WriteAsync(PlantedRecord("20261120-060000-000001", DrillVerdict.Passed), dir, CancellationToken.None);
        var record = PlantedRecord("20261121-060000-000002", DrillVerdict.Failed);
        var paths = await EvidenceWriter.WriteAllAsync(record, dir, new EvidenceOptions { SigningKey = "sign-key-never-written"u8.ToArray(), TextfileCollectorPath = Path.Combine(dir, "textfile", "restoreops.prom") }, CancellationToken.None);

        Assert.Equal(7, paths.All.Count());
        foreach (var path in paths.All) AssertClean(Path.GetFileName(path), File.ReadAllText(path));
        foreach (var path in paths.All) Assert.DoesNotContain("sign-key-never-written", File.ReadAllText(path));
        AssertClean("Serialize", DrillRecordJson.Serialize(record));
        AssertClean("JUnit", JUnitWriter.Write(record));
        AssertClean("Markdown", MarkdownWriter.Write(record));
        AssertClean("HTML", HtmlReportWriter.Write(record));
        AssertClean("Prometheus", PrometheusWriter.Write(record));
        var passed = PlantedRecord("20261121-060000-000003", DrillVerdict.Passed);
        AssertClean("heartbeat body", Heartbeat.Summary(passed));
        Assert.Equal(SealStatus.Valid, RecordSeal.Verify(File.ReadAllText(paths.Json), "sign-key-never-written"u8.ToArray()).Status);
    }

    [Fact]
    public async Task No_planted_secret_reaches_the_pushgateway_or_the_heartbeat_receiver()
    {
        await using var server = new LoopbackServer();
        var passed = PlantedRecord("20261121-060000-000004", DrillVerdict.Passed);
        await Pushgateway.PushAsync(passed, null, new PushgatewayOptions { Url = server.BaseUrl, RetryDelay = TimeSpan.Zero }, CancellationToken.None);
        await Heartbeat.SendAsync(passed, new HeartbeatOptions { Url = new Uri(server.BaseUrl, "ping"), RetryDelay = TimeSpan.Zero }, CancellationToken.None);
        await server.WaitForRequestsAsync(2);
        foreach (var r in server.Requests) AssertClean($"{r.Method} body", r.Body);
        // The Pushgateway group carries the source base64-encoded in the path: decode it before looking.
        var push = server.Requests.Single(r => r.Method == "PUT");
        var group = push.PathAndQuery[(push.PathAndQuery.LastIndexOf('/') + 1)..].Replace('-', '+').Replace('_', '/');
        var source = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(group));
        AssertClean("Pushgateway group", source);
    }

    [Fact]
    public async Task No_planted_secret_reaches_the_history_command()
    {
        var dir = TestLocations.NewTempDirectory();
        await DrillRecordJson.WriteAsync(PlantedRecord("20261121-060000-000005", DrillVerdict.Passed), dir, CancellationToken.None);
        foreach (var json in new[] { false, true })
        {
            var (_, stdout, stderr) = await CliRunner.RunAsync(json ? ["history", dir, "--json"] : ["history", dir]);
            AssertClean($"history{(json ? " --json" : "")}", stdout + stderr);
        }
    }

    [Theory]
    [InlineData("Password=abc123;Host=x", "Password=***;Host=x")]
    [InlineData("postgres://u:p4ss@h/db", "postgres://u:***@h/db")]
    [InlineData("authorization=Basic dXNlcjpwYXNz", "authorization=Basic ***")]
    [InlineData("\"password\":\"p\"", "\"password\":\"***\"")]
    [InlineData("password authentication failed for user \"app\"", "password authentication failed for user \"app\"")]
    [InlineData("WAL 000000010000000000000012 sha1 3f786850e387550fdab836ed7e6dc881de23001b", "WAL 000000010000000000000012 sha1 3f786850e387550fdab836ed7e6dc881de23001b")]
    [InlineData("secretName: pg-app", "secretName: pg-app")]
    public void Redact_removes_secrets_and_keeps_ordinary_text(string input, string expected) =>
        Assert.Equal(expected, Redactor.Redact(input));
}

/// <summary>Runs the evidence and history commands the way CliApp will once they are wired in.</summary>
internal static class CliRunner
{
    /// <summary>The CLI in-process, exactly as the restoreops process runs it (messages, rendering, exit codes).</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CliApp.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
