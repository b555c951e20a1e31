using System.Text.Json;
using System.Text.Json.Serialization;
using RestoreOps.Model;
using RestoreOps.Processes;

namespace RestoreOps.Local;

/// <summary>
/// Local restore targets as the disk shows them, so a later session can list and sweep what a killed one left:
/// each work directory carries a marker naming its drill, expiry and owning process, and the postmaster's own
/// <c>postmaster.pid</c> names the server to stop.
/// </summary>
internal static class LocalTargets
{
    public const string MarkerFile = "restoreops-target.json";
    public const string DirectoryPrefix = "restoreops-";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    internal sealed class Marker
    {
        public required string DrillId { get; init; }
        public required string Name { get; init; }
        public RestorePurpose Purpose { get; init; }
        public DateTimeOffset CreatedAt { get; init; }
        public DateTimeOffset? ExpiresAt { get; init; }
        public int OwnerProcessId { get; init; }
        public string? SocketDirectory { get; set; }
        public int? Port { get; set; }
        public required Backup Backup { get; init; }
        public RecoveryTargetKind TargetKind { get; init; }
        public string? TargetValue { get; init; }
        public bool TargetInclusive { get; init; } = true;
    }

    /// <summary>Writes (or rewrites) the marker of a target whose work directory exists.</summary>
    public static void WriteMarker(RestoreCluster cluster, LocalInstance? instance) => WriteMarker(cluster, instance, cluster.WorkDirectory!);

    private static void WriteMarker(RestoreCluster cluster, LocalInstance? instance, string directory)
    {
        var marker = new Marker
        {
            DrillId = cluster.DrillId,
            Name = cluster.Name,
            Purpose = cluster.Purpose,
            CreatedAt = cluster.CreatedAt,
            ExpiresAt = cluster.ExpiresAt,
            OwnerProcessId = Environment.ProcessId,
            SocketDirectory = instance?.SocketDirectory,
            Port = instance?.Port,
            Backup = cluster.Backup,
            TargetKind = cluster.RecoveryTarget.Kind,
            TargetValue = cluster.RecoveryTarget.Value,
            TargetInclusive = cluster.RecoveryTarget.Inclusive,
        };
        var path = Path.Combine(directory, MarkerFile);
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(marker, Json));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The lease file in a work directory: locked by the owning RestoreOps process for as long as it lives.</summary>
    public const string LeaseFile = "restoreops.lease";
    /// <summary>Prefix of a claim being built; renamed into place whole, so a kill leaves at most this (see <see cref="SweepAbandonedClaims"/>).</summary>
    internal const string ClaimPrefix = ".restoreops-claim-";

    /// <summary>
    /// Creates the target's work directory together with its marker and its lease, as one step: they are put together
    /// under a private name and renamed into place only if no directory of that name exists. So a second restore with the
    /// same drill id is refused before it owns anything, two restores started at once cannot both win, and no kill can
    /// leave a work directory without the marker that lets a sweep claim it.
    /// </summary>
    /// <returns>The lease, held until the returned object is disposed (or the process dies).</returns>
    public static TargetLease Claim(RestoreCluster cluster, OsAccount account)
    {
        var work = cluster.WorkDirectory!;
        var root = Path.GetDirectoryName(work)!;
        Directory.CreateDirectory(root);
        const UnixFileMode priv = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        var staging = Path.Combine(root, $"{ClaimPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        FileStream? lease = null;
        try
        {
            account.CreateDirectory(staging, priv);
            var leasePath = Path.Combine(staging, LeaseFile);
            lease = new FileStream(leasePath, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite);
            // Readable by the instance's account: its restore_command tests the lock to learn whether we still live.
            File.SetUnixFileMode(leasePath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            if (!Native.TryLockExclusive(lease.SafeFileHandle))
                throw new IOException($"Could not lock the new lease file {leasePath}.");
            WriteMarker(cluster, null, staging);
            switch (Native.RenameNoReplace(staging, work))
            {
                case Native.RenameResult.Renamed:
                    break;
                case Native.RenameResult.TargetExists:
                    throw new ConfigurationException($"The work directory {work} already exists: it belongs to another restore target or was left by one.",
                        "Use a new drill id, or remove the old target first (Remove-RestoreCluster / restoreops targets remove, or the sweep once it has expired).");
                default:
                    // A file system without RENAME_NOREPLACE: the check and the rename are two steps here, a narrow race
                    // that Directory.Move narrows further by refusing an existing destination.
                    if (Directory.Exists(work))
                        goto case Native.RenameResult.TargetExists;
                    Directory.Move(staging, work);
                    break;
            }
            return new TargetLease(lease);
        }
        catch
        {
            lease?.Dispose();
            try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* swept later: its name says whose it was */ }
            throw;
        }
    }

    /// <summary>
    /// Deletes claims that a killed process left half-built (<see cref="ClaimPrefix"/><c>PID-…</c> whose process is gone). They
    /// hold at most a marker and a lease: nothing had started in them.
    /// </summary>
    public static IReadOnlyList<string> SweepAbandonedClaims(string workRoot)
    {
        var removed = new List<string>();
        if (!Directory.Exists(workRoot)) return removed;
        foreach (var dir in Directory.EnumerateDirectories(workRoot, ClaimPrefix + "*"))
        {
            var rest = Path.GetFileName(dir)[ClaimPrefix.Length..];
            var dash = rest.IndexOf('-');
            if (dash <= 0 || !int.TryParse(rest[..dash], out var pid) || pid == Environment.ProcessId || Native.ProcessExists(pid)) continue;
            try { Directory.Delete(dir, recursive: true); removed.Add($"directory {dir}"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        return removed;
    }

    /// <summary>True while some process holds the lease of <paramref name="workDirectory"/> (its owner is alive).</summary>
    public static bool IsLeaseHeld(string workDirectory)
    {
        try
        {
            using var f = new FileStream(Path.Combine(workDirectory, LeaseFile), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return !Native.TryLockShared(f.SafeFileHandle);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
    }

    /// <summary>A target found on disk.</summary>
    internal sealed record Found(RestoreCluster Cluster, Marker Marker);

    /// <summary>Every marked work directory directly under <paramref name="workRoot"/>. Unreadable markers are skipped: RestoreOps touches only what it can prove is its own.</summary>
    public static IReadOnlyList<Found> Scan(string workRoot)
    {
        var found = new List<Found>();
        if (!Directory.Exists(workRoot)) return found;
        foreach (var dir in Directory.EnumerateDirectories(workRoot, DirectoryPrefix + "*"))
        {
            var path = Path.Combine(dir, MarkerFile);
            Marker? marker;
            try
            {
                marker = File.Exists(path) ? JsonSerializer.Deserialize<Marker>(File.ReadAllText(path), Json) : null;
            }
            catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
            {
                continue;
            }
            if (marker is null || marker.Name != Path.GetFileName(dir)) continue;
            var postmaster = PostmasterPid(dir);
            var target = RecoveryTarget.Latest;
            try { target = RecoveryTarget.From(marker.TargetKind, marker.TargetValue, marker.TargetInclusive); }
            catch (ArgumentException) { /* an edited marker: show it as latest rather than hide the target */ }
            var cluster = new RestoreCluster
            {
                Name = marker.Name,
                DrillId = marker.DrillId,
                Kind = RestoreTargetKind.Local,
                Purpose = marker.Purpose,
                Backup = marker.Backup,
                RecoveryTarget = target,
                CreatedAt = marker.CreatedAt,
                ExpiresAt = marker.ExpiresAt,
                WorkDirectory = dir,
                ProcessId = postmaster,
                Phase = postmaster is null ? RestoreClusterPhase.Failed : RestoreClusterPhase.Ready,
                Connection = postmaster is not null && marker.Port is { } port
                    ? new ConnectionInfo { Host = "127.0.0.1", Port = port, Username = "postgres", SocketDirectory = marker.SocketDirectory }
                    : null,
            };
            found.Add(new Found(cluster, marker));
        }
        return found;
    }

    /// <summary>The postmaster of <paramref name="workDirectory"/> if it runs: the pid from postmaster.pid, confirmed by the process's own data directory argument.</summary>
    public static int? PostmasterPid(string workDirectory)
    {
        var data = Path.Combine(workDirectory, "data");
        try
        {
            var first = File.Exists(Path.Combine(data, "postmaster.pid")) ? File.ReadLines(Path.Combine(data, "postmaster.pid")).FirstOrDefault() : null;
            // A stale pid file whose number now belongs to some other process must not get that process killed.
            return int.TryParse(first, out var pid) && IsPostmasterOf(pid, data) ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>True while <paramref name="pid"/> runs with <paramref name="data"/> on its command line. A zombie has an empty one.</summary>
    private static bool IsPostmasterOf(int pid, string data)
    {
        if (!Native.ProcessExists(pid)) return false;
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Contains(data, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Stops the target's postmaster (if any) and deletes its directories; reports what it did and what is left.</summary>
    public static async Task<CleanupOutcome> RemoveAsync(Found target, CancellationToken ct)
    {
        var outcome = new CleanupOutcome();
        var work = target.Cluster.WorkDirectory!;
        var data = Path.Combine(work, "data");
        if (PostmasterPid(work) is { } pid)
        {
            var stopped = false;
            foreach (var (signal, name) in new[] { (Native.SIGINT, "fast shutdown"), (Native.SIGQUIT, "immediate shutdown"), (Native.SIGKILL, "kill") })
            {
                Native.Signal(pid, signal);
                // The postmaster is not our child, so there is no exit event to await: poll it, by identity rather than
                // by pid. kill(pid, 0) succeeds for a zombie, and whoever adopted the postmaster of an exited process (a
                // container's init) need not reap it: a stopped server counted as running for 30 s and its directory stayed.
                // A reused pid would also draw the next, harder signal onto a stranger.
                for (var i = 0; i < 100 && IsPostmasterOf(pid, data); i++)
                    await Task.Delay(100, ct).ConfigureAwait(false);
                if (!IsPostmasterOf(pid, data)) { outcome.Removed.Add($"postgres pid {pid} stopped ({name})"); stopped = true; break; }
            }
            if (!stopped) outcome.Problems.Add($"process {pid} is still running");
        }
        if (target.Marker.SocketDirectory is { } socket && Path.GetFileName(socket).StartsWith(LocalInstance.ExternalSocketPrefix, StringComparison.Ordinal) && Directory.Exists(socket))
        {
            try { Directory.Delete(socket, recursive: true); outcome.Removed.Add($"directory {socket}"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { outcome.Problems.Add($"deleting {socket}: {e.Message}"); }
        }
        if (outcome.Problems.Count == 0 && Directory.Exists(work))
        {
            try { Directory.Delete(work, recursive: true); outcome.Removed.Add($"directory {work}"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { outcome.Problems.Add($"deleting {work}: {e.Message}"); }
        }
        outcome.Succeeded = outcome.Problems.Count == 0;
        if (outcome.Succeeded) target.Cluster.Phase = RestoreClusterPhase.Removed;
        return outcome;
    }
}

/// <summary>
/// The owning process's hold on a local target: an exclusive lock on its lease file. The kernel drops it when the
/// process dies however it dies, which is how the instance's restore_command learns that nobody will ever serve it WAL again.
/// </summary>
internal sealed class TargetLease(FileStream lease) : IDisposable
{
    /// <summary>Releases the lease (the directory is about to go, or the target is handed over).</summary>
    public void Dispose() => lease.Dispose();
}
