using RestoreOps.Local;
using RestoreOps.Processes;
using Xunit;

namespace RestoreOps.Tests.Restore;

/// <summary>Asserts a restore left nothing behind: no directory, no postmaster, no listener, no process started for it.</summary>
internal static class Leftovers
{
    public static void AssertNone(LocalRestore restore)
    {
        var work = restore.Cluster.WorkDirectory!;
        Assert.False(Directory.Exists(work), $"work directory {work} was left behind");
        if (restore.Instance is { } instance)
        {
            if (instance.LastProcessId is { } pid)
                Assert.False(Native.ProcessExists(pid), $"postmaster {pid} is still running");
            Assert.False(LocalRestore.IsListening(instance.Port), $"port {instance.Port} is still listening");
        }
        var survivors = ProcessesMentioning(work);
        Assert.True(survivors.Count == 0, $"processes still refer to {work}: {string.Join("; ", survivors)}");
    }

    /// <summary>Every live process whose command line names <paramref name="path"/>.</summary>
    public static List<string> ProcessesMentioning(string path)
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string cmdline;
            try { cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' '); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            // Zombies (state Z) have an empty cmdline and hold nothing open; a live process names its data directory.
            if (cmdline.Contains(path, StringComparison.Ordinal)) found.Add($"{pid}: {cmdline.Trim()}");
        }
        return found;
    }
}
