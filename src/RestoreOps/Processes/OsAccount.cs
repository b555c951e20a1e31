using System.Globalization;

namespace RestoreOps.Processes;

/// <summary>
/// The operating-system account that runs PostgreSQL. PostgreSQL refuses to run as root, so when RestoreOps
/// itself is root (CI, containers) the instance runs as an unprivileged account, <c>postgres</c> by default.
/// </summary>
internal sealed class OsAccount
{
    private OsAccount(string name, uint uid, uint gid, string home, bool isCurrent)
    {
        Name = name;
        Uid = uid;
        Gid = gid;
        Home = home;
        IsCurrentUser = isCurrent;
    }

    /// <summary>Account name.</summary>
    public string Name { get; }
    /// <summary>User id.</summary>
    public uint Uid { get; }
    /// <summary>Primary group id.</summary>
    public uint Gid { get; }
    /// <summary>Home directory.</summary>
    public string Home { get; }
    /// <summary>True when this is the account RestoreOps runs as (no privilege switch needed).</summary>
    public bool IsCurrentUser { get; }

    /// <summary>
    /// The account to run PostgreSQL as: the current user when not root; otherwise <paramref name="preferred"/>
    /// (default <c>postgres</c>), which must exist and must not be root.
    /// </summary>
    public static OsAccount ForPostgres(string? preferred = null)
    {
        if (!Native.IsRoot)
        {
            var me = Environment.UserName;
            if (preferred is not null && preferred != me)
                throw new ConfigurationException(
                    $"{InputKey.OsUser.Ref()} {preferred} was given, but RestoreOps runs as '{me}', not root, and cannot switch user.",
                    $"Leave {InputKey.OsUser.Ref()} out to run PostgreSQL as '{me}', or run RestoreOps as root.");
            var found = TryLookup(me);
            return new OsAccount(me, Native.EffectiveUserId, found?.Gid ?? 0, found?.Home ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), true);
        }

        var name = preferred ?? "postgres";
        var account = TryLookup(name) ?? throw new ConfigurationException(
            $"PostgreSQL refuses to run as root, so RestoreOps runs it as the OS user '{name}', which does not exist on this machine.",
            $"Create it (useradd --system --create-home {name}) or name another unprivileged user with {InputKey.OsUser.Ref()}.");
        if (account.Uid == 0)
            throw new ConfigurationException($"The OS user '{name}' has uid 0; PostgreSQL refuses to run as root.",
                $"Name an unprivileged user with {InputKey.OsUser.Ref()}.");
        return new OsAccount(account.Name, account.Uid, account.Gid, account.Home, false);
    }

    private static (string Name, uint Uid, uint Gid, string Home)? TryLookup(string name)
    {
        // getent consults NSS (LDAP, sssd) as well as /etc/passwd.
        try
        {
            var result = CommandRunner.RunAsync("getent", ["passwd", name], null, null, CancellationToken.None).GetAwaiter().GetResult();
            if (result.ExitCode != 0) return null;
            var f = result.StandardOutput.Trim().Split(':');
            if (f.Length < 6) return null;
            return (f[0], uint.Parse(f[2], CultureInfo.InvariantCulture), uint.Parse(f[3], CultureInfo.InvariantCulture), f[5]);
        }
        catch (InfrastructureException)
        {
            return null;
        }
    }

    /// <summary>Gives a file or directory to this account (no-op when it is the current user).</summary>
    public void Own(string path, bool recursive = false)
    {
        if (IsCurrentUser) return;
        if (recursive) Native.ChangeOwnerRecursive(path, Uid, Gid);
        else Native.ChangeOwner(path, Uid, Gid);
    }

    /// <summary>Creates a directory with a mode, owned by this account.</summary>
    public string CreateDirectory(string path, UnixFileMode mode)
    {
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, mode);
        Own(path);
        return path;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} (uid {Uid})";
}
