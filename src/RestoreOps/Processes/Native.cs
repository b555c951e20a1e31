using System.Runtime.InteropServices;

namespace RestoreOps.Processes;

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

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int oldDirFd, string oldPath, int newDirFd, string newPath, uint flags);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    private const int AT_FDCWD = -100;
    private const uint RENAME_NOREPLACE = 1;
    private const int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4;
    private const int EEXIST = 17, ENOTEMPTY = 39, EINVAL = 22, ENOSYS = 38, EWOULDBLOCK = 11;

    /// <summary>How an exclusive rename ended.</summary>
    public enum RenameResult { Renamed, TargetExists, NotSupported }

    /// <summary>
    /// Renames <paramref name="from"/> to <paramref name="to"/> only if <paramref name="to"/> does not exist, in one
    /// step (rename(2) alone would replace an empty directory, and a check before it is a race).
    /// </summary>
    public static RenameResult RenameNoReplace(string from, string to)
    {
        if (RenameAt2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return RenameResult.Renamed;
        var errno = Marshal.GetLastPInvokeError();
        return errno switch
        {
            EEXIST or ENOTEMPTY => RenameResult.TargetExists,
            EINVAL or ENOSYS => RenameResult.NotSupported,
            _ => throw new IOException($"Could not rename {from} to {to}: errno {errno}."),
        };
    }

    /// <summary>Takes an exclusive, non-blocking flock on an open file; false when another open file holds a lock on it.</summary>
    public static bool TryLockExclusive(Microsoft.Win32.SafeHandles.SafeFileHandle handle) => TryLock(handle, LOCK_EX);

    /// <summary>Takes a shared, non-blocking flock; false while someone holds the exclusive one.</summary>
    public static bool TryLockShared(Microsoft.Win32.SafeHandles.SafeFileHandle handle) => TryLock(handle, LOCK_SH);

    private static bool TryLock(Microsoft.Win32.SafeHandles.SafeFileHandle handle, int mode)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (Flock((int)handle.DangerousGetHandle(), mode | LOCK_NB) == 0) return true;
            var errno = Marshal.GetLastPInvokeError();
            return errno == EWOULDBLOCK ? false : throw new IOException($"flock failed: errno {errno}.");
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

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
