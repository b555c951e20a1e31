using System.Diagnostics;
using RestoreOps.Automation;
using RestoreOps.Backups;
using RestoreOps.Checks;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Wal;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Restore;

/// <summary>
/// What a local restore owns, and for how long: a work directory claimed in one step (so a second drill with the same id
/// owns nothing and removes nothing), and a lease that ends with the owning process however it ends.
/// </summary>
[Collection("backups")]
public sealed class OwnershipTests(BackupFixtures fx)
{
    private const int AllRows = F.RowsAtBackup + F.RowsBeforeTarget + F.RowsAfterTarget;
    private static readonly RestoreCheck[] Checks = [new RowCountCheck("shop", "public.orders", AllRows, AllRows)];

    private DrillOptions Options(string drillId, string workRoot) => new()
    {
        DiscoverBackup = ct => LocalBackupCatalog.ReadBaseBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, ct),
        Checks = Checks,
        Restore = new LocalRestoreOptions { WorkRoot = workRoot, ReadyTimeout = TimeSpan.FromMinutes(3) },
        DrillId = drillId,
    };

    private string NewRoot(string name)
    {
        var root = Path.Combine(fx.WorkRoot, $"{name}-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(root);
        return root;
    }

    [Fact]
    public async Task Two_drills_with_one_id_started_together_one_runs_and_the_other_removes_nothing()
    {
        var root = NewRoot("same-id");
        var id = "same-" + Guid.NewGuid().ToString("N")[..8];
        // Both reach the claim together; only one can win it.
        using var go = new ManualResetEventSlim();
        Task<DrillRecord> Run() => Task.Run(() => { go.Wait(); return DrillRunner.RunAsync(Options(id, root), null, CancellationToken.None); });
        var first = Run();
        var second = Run();
        go.Set();
        var records = await Task.WhenAll(first, second);

        var passed = Assert.Single(records, r => r.Verdict == DrillVerdict.Passed);
        var refused = Assert.Single(records, r => r.Verdict != DrillVerdict.Passed);
        Assert.All(passed.Checks, c => Assert.Equal(CheckStatus.Passed, c.Status));
        Assert.Equal(DrillFailureCategory.Configuration, refused.FailureCategory);
        Assert.Contains("already exists", refused.FailureMessage);
        Assert.True(refused.Cleanup.Succeeded);
        Assert.Empty(refused.Cleanup.Removed);
        Assert.Equal("nothing to remove", refused.Cleanup.ToString());
        Assert.True(passed.Cleanup.Succeeded, string.Join("; ", passed.Cleanup.Problems));
        Assert.Empty(Directory.GetFileSystemEntries(root));
        Directory.Delete(root);
    }

    [Fact]
    public async Task Drills_with_different_ids_started_together_all_pass_on_distinct_directories_and_ports()
    {
        var root = NewRoot("parallel");
        var restores = new System.Collections.Concurrent.ConcurrentBag<LocalRestore>();
        using var go = new ManualResetEventSlim();
        var runs = Enumerable.Range(0, 3).Select(i => Task.Run(() =>
        {
            go.Wait();
            return DrillRunner.RunAsync(Options($"parallel-{i}-{Guid.NewGuid():N}"[..20], root), null, CancellationToken.None, restores.Add);
        })).ToList();
        go.Set();
        var records = await Task.WhenAll(runs);

        Assert.All(records, r => Assert.True(r.Verdict == DrillVerdict.Passed, r.FailureMessage));
        Assert.Equal(3, restores.Select(r => r.Cluster.WorkDirectory).Distinct().Count());
        Assert.Equal(3, restores.Select(r => r.Instance!.Port).Distinct().Count());
        Assert.All(restores, Leftovers.AssertNone);
        Assert.Empty(Directory.GetFileSystemEntries(root));
        Directory.Delete(root);
    }

    [Fact]
    public async Task A_drill_whose_directory_already_exists_leaves_it_untouched_and_reports_nothing_to_remove()
    {
        var root = NewRoot("taken");
        var id = "taken-" + Guid.NewGuid().ToString("N")[..8];
        var someone = Path.Combine(root, LocalTargets.DirectoryPrefix + id);
        Directory.CreateDirectory(Path.Combine(someone, "data"));
        await File.WriteAllTextAsync(Path.Combine(someone, "data", "PG_VERSION"), "15\n");
        try
        {
            var record = await DrillRunner.RunAsync(Options(id, root), null, CancellationToken.None);

            Assert.Equal(DrillVerdict.Error, record.Verdict);
            Assert.Equal(DrillFailureCategory.Configuration, record.FailureCategory);
            Assert.Contains("already exists", record.FailureMessage);
            Assert.True(record.Cleanup.Succeeded);
            Assert.Equal("nothing to remove", record.Cleanup.ToString());
            Assert.Equal("15\n", await File.ReadAllTextAsync(Path.Combine(someone, "data", "PG_VERSION")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_restore_that_never_claimed_its_directory_removes_nothing_when_told_to()
    {
        var root = NewRoot("unclaimed");
        var backup = await LocalBackupCatalog.ReadBaseBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, default);
        var restore = LocalRestore.Create(backup, RecoveryTarget.Latest, new LocalRestoreOptions { WorkRoot = root }, "unclaimed-" + Guid.NewGuid().ToString("N")[..8]);
        // Someone else's directory appears under the restore's name before it ever ran.
        Directory.CreateDirectory(restore.Cluster.WorkDirectory!);
        await File.WriteAllTextAsync(Path.Combine(restore.Cluster.WorkDirectory!, "keep.txt"), "mine");
        try
        {
            var outcome = await restore.RemoveAsync();

            Assert.True(outcome.Succeeded);
            Assert.Empty(outcome.Removed);
            Assert.True(File.Exists(Path.Combine(restore.Cluster.WorkDirectory!, "keep.txt")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void A_half_built_claim_of_a_dead_process_is_swept_and_one_of_a_live_process_is_not()
    {
        var root = NewRoot("claims");
        using var dead = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        dead.WaitForExit();
        var abandoned = Path.Combine(root, $"{LocalTargets.ClaimPrefix}{dead.Id}-abc");
        var live = Path.Combine(root, $"{LocalTargets.ClaimPrefix}{Environment.ProcessId}-abc");
        Directory.CreateDirectory(abandoned);
        Directory.CreateDirectory(live);
        File.WriteAllText(Path.Combine(abandoned, LocalTargets.MarkerFile), "{}");
        try
        {
            var removed = LocalTargets.SweepAbandonedClaims(root);

            Assert.Equal(new[] { $"directory {abandoned}" }, removed);
            Assert.True(Directory.Exists(live));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

/// <summary>
/// The restore_command script and the owner's lease, with real processes: the script serves WAL while its owner lives
/// and stops replay (exit 126, which makes PostgreSQL stop instead of promoting) once the owner is gone.
/// </summary>
public sealed class RestoreScriptLeaseTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("restoreops-lease-").FullName;
    private string Spool => Path.Combine(_dir, "spool");
    private string Lease => Path.Combine(_dir, LocalTargets.LeaseFile);
    private string Script => Path.Combine(_dir, "restore_wal.sh");

    public RestoreScriptLeaseTests()
    {
        Directory.CreateDirectory(Spool);
        File.WriteAllText(Lease, "");
        File.WriteAllText(Script, WalPrefetcher.RestoreScript(Spool, Lease));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A process that holds the lease exclusively, as the owning RestoreOps does, and says so once it does.</summary>
    private async Task<Process> HoldLeaseAsync()
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var a in new[] { "-c", "exec 9<\"$0\"; flock -x 9; echo locked; exec sleep 600", Lease }) psi.ArgumentList.Add(a);
        var holder = Process.Start(psi)!;
        Assert.Equal("locked", await holder.StandardOutput.ReadLineAsync());
        return holder;
    }

    private Process RunScript(string wal, string destination)
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var a in new[] { Script, wal, destination }) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    [Fact]
    public async Task While_the_owner_lives_a_pending_file_is_waited_for_and_served()
    {
        using var holder = await HoldLeaseAsync();
        try
        {
            const string wal = "000000010000000000000005";
            File.WriteAllText(Path.Combine(Spool, wal + ".pending"), "");
            var destination = Path.Combine(_dir, "out");
            using var script = RunScript(wal, destination);
            File.WriteAllText(Path.Combine(Spool, wal), "segment");
            File.Delete(Path.Combine(Spool, wal + ".pending"));
            using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await script.WaitForExitAsync(guard.Token);

            Assert.Equal(0, script.ExitCode);
            Assert.Equal("segment", File.ReadAllText(destination));
        }
        finally
        {
            holder.Kill();
        }
    }

    [Fact]
    public async Task Once_the_owner_is_killed_a_script_waiting_for_wal_stops_replay_instead_of_spinning()
    {
        const string wal = "000000010000000000000006";
        File.WriteAllText(Path.Combine(Spool, wal + ".pending"), "");
        using var holder = await HoldLeaseAsync();
        using var script = RunScript(wal, Path.Combine(_dir, "out"));
        var stderr = script.StandardError.ReadToEndAsync();

        holder.Kill(); // SIGKILL: no cleanup of any kind runs in the owner
        // A guard against a hang, not a timing claim: before the lease existed, this script waited forever.
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await script.WaitForExitAsync(guard.Token);

        Assert.Equal(126, script.ExitCode);
        Assert.Contains("has exited", await stderr);
    }

    [Fact]
    public async Task A_script_started_after_the_owner_died_stops_at_once_even_for_a_file_in_the_spool()
    {
        const string wal = "000000010000000000000007";
        File.WriteAllText(Path.Combine(Spool, wal), "segment");
        using var script = RunScript(wal, Path.Combine(_dir, "out"));
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await script.WaitForExitAsync(guard.Token);

        // Nobody holds the lease: promoting on what the spool happens to hold would leave a server nobody owns.
        Assert.Equal(126, script.ExitCode);
        Assert.False(File.Exists(Path.Combine(_dir, "out")));
    }
}
