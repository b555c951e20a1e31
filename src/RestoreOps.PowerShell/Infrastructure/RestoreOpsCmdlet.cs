using System.Collections.Concurrent;
using System.Management.Automation;
using RestoreOps.Model;

namespace RestoreOps.PowerShell.Infrastructure;

/// <summary>
/// What every RestoreOps cmdlet shares: the engine's async work run off the pipeline thread with its progress,
/// results and errors brought back to it (PowerShell allows writes only there), Ctrl+C as cancellation, and
/// ErrorRecords that carry the engine's fix as the recommended action.
/// </summary>
public abstract class RestoreOpsCmdlet : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly int _activityId = Random.Shared.Next(1, int.MaxValue);

    /// <summary>The module's engine (one per module import; see <see cref="ModuleEngine"/>).</summary>
    private protected static RestoreEngine Engine => ModuleEngine.Current;

    /// <summary>Cancelled by Ctrl+C (StopProcessing).</summary>
    protected CancellationToken Cancellation => _stop.Token;

    /// <summary>This call as a person would type it again (pipeline objects left out), for the runbook; the engine redacts it.</summary>
    private protected string CommandLine(IEnumerable<string>? omit = null, IEnumerable<(string Name, object? Value)>? extra = null) =>
        CommandText.Of(MyInvocation, omit, extra);

    /// <inheritdoc />
    protected override void StopProcessing() => _stop.Cancel();

    /// <summary>Object-store access from -EndpointUrl, -Region and -Credential (its user is the access key, its password the secret).</summary>
    protected static ObjectStoreOptions ObjectStoreFrom(string? endpointUrl, string? region, PSCredential? credential) => new()
    {
        EndpointUrl = endpointUrl,
        Region = region,
        AccessKeyId = credential?.UserName,
        SecretAccessKey = credential?.GetNetworkCredential().Password,
    };

    /// <summary>A path as PowerShell users mean it (relative to $PWD, ~ expanded), for the engine; null stays null.</summary>
    [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(path))]
    protected internal string? FullPath(string? path) => path is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>Runs <paramref name="work"/> on the thread pool, writing its progress from this thread until it ends, and returns its result (or rethrows its exception).</summary>
    protected T Run<T>(string activity, Func<CancellationToken, IProgress<DrillProgress>, Task<T>> work)
    {
        using var queue = new BlockingCollection<DrillProgress>();
        var progress = new QueueProgress(queue);
        var task = Task.Run(() => work(_stop.Token, progress));
        _ = task.ContinueWith(_ => progress.Complete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        var shown = false;
        // A write that finds the pipeline stopping (Ctrl+C) leaves this loop early while the work may still report:
        // completing the queue first makes those reports no-ops instead of writes into a disposed queue (which would
        // throw inside the engine, e.g. in a local restore that goes on after the wait stopped).
        using var completeOnExit = new CompleteOnDispose(progress);
        foreach (var p in queue.GetConsumingEnumerable())
        {
            var record = new ProgressRecord(_activityId, p.Activity.Length > 0 ? p.Activity : activity, p.Status ?? p.Phase.ToString())
            {
                CurrentOperation = p.Phase.ToString(),
                PercentComplete = p.PercentComplete is { } pc ? (int)Math.Clamp(pc, 0, 100) : -1,
                SecondsRemaining = p.Transfer?.Remaining is { } left ? (int)Math.Min(left.TotalSeconds, int.MaxValue) : -1,
            };
            WriteProgress(record);
            shown = true;
        }
        if (shown) WriteProgress(new ProgressRecord(_activityId, activity, "Done") { RecordType = ProgressRecordType.Completed });
        return task.GetAwaiter().GetResult();
    }

    /// <summary>Runs work that has no progress of its own.</summary>
    protected T Run<T>(Func<CancellationToken, Task<T>> work) => Run("RestoreOps", (ct, _) => work(ct));

    /// <summary>Runs work that has neither progress nor a result.</summary>
    protected void Run(Func<CancellationToken, Task> work) => Run(async ct =>
    {
        await work(ct).ConfigureAwait(false);
        return true;
    });

    /// <summary>
    /// Writes a non-terminating error for one item (the pipeline goes on; <c>-ErrorAction Stop</c> stops it), or
    /// turns Ctrl+C into the pipeline stop PowerShell expects.
    /// </summary>
    protected void WriteFailure(Exception e, string errorId, object? target)
    {
        if (e is OperationCanceledException && _stop.IsCancellationRequested) throw new PipelineStoppedException();
        WriteError(ErrorRecords.From(e, errorId, target));
    }

    /// <summary>Stops the command: nothing after this can proceed.</summary>
    protected void Terminate(Exception e, string errorId, object? target)
    {
        if (e is OperationCanceledException && _stop.IsCancellationRequested) throw new PipelineStoppedException();
        ThrowTerminatingError(ErrorRecords.From(e, errorId, target));
    }

    /// <summary>True for failures the engine reports with a message meant for the user (as opposed to bugs).</summary>
    protected static bool IsReported(Exception e) =>
        e is RestoreOpsException or ArgumentException or IOException or UnauthorizedAccessException or TimeoutException or OperationCanceledException or InvalidOperationException;

    /// <summary>EndProcessing is skipped after Ctrl+C or a terminating error; PowerShell disposes the cmdlet either way.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the cancellation source; derived cmdlets release their own work here.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing) return;
        _stop.Cancel();
        _stop.Dispose();
    }

    private sealed class QueueProgress(BlockingCollection<DrillProgress> queue) : IProgress<DrillProgress>
    {
        private readonly object _gate = new();
        private bool _done;

        public void Report(DrillProgress value)
        {
            lock (_gate) if (!_done) queue.Add(value);
        }

        public void Complete()
        {
            lock (_gate)
            {
                if (_done) return;
                _done = true;
                queue.CompleteAdding();
            }
        }
    }

    private sealed class CompleteOnDispose(QueueProgress progress) : IDisposable
    {
        public void Dispose() => progress.Complete();
    }
}
