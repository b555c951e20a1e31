using System.Diagnostics;
using System.Text;

namespace RestoreOps.Wal;

/// <summary>
/// Fetches a restore's WAL into a local spool, several files at a time and in the order replay needs them,
/// while PostgreSQL replays. The server's <c>restore_command</c> (<see cref="RestoreScript"/>) waits for a
/// planned file to land and copies it, so replay never pays a process start and a round trip per segment.
/// Spool protocol: <c>NAME.pending</c> exists until the file is settled; then either <c>NAME</c> (fetched) or
/// <c>NAME.error</c> (fetch failed; replay must stop, not promote early) exists. The script leaves <c>NAME.asked</c>
/// when the server asks for a file: segments are fetched only within a window ahead of the newest one asked for, and
/// segments replay has moved past are deleted (leaving <c>NAME.gone</c>), so a restore to a point just after a backup
/// fetches and keeps a window's worth of WAL however much the archive holds after it. The server does ask for a segment
/// again (at the end of recovery it copies the segment it stopped in to start its new timeline, and its read-ahead
/// makes "moved past" a guess): the script then marks it pending again and leaves <c>NAME.again</c>, and the
/// prefetcher fetches it once more, for as long as it runs.
/// </summary>
internal sealed class WalPrefetcher
{
    private readonly IWalArchive _archive;
    private readonly WalRestorePlan _plan;
    private readonly string _spool;
    private readonly int _parallelism;
    private readonly int _window;
    private readonly object _gate = new();
    private readonly HashSet<string> _settled = new(StringComparer.Ordinal);
    private readonly List<Task> _refetches = [];
    private CancellationToken _stopping;
    private TaskCompletionSource _asked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ulong _newestAsked;
    private long _bytes;
    private int _fetched;
    private int _failed;
    private int _deleted;

    /// <summary>Prepares a prefetch of <paramref name="plan"/> into <paramref name="spoolDirectory"/>.</summary>
    /// <param name="archive">Where the WAL is.</param>
    /// <param name="plan">What may be fetched, in order.</param>
    /// <param name="spoolDirectory">Where the server's restore_command finds the files.</param>
    /// <param name="parallelism">Files fetched at once.</param>
    /// <param name="window">Segments fetched ahead of the newest one the server asked for; 0 for <see cref="RestoreDefaults.WalWindow"/>.</param>
    public WalPrefetcher(IWalArchive archive, WalRestorePlan plan, string spoolDirectory, int parallelism, int window = 0)
    {
        if (parallelism < 1) throw new ConfigurationException($"WAL prefetch parallelism must be at least 1 (was {parallelism}).", $"Pass {InputKey.WalParallelism.Ref()} 1 or more.");
        if (window < 0) throw new ConfigurationException($"The WAL window must be at least 1 segment (was {window}).", $"Pass {InputKey.WalWindow.Ref()} 1 or more.");
        _archive = archive;
        _plan = plan;
        _spool = spoolDirectory;
        _parallelism = parallelism;
        _window = window == 0 ? RestoreDefaults.WalWindow(parallelism) : window;
        _newestAsked = plan.Begin.SegmentNumber(plan.SegmentSize);
    }

    /// <summary>Segments fetched ahead of the newest one asked for.</summary>
    public int Window => _window;
    /// <summary>Segments deleted from the spool once replay had moved past them.</summary>
    public int FilesDeleted => Volatile.Read(ref _deleted);

    /// <summary>Files fetched so far.</summary>
    public int FilesFetched => Volatile.Read(ref _fetched);
    /// <summary>Files that failed.</summary>
    public int FilesFailed => Volatile.Read(ref _failed);
    /// <summary>Decompressed bytes written so far.</summary>
    public long BytesFetched => Interlocked.Read(ref _bytes);
    /// <summary>The first fetch failure, if any: tells a damaged archive from an unreachable one.</summary>
    public Exception? FirstFailure { get; private set; }
    /// <summary>Time from <see cref="RunAsync"/> to the last settled file.</summary>
    public TimeSpan Elapsed { get; private set; }

    /// <summary>Marks every planned file pending. Call before the server starts so it waits for them.</summary>
    public void Prepare()
    {
        foreach (var f in _plan.Files)
            File.WriteAllBytes(Path.Combine(_spool, f.Name + ".pending"), []);
    }

    /// <summary>
    /// Fetches every planned file. Returns when all are settled or the token is cancelled (replay finished
    /// early, or the drill was stopped); either way no <c>.pending</c> marker is left for the server to wait on.
    /// </summary>
    public async Task RunAsync(Action<WalPrefetcher>? onFileSettled, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        _stopping = cancellationToken;
        var next = -1;
        using var watcher = WatchAsks();
        async Task Worker()
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= _plan.Files.Count || cancellationToken.IsCancellationRequested) return;
                var file = _plan.Files[i];
                if (WalFileName.TryParse(file.Name, out var wal) && !await WaitForWindowAsync(wal.SegmentNumber(_plan.SegmentSize), cancellationToken).ConfigureAwait(false))
                    return;
                await FetchOneAsync(file, cancellationToken).ConfigureAwait(false);
                onFileSettled?.Invoke(this);
            }
        }
        try
        {
            await Task.WhenAll(Enumerable.Range(0, _parallelism).Select(_ => Task.Run(Worker, CancellationToken.None))).ConfigureAwait(false);
            Elapsed = clock.Elapsed;
            // Everything is fetched, but replay may still ask again for a segment that was deleted: serve it until stopped.
            while (true)
            {
                Task asked;
                lock (_gate) asked = _asked.Task;
                if (!await NextAskAsync(asked, cancellationToken).ConfigureAwait(false)) break;
            }
        }
        finally
        {
            if (Elapsed == TimeSpan.Zero) Elapsed = clock.Elapsed;
            Task[] refetches;
            lock (_refetches) refetches = _refetches.ToArray();
            try { await Task.WhenAll(refetches).ConfigureAwait(false); } catch (OperationCanceledException) { }
            foreach (var f in _plan.Files)
                File.Delete(Path.Combine(_spool, f.Name + ".pending"));
        }
    }

    /// <summary>
    /// Waits until <paramref name="segno"/> is inside the window. False when the prefetch was stopped first (recovery
    /// ended before replay needed the segment: it is never fetched).
    /// </summary>
    private async Task<bool> WaitForWindowAsync(ulong segno, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task asked;
            lock (_gate)
            {
                if (segno <= _newestAsked + (ulong)_window) return true;
                asked = _asked.Task;
            }
            if (!await NextAskAsync(asked, cancellationToken).ConfigureAwait(false)) return false;
        }
    }

    /// <summary>
    /// Reads the asks that are there, then waits for the window to move (<paramref name="asked"/>) or a short period.
    /// False once the prefetch is stopped.
    /// </summary>
    private async Task<bool> NextAskAsync(Task asked, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return false;
        ScanAsks();
        // The watcher wakes this at once; the period only covers an event the kernel dropped (and re-asks, which do not move the window).
        try { await asked.WaitAsync(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false); }
        catch (TimeoutException) { }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { return false; }
        return true;
    }

    private FileSystemWatcher? WatchAsks()
    {
        try
        {
            var watcher = new FileSystemWatcher(_spool, "*.a*") { NotifyFilter = NotifyFilters.FileName };
            watcher.Created += (_, _) => ScanAsks();
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            // Without inotify the waits fall back to their period.
            return null;
        }
    }

    /// <summary>Fetches again the segments the server asked for after they were deleted (the script marked them pending).</summary>
    private void RefetchAsked()
    {
        foreach (var path in Directory.EnumerateFiles(_spool, "*.again"))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            try { File.Delete(path); } catch (IOException) { continue; }
            var file = _plan.Files.FirstOrDefault(f => f.Name == name);
            if (file is null)
            {
                // Not ours to serve: settle it so the server is not left waiting.
                File.Delete(Path.Combine(_spool, name + ".pending"));
                continue;
            }
            var token = _stopping;
            lock (_refetches) _refetches.Add(Task.Run(() => FetchOneAsync(file, token), CancellationToken.None));
        }
    }

    /// <summary>
    /// Reads what the server has asked for, widens the window to it, and deletes the fetched segments replay has moved
    /// past: one segment behind the newest asked is kept, since replay reads across a segment boundary.
    /// </summary>
    private void ScanAsks()
    {
        RefetchAsked();
        ulong newest;
        lock (_gate) newest = _newestAsked;
        var moved = false;
        foreach (var path in Directory.EnumerateFiles(_spool, "*.asked"))
        {
            var name = Path.GetFileNameWithoutExtension(path);
            if (WalFileName.TryParse(name, out var wal) && wal.SegmentNumber(_plan.SegmentSize) > newest)
            {
                newest = wal.SegmentNumber(_plan.SegmentSize);
                moved = true;
            }
        }
        if (!moved) return;
        TaskCompletionSource wake;
        lock (_gate)
        {
            if (newest <= _newestAsked) return;
            _newestAsked = newest;
            wake = _asked;
            _asked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        wake.TrySetResult();
        // Until replay is past the backup's end it may still go back to where redo starts.
        if (newest <= _plan.End.SegmentNumber(_plan.SegmentSize) + 1) return;
        string[] settled;
        lock (_settled) settled = _settled.ToArray();
        foreach (var name in settled)
        {
            if (!WalFileName.TryParse(name, out var wal) || wal.SegmentNumber(_plan.SegmentSize) + 1 >= newest) continue;
            var target = Path.Combine(_spool, name);
            // The tombstone first: a server that asks again must get the file fetched again, never "not in the archive".
            File.WriteAllBytes(target + ".gone", []);
            File.Delete(target);
            lock (_settled) _settled.Remove(name);
            Interlocked.Increment(ref _deleted);
        }
    }

    /// <summary>
    /// Attempts per file: a dropped connection or bytes damaged on the wire are retried, a missing or corrupt file is not,
    /// and neither is an object store that already gave up after its own retries (it resumes and retries within one fetch).
    /// </summary>
    internal const int Attempts = 3;

    private async Task FetchOneAsync(WalArchiveFile file, CancellationToken cancellationToken)
    {
        var target = Path.Combine(_spool, file.Name);
        var part = target + ".part";
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await using (var source = await _archive.OpenAsync(file, cancellationToken).ConfigureAwait(false))
                    await using (var output = new FileStream(part, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                    {
                        await source.CopyToAsync(output, 1 << 20, cancellationToken).ConfigureAwait(false);
                        Interlocked.Add(ref _bytes, output.Length);
                    }
                    break;
                }
                catch (Exception e) when (attempt < Attempts && IsTransient(e) && !cancellationToken.IsCancellationRequested)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellationToken).ConfigureAwait(false);
                }
            }
            File.SetUnixFileMode(part, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            File.Move(part, target, overwrite: true);
            Interlocked.Increment(ref _fetched);
            lock (_settled) _settled.Add(file.Name);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            File.Delete(part);
            return;
        }
        catch (Exception e)
        {
            File.Delete(part);
            Interlocked.Increment(ref _failed);
            lock (_plan) FirstFailure ??= e;
            // One line: the restore script prints it into the server log, where the restore finds it again and adds
            // its own fix; so the cause goes in without ours, and without a byte-order mark in front of it.
            var cause = e is RestoreOpsException { Fix: { } fix } ? e.Message.Replace($" Fix: {fix}", "", StringComparison.Ordinal) : e.Message;
            var message = $"RestoreOps could not fetch {file.Name} from {_archive.Description}: {cause.ReplaceLineEndings(" ").TrimEnd('.', ' ')}\n";
            File.WriteAllText(target + ".error", message, new UTF8Encoding(false));
        }
        finally
        {
            File.Delete(target + ".pending");
        }
    }

    // What the archive says (no such file, damaged data) will not change on a retry; the network might. The object
    // store retries and resumes transport faults itself, so its InfrastructureException means it gave up (a stalled
    // store must fail the fetch now, not after three more rounds of timeouts) — except when a body arrived damaged,
    // which only a fresh fetch of the whole file can repair.
    private static bool IsTransient(Exception e) => e switch
    {
        RestoreOpsException r => ObjectStore.ObjectReadStream.IsRetryable(r),
        InvalidDataException or OperationCanceledException => false,
        _ => true,
    };

    /// <summary>
    /// The restore_command script. Exit 1 tells PostgreSQL "not in the archive" (normal at the end of WAL);
    /// exit 126 makes it stop recovery with an error, which is right when a fetch failed: without it the
    /// server would promote early and the drill would pass on partial data. It is also right when the RestoreOps
    /// process that serves the spool is gone (killed): nobody will settle a pending file again, so instead of waiting
    /// forever the server stops, and the sweep finds the directory by its marker.
    /// </summary>
    /// <param name="spoolDirectory">Where the prefetcher puts WAL files.</param>
    /// <param name="leaseFile">The owner's lease (see <c>LocalTargets.Claim</c>): a shared lock on it succeeds only once the owner is gone.</param>
    public static string RestoreScript(string spoolDirectory, string leaseFile) => $$"""
        #!/bin/sh
        # restore_command written by RestoreOps: serves WAL it fetches ahead into the spool.
        spool={{Processes.CommandRunner.ShellQuote(spoolDirectory)}}
        lease={{Processes.CommandRunner.ShellQuote(leaseFile)}}
        owner_gone() { flock -n -s "$lease" true 2>/dev/null; }
        stop() { echo "RestoreOps could not fetch $1: the RestoreOps process that started this restore has exited" >&2; exit 126; }
        if owner_gone; then stop "$1"; fi
        : > "$spool/$1.asked" 2>/dev/null
        # A file served once and deleted is asked for again: mark it pending, and the prefetcher fetches it again.
        while :; do
          if [ -e "$spool/$1.gone" ]; then : > "$spool/$1.pending"; rm -f "$spool/$1.gone"; : > "$spool/$1.again"; fi
          n=0
          while [ -e "$spool/$1.pending" ]; do
            sleep 0.01
            n=$((n + 1))
            if [ $((n % 100)) -eq 0 ] && owner_gone; then stop "$1"; fi
          done
          if [ -e "$spool/$1" ] && cp "$spool/$1" "$2"; then exit 0; fi
          if [ -e "$spool/$1.error" ]; then cat "$spool/$1.error" >&2; exit 126; fi
          # Deleted between the checks above: go round and have it fetched again.
          if [ -e "$spool/$1.gone" ]; then continue; fi
          exit 1
        done

        """;
}
