using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RestoreOps.Tests.Evidence;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Restore;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Cli;

/// <summary>The real restoreops process: what a user, a script or a CronJob sees, crashes (exit 134) included.</summary>
internal static class CliProcess
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(string workingDirectory, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "RestoreOps.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) psi.Environment[name] = value;
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>Hostile and mistaken input is refused with exit 2, the option named and the fix; never a crash, never a file out of place.</summary>
public sealed class CliInputTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"restoreops-cli-input-{Guid.NewGuid():N}"[..40]);

    public CliInputTests()
    {
        Directory.CreateDirectory(_root);
        // The demo runs PostgreSQL as its own account, which must reach the work directory.
        File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Missing => Path.Combine(_root, "no-such-backup");

    private Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => CliProcess.RunAsync(_root, null, args);

    public static TheoryData<string, string> OutOfRange => new()
    {
        { "--max-backup-age", "99999999999999d" },
        { "--max-data-age", "3651d" },
        { "--max-restore-time", "P99999999D" },
        { "--drill-id", new string('x', 10_000) },
        { "--timeout", "0" },
        { "--timeout", "-1" },
        { "--timeout", "99999999999" },
        { "--timeout", "abc" },
        { "--timeout", "604801" },
        { "--wal-parallelism", "0" },
        { "--wal-parallelism", "100000" },
        { "--work-dir", "" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public async Task Out_of_range_values_exit_2_naming_the_option(string option, string value)
    {
        var (exit, _, err) = await RunAsync("drill", "--base-backup", Missing, option, value);
        Assert.True(exit == 2, $"exit {exit}\n{err[..Math.Min(err.Length, 2000)]}");
        Assert.Contains($"restoreops: {option} '", err);
        Assert.Contains("Fix:", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public async Task A_stale_after_past_ten_years_exits_2_naming_the_option()
    {
        var (exit, _, err) = await RunAsync("history", _root, "--stale-after", "99999999999999d");
        Assert.True(exit == 2, $"exit {exit}\n{err}");
        Assert.Contains("--stale-after", err);
    }

    [Fact]
    public async Task A_drill_id_cannot_write_outside_the_evidence_folder()
    {
        var evidence = Path.Combine(_root, "evidence");
        Directory.CreateDirectory(Path.Combine(evidence, "x"));
        var victim = Path.Combine(_root, "victim2.json");
        await File.WriteAllTextAsync(victim, "an earlier record");

        var (exit, _, err) = await RunAsync("drill", "--base-backup", Missing, "--evidence", evidence, "--drill-id", "x/../../victim2");

        Assert.True(exit == 2, $"exit {exit}\n{err}");
        Assert.Contains("--drill-id 'x/../../victim2'", err);
        Assert.Equal("an earlier record", await File.ReadAllTextAsync(victim));
        Assert.Equal(new[] { victim }, Directory.GetFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task An_empty_drill_id_writes_nothing_beside_the_folder()
    {
        var evidence = Path.Combine(_root, "evidence");
        var (exit, _, err) = await RunAsync("drill", "--base-backup", Missing, "--evidence", evidence, "--drill-id", "");
        Assert.True(exit == 2, $"exit {exit}\n{err}");
        Assert.Contains("--drill-id ''", err);
        Assert.Empty(Directory.GetFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_reused_drill_id_keeps_the_first_record_and_names_it()
    {
        var evidence = Path.Combine(_root, "evidence");
        var first = await RunAsync("drill", "--base-backup", Missing, "--evidence", evidence, "--drill-id", "nightly-1");
        // The missing backup is the first run's (recorded) configuration error.
        Assert.True(first.Exit == 2, first.Err);
        var record = Path.Combine(evidence, "nightly-1.json");
        var earlier = await File.ReadAllTextAsync(record);
        var companions = Directory.GetFiles(evidence).ToDictionary(f => f, File.ReadAllText);

        var (exit, _, err) = await RunAsync("drill", "--base-backup", Missing, "--evidence", evidence, "--drill-id", "nightly-1");

        Assert.True(exit == 2, $"exit {exit}\n{err}");
        Assert.Contains(record, err);
        Assert.Contains("new drill id", err);
        Assert.Equal(earlier, await File.ReadAllTextAsync(record));
        Assert.Equal(companions, Directory.GetFiles(evidence).ToDictionary(f => f, File.ReadAllText));
    }

    [Fact]
    public async Task A_pg_bin_without_postgres_is_refused_not_replaced()
    {
        var bin = Path.Combine(_root, "bin");
        Directory.CreateDirectory(bin);
        var (exit, _, err) = await RunAsync("drill", "--demo", "--pg-bin", "bin", "--work-dir", _root);
        Assert.True(exit == 2, $"exit {exit}\n{err}");
        Assert.Contains($"{bin} has no postgres program", err);
    }

    [Fact]
    public async Task A_drill_with_relative_paths_and_its_heartbeat_url_in_the_environment_passes()
    {
        await using var receiver = new LoopbackServer();
        var token = Guid.NewGuid().ToString("N");
        Directory.CreateDirectory(Path.Combine(_root, "work"));

        // Relative to the directory restoreops starts in, which is not where PostgreSQL runs.
        var (exit, output, err) = await CliProcess.RunAsync(_root,
            new Dictionary<string, string> { ["RESTOREOPS_TEST_PING"] = new Uri(receiver.BaseUrl, $"ping/{token}").ToString() },
            "drill", "--demo", "--work-dir", "work", "--evidence", "evidence", "--heartbeat-url-env", "RESTOREOPS_TEST_PING");

        Assert.True(exit == 0, $"exit {exit}\n{output}\n{err}");
        var record = Assert.Single(Directory.GetFiles(Path.Combine(_root, "evidence"), "*.json"));
        Assert.Contains("\"verdict\": \"passed\"", await File.ReadAllTextAsync(record));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_root, "work")));
        Assert.Empty(Leftovers.ProcessesMentioning(Path.Combine(_root, "work")));
        await receiver.WaitForRequestsAsync(1);
        Assert.Equal($"/ping/{token}", Assert.Single(receiver.Requests).PathAndQuery);
        Assert.DoesNotContain(token, output + err);
    }
}

/// <summary>A real Barman backup whose backup.info is damaged or forged: named in the list, a FAILED drill, never a crash or a pass.</summary>
[Collection("backups")]
public sealed class CliHostileBackupInfoTests(BackupFixtures fx) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"restoreops-cli-info-{Guid.NewGuid():N}"[..40]);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static readonly Dictionary<string, string> Secret = new() { ["AWS_SECRET_ACCESS_KEY"] = S3rverServer.Secret };

    private string[] Source(string server) =>
        ["--source", F.DestinationPath, "--server-name", server, "--endpoint-url", fx.S3.Endpoint, "--access-key-id", S3rverServer.AccessKey];

    /// <summary>Copies the gzip server's DONE backup and its WAL to <paramref name="server"/>, with one backup.info line replaced.</summary>
    private async Task<string> DamagedCopyAsync(string server, string key, string value)
    {
        await fx.S3.CopyPrefixAsync("pg/gzip/", $"pg/{server}/", include: k => !k.Contains(fx.FailedBackupId),
            transform: (k, body) => k.EndsWith("/backup.info", StringComparison.Ordinal)
                ? Encoding.UTF8.GetBytes(System.Text.RegularExpressions.Regex.Replace(Encoding.UTF8.GetString(body), $"(?m)^{key}=.*$", $"{key}={value}"))
                : body);
        return $"{F.DestinationPath}/{server}/base/{fx.BackupIds["gzip"]}/backup.info";
    }

    private async Task<JsonElement> RecordAsync(string evidence)
    {
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(Assert.Single(Directory.GetFiles(evidence, "*.json"))));
        return doc.RootElement.Clone();
    }

    [Fact]
    public async Task A_zero_segment_size_is_named_in_the_list_and_fails_the_drill()
    {
        var server = $"gzip-badseg-{Guid.NewGuid():N}"[..20];
        var info = await DamagedCopyAsync(server, "xlog_segment_size", "0");
        var id = fx.BackupIds["gzip"];
        Directory.CreateDirectory(_root);

        var list = await CliProcess.RunAsync(_root, Secret, ["backups", "list", .. Source(server)]);
        Assert.True(list.Exit == 0, list.Err);
        Assert.Contains($"backup {id} is unusable: {info}: xlog_segment_size='0'", list.Err);
        var all = await CliProcess.RunAsync(_root, Secret, ["backups", "list", .. Source(server), "--all"]);
        Assert.Contains($"{id,-17} Unknown", all.Out);
        Assert.Contains("xlog_segment_size='0'", all.Out);

        foreach (var pick in new string[][] { [], ["--backup-id", id] })
        {
            var evidence = Path.Combine(_root, $"evidence-{pick.Length}");
            var (exit, output, err) = await CliProcess.RunAsync(_root, Secret, ["drill", .. Source(server), .. pick, "--work-dir", fx.WorkRoot, "--evidence", evidence]);
            Assert.True(exit == 1, $"exit {exit}\n{output}\n{err}");
            var record = await RecordAsync(evidence);
            Assert.Equal("failed", record.GetProperty("verdict").GetString());
            var why = record.GetProperty("failureMessage").GetString();
            Assert.Contains(info, why);
            Assert.Contains("xlog_segment_size='0'", why);
            Assert.Contains("xlog_segment_size='0'", err);
        }
    }

    [Fact]
    public async Task A_backup_ending_in_the_future_is_never_fresh()
    {
        var server = $"gzip-future-{Guid.NewGuid():N}"[..20];
        var future = DateTimeOffset.UtcNow.AddDays(400).ToString("yyyy-MM-dd HH:mm:ss.ffffff+00:00", CultureInfo.InvariantCulture);
        var info = await DamagedCopyAsync(server, "end_time", future);
        var evidence = Path.Combine(_root, "evidence");

        var (exit, output, err) = await CliProcess.RunAsync(Path.GetTempPath(), Secret,
            ["drill", .. Source(server), "--work-dir", fx.WorkRoot, "--database", "shop", "--max-backup-age", "26h", "--evidence", evidence]);

        Assert.True(exit == 1, $"exit {exit}\n{output}\n{err}");
        var why = (await RecordAsync(evidence)).GetProperty("failureMessage").GetString();
        Assert.Contains($"{info}: end_time='{future}'", why);
        Assert.Contains("in the future", why);
    }
}
