using System.Runtime.InteropServices;

namespace RestoreOps.Local;

/// <summary>The few POSIX calls .NET does not expose: effective uid, signals, ownership.</summary>
internal static partial class Native
{
    public const int SIGINT = 2;
    public const int SIGQUIT = 3;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChown(string path, uint owner, uint group);

    public static uint EffectiveUserId => OperatingSystem.IsWindows() ? uint.MaxValue : GetEffectiveUserId();

    public static bool IsRoot => !OperatingSystem.IsWindows() && GetEffectiveUserId() == 0;

    /// <summary>Sends a signal; false when the process no longer exists.</summary>
    public static bool Signal(int pid, int signal) => Kill(pid, signal) == 0;

    /// <summary>True while a process with this id exists (signal 0 probes without delivering).</summary>
    public static bool ProcessExists(int pid) => Kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() == 1 /* EPERM: exists, not ours */;

    public static void ChangeOwner(string path, uint uid, uint gid)
    {
        if (LChown(path, uid, gid) != 0)
            throw new InfrastructureException(
                $"Could not give {path} to uid {uid}: errno {Marshal.GetLastPInvokeError()}.",
                "Run RestoreOps as root or as the OS user that will run PostgreSQL.");
    }

    /// <summary>Gives a whole tree to an account, symlinks included (not followed).</summary>
    public static void ChangeOwnerRecursive(string root, uint uid, uint gid)
    {
        ChangeOwner(root, uid, gid);
        foreach (var entry in new DirectoryInfo(root).EnumerateFileSystemInfos("*", new EnumerationOptions
                 { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false }))
            ChangeOwner(entry.FullName, uid, gid);
    }
}
