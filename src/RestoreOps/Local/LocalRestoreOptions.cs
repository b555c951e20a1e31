using RestoreOps.Model;

namespace RestoreOps.Local;

/// <summary>Settings of a local restore. Every one has a default that works on a fresh machine.</summary>
internal sealed class LocalRestoreOptions
{
    /// <summary>Parent of the restore's working directory (default: the system temp directory). Made absolute when set:
    /// PostgreSQL and its restore_command run in other directories, where a relative path means something else.</summary>
    public string? WorkRoot { get; init => field = InputPaths.Absolute(value, InputKey.WorkRoot); }
    /// <summary>OS account that runs PostgreSQL when RestoreOps is root (default <c>postgres</c>).</summary>
    public string? OsUser { get; init; }
    /// <summary>Directory of the PostgreSQL binaries to use (default: PG_BIN, PATH, /usr/lib/postgresql/&lt;major&gt;/bin).</summary>
    public string? PostgresBinDirectory { get; init => field = InputPaths.Absolute(value, InputKey.PostgresBinDirectory); }
    /// <summary>WAL files fetched at once ahead of replay.</summary>
    public int WalParallelism { get; init; } = RestoreDefaults.WalParallelism;
    /// <summary>How long replay may take before the restore is declared failed.</summary>
    public TimeSpan ReadyTimeout { get; init; } = RestoreDefaults.ReadyTimeout;
    /// <summary>Drill (removed afterwards) or recovery (kept).</summary>
    public RestorePurpose Purpose { get; init; } = RestorePurpose.Drill;
    /// <summary>Superuser role RestoreOps connects as.</summary>
    public string Superuser { get; init; } = "postgres";
    /// <summary>Object-store access for Barman Cloud backups.</summary>
    public ObjectStoreOptions? ObjectStore { get; init; }
    /// <summary>How long a drill target may live before a sweep removes it.</summary>
    public TimeSpan Expiry { get; init; } = RestoreDefaults.Expiry;
    /// <summary>Test seam: wraps the WAL archive the prefetcher reads (to hold replay at a known point).</summary>
    internal Func<Wal.IWalArchive, Wal.IWalArchive>? WrapWalArchive { get; init; }
}
