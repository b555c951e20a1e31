using System.Diagnostics;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using Xunit;
using I = RestoreOps.Tests.Fixtures.IncidentFixtures;

namespace RestoreOps.Tests.Restore;

/// <summary>
/// The hand-over of an incident: a recovery target restored to just before the bad change is kept, whatever ends
/// (the engine that made it, a sweep, the CLI process), checks still run against it, and the runbook the drill wrote
/// repeats it.
/// </summary>
[Collection("incident")]
public sealed class RecoveryTargetTests(IncidentFixtures fx)
{
    private static readonly System.Collections.Hashtable[] VictimChecks =
    [
        new() { ["kind"] = "row-count", ["name"] = "t_truncate", ["table"] = "public.t_truncate", ["exact"] = I.VictimRows },
        new() { ["kind"] = "row-count", ["name"] = "t_delete", ["table"] = "public.t_delete", ["exact"] = I.VictimRows },
    ];

    private static CheckSpec Checks => new() { Checks = VictimChecks, Settings = new System.Collections.Hashtable { ["database"] = "shop" } };

    [Fact]
    public async Task A_recovery_target_outlives_its_engine_and_a_sweep_and_checks_run_against_it_afterwards()
    {
        var name = $"rec-{Guid.NewGuid():N}"[..16];
        RestoreCluster made;
        await using (var engine = new RestoreEngine())
        {
            var backup = (await engine.GetBarmanBackupsAsync(BackupFixtures.DestinationPath, I.Server, fx.S3.Options, false, CancellationToken.None)).First(b => b.Id == fx.SecondBackupId);
            made = await engine.NewAsync(new RestoreRequest
            {
                Backup = backup, Kind = RestoreTargetKind.Local, Purpose = RestorePurpose.Recovery, Name = name,
                RecoveryTarget = RecoveryTarget.AtXid(fx.TruncateXid, inclusive: false), WorkRoot = fx.WorkRoot, ObjectStore = fx.S3.Options, WalParallelism = 2,
            }, CancellationToken.None);
            await engine.WaitReadyAsync(made, TimeSpan.FromMinutes(3), null, null, CancellationToken.None);
            Assert.Equal(name, made.DrillId);
            Assert.Null(made.ExpiresAt);
        } // disposing removes the engine's local drill targets: not this one

        await using var later = new RestoreEngine();
        try
        {
            Assert.True(Directory.Exists(made.WorkDirectory), "disposing the engine removed the recovery target");
            // A sweep a month later: every drill target would be past its expiry by then.
            var swept = await later.RemoveOrphanedAsync(new RestoreClusterQuery { IncludeLocal = true, WorkRoot = fx.WorkRoot, Now = DateTimeOffset.UtcNow.AddDays(30) }, CancellationToken.None);
            Assert.DoesNotContain(swept, s => s.Cluster.Name == made.Name);
            var found = Assert.Single(await later.GetAsync(new RestoreClusterQuery { IncludeLocal = true, WorkRoot = fx.WorkRoot, Name = made.Name }, CancellationToken.None));
            Assert.Equal(RestorePurpose.Recovery, found.Purpose);

            // The server still runs: checks connect to it, and see the rows from before the TRUNCATE. The check file's
            // owner becomes the record's.
            var checkFile = Path.Combine(fx.WorkRoot, $"{name}.yaml");
            await File.WriteAllTextAsync(checkFile, $"owner: team-db\ndatabase: shop\nchecks:\n  - kind: row-count\n    table: public.t_truncate\n    exact: {I.VictimRows}\n  - kind: row-count\n    table: public.t_delete\n    exact: {I.VictimRows}\n");
            var record = await later.CheckAsync(found, new CheckSpec { Path = checkFile }, null, null, CancellationToken.None);
            Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage + string.Join("; ", record.Checks));
            Assert.Equal(2, record.Checks.Count);
            Assert.Equal(RestorePurpose.Recovery, record.Purpose);
            Assert.Equal("team-db", record.Owner);
        }
        finally
        {
            await later.RemoveAsync(made, null, CancellationToken.None);
        }
        Assert.False(Directory.Exists(made.WorkDirectory));
    }

    [Fact]
    public async Task A_recovery_target_needs_a_name_and_a_local_name_must_be_a_drill_id()
    {
        var backup = (await TestEngineShared().GetBarmanBackupsAsync(BackupFixtures.DestinationPath, I.Server, fx.S3.Options, false, CancellationToken.None))[0];
        var unnamed = await Assert.ThrowsAsync<ConfigurationException>(() => TestEngineShared().NewAsync(new RestoreRequest
        {
            Backup = backup, Kind = RestoreTargetKind.Local, Purpose = RestorePurpose.Recovery, WorkRoot = fx.WorkRoot, ObjectStore = fx.S3.Options,
        }, CancellationToken.None));
        Assert.Contains("needs a name", unnamed.Message);
        var bad = await Assert.ThrowsAsync<ConfigurationException>(() => TestEngineShared().NewAsync(new RestoreRequest
        {
            Backup = backup, Kind = RestoreTargetKind.Local, Purpose = RestorePurpose.Recovery, Name = "../escape", WorkRoot = fx.WorkRoot, ObjectStore = fx.S3.Options,
        }, CancellationToken.None));
        Assert.Contains("not a usable drill id", bad.Message);
        Assert.Empty(Directory.GetDirectories(fx.WorkRoot, LocalTargets.DirectoryPrefix + "*escape*"));
    }

    private static RestoreEngine TestEngineShared() => RestoreOps.Tests.Automation.TestEngine.Shared;

    [Fact]
    public async Task A_cli_recovery_drill_keeps_its_target_after_the_process_exits_and_says_how_to_connect()
    {
        var name = $"cli-rec-{Guid.NewGuid():N}"[..16];
        var (code, _, stderr) = await RunCliAsync(
            ["drill", "--source", BackupFixtures.DestinationPath, "--server-name", I.Server, "--endpoint-url", fx.S3.Endpoint,
             "--target-xid", fx.TruncateXid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--target-exclusive",
             "--purpose", "recovery", "--name", name, "--work-dir", fx.WorkRoot, "--database", "shop", "--expect-rows", $"public.t_truncate={I.VictimRows}"]);
        Assert.True(code == 0, stderr);
        Assert.Contains("never swept", stderr);
        Assert.Contains("psql -h ", stderr);
        Assert.Contains($"restoreops targets remove restoreops-{name} --work-dir {fx.WorkRoot}", stderr);

        // The process is gone; its target is not, and answers checks.
        await using var engine = new RestoreEngine();
        var found = Assert.Single(await engine.GetAsync(new RestoreClusterQuery { IncludeLocal = true, WorkRoot = fx.WorkRoot, Name = $"restoreops-{name}" }, CancellationToken.None));
        try
        {
            Assert.Equal(RestorePurpose.Recovery, found.Purpose);
            var record = await engine.CheckAsync(found, Checks, null, null, CancellationToken.None);
            Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage + string.Join("; ", record.Checks));
            var (sweepCode, sweepOut, sweepErr) = await RunCliAsync(["targets", "sweep", "--work-dir", fx.WorkRoot]);
            Assert.True(sweepCode == 0, sweepErr);
            Assert.DoesNotContain(name, sweepOut);
            Assert.True(Directory.Exists(found.WorkDirectory));
        }
        finally
        {
            await engine.RemoveAsync(found, null, CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_cli_drill_writes_a_runbook_whose_command_line_repeats_it_with_the_same_row_counts()
    {
        var evidence = Path.Combine(fx.WorkRoot, $"evidence-{Guid.NewGuid():N}");
        var (code, stdout, stderr) = await RunCliAsync(
            ["drill", "--source", BackupFixtures.DestinationPath, "--server-name", I.Server, "--endpoint-url", fx.S3.Endpoint,
             "--target-xid", fx.DeleteXid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--target-exclusive",
             "--work-dir", fx.WorkRoot, "--database", "shop", "--expect-rows", "public.orders=1..100000", "--expect-rows", "public.t_delete=1..100000",
             "--evidence", evidence, "--owner", "dba-oncall", "--note", "picked the DELETE from recovery-points by its table"]);
        Assert.True(code == 0, stderr);
        var runbookPath = Assert.Single(Directory.GetFiles(evidence, "*.runbook.md"));
        var runbook = await File.ReadAllTextAsync(runbookPath);
        Assert.Contains("Owner: dba-oncall", runbook);
        Assert.Contains("picked the DELETE from recovery-points by its table", runbook);
        Assert.Contains("**drill**", runbook);
        foreach (var phase in new[] { "Discover", "Download", "WalReplay", "Ready", "Checks", "Cleanup" }) Assert.Contains($"| {phase} |", runbook);
        var line = runbook.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("restoreops drill ", StringComparison.Ordinal));

        // A person copies the line into a shell: restoreops is the CLI, the credentials come from the environment.
        var cli = Path.Combine(AppContext.BaseDirectory, "RestoreOps.Cli.dll");
        var (again, againOut, againErr) = await RunAsync("bash", ["-c", $"restoreops() {{ dotnet '{cli}' \"$@\"; }}\n{line}"]);
        Assert.True(again == 0, againErr);
        Assert.Equal(CheckLines(stdout), CheckLines(againOut));
        Assert.Equal(2, CheckLines(stdout).Count);
        Assert.Equal(2, Directory.GetFiles(evidence, "*.runbook.md").Length);

        static List<string> CheckLines(string output) => output.Split('\n').Where(l => l.TrimStart().StartsWith("check ", StringComparison.Ordinal)).Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"\(\d+(\.\d+)?\s*m?s\)", "")).ToList();
    }

    private Task<(int Code, string Stdout, string Stderr)> RunCliAsync(IEnumerable<string> args) =>
        RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "RestoreOps.Cli.dll"), .. args]);

    private async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["AWS_ACCESS_KEY_ID"] = S3rverServer.AccessKey;
        psi.Environment["AWS_SECRET_ACCESS_KEY"] = S3rverServer.Secret;
        psi.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await p.WaitForExitAsync(guard.Token);
        return (p.ExitCode, await stdout, await stderr);
    }
}
