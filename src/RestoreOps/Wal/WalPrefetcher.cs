using System.Diagnostics;
using System.Text;

namespace RestoreOps.Wal;

/// <summary>
/// Fetches a restore's WAL into a local spool, several files at a time and in the order replay needs them,
/// while PostgreSQL replays. The server's <c>restore_command</c> (<see cref="RestoreScript"/>) waits for a
/// planned file to land and copies it, so replay never pays a process start and a round trip per segment.
/// Spool protocol: <c>NAME.pending</c> exists until the file is settled; then either <c>NAME</c> (fetched) or
/// <c>NAME.error</c> (fetch failed; replay must stop, not promote early) exists.
/// </summary>
internal sealed class WalPrefetcher
{
    private readonly IWalArchive _archive;
    private readonly WalRestorePlan _plan;
    private readonly string _spool;
    private readonly int _parallelism;
    private long _bytes;
    private int _fetched;
    private int _failed;

    /// <summary>Prepares a prefetch of <paramref name="plan"/> into <paramref name="spoolDirectory"/>.</summary>
    public WalPrefetcher(IWalArchive archive, WalRestorePlan plan, string spoolDirectory, int parallelism)
    {
        if (parallelism < 1) throw new ConfigurationException($"WAL prefetch parallelism must be at least 1 (was {parallelism}).", $"Pass {InputKey.WalParallelism.Ref()} 1 or more.");
        _archive = archive;
        _plan = plan;
        _spool = spoolDirectory;
        _parallelism = parallelism;
    }

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
        var next = -1;
        async Task Worker()
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= _plan.Files.Count || cancellationToken.IsCancellationRequested) return;
                await FetchOneAsync(_plan.Files[i], cancellationToken).ConfigureAwait(false);
                onFileSettled?.Invoke(this);
            }
        }
        try
        {
            await Task.WhenAll(Enumerable.Range(0, _parallelism).Select(_ => Task.Run(Worker, CancellationToken.None))).ConfigureAwait(false);
        }
        finally
        {
            Elapsed = clock.Elapsed;
            foreach (var f in _plan.Files)
                File.Delete(Path.Combine(_spool, f.Name + ".pending"));
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
        n=0
        while [ -e "$spool/$1.pending" ]; do
          sleep 0.01
          n=$((n + 1))
          if [ $((n % 100)) -eq 0 ] && owner_gone; then stop "$1"; fi
        done
        if [ -e "$spool/$1" ]; then exec cp "$spool/$1" "$2"; fi
        if [ -e "$spool/$1.error" ]; then cat "$spool/$1.error" >&2; exit 126; fi
        exit 1

        """;
}
