using Npgsql;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Local;
using RestoreOps.Model;

namespace RestoreOps.Automation;

/// <summary>One live restore target, whatever kind: what the stages after creation need from it.</summary>
internal interface IRestoreHandle
{
    RestoreCluster Cluster { get; }

    /// <summary>Returns when the target accepts sessions; throws <see cref="RestoreFailedException"/> when it never will.</summary>
    Task WaitReadyAsync(TimeSpan timeout, IProgress<DrillProgress>? progress, CancellationToken ct);

    /// <summary>Connection settings for checks, valid until the lease is disposed.</summary>
    Task<CheckConnections> OpenChecksAsync(CancellationToken ct);

    /// <summary>Stops and deletes the target; safe to call twice.</summary>
    Task<CleanupOutcome> RemoveAsync(CancellationToken ct);
}

/// <summary>How checks reach a ready target, and what to release afterwards (a port-forward).</summary>
internal sealed class CheckConnections(Func<string, NpgsqlConnectionStringBuilder> connectionFor, IAsyncDisposable? lease) : IAsyncDisposable
{
    public Func<string, NpgsqlConnectionStringBuilder> ConnectionFor { get; } = connectionFor;

    public ValueTask DisposeAsync() => lease?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>
/// A local restore running in the background from the moment it is created, so creating and waiting are separate
/// steps as they are for CNPG. Progress goes to whoever waits at the moment.
/// </summary>
internal sealed class LocalHandle : IRestoreHandle
{
    private readonly LocalRestore _restore;
    private readonly CancellationTokenSource _stop;
    private readonly ProgressRelay _relay = new();
    private readonly Task _run;

    // A drill's restore (linked to the drill's token) ends with its wait; a session's goes on until it is removed.
    private readonly bool _drillOwned;

    private LocalHandle(LocalRestore restore, CancellationToken linkedTo)
    {
        _restore = restore;
        _drillOwned = linkedTo.CanBeCanceled;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(linkedTo);
        Evidence.Redactor.RegisterSecret(restore.GeneratedPassword);
        _run = Task.Run(() => _restore.RunAsync(_relay, _stop.Token));
    }

    /// <summary>Starts <paramref name="restore"/>; <paramref name="linkedTo"/> cancels it (a drill's token), or none for a session's target.</summary>
    public static LocalHandle Start(LocalRestore restore, CancellationToken linkedTo = default)
    {
        // Refused here, before a handle exists, not only by the restore's own Provision check: by then the handle's
        // removal (a drill's cleanup in finally, Remove-RestoreCluster) would delete the directory, which is another
        // target's (a reused drill id) or a user's, never this restore's.
        if (restore.Cluster.WorkDirectory is { } work && Directory.Exists(work))
            throw new ConfigurationException($"The work directory {work} already exists: it belongs to another restore target or was left by one.",
                "Use a new drill id, or remove the old target first (Remove-RestoreCluster / restoreops targets remove, or the sweep once it has expired).");
        return new(restore, linkedTo);
    }

    public RestoreCluster Cluster => _restore.Cluster;

    public async Task WaitReadyAsync(TimeSpan timeout, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        _relay.Attach(progress);
        try
        {
            await _run.WaitAsync(timeout, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested && _stop.IsCancellationRequested)
        {
            // A drill's token stops the restore too: let it wind down so its timings are complete before anyone reads them.
            try { await _run.ConfigureAwait(false); } catch (Exception) { /* the cancellation itself */ }
            throw;
        }
        catch (TimeoutException) when (!_drillOwned)
        {
            // A session's wait gives up, as Ctrl+C does, but the restore goes on: the user can wait again or remove it.
            // Declaring it failed here would leave a running postgres behind a Failed target that nothing can check.
            throw new RestoreFailedException($"Local restore {Cluster.Name} was not ready within {InputDuration.Format(timeout)}; it goes on in the background.",
                $"Wait again with a longer {InputKey.Timeout.Ref()}, or remove the target when it is no longer needed.");
        }
        catch (TimeoutException)
        {
            // Declared failed: a restore nobody waits for any more only burns the machine. Its directory stays for a look until removal.
            await _stop.CancelAsync().ConfigureAwait(false);
            try { await _run.ConfigureAwait(false); } catch (Exception) { /* ended by the cancellation above */ }
            Cluster.Phase = RestoreClusterPhase.Failed;
            throw new RestoreFailedException($"Local restore {Cluster.Name} did not become ready within {InputDuration.Format(timeout)}.",
                $"Raise {InputKey.Timeout.Ref()} for bigger backups, or read the server log under {Cluster.WorkDirectory}/log before removing the target.");
        }
        finally
        {
            _relay.Attach(null);
        }
    }

    public Task<CheckConnections> OpenChecksAsync(CancellationToken ct) =>
        Task.FromResult(new CheckConnections(db => _restore.AdminConnectionString(db), null));

    public async Task<CleanupOutcome> RemoveAsync(CancellationToken ct)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try { await _run.ConfigureAwait(false); } catch (Exception) { /* its failure was reported to whoever waited; removal goes on */ }
        return await _restore.RemoveAsync().ConfigureAwait(false);
    }

    /// <summary>Forwards the background restore's progress to the current waiter; the last report is replayed on attach.</summary>
    private sealed class ProgressRelay : IProgress<DrillProgress>
    {
        private readonly object _gate = new();
        private IProgress<DrillProgress>? _target;
        private DrillProgress? _last;

        public void Attach(IProgress<DrillProgress>? target)
        {
            DrillProgress? last;
            lock (_gate) { _target = target; last = _last; }
            if (target is not null && last is not null) target.Report(last);
        }

        public void Report(DrillProgress value)
        {
            IProgress<DrillProgress>? target;
            lock (_gate) { _last = value; target = _target; }
            target?.Report(value);
        }
    }
}

/// <summary>A local target found on disk (another session's, a kept drill's, or a killed one's): it can be checked while it runs, and removed.</summary>
internal sealed class FoundLocalHandle(LocalTargets.Found found) : IRestoreHandle
{
    public RestoreCluster Cluster => found.Cluster;

    private string Owner => found.Marker.OwnerProcessId == Environment.ProcessId
        ? "earlier in this process, which no longer tracks it (a drill kept it)"
        : $"by another RestoreOps process (pid {found.Marker.OwnerProcessId})";

    public Task WaitReadyAsync(TimeSpan timeout, IProgress<DrillProgress>? progress, CancellationToken ct) =>
        throw new ConfigurationException($"Local restore {Cluster.Name} was started {Owner}; only the process that follows its restore can wait for it.",
            "Wait for it in the session that created it, or remove it with Remove-RestoreCluster and restore again here.");

    /// <summary>
    /// A running target (kept by a drill, or a recovery target of an earlier session) is checked through its private
    /// unix socket, where the instance trusts its own OS account and root: the socket is all the credential needed.
    /// </summary>
    public Task<CheckConnections> OpenChecksAsync(CancellationToken ct)
    {
        var marker = found.Marker;
        if (found.Cluster.ProcessId is null || marker.SocketDirectory is null || marker.Port is not { } port)
            throw new ConfigurationException($"Local restore {Cluster.Name} (started {Owner}) is not running, so it cannot be checked.",
                "Look at its server log under its work directory, then remove it and restore again.");
        return Task.FromResult(new CheckConnections(db => new NpgsqlConnectionStringBuilder
        {
            Host = marker.SocketDirectory,
            Port = port,
            Username = found.Cluster.Connection?.Username ?? "postgres",
            Database = db,
            Pooling = false,
            Timeout = 5,
            CommandTimeout = 30,
            ApplicationName = "restoreops",
            Options = LocalRestore.SessionOverrides,
        }, null));
    }

    public Task<CleanupOutcome> RemoveAsync(CancellationToken ct) => LocalTargets.RemoveAsync(found, ct);
}

/// <summary>A temporary CNPG Cluster; owns the API client it was created or attached with.</summary>
internal sealed class CnpgHandle(CnpgRestore restore, IKubernetesApi api, CnpgConnectRoute route = CnpgConnectRoute.Auto) : IRestoreHandle, IDisposable
{
    /// <summary>Releases the API client of a handle that was only listed, never kept.</summary>
    public void Dispose() => (api as IDisposable)?.Dispose();

    public RestoreCluster Cluster => restore.Cluster;

    public Task WaitReadyAsync(TimeSpan timeout, IProgress<DrillProgress>? progress, CancellationToken ct) =>
        restore.WaitReadyAsync(timeout, progress, ct);

    public async Task<CheckConnections> OpenChecksAsync(CancellationToken ct)
    {
        var connection = await restore.ConnectAsync(route, ct).ConfigureAwait(false);
        return new CheckConnections(db => connection.ConnectionString(db), connection);
    }

    public async Task<CleanupOutcome> RemoveAsync(CancellationToken ct)
    {
        var outcome = await restore.RemoveAsync(ct).ConfigureAwait(false);
        if (outcome.Succeeded && api is IDisposable d) d.Dispose();
        return outcome;
    }
}
