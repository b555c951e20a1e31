using System.Text.Json;
using RestoreOps.Cli;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Restore;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Cli;

/// <summary>The restoreops command line, end to end, against the shared real backups.</summary>
[Collection("backups")]
public sealed class CliDrillTests(BackupFixtures fx)
{
    private static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        // The CLI takes the secret only from the environment, never from its arguments. The variable is
        // process-wide, so it is put back afterwards (and every CLI test shares one collection: none runs beside it).
        var before = Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY");
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", S3rverServer.Secret);
        try
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var exit = await CliApp.RunAsync(args, stdout, stderr);
            return (exit, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", before);
        }
    }

    private string[] S3Args(string server) =>
        ["drill", "--source", F.DestinationPath, "--server-name", server, "--endpoint-url", fx.S3.Endpoint, "--access-key-id", S3rverServer.AccessKey,
         "--work-dir", fx.WorkRoot, "--database", "shop"];

    [Fact]
    public async Task Demo_drill_passes_writes_its_record_and_leaves_nothing()
    {
        var evidence = Path.Combine(fx.WorkRoot, "evidence-demo");
        var work = Path.Combine(fx.WorkRoot, "demo-work");
        Directory.CreateDirectory(work);

        var (exit, output, errors) = await RunAsync("drill", "--demo", "--evidence", evidence, "--work-dir", work);

        Assert.True(exit == CliApp.Passed, $"exit {exit}\n{output}\n{errors}");
        var file = Assert.Single(Directory.GetFiles(evidence, "*.json"));
        var stem = Path.ChangeExtension(file, null);
        foreach (var format in new[] { ".junit.xml", ".md", ".runbook.md", ".html", ".prom" })
            Assert.True(File.Exists(stem + format), $"{stem}{format} was not written");
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(file));
        var root = doc.RootElement;
        Assert.Equal("passed", root.GetProperty("verdict").GetString());
        Assert.Equal(Path.GetFileNameWithoutExtension(file), root.GetProperty("drillId").GetString());
        // The demo runs docs/examples/demo-checks.yaml: every check in it passes.
        var checks = root.GetProperty("checks").EnumerateArray().ToList();
        var shipped = RestoreOps.Checks.CheckFile.Load(Path.Combine(RepositoryPaths.Root, "docs", "examples", "demo-checks.yaml")).Checks.Count;
        Assert.Equal(shipped, checks.Count);
        Assert.All(checks, c => Assert.Equal("passed", c.GetProperty("status").GetString()));
        Assert.Contains(checks, c => c.GetProperty("name").GetString() == "orders at the recovery target");
        Assert.StartsWith("sha256:", root.GetProperty("digest").GetString());
        Assert.True(root.GetProperty("restoreDuration").GetProperty("seconds").GetDouble() > 0);
        Assert.StartsWith("PT", root.GetProperty("restoreDuration").GetProperty("iso8601").GetString());
        var phases = root.GetProperty("phases").EnumerateArray().Select(p => p.GetProperty("phase").GetString()).ToList();
        Assert.Equal(["discover", "provision", "download", "baseRestore", "walReplay", "ready", "checks", "cleanup"], phases);
        Assert.True(root.GetProperty("cleanup").GetProperty("succeeded").GetBoolean());
        Assert.Empty(Directory.GetFileSystemEntries(work));
        Assert.Empty(Leftovers.ProcessesMentioning(work));
        Assert.Contains("PASSED", output);

        var verify = await RunAsync("evidence", "verify", file);
        Assert.True(verify.Exit == 0, verify.Out + verify.Err);
        var tampered = (await File.ReadAllTextAsync(file)).Replace("\"passed\"", "\"failed\"");
        await File.WriteAllTextAsync(file, tampered);
        Assert.NotEqual(0, (await RunAsync("evidence", "verify", file)).Exit);
    }

    [Fact]
    public async Task S3_drill_to_a_target_time_prints_the_record_as_json()
    {
            var rows = F.RowsAtBackup + F.RowsBeforeTarget;
            var (exit, output, errors) = await RunAsync([.. S3Args("gzip"), "--target-time", fx.TargetTime.ToString("O"),
                "--expect-rows", $"public.orders={rows}", "--expect-sql", "select count(*) from orders where batch = 'after-target' => 0", "--json"]);

            Assert.True(exit == CliApp.Passed, $"exit {exit}\n{output}\n{errors}");
            using var doc = JsonDocument.Parse(output);
            Assert.Equal("passed", doc.RootElement.GetProperty("verdict").GetString());
            Assert.Equal(fx.BackupIds["gzip"], doc.RootElement.GetProperty("backup").GetProperty("id").GetString());
            Assert.Equal($"{F.DestinationPath}/gzip", doc.RootElement.GetProperty("source").GetString());
            // The two asked for; a connectivity check is the default only when no check is asked for.
            Assert.Equal(2, doc.RootElement.GetProperty("checks").GetArrayLength());
            Assert.DoesNotContain(S3rverServer.Secret, output + errors);

            var failing = await RunAsync([.. S3Args("gzip"), "--target-time", fx.TargetTime.ToString("O"), "--expect-rows", "public.orders=1..10"]);
            Assert.Equal(CliApp.Failed, failing.Exit);
            Assert.Contains("FAILED", failing.Out);
            Assert.Contains("expected between 1 and 10", failing.Out);
    }

    [Fact]
    public async Task Backups_list_shows_done_backups_newest_first_and_failed_ones_on_request()
    {
        var (exit, output, _) = await RunAsync("backups", "list", "--source", F.DestinationPath, "--server-name", "gzip",
            "--endpoint-url", fx.S3.Endpoint, "--access-key-id", S3rverServer.AccessKey);
        Assert.Equal(0, exit);
        Assert.Contains(fx.BackupIds["gzip"], output);
        Assert.DoesNotContain(fx.FailedBackupId, output);

        var all = await RunAsync("backups", "list", "--source", F.DestinationPath, "--server-name", "gzip",
            "--endpoint-url", fx.S3.Endpoint, "--access-key-id", S3rverServer.AccessKey, "--all");
        Assert.Contains(fx.FailedBackupId, all.Out);
        Assert.True(all.Out.IndexOf(fx.FailedBackupId, StringComparison.Ordinal) < all.Out.IndexOf(fx.BackupIds["gzip"], StringComparison.Ordinal));
    }
}

/// <summary>Bad input is refused with exit code 2 and a message that names the input and the fix.</summary>
[Collection("backups")]
public sealed class CliUsageTests
{
    private static async Task<(int Exit, string Err)> RunAsync(params string[] args)
    {
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(args, new StringWriter(), stderr);
        return (exit, stderr.ToString());
    }

    [Fact]
    public async Task Drill_without_a_source_names_the_choices()
    {
        var (exit, err) = await RunAsync("drill");
        Assert.Equal(CliApp.UsageError, exit);
        Assert.Contains("--demo", err);
        Assert.Contains("--source", err);
    }

    [Fact]
    public async Task Two_recovery_targets_are_refused()
    {
        var (exit, err) = await RunAsync("drill", "--dump", "/nonexistent.dump", "--target-lsn", "0/1", "--target-name", "x");
        Assert.Equal(CliApp.UsageError, exit);
        Assert.Contains("--target-lsn and --target-name", err);
    }

    [Fact]
    public async Task A_source_without_server_name_is_refused()
    {
        var (exit, err) = await RunAsync("drill", "--source", "s3://bucket/path");
        Assert.Equal(CliApp.UsageError, exit);
        Assert.Contains("--server-name", err);
    }

    [Theory]
    [InlineData("--target-time", "yesterday-ish", "ISO 8601")]
    [InlineData("--target-lsn", "12345", "0/7000060")]
    [InlineData("--expect-rows", "orders", "TABLE=N")]
    [InlineData("--expect-rows", "orders=ten", "'ten' is not a row count")]
    [InlineData("--expect-sql", "select 1", "=>")]
    public async Task Malformed_values_name_the_option_and_the_form(string option, string value, string hint)
    {
        var missing = Path.Combine(Path.GetTempPath(), "restoreops-no-such-dir");
        var (exit, err) = await RunAsync("drill", "--base-backup", missing, option, value);
        Assert.Equal(CliApp.UsageError, exit);
        Assert.Contains(option, err);
        Assert.Contains(hint, err);
    }

    [Fact]
    public async Task A_missing_base_backup_directory_is_named()
    {
        var missing = Path.Combine(Path.GetTempPath(), "restoreops-no-such-dir");
        var (exit, err) = await RunAsync("drill", "--base-backup", missing, "--wal-archive", missing);
        Assert.Equal(CliApp.UsageError, exit);
        Assert.Contains(missing, err);
    }

    [Fact]
    public void Row_count_specs_parse_into_bounds()
    {
        var exact = CliApp.ParseRowCheck("shop", "public.orders=11000");
        Assert.Equal((11000L, 11000L), (exact.Minimum!.Value, exact.Maximum!.Value));
        var range = CliApp.ParseRowCheck("shop", "orders=10..20");
        Assert.Equal((10L, 20L), (range.Minimum!.Value, range.Maximum!.Value));
        var atLeast = CliApp.ParseRowCheck("shop", "orders=5..");
        Assert.Equal(5L, atLeast.Minimum);
        Assert.Null(atLeast.Maximum);
        Assert.Throws<ConfigurationException>(() => CliApp.ParseRowCheck("shop", "orders=20..10"));
    }
}
