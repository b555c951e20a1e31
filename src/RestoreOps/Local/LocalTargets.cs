using System.Text.Json;
using System.Text.Json.Serialization;
using RestoreOps.Model;

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
    public static void WriteMarker(RestoreCluster cluster, LocalInstance? instance)
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
        var path = Path.Combine(cluster.WorkDirectory!, MarkerFile);
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(marker, Json));
        File.Move(temp, path, overwrite: true);
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
