using System.CommandLine;
using System.Text.Json;
using RestoreOps.Cli;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Restore;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Cli;

/// <summary>
/// What scripts rely on, from the real restoreops process: usage errors exit 2, help says what to type, every command
/// speaks JSON, durations read one grammar, messages name the CLI's own options.
/// </summary>
public sealed class CliContractTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("restoreops-cli-contract-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Missing => Path.Combine(_root, "no-such-backup");

    private Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => CliProcess.RunAsync(_root, null, args);

    /// <summary>Every command that runs something (the leaves of the tree), with its path from the root.</summary>
    private static IEnumerable<(string Path, Command Command)> Leaves(Command c, string path = "restoreops")
    {
        if (c.Subcommands.Count == 0) yield return (path, c);
        foreach (var s in c.Subcommands)
            foreach (var leaf in Leaves(s, $"{path} {s.Name}")) yield return leaf;
    }

    public static TheoryData<string[]> UsageErrors => new()
    {
        new[] { "bogus" },
        Array.Empty<string>(),
        new[] { "drill", "--bogus" },
        new[] { "drill", "--timeout" },
        new[] { "backups", "list", "--all", "extra" },
        new[] { "targets", "remove" },
        new[] { "evidence", "verify" },
        new[] { "history" },
        new[] { "drill", "--base-backup", "/no/such/dir", "--timeout", "abc" },
        new[] { "drill", "--base-backup", "/no/such/dir", "--timeout", "1h30" },
        new[] { "drill", "--base-backup", "/no/such/dir", "--max-restore-time", "30" },
        new[] { "drill", "--base-backup", "/no/such/dir", "--wal-parallelism", "many" },
        new[] { "history", "/tmp", "--stale-after", "a week" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public async Task Usage_errors_and_malformed_values_exit_2_with_a_message_on_stderr(string[] args)
    {
        var (exit, output, err) = await RunAsync(args);
        Assert.True(exit == CliApp.UsageError, $"exit {exit}\n{output}\n{err}");
        Assert.StartsWith("restoreops: ", err);
        Assert.DoesNotContain("   at ", err);
        Assert.Equal("", output);
    }

    [Theory]
    [InlineData("--timeout", "1h30m")]
    [InlineData("--timeout", "PT45M")]
    [InlineData("--timeout", "90")]
    [InlineData("--max-restore-time", "500ms")]
    [InlineData("--max-backup-age", "1h30m")]
    public async Task Durations_read_one_grammar(string option, string value)
    {
        // The missing backup is what fails: the duration itself was taken.
        var (exit, output, err) = await RunAsync("drill", "--base-backup", Missing, option, value, "--json");
        Assert.True(exit == CliApp.UsageError, $"exit {exit}\n{output}\n{err}");
        using var record = JsonDocument.Parse(output);
        Assert.Equal("error", record.RootElement.GetProperty("verdict").GetString());
        Assert.Contains($"'{Missing}' does not exist", record.RootElement.GetProperty("failureMessage").GetString());
        Assert.DoesNotContain(option, err);
    }

    [Fact]
    public void Every_option_that_takes_a_value_says_what_to_type()
    {
        var vague = new List<string>();
        foreach (var (path, command) in Leaves(CliApp.BuildRoot(TextWriter.Null, TextWriter.Null)))
            foreach (var option in command.Options.Where(o => o.ValueType != typeof(bool) && o.Name is not ("--help" or "--version")))
                if (string.IsNullOrEmpty(option.HelpName) || option.HelpName == option.Name.TrimStart('-'))
                    vague.Add($"{path} {option.Name}");
        Assert.True(vague.Count == 0, "Options whose help shows <option-name> instead of what to type (set HelpName):\n" + string.Join("\n", vague));
    }

    [Fact]
    public async Task Help_shows_placeholders_that_say_what_to_type()
    {
        var (exit, output, _) = await RunAsync("drill", "--help");
        Assert.Equal(0, exit);
        Assert.Contains("--source <s3://BUCKET/PATH>", output);
        Assert.Contains("--timeout <DURATION>", output);
        Assert.Contains("--evidence <DIR>", output);
        Assert.Contains("--max-restore-time <DURATION>", output);
        var history = await RunAsync("history", "--help");
        Assert.Contains("--stale-after <DURATION>", history.Out);
    }

    [Fact]
    public void Every_command_takes_json()
    {
        var without = Leaves(CliApp.BuildRoot(TextWriter.Null, TextWriter.Null))
            .Where(l => !l.Command.Options.Any(o => o.Name == "--json" && o.ValueType == typeof(bool)))
            .Select(l => l.Path).ToList();
        Assert.True(without.Count == 0, "Commands without --json: " + string.Join(", ", without));
    }

    [Theory]
    [InlineData("--timeout", "abc")]
    [InlineData("--wal-parallelism", "0")]
    [InlineData("--max-data-age", "soon")]
    public async Task With_json_a_refused_value_is_a_json_error_naming_the_option(string option, string value)
    {
        var (exit, output, err) = await RunAsync("drill", "--base-backup", Missing, option, value, "--json");
        Assert.True(exit == CliApp.UsageError, $"exit {exit}\n{output}\n{err}");
        using var doc = JsonDocument.Parse(output);
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal(option, error.GetProperty("option").GetString());
        Assert.Equal("configuration", error.GetProperty("kind").GetString());
        Assert.Equal(2, error.GetProperty("exitCode").GetInt32());
        Assert.StartsWith($"{option} '{value}'", error.GetProperty("message").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("fix").GetString()));
        Assert.Contains($"restoreops: {option} '{value}'", err);
    }

    [Fact]
    public async Task Engine_messages_name_the_CLI_option_not_the_cmdlet_parameter()
    {
        var dump = Path.Combine(_root, "shop.dump");
        await File.WriteAllTextAsync(dump, "not read: the binaries are refused first");
        var bin = Directory.CreateDirectory(Path.Combine(_root, "bin")).FullName;

        var (exit, output, err) = await RunAsync("drill", "--dump", dump, "--pg-bin", bin);

        Assert.True(exit == CliApp.UsageError, $"exit {exit}\n{output}\n{err}");
        Assert.Contains("Fix: Point --pg-bin at the bin directory", err);
        Assert.DoesNotContain("-PostgresBinDirectory", err);
    }
}

/// <summary>Every command with --json prints exactly one JSON document on stdout, after real work on a real backup.</summary>
[Collection("backups")]
public sealed class CliJsonTests(BackupFixtures fx) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"restoreops-cli-json-{Guid.NewGuid():N}"[..38]);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static readonly Dictionary<string, string> Secret = new() { ["AWS_SECRET_ACCESS_KEY"] = S3rverServer.Secret };

    private async Task<(int Exit, JsonElement Json, string Err)> JsonAsync(params string[] args)
    {
        var (exit, output, err) = await CliProcess.RunAsync(_root, Secret, [.. args, "--json"]);
        try
        {
            using var doc = JsonDocument.Parse(output);
            return (exit, doc.RootElement.Clone(), err);
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"restoreops {string.Join(' ', args)} --json printed no single JSON document ({e.Message}); exit {exit}\nstdout: {output}\nstderr: {err}");
        }
    }

    [Fact]
    public async Task Every_command_prints_one_json_document()
    {
        Directory.CreateDirectory(_root);
        // PostgreSQL runs as its own account when the tests run as root: it must reach the work directory.
        File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101);
        var work = Directory.CreateDirectory(Path.Combine(_root, "work")).FullName;
        File.SetUnixFileMode(work, (UnixFileMode)0b111_101_101);
        var evidence = Path.Combine(_root, "evidence");

        var backups = await JsonAsync("backups", "list", "--source", F.DestinationPath, "--server-name", "gzip", "--endpoint-url", fx.S3.Endpoint,
            "--access-key-id", S3rverServer.AccessKey);
        Assert.True(backups.Exit == 0, backups.Err);
        Assert.Contains(backups.Json.EnumerateArray(), b => b.GetProperty("id").GetString() == fx.BackupIds["gzip"]);

        var drill = await JsonAsync("drill", "--base-backup", fx.BaseBackupDirectory, "--wal-archive", fx.WalArchiveDirectory, "--work-dir", work,
            "--evidence", evidence, "--keep", "--timeout", "10m");
        Assert.True(drill.Exit == 0, drill.Err);
        Assert.Equal("passed", drill.Json.GetProperty("verdict").GetString());
        var drillId = drill.Json.GetProperty("drillId").GetString()!;

        var list = await JsonAsync("targets", "list", "--work-dir", work);
        Assert.True(list.Exit == 0, list.Err);
        var name = Assert.Single(list.Json.EnumerateArray()).GetProperty("name").GetString()!;

        var remove = await JsonAsync("targets", "remove", name, "--work-dir", work);
        Assert.True(remove.Exit == 0, remove.Err);
        Assert.Single(remove.Json.EnumerateArray());
        Assert.Empty(Leftovers.ProcessesMentioning(work));

        var sweep = await JsonAsync("targets", "sweep", "--work-dir", work);
        Assert.True(sweep.Exit == 0, sweep.Err);
        Assert.Equal(0, sweep.Json.GetArrayLength());

        var verify = await JsonAsync("evidence", "verify", Path.Combine(evidence, $"{drillId}.json"));
        Assert.True(verify.Exit == 0, verify.Err);
        Assert.True(verify.Json.GetProperty("ok").GetBoolean());
        Assert.Equal("valid", verify.Json.GetProperty("status").GetString());

        var history = await JsonAsync("history", evidence, "--stale-after", "1d12h");
        Assert.True(history.Exit == 0, history.Err);
        Assert.Equal("fresh", Assert.Single(history.Json.GetProperty("sources").EnumerateArray()).GetProperty("status").GetString());

        // A failure is a JSON document too, with the exit code and the fix.
        var missing = await JsonAsync("targets", "remove", "no-such-target", "--work-dir", work);
        Assert.Equal(CliApp.UsageError, missing.Exit);
        Assert.Equal(CliApp.UsageError, missing.Json.GetProperty("error").GetProperty("exitCode").GetInt32());
        Assert.Contains("no-such-target", missing.Json.GetProperty("error").GetProperty("message").GetString());
    }
}
