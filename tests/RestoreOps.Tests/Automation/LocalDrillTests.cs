using System.Text.Json;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Restore;
using Xunit;
using static RestoreOps.Tests.Automation.Facade;

namespace RestoreOps.Tests.Automation;

/// <summary>Invoke-RestoreDrill's entry point on local targets: a whole drill, its evidence, and what it leaves (nothing, unless asked).</summary>
[Collection("backups")]
public sealed class LocalDrillTests(BackupFixtures fx) : IDisposable
{
    private readonly CancellationTokenSource _guard = new(TimeSpan.FromMinutes(5));

    private CancellationToken Ct => _guard.Token;

    public void Dispose() => _guard.Dispose();

    private RestoreRequest Request(Backup backup, string workRoot, string drillId, WalGate? gate = null) => new()
    {
        Backup = backup,
        Kind = RestoreTargetKind.Local,
        WorkRoot = workRoot,
        DrillId = drillId,
        WalParallelism = 4,
        WrapWalArchive = gate is null ? null : gate.Wrap,
    };

    [Fact]
    public async Task A_passing_drill_writes_every_evidence_file_and_leaves_nothing()
    {
        var backup = await TestEngine.Shared.GetLocalBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, Ct);
        var root = NewRoot(fx, "rundrill");
        var work = Path.Combine(root, "work");
        var evidence = Path.Combine(root, "evidence");
        var id = NewId("pass");

        var run = await TestEngine.Shared.RunDrillAsync(new DrillRequest
        {
            Restore = Request(backup, work, id),
            Checks = Rows("public.orders", AllRows),
            EvidencePath = evidence,
        }, null, Ct);

        var record = run.Record;
        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Equal(id, record.DrillId);
        Assert.Equal(RestoreTargetKind.Local, record.TargetKind);
        Assert.Equal(AllRows.ToString(), Assert.Single(record.Checks).Actual);
        foreach (var phase in new[] { DrillPhase.Discover, DrillPhase.Download, DrillPhase.WalReplay, DrillPhase.Ready, DrillPhase.Checks, DrillPhase.Cleanup })
            Assert.Contains(record.Phases, p => p.Phase == phase && p.Succeeded);
        Assert.NotNull(record.RestoreDuration);
        Assert.True(record.Cleanup.Succeeded, string.Join("; ", record.Cleanup.Problems));
        Assert.False(record.Cleanup.Kept);
        Assert.Empty(run.Warnings);

        foreach (var suffix in new[] { ".json", ".junit.xml", ".md", ".runbook.md", ".html", ".prom" })
        {
            var file = Assert.Single(run.EvidenceFiles, f => Path.GetFileName(f) == id + suffix);
            Assert.Equal(evidence, Path.GetDirectoryName(file));
            Assert.True(new FileInfo(file).Length > 0, $"{file} is missing or empty");
        }
        using (var json = JsonDocument.Parse(await File.ReadAllTextAsync(Assert.Single(run.EvidenceFiles, f => f.EndsWith(".json", StringComparison.Ordinal)), Ct)))
        {
            Assert.Equal("passed", json.RootElement.GetProperty("verdict").GetString());
            Assert.Equal(id, json.RootElement.GetProperty("drillId").GetString());
        }

        var pid = StoppedPid(record.Cleanup.Removed);
        Assert.False(Alive(pid), $"postmaster {pid} is still running");
        Assert.Empty(Directory.GetFileSystemEntries(work));
        Assert.Empty(Leftovers.ProcessesMentioning(work));
        Assert.DoesNotContain(TestEngine.Shared.Tracked, c => c.DrillId == id);
    }

    [Fact]
    public async Task Keep_on_failure_keeps_the_target_and_the_session_can_remove_it()
    {
        var dump = await TestEngine.Shared.GetLocalBackupAsync(fx.DumpFile, null, Ct);
        var work = NewRoot(fx, "keep");
        var id = NewId("kept");

        var run = await TestEngine.Shared.RunDrillAsync(new DrillRequest
        {
            Restore = Request(dump, work, id),
            Checks = Rows("public.orders", 10),
            KeepOnFailure = true,
        }, null, Ct);

        Assert.Equal(DrillVerdict.Failed, run.Record.Verdict);
        Assert.Equal(DrillFailureCategory.Checks, run.Record.FailureCategory);
        Assert.True(run.Record.Cleanup.Kept);
        Assert.Empty(run.Record.Cleanup.Removed);

        // Not a session target, but found on disk: running, ready, and removable by the next stage.
        Assert.DoesNotContain(TestEngine.Shared.Tracked, c => c.DrillId == id);
        var kept = Assert.Single(await TestEngine.Shared.GetAsync(new RestoreClusterQuery { WorkRoot = work, DrillId = id }, Ct));
        Assert.Equal(Path.Combine(work, $"restoreops-{id}"), kept.WorkDirectory);
        Assert.Equal(RestoreClusterPhase.Ready, kept.Phase);
        var pid = Assert.IsType<int>(kept.ProcessId);
        Assert.True(Alive(pid));
        var port = kept.Connection!.Port;
        Assert.True(RestoreOps.Local.LocalRestore.IsListening(port));

        var outcome = await TestEngine.Shared.RemoveAsync(kept, null, Ct);

        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        Assert.Contains($"postgres pid {pid} stopped (fast shutdown)", outcome.Removed);
        Assert.Equal(RestoreClusterPhase.Removed, kept.Phase);
        AssertGone(kept, pid, port, kept.Connection.SocketDirectory);
        Assert.Empty(Directory.GetFileSystemEntries(work));
    }

    [Fact]
    public async Task Cancelling_mid_restore_records_the_cancellation_and_leaves_nothing()
    {
        var backup = await TestEngine.Shared.GetLocalBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, Ct);
        var work = NewRoot(fx, "cancel");
        var gate = new WalGate(backup);
        using var cts = new CancellationTokenSource();
        int? postmaster = null;
        var replaying = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new SyncProgress(p =>
        {
            if (p.Phase == DrillPhase.WalReplay && p.Status?.StartsWith("postgres pid ", StringComparison.Ordinal) == true)
            {
                postmaster = int.Parse(p.Status.Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
                replaying.TrySetResult();
            }
        });

        var drill = TestEngine.Shared.RunDrillAsync(new DrillRequest { Restore = Request(backup, work, NewId("cancel"), gate), Checks = Rows("public.orders", AllRows) }, progress, cts.Token);
        // Mid-restore: the server runs and waits for WAL the gate holds.
        await replaying.Task.WaitAsync(Ct);
        Assert.False(drill.IsCompleted);
        Assert.True(Alive(postmaster!.Value));
        await cts.CancelAsync();
        var record = (await drill.WaitAsync(Ct)).Record;

        Assert.True(record.FailureCategory == DrillFailureCategory.Cancelled, record.FailureMessage);
        Assert.Equal(DrillVerdict.Error, record.Verdict);
        Assert.Equal(DrillPhase.WalReplay, record.FailedPhase);
        Assert.Empty(record.Checks);
        Assert.True(record.Cleanup.Succeeded, string.Join("; ", record.Cleanup.Problems));
        Assert.False(record.Cleanup.Kept);
        Assert.Equal(postmaster, StoppedPid(record.Cleanup.Removed));
        Assert.False(Alive(postmaster.Value));
        Assert.Empty(Directory.GetFileSystemEntries(work));
        Assert.Empty(Leftovers.ProcessesMentioning(work));
    }
}
