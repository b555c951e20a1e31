using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using RestoreOps.Automation;
using RestoreOps.Cli;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Processes;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Restore;
using Xunit;
using static RestoreOps.Tests.Automation.Facade;

namespace RestoreOps.Tests.Automation;

/// <summary>
/// Get-RestoreCluster and the -Orphaned sweep against what other processes left on disk: a target kept by the
/// real CLI, which has exited, beside things the sweep must never touch.
/// </summary>
[Collection("backups")]
public sealed class OrphanSweepTests(BackupFixtures fx) : IDisposable
{
    private readonly CancellationTokenSource _guard = new(TimeSpan.FromMinutes(6));

    private CancellationToken Ct => _guard.Token;

    public void Dispose() => _guard.Dispose();

    /// <summary>A marked work directory as a RestoreOps process writes it (the marker is the engine's own).</summary>
    private static async Task<string> MarkedDirectoryAsync(string root, string id, RestorePurpose purpose, DateTimeOffset? expiresAt, Backup backup)
    {
        var dir = Path.Combine(root, $"{LocalTargets.DirectoryPrefix}{id}");
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        LocalTargets.WriteMarker(new RestoreCluster
        {
            Name = Path.GetFileName(dir),
            DrillId = id,
            Kind = RestoreTargetKind.Local,
            Purpose = purpose,
            Backup = backup,
            RecoveryTarget = RecoveryTarget.Latest,
            CreatedAt = DateTimeOffset.UtcNow.AddHours(-1),
            ExpiresAt = expiresAt,
            WorkDirectory = dir,
        }, null);
        await File.WriteAllTextAsync(Path.Combine(dir, "data", "PG_VERSION"), "15\n");
        return dir;
    }

    private static IEnumerable<RestoreCluster> Under(IEnumerable<RestoreCluster> clusters, string root) =>
        clusters.Where(c => c.WorkDirectory?.StartsWith(root + "/", StringComparison.Ordinal) == true);

    private static string[] Names(IEnumerable<RestoreCluster> clusters) => clusters.Select(c => c.Name).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task A_target_kept_by_an_exited_cli_is_listed_and_swept_after_expiry_and_nothing_else_is()
    {
        var root = NewRoot(fx, "sweep");
        var id = NewId("cli");
        using var victim = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        try
        {
            var (exit, stdout, stderr) = await CliProcess.RunAsync(Ct, "drill", "--demo", "--keep", "--work-dir", root, "--drill-id", id);
            Assert.True(exit == CliApp.Passed, $"exit {exit}\n{stdout}\n{stderr}");
            Assert.Contains("keeps running", stderr, StringComparison.Ordinal);

            // Beside it: a recovery target (never swept), a directory without a marker (not RestoreOps'), and two
            // expired-to-be drill markers whose postmaster.pid names a live process that is not their postmaster.
            var backup = await TestEngine.Shared.GetLocalBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, Ct);
            var recovery = await MarkedDirectoryAsync(root, NewId("recovery"), RestorePurpose.Recovery, null, backup);
            var unmarked = Path.Combine(root, $"{LocalTargets.DirectoryPrefix}{NewId("unmarked")}");
            Directory.CreateDirectory(Path.Combine(unmarked, "data"));
            await File.WriteAllTextAsync(Path.Combine(unmarked, "data", "precious"), "a user's", Ct);
            var namesSelf = await MarkedDirectoryAsync(root, NewId("stale-self"), RestorePurpose.Drill, DateTimeOffset.UtcNow.AddHours(1), backup);
            await File.WriteAllTextAsync(Path.Combine(namesSelf, "data", "postmaster.pid"), $"{Environment.ProcessId}\n{namesSelf}/data\n", Ct);
            var namesVictim = await MarkedDirectoryAsync(root, NewId("stale-other"), RestorePurpose.Drill, DateTimeOffset.UtcNow.AddHours(1), backup);
            await File.WriteAllTextAsync(Path.Combine(namesVictim, "data", "postmaster.pid"), $"{victim.Id}\n{namesVictim}/data\n", Ct);

            var now = DateTimeOffset.UtcNow;
            var listed = Under(await TestEngine.Shared.GetAsync(new RestoreClusterQuery { WorkRoot = root }, Ct), root).ToList();

            var keptName = $"restoreops-{id}";
            Assert.Equal(new[] { keptName, Path.GetFileName(recovery), Path.GetFileName(namesSelf), Path.GetFileName(namesVictim) }.Order(StringComparer.Ordinal), Names(listed));
            var kept = Assert.Single(listed, c => c.Name == keptName);
            Assert.Equal((id, RestorePurpose.Drill, RestoreClusterPhase.Ready), (kept.DrillId, kept.Purpose, kept.Phase));
            Assert.Equal(kept.CreatedAt + TimeSpan.FromHours(6), kept.ExpiresAt);
            Assert.DoesNotContain(TestEngine.Shared.Tracked, c => c.Name == keptName);
            var pid = Assert.IsType<int>(kept.ProcessId);
            Assert.True(Alive(pid), "the kept postmaster is not running");
            Assert.NotEqual(1, pid);
            var port = kept.Connection!.Port;
            Assert.True(LocalRestore.IsListening(port));
            Assert.All(listed.Where(c => c.Name != keptName), c => Assert.Null(c.ProcessId));

            Assert.Empty(Under(await TestEngine.Shared.GetAsync(new RestoreClusterQuery { WorkRoot = root, OrphanedOnly = true, Now = now }, Ct), root));
            var later = now.AddHours(7);
            var orphans = Under(await TestEngine.Shared.GetAsync(new RestoreClusterQuery { WorkRoot = root, OrphanedOnly = true, Now = later }, Ct), root);
            Assert.Equal(new[] { keptName, Path.GetFileName(namesSelf), Path.GetFileName(namesVictim) }.Order(StringComparer.Ordinal), Names(orphans));

            // A signal to this process would end the test run: catch it instead, so the test can say so.
            var signalled = new ConcurrentQueue<PosixSignal>();
            IReadOnlyList<RemovalResult> results;
            using (PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { signalled.Enqueue(c.Signal); c.Cancel = true; }))
            using (PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => { signalled.Enqueue(c.Signal); c.Cancel = true; }))
                results = await TestEngine.Shared.RemoveOrphanedAsync(new RestoreClusterQuery { WorkRoot = root, Now = later }, Ct);

            Assert.Empty(signalled);
            Assert.False(victim.HasExited, "the sweep signalled a process that is not a postmaster");
            Assert.Equal(Names(orphans), Names(results.Select(r => r.Cluster)));
            Assert.All(results, r => Assert.True(r.Outcome.Succeeded, $"{r.Cluster}: {string.Join("; ", r.Outcome.Problems)}"));
            var swept = Assert.Single(results, r => r.Cluster.Name == keptName);
            Assert.Contains($"postgres pid {pid} stopped (fast shutdown)", swept.Outcome.Removed);
            Assert.Equal(RestoreClusterPhase.Removed, swept.Cluster.Phase);
            Assert.All(results.Where(r => r.Cluster.Name != keptName), r => Assert.DoesNotContain(r.Outcome.Removed, x => x.StartsWith("postgres pid", StringComparison.Ordinal)));
            AssertGone(kept, pid, port, kept.Connection.SocketDirectory);
            Assert.False(Directory.Exists(namesSelf));
            Assert.False(Directory.Exists(namesVictim));
            Assert.Empty(Leftovers.ProcessesMentioning(root));

            Assert.True(File.Exists(Path.Combine(recovery, LocalTargets.MarkerFile)));
            Assert.True(File.Exists(Path.Combine(recovery, "data", "PG_VERSION")));
            Assert.Equal("a user's", await File.ReadAllTextAsync(Path.Combine(unmarked, "data", "precious"), Ct));
            Assert.Equal([Path.GetFileName(recovery)], Names(Under(await TestEngine.Shared.GetAsync(new RestoreClusterQuery { WorkRoot = root }, Ct), root)));
        }
        finally
        {
            victim.Kill();
            // A failed assertion must not leave the CLI's postmaster running. Stopped with PostgreSQL's own tool, not the
            // code under test: a regression there (a decoy names this process) must not end the test run.
            var keptData = Path.Combine(root, $"restoreops-{id}", "data");
            if (File.Exists(Path.Combine(keptData, "postmaster.pid")))
                await CommandRunner.RunAsync(fx.Binaries.Tool("pg_ctl"), ["-D", keptData, "stop", "-m", "immediate", "-w"],
                    fx.Account, LocalInstance.MinimalEnvironment(fx.Account), CancellationToken.None);
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>
    /// The parent forks a child that names the data directory on its command line (as a postmaster does), then
    /// never waits for it: once the child exits it stays a zombie, as an adopted postmaster does under a
    /// container's init that does not reap.
    /// </summary>
    private const string UnreapingParent = """
        import os, sys, time
        data, pidfile = sys.argv[1], sys.argv[2]
        child = os.fork()
        if child == 0:
            os.execv(sys.executable, [sys.executable, "-c",
                "import os, sys, time, signal\nsignal.signal(signal.SIGINT, lambda *_: os._exit(0))\nopen(sys.argv[2], 'w').write(f'{os.getpid()}\\n')\nprint('ready', flush=True)\nwhile True: time.sleep(1)",
                data, pidfile])
        while True:
            time.sleep(3600)
        """;

    [Fact]
    public async Task A_swept_postmaster_nobody_reaps_counts_as_stopped_once_it_exits()
    {
        var root = NewRoot(fx, "zombie");
        var backup = await TestEngine.Shared.GetLocalBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, Ct);
        var dir = await MarkedDirectoryAsync(root, NewId("zombie"), RestorePurpose.Drill, DateTimeOffset.UtcNow.AddMinutes(-1), backup);
        var data = Path.Combine(dir, "data");
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-c", UnreapingParent, data, Path.Combine(data, "postmaster.pid") }) psi.ArgumentList.Add(a);
        using var parent = Process.Start(psi)!;
        try
        {
            Assert.Equal("ready", await parent.StandardOutput.ReadLineAsync(Ct));
            var child = int.Parse(File.ReadLines(Path.Combine(data, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
            var found = Assert.Single(Under(await TestEngine.Shared.GetAsync(new RestoreClusterQuery { WorkRoot = root, OrphanedOnly = true }, Ct), root));
            Assert.Equal(child, found.ProcessId);

            var clock = Stopwatch.StartNew();
            var result = Assert.Single(await TestEngine.Shared.RemoveOrphanedAsync(new RestoreClusterQuery { WorkRoot = root }, Ct));
            clock.Stop();

            // The scenario holds: the child exited on SIGINT and is a zombie, which kill(pid, 0) still reports.
            Assert.True(IsZombie(child), $"process {child} is not a zombie; the test proves nothing");
            Assert.True(Native.ProcessExists(child));
            Assert.True(result.Outcome.Succeeded, string.Join("; ", result.Outcome.Problems));
            Assert.Contains($"postgres pid {child} stopped (fast shutdown)", result.Outcome.Removed);
            Assert.False(Directory.Exists(dir));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the sweep waited {clock.Elapsed} for a process that had exited");
        }
        finally
        {
            parent.Kill(entireProcessTree: true);
            Directory.Delete(root, recursive: true);
        }
    }
}
