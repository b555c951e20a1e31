using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Evidence;

public class HistoryTests
{
    // The history command reads the real clock, so the records sit in the ten days before it.
    private static readonly DateTimeOffset Day0 = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()).AddDays(-10);
    private static readonly DateTimeOffset Now = Day0.AddDays(10);

    private static async Task<string> FolderAsync()
    {
        var dir = TestLocations.NewTempDirectory();
        // main: passed on day 0 and day 9, failed on day 9.5 → fresh (last proof 1 day old).
        // replica: passed on day 1 only → stale after 7 days.
        // dev: only failures → never proven.
        await DrillRecordJson.WriteAsync(SampleRecords.Passed("d0-main", "main", Day0), dir, CancellationToken.None);
        await DrillRecordJson.WriteAsync(SampleRecords.Passed("d9-main", "main", Day0.AddDays(9)), dir, CancellationToken.None);
        await DrillRecordJson.WriteAsync(SampleRecords.Failed("d9b-main", "main", Day0.AddDays(9.5)), dir, CancellationToken.None);
        await DrillRecordJson.WriteAsync(SampleRecords.Passed("d1-replica", "replica", Day0.AddDays(1)), dir, CancellationToken.None);
        await DrillRecordJson.WriteAsync(SampleRecords.Failed("d2-dev", "dev", Day0.AddDays(2)), dir, CancellationToken.None);
        return dir;
    }

    [Fact]
    public async Task The_last_proven_restore_per_source_and_its_staleness()
    {
        var dir = await FolderAsync();
        File.WriteAllText(Path.Combine(dir, "notes.json"), "{\"hello\": 1}");
        var history = DrillHistory.Load(dir);
        Assert.Equal(5, history.Records.Count);
        Assert.Contains("notes.json", Assert.Single(history.Problems).Path);
        var proofs = history.LastProvenRestores(Now, TimeSpan.FromDays(7)).ToDictionary(p => p.Source);
        Assert.Equal(ProofStatus.Fresh, proofs["main"].Status);
        Assert.Equal("d9-main", proofs["main"].LastPassed!.DrillId);
        Assert.Equal("d9b-main", proofs["main"].LastRun.DrillId);
        Assert.Equal(ProofStatus.Stale, proofs["replica"].Status);
        Assert.True(proofs["replica"].Age > TimeSpan.FromDays(8.9));
        Assert.Equal(ProofStatus.NeverProven, proofs["dev"].Status);
        Assert.Null(proofs["dev"].LastPassed);
    }

    [Fact]
    public async Task A_record_changed_after_it_was_written_is_a_problem_not_a_record()
    {
        var dir = await FolderAsync();
        var file = Path.Combine(dir, "d9b-main.json");
        // A failed drill turned into a pass by hand: its digest no longer matches, so it must not count as proof.
        File.WriteAllText(file, File.ReadAllText(file).Replace("\"failed\"", "\"passed\"", StringComparison.Ordinal));
        var history = DrillHistory.Load(dir);
        Assert.DoesNotContain(history.Records, r => r.DrillId == "d9b-main");
        var problem = Assert.Single(history.Problems);
        Assert.EndsWith("d9b-main.json", problem.Path, StringComparison.Ordinal);
        Assert.Contains("changed after it was written", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_command_prints_the_table_and_fails_when_a_source_is_stale()
    {
        var dir = await FolderAsync();
        var (code, stdout, stderr) = await CliRunner.RunAsync(["history", dir, "--stale-after", "7d"]);
        Assert.Equal(1, code);
        Assert.Contains("Stale", stdout);
        Assert.Contains("NeverProven", stdout);
        Assert.Contains("replica: last proven restore is", stderr);
        Assert.Contains("dev: no drill has ever passed", stderr);
    }

    [Fact]
    public async Task History_command_passes_when_every_source_is_fresh()
    {
        var dir = TestLocations.NewTempDirectory();
        await DrillRecordJson.WriteAsync(SampleRecords.Passed("now-main", "main", DateTimeOffset.UtcNow.AddHours(-1)), dir, CancellationToken.None);
        var (code, stdout, _) = await CliRunner.RunAsync(["history", dir, "--json"]);
        Assert.Equal(0, code);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        var source = doc.RootElement.GetProperty("sources")[0];
        Assert.Equal("fresh", source.GetProperty("status").GetString());
        Assert.Equal("now-main", source.GetProperty("lastPassedDrillId").GetString());
    }

    [Fact]
    public async Task History_command_names_a_missing_folder_and_a_bad_threshold()
    {
        var (code, _, stderr) = await CliRunner.RunAsync(["history", "/nonexistent/evidence"]);
        Assert.Equal(2, code);
        Assert.Contains("'/nonexistent/evidence' does not exist", stderr);
        (code, _, stderr) = await CliRunner.RunAsync(["history", TestLocations.NewTempDirectory(), "--stale-after", "a week"]);
        Assert.Equal(2, code);
        Assert.Contains("--stale-after 'a week' is not a duration", stderr);
    }

    [Fact]
    public async Task An_empty_folder_is_as_alarming_as_a_stale_one()
    {
        var (code, stdout, _) = await CliRunner.RunAsync(["history", TestLocations.NewTempDirectory()]);
        Assert.Equal(1, code);
        Assert.Contains("No drill records found.", stdout);
    }
}

public class VerifyCommandTests
{
    [Fact]
    public async Task Verify_accepts_a_written_record_and_rejects_one_with_a_changed_byte()
    {
        var dir = TestLocations.NewTempDirectory();
        var path = await DrillRecordJson.WriteAsync(SampleRecords.Passed(), dir, CancellationToken.None);
        var (code, stdout, _) = await CliRunner.RunAsync(["evidence", "verify", path]);
        Assert.Equal(0, code);
        Assert.Contains(": OK (Valid)", stdout);

        var bytes = File.ReadAllBytes(path);
        var i = System.Text.Encoding.UTF8.GetString(bytes).IndexOf("\"backupAge\"", StringComparison.Ordinal) + "\"backupAge\": {\n    \"seconds\": ".Length + 2;
        Assert.InRange(bytes[i], (byte)'0', (byte)'9');
        bytes[i] = bytes[i] == (byte)'9' ? (byte)'0' : (byte)(bytes[i] + 1);
        File.WriteAllBytes(path, bytes);
        string stderr;
        (code, _, stderr) = await CliRunner.RunAsync(["evidence", "verify", path]);
        Assert.Equal(1, code);
        Assert.Contains("FAILED (DigestMismatch)", stderr);
    }

    [Fact]
    public async Task Verify_checks_the_signature_with_the_named_key_variable()
    {
        var dir = TestLocations.NewTempDirectory();
        var variable = "RESTOREOPS_TEST_KEY_" + Guid.NewGuid().ToString("N")[..6].ToUpperInvariant();
        Environment.SetEnvironmentVariable(variable, "the-key");
        try
        {
            var signed = await DrillRecordJson.WriteAsync(SampleRecords.Passed("signed"), dir, "the-key"u8.ToArray(), CancellationToken.None);
            var unsigned = await DrillRecordJson.WriteAsync(SampleRecords.Passed("unsigned"), dir, CancellationToken.None);
            Assert.Equal(0, (await CliRunner.RunAsync(["evidence", "verify", signed, "--key-env", variable])).ExitCode);
            var (code, _, stderr) = await CliRunner.RunAsync(["evidence", "verify", unsigned, "--key-env", variable]);
            Assert.Equal(1, code);
            Assert.Contains("SignatureMissing", stderr);
            Environment.SetEnvironmentVariable(variable, "another-key");
            (code, _, stderr) = await CliRunner.RunAsync(["evidence", "verify", signed, "--key-env", variable]);
            Assert.Equal(1, code);
            Assert.Contains("SignatureMismatch", stderr);
            Environment.SetEnvironmentVariable(variable, null);
            (code, _, stderr) = await CliRunner.RunAsync(["evidence", "verify", signed, "--key-env", variable]);
            Assert.Equal(2, code);
            Assert.Contains($"--key-env {variable}: that environment variable is not set", stderr);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task Verify_names_a_missing_file()
    {
        var (code, _, stderr) = await CliRunner.RunAsync(["evidence", "verify", "/nonexistent/x.json"]);
        Assert.Equal(2, code);
        Assert.Contains("'/nonexistent/x.json' does not exist", stderr);
    }
}
