using System.Collections;
using System.Reflection;
using System.Text.Json;
using RestoreOps.Automation;
using RestoreOps.Evidence;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using Xunit;
using static RestoreOps.Tests.Automation.Facade;

namespace RestoreOps.Tests.Automation;

/// <summary>
/// A <see cref="RestoreCluster"/> is in the user's hands (a variable, the pipeline, Format-List, ConvertTo-Json) while
/// its restore runs on another thread: reading it must never throw, and what a reader sees of a phase never changes
/// under it.
/// </summary>
[Collection("backups")]
public sealed class LiveReadTests(BackupFixtures fx) : IDisposable
{
    private readonly CancellationTokenSource _guard = new(TimeSpan.FromMinutes(5));

    private CancellationToken Ct => _guard.Token;

    public void Dispose() => _guard.Dispose();

    [Fact]
    public async Task A_cluster_formatted_and_serialised_in_a_loop_while_it_restores_never_throws()
    {
        var backup = await TestEngine.Shared.GetLocalBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, Ct);
        var root = NewRoot(fx, "liveread");
        var gate = new WalGate(backup);
        var created = await TestEngine.Shared.NewAsync(new RestoreRequest
        {
            Backup = backup,
            Kind = RestoreTargetKind.Local,
            WorkRoot = root,
            WalParallelism = 4,
            WrapWalArchive = gate.Wrap,
        }, Ct);

        // What PowerShell does, on a thread of its own, from the moment the object is in the pipeline until it is Ready:
        // format every property (collections item by item) and serialise it.
        var done = new ManualResetEventSlim();
        var warmedUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var during = 0;
        var reader = Task.Factory.StartNew(() =>
        {
            while (!done.IsSet)
            {
                var before = created.Phase;
                Render(created, depth: 0);
                JsonSerializer.Serialize(created, DrillRecordJson.Options);
                if (before != RestoreClusterPhase.Ready && created.Phase != RestoreClusterPhase.Ready && ++during == 100) warmedUp.TrySetResult();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        // Held mid-replay: the server runs, its WAL does not come, and the WalReplay phase is open.
        var replaying = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progress = new SyncProgress(p => { if (p.Phase == DrillPhase.WalReplay && created.ProcessId is not null) replaying.TrySetResult(); });
        var wait = TestEngine.Shared.WaitReadyAsync(created, TimeSpan.FromMinutes(3), null, progress, Ct);
        try
        {
            await replaying.Task.WaitAsync(Ct);
            await Task.WhenAny(warmedUp.Task, reader).WaitAsync(Ct);
            // A reader that stops half way (a pipeline that pauses between items) while the restore moves on: replay
            // ends and the Ready phase is added before it takes the next item.
            using var paused = created.Phases.GetEnumerator();
            Assert.True(paused.MoveNext());
            var first = paused.Current;
            var seen = created.Phases.ToList();
            var replay = Assert.Single(seen, p => p.Phase == DrillPhase.WalReplay);
            Assert.False(replay.Succeeded);
            Assert.Equal(default, replay.EndedAt);

            gate.Open();
            var ready = await wait;
            Assert.Equal(RestoreClusterPhase.Ready, ready.Phase);

            var rest = new List<PhaseTiming> { first };
            while (paused.MoveNext()) rest.Add(paused.Current);
            // The paused reader finishes what it started, as it was: no phase added under it, none changed.
            Assert.Equal(seen, rest);
            Assert.Equal((false, default(DateTimeOffset), (string?)null), (replay.Succeeded, replay.EndedAt, replay.Detail));
            // The cluster itself shows the restore as it ended.
            Assert.Contains(created.Phases, p => p.Phase == DrillPhase.WalReplay && p.Succeeded && p.EndedAt >= p.StartedAt);
            Assert.Contains(created.Phases, p => p.Phase == DrillPhase.Ready && p.Succeeded);
        }
        finally
        {
            done.Set();
            gate.Open();
            try { await wait; } catch (Exception) { /* the failure that matters is the one reported above */ }
            await reader.WaitAsync(Ct);
            Assert.True((await TestEngine.Shared.RemoveAsync(created, null, Ct)).Succeeded);
        }
        Assert.True(during >= 100, $"only {during} reads happened during the restore");
    }

    /// <summary>What Format-List and ConvertTo-Json do with an object: every public property, collections item by item.</summary>
    private static void Render(object? value, int depth)
    {
        if (value is null || depth > 3 || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum) return;
        if (value is IEnumerable items)
        {
            foreach (var item in items)
            {
                if (item is PhaseTiming p)
                    // A phase is published whole: one that says it succeeded has ended.
                    Assert.True(!p.Succeeded || p.EndedAt >= p.StartedAt, $"{p.Phase} succeeded but has not ended ({p.EndedAt:O})");
                Render(item, depth + 1);
            }
            return;
        }
        foreach (var property in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
            if (property.GetIndexParameters().Length == 0) Render(property.GetValue(value), depth + 1);
    }
}
