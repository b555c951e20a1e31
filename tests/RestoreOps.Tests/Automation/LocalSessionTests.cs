using System.Collections;
using System.Collections.Concurrent;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using Xunit;
using static RestoreOps.Tests.Automation.Facade;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Automation;

/// <summary>
/// The facade the PowerShell cmdlets call, stage by stage on local targets restored from the fixture's real
/// backups: New-RestoreCluster | Wait-ClusterReady | Invoke-RestoreCheck | Remove-RestoreCluster.
/// </summary>
[Collection("backups")]
public sealed class LocalSessionTests(BackupFixtures fx) : IDisposable
{
    private readonly CancellationTokenSource _guard = new(TimeSpan.FromMinutes(5));

    private CancellationToken Ct => _guard.Token;

    public void Dispose() => _guard.Dispose();

    private async Task<Backup> BackupAsync(string flavour) => flavour switch
    {
        "pg_basebackup" => await TestEngine.Shared.GetLocalBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, Ct),
        "pg_dump" => await TestEngine.Shared.GetLocalBackupAsync(fx.DumpFile, null, Ct),
        _ => (await TestEngine.Shared.GetBarmanBackupsAsync(F.DestinationPath, flavour, fx.S3.Options, includeUnusable: false, Ct))[0],
    };

    private RestoreRequest Request(Backup backup, string root, WalGate? gate = null, string? drillId = null, RestorePurpose purpose = RestorePurpose.Drill) => new()
    {
        Backup = backup,
        Kind = RestoreTargetKind.Local,
        WorkRoot = root,
        ObjectStore = fx.S3.Options,
        WalParallelism = 4,
        DrillId = drillId,
        Purpose = purpose,
        // A recovery target must be named: the name is a local target's drill id.
        Name = purpose == RestorePurpose.Recovery ? drillId ?? $"recovery-{Guid.NewGuid():N}"[..21] : null,
        WrapWalArchive = gate is null ? null : gate.Wrap,
    };

    [Theory]
    [InlineData("pg_basebackup")]
    [InlineData("gzip")]
    public async Task Each_stage_does_its_part_and_removal_leaves_nothing(string flavour)
    {
        var backup = await BackupAsync(flavour);
        var root = NewRoot(fx, "stages");
        var gate = new WalGate(backup);

        var created = await TestEngine.Shared.NewAsync(Request(backup, root, gate), Ct);

        // Returned at once: its WAL is held, so the restore cannot be ready, whatever the machine's speed.
        Assert.NotEqual(RestoreClusterPhase.Ready, created.Phase);
        Assert.Null(created.Connection);
        Assert.Equal(RestoreTargetKind.Local, created.Kind);
        Assert.Equal(RestorePurpose.Drill, created.Purpose);
        Assert.Equal(created.CreatedAt + TimeSpan.FromHours(6), created.ExpiresAt);
        Assert.Equal(Path.Combine(root, created.Name), created.WorkDirectory);
        Assert.Contains(TestEngine.Shared.Tracked, c => ReferenceEquals(c, created));
        // The restore runs in the background: by the first held WAL fetch its directory carries the marker a later session sweeps by.
        await gate.Reached.WaitAsync(Ct);
        Assert.NotEqual(RestoreClusterPhase.Ready, created.Phase);
        Assert.True(File.Exists(Path.Combine(created.WorkDirectory!, LocalTargets.MarkerFile)));
        var marker = Assert.Single(LocalTargets.Scan(root)).Marker;
        Assert.Equal((created.Name, created.DrillId, RestorePurpose.Drill, Environment.ProcessId, created.ExpiresAt),
            (marker.Name, marker.DrillId, marker.Purpose, marker.OwnerProcessId, marker.ExpiresAt));
        Assert.Same(created, Assert.Single(await TestEngine.Shared.GetAsync(new RestoreClusterQuery { WorkRoot = root }, Ct),
            c => c.WorkDirectory!.StartsWith(root, StringComparison.Ordinal)));

        gate.Open();
        var reports = new ConcurrentQueue<DrillProgress>();
        var ready = await TestEngine.Shared.WaitReadyAsync(created, TimeSpan.FromMinutes(3), null, new SyncProgress(reports.Enqueue), Ct);

        Assert.Same(created, ready);
        Assert.Equal(RestoreClusterPhase.Ready, ready.Phase);
        var connection = Assert.IsType<ConnectionInfo>(ready.Connection);
        Assert.Equal("127.0.0.1", connection.Host);
        Assert.True(LocalRestore.IsListening(connection.Port), $"nothing listens on {connection}");
        var pid = Assert.IsType<int>(ready.ProcessId);
        Assert.True(Alive(pid));
        Assert.Contains(reports, r => r.Phase == DrillPhase.WalReplay);

        var passed = await TestEngine.Shared.CheckAsync(ready, Rows("public.orders", AllRows), null, null, Ct);

        Assert.True(passed.Verdict == DrillVerdict.Passed, passed.FailureMessage);
        Assert.Equal(created.DrillId, passed.DrillId);
        Assert.Equal(RestoreTargetKind.Local, passed.TargetKind);
        Assert.Equal(backup.Id, passed.Backup!.Id);
        var check = Assert.Single(passed.Checks);
        Assert.Equal(("orders restored", CheckStatus.Passed, AllRows.ToString()), (check.Name, check.Status, check.Actual));
        foreach (var phase in new[] { DrillPhase.Download, DrillPhase.WalReplay, DrillPhase.Ready, DrillPhase.Checks })
            Assert.Contains(passed.Phases, p => p.Phase == phase && p.Succeeded);
        Assert.True(passed.RestoreDuration > TimeSpan.Zero, $"restore duration {passed.RestoreDuration}");
        Assert.True(passed.Cleanup.Kept);
        Assert.Null(passed.FailureCategory);

        // An inline check that names no database (a PowerShell hashtable without 'database') runs in the restored one.
        var unnamed = await TestEngine.Shared.CheckAsync(ready, new CheckSpec
        {
            Checks = [new Hashtable { ["kind"] = "sql", ["name"] = "where", ["query"] = "select current_database()", ["equals"] = connection.Database, ["showValue"] = true }],
        }, null, null, Ct);
        Assert.True(unnamed.Verdict == DrillVerdict.Passed, unnamed.FailureMessage);
        Assert.Equal(connection.Database, Assert.Single(unnamed.Checks).Actual);

        var failed = await TestEngine.Shared.CheckAsync(ready, Rows("public.orders", AllRows + 1), null, null, Ct);

        Assert.Equal(DrillVerdict.Failed, failed.Verdict);
        Assert.Equal(DrillFailureCategory.Checks, failed.FailureCategory);
        Assert.Equal(DrillPhase.Checks, failed.FailedPhase);
        Assert.Equal(AllRows.ToString(), Assert.Single(failed.Checks).Actual);
        Assert.True(failed.Cleanup.Kept);
        // A failed check changes nothing about the target.
        Assert.Equal(RestoreClusterPhase.Ready, ready.Phase);
        Assert.True(Alive(pid));

        var outcome = await TestEngine.Shared.RemoveAsync(ready, null, Ct);

        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        Assert.Equal(pid, StoppedPid(outcome.Removed));
        Assert.Contains($"directory {ready.WorkDirectory}", outcome.Removed);
        Assert.Equal(RestoreClusterPhase.Removed, ready.Phase);
        AssertGone(ready, pid, connection.Port, connection.SocketDirectory);
        Assert.DoesNotContain(TestEngine.Shared.Tracked, c => ReferenceEquals(c, ready) || c.Name == ready.Name);
        Assert.DoesNotContain(await TestEngine.Shared.GetAsync(new RestoreClusterQuery { WorkRoot = root }, Ct), c => c.Name == ready.Name);

        var again = await TestEngine.Shared.RemoveAsync(ready, null, Ct);
        Assert.True(again.Succeeded, string.Join("; ", again.Problems));
        Assert.Empty(again.Removed);
        Assert.Empty(Directory.GetFileSystemEntries(root));
    }

    [Fact]
    public async Task Checking_a_target_that_is_not_ready_is_refused_naming_Wait_ClusterReady()
    {
        var backup = await BackupAsync("pg_basebackup");
        var root = NewRoot(fx, "notready");
        var gate = new WalGate(backup);
        var created = await TestEngine.Shared.NewAsync(Request(backup, root, gate), Ct);
        await gate.Reached.WaitAsync(Ct);

        var e = await Assert.ThrowsAsync<ConfigurationException>(() => TestEngine.Shared.CheckAsync(created, Rows("public.orders", AllRows), null, null, Ct));

        Assert.Contains("Wait-ClusterReady", e.Message, StringComparison.Ordinal);
        Assert.Contains(created.Name, e.Message, StringComparison.Ordinal);
        Assert.Contains("not Ready", e.Message, StringComparison.Ordinal);
        Assert.NotEqual(RestoreClusterPhase.Ready, created.Phase);

        // Removing it mid-restore (its WAL still held) stops everything it started.
        var pid = created.ProcessId;
        var outcome = await TestEngine.Shared.RemoveAsync(created, null, Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        AssertGone(created, pid, null, null);
        Assert.Empty(Directory.GetFileSystemEntries(root));
        Assert.DoesNotContain(TestEngine.Shared.Tracked, c => c.Name == created.Name);
    }

    [Fact]
    public async Task Cancelling_the_wait_stops_the_wait_but_not_the_restore()
    {
        var backup = await BackupAsync("pg_basebackup");
        var root = NewRoot(fx, "waitcancel");
        var gate = new WalGate(backup);
        var created = await TestEngine.Shared.NewAsync(Request(backup, root, gate), Ct);
        // The moment to cancel: the server runs and replays (reported to whoever waits, or replayed to a new waiter).
        var replaying = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new SyncProgress(p => { if (p.Phase == DrillPhase.WalReplay && created.ProcessId is not null) replaying.TrySetResult(); });
        using var cts = new CancellationTokenSource();

        var wait = TestEngine.Shared.WaitReadyAsync(created, TimeSpan.FromMinutes(3), null, progress, cts.Token);
        await replaying.Task.WaitAsync(Ct);
        Assert.False(wait.IsCompleted, "the wait ended although the WAL is held");
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
        Assert.Equal(RestoreClusterPhase.Replaying, created.Phase);
        var pid = Assert.IsType<int>(created.ProcessId);
        Assert.True(Alive(pid), "cancelling the wait stopped the server");
        Assert.True(Directory.Exists(created.WorkDirectory));
        Assert.Contains(TestEngine.Shared.Tracked, c => ReferenceEquals(c, created));

        // The restore went on: with its WAL released it replays to the end of the archive.
        gate.Open();
        var ready = await TestEngine.Shared.WaitReadyAsync(created, TimeSpan.FromMinutes(3), null, null, Ct);
        Assert.Equal(RestoreClusterPhase.Ready, ready.Phase);
        Assert.Equal(pid, ready.ProcessId);
        var record = await TestEngine.Shared.CheckAsync(ready, Rows("public.orders", AllRows), null, null, Ct);
        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);

        var port = ready.Connection!.Port;
        var socket = ready.Connection.SocketDirectory;
        Assert.True((await TestEngine.Shared.RemoveAsync(ready, null, Ct)).Succeeded);
        AssertGone(ready, pid, port, socket);
    }

    [Fact]
    public async Task A_timeout_stops_the_wait_but_not_the_restore()
    {
        var backup = await BackupAsync("pg_basebackup");
        var root = NewRoot(fx, "waittimeout");
        var gate = new WalGate(backup);
        var created = await TestEngine.Shared.NewAsync(Request(backup, root, gate), Ct);

        // The WAL is held, so the restore cannot be ready within any timeout: the wait gives up, the restore does not.
        var e = await Assert.ThrowsAsync<RestoreFailedException>(() => TestEngine.Shared.WaitReadyAsync(created, TimeSpan.FromSeconds(2), null, null, Ct));
        Assert.Contains("goes on", e.Message, StringComparison.Ordinal);
        Assert.NotEqual(RestoreClusterPhase.Failed, created.Phase);
        Assert.Contains(TestEngine.Shared.Tracked, c => ReferenceEquals(c, created));

        gate.Open();
        var ready = await TestEngine.Shared.WaitReadyAsync(created, TimeSpan.FromMinutes(3), null, null, Ct);
        Assert.Equal(RestoreClusterPhase.Ready, ready.Phase);
        var record = await TestEngine.Shared.CheckAsync(ready, Rows("public.orders", AllRows), null, null, Ct);
        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.True((await TestEngine.Shared.RemoveAsync(ready, null, Ct)).Succeeded);
    }

    [Fact]
    public async Task A_drill_id_in_use_is_refused_before_anything_is_touched()
    {
        var backup = await BackupAsync("pg_basebackup");
        var root = NewRoot(fx, "dupid");
        var gate = new WalGate(backup);
        var id = NewId("dup");
        var first = await TestEngine.Shared.NewAsync(Request(backup, root, gate, id), Ct);

        // The same id again in this session, at once (its restore may not have created its directory yet): refused,
        // and the first stays the tracked one.
        var twice = await Assert.ThrowsAsync<ConfigurationException>(() => TestEngine.Shared.NewAsync(Request(backup, root, null, id), Ct));
        Assert.Contains(first.Name, twice.Message, StringComparison.Ordinal);
        Assert.Same(first, Assert.Single(TestEngine.Shared.Tracked, c => c.Name == first.Name));
        await gate.Reached.WaitAsync(Ct);
        Assert.Equal(first.Name, Assert.Single(LocalTargets.Scan(root)).Marker.Name);

        // A directory of that name this session does not track (another process's target, kept recovery data, a
        // user's folder) is neither used nor, by the failed drill's cleanup, deleted.
        var otherId = NewId("taken");
        var taken = Path.Combine(root, $"restoreops-{otherId}");
        Directory.CreateDirectory(taken);
        var precious = Path.Combine(taken, "precious.txt");
        await File.WriteAllTextAsync(precious, "not RestoreOps' to delete", Ct);

        var run = await TestEngine.Shared.RunDrillAsync(new DrillRequest { Restore = Request(backup, root, null, otherId), Checks = Rows("public.orders", AllRows) }, null, Ct);
        Assert.True(File.Exists(precious), $"the failed drill's cleanup deleted {taken}");
        Assert.Equal("not RestoreOps' to delete", await File.ReadAllTextAsync(precious, Ct));
        Assert.Equal(DrillVerdict.Error, run.Record.Verdict);
        Assert.Equal(DrillFailureCategory.Configuration, run.Record.FailureCategory);
        Assert.Contains(taken, run.Record.FailureMessage, StringComparison.Ordinal);
        var refused = await Assert.ThrowsAsync<ConfigurationException>(() => TestEngine.Shared.NewAsync(Request(backup, root, null, otherId), Ct));
        Assert.Contains(taken, refused.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(precious));
        Assert.DoesNotContain(TestEngine.Shared.Tracked, c => c.Name == $"restoreops-{otherId}");

        var pid = first.ProcessId;
        Assert.True((await TestEngine.Shared.RemoveAsync(first, null, Ct)).Succeeded);
        AssertGone(first, pid, null, null);
        Assert.True(File.Exists(precious));
        Directory.Delete(taken, recursive: true);
    }

    [Fact]
    public async Task Disposing_an_engine_removes_its_drill_targets_and_keeps_recovery_ones()
    {
        var dump = await BackupAsync("pg_dump");
        var root = NewRoot(fx, "dispose");
        // Its own engine: what its disposal does is the point (the process-exit safety net calls the same removal).
        var engine = new RestoreEngine();
        var drill = await engine.NewAsync(Request(dump, root), Ct);
        var recovery = await engine.NewAsync(Request(dump, root, purpose: RestorePurpose.Recovery), Ct);
        Assert.Null(recovery.ExpiresAt);
        await engine.WaitReadyAsync(drill, TimeSpan.FromMinutes(3), null, null, Ct);
        await engine.WaitReadyAsync(recovery, TimeSpan.FromMinutes(3), null, null, Ct);
        var drillPid = drill.ProcessId!.Value;
        var drillPort = drill.Connection!.Port;
        var drillSocket = drill.Connection.SocketDirectory;
        var recoveryPid = recovery.ProcessId!.Value;

        await engine.DisposeAsync();

        AssertGone(drill, drillPid, drillPort, drillSocket);
        Assert.Empty(engine.Tracked);
        Assert.True(Alive(recoveryPid), "the recovery target's server was stopped");
        Assert.True(LocalRestore.IsListening(recovery.Connection!.Port));

        // Another engine (a new session) finds the kept target on disk, checks it, and removes it when told to.
        await using var next = new RestoreEngine();
        Assert.Empty(next.Tracked);
        var found = Assert.Single(await next.GetAsync(new RestoreClusterQuery { IncludeLocal = true, WorkRoot = root, Name = recovery.Name }, Ct));
        Assert.Equal(RestoreClusterPhase.Ready, found.Phase);
        var record = await next.CheckAsync(found, new CheckSpec(), null, null, Ct);
        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        var port = recovery.Connection.Port;
        var socket = recovery.Connection.SocketDirectory;
        Assert.True((await next.RemoveAsync(recovery, null, Ct)).Succeeded);
        AssertGone(recovery, recoveryPid, port, socket);
        Assert.Empty(Directory.GetFileSystemEntries(root));
    }

    [Fact]
    public async Task Two_engines_in_one_process_see_neither_each_others_targets_nor_secrets()
    {
        var dump = await BackupAsync("pg_dump");
        var root = NewRoot(fx, "two");
        await using var a = new RestoreEngine();
        await using var b = new RestoreEngine();
        const string secret = "engine-a-only-object-store-secret";
        // s3rver never checks the secret, so any value lists the catalogue; engine a now knows it as a secret.
        var store = new RestoreOps.ObjectStoreOptions { EndpointUrl = fx.S3.Endpoint, AccessKeyId = S3rverServer.AccessKey, SecretAccessKey = secret, Region = "us-east-1" };
        Assert.NotEmpty(await a.GetBarmanBackupsAsync(F.DestinationPath, "gzip", store, false, Ct));

        var target = await a.NewAsync(Request(dump, root), Ct);

        Assert.Contains(a.Tracked, c => ReferenceEquals(c, target));
        Assert.Empty(b.Tracked);
        Assert.Equal("key ***", a.Redact($"key {secret}"));
        Assert.Equal($"key {secret}", b.Redact($"key {secret}"));
        Assert.True((await a.RemoveAsync(target, null, Ct)).Succeeded);
        Assert.Empty(Directory.GetFileSystemEntries(root));
    }
}
