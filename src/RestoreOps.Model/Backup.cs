using System.Text.Json.Serialization;

namespace RestoreOps.Model;

/// <summary>Where a backup was found.</summary>
public enum BackupSourceKind
{
    /// <summary>A Barman Cloud catalogue in object storage (what CNPG and barman-cloud-backup write).</summary>
    BarmanCloud,
    /// <summary>A CloudNativePG <c>Backup</c> resource.</summary>
    CnpgBackup,
    /// <summary>A <c>pg_basebackup -Ft</c> directory plus a WAL archive directory on local disk.</summary>
    LocalBaseBackup,
    /// <summary>A <c>pg_dump -Fc</c> file.</summary>
    LocalDump,
}

/// <summary>A backup's lifecycle state as its catalogue reports it (Barman's statuses; CNPG's phases map onto them).</summary>
public enum BackupStatus
{
    /// <summary>Finished and usable.</summary>
    Done,
    /// <summary>Ended with an error; not restorable.</summary>
    Failed,
    /// <summary>Still being taken.</summary>
    Started,
    /// <summary>Data copied, waiting for the WAL that makes it consistent.</summary>
    WaitingForWals,
    /// <summary>Being copied between catalogues.</summary>
    Syncing,
    /// <summary>Created but never started.</summary>
    Empty,
    /// <summary>A status this version of RestoreOps does not know.</summary>
    Unknown,
}

/// <summary>How to reach a backup's bytes. Never holds credentials: those come from parameters or the environment.</summary>
public sealed class BackupLocation
{
    /// <summary>Barman Cloud destination path, e.g. <c>s3://backups/pg</c>.</summary>
    public string? DestinationPath { get; init; }
    /// <summary>Barman server name: the folder under the destination path.</summary>
    public string? ServerName { get; init; }
    /// <summary>S3-compatible endpoint URL, when not AWS itself.</summary>
    public string? EndpointUrl { get; init; }
    /// <summary>Object store region.</summary>
    public string? Region { get; init; }
    /// <summary>Object keys of the base backup's archives (data.tar… and tablespace tars), in restore order.</summary>
    public IReadOnlyList<string> DataObjects { get; init; } = Array.Empty<string>();
    /// <summary>Local base backup directory (pg_basebackup -Ft output).</summary>
    public string? BaseDirectory { get; init; }
    /// <summary>Local WAL archive directory.</summary>
    public string? WalDirectory { get; init; }
    /// <summary>Local pg_dump custom-format file.</summary>
    public string? DumpFile { get; init; }

    /// <summary>Where the backup is, as a list view shows it (never credentials: the model holds none).</summary>
    public override string ToString() =>
        DumpFile ?? (BaseDirectory is { } b ? (WalDirectory is { } w ? $"{b} (WAL {w})" : b)
            : DestinationPath is { } d ? $"{d.TrimEnd('/')}/{ServerName}" : "");
}

/// <summary>
/// A backup that can be restored: where it came from, what it contains and how old it is.
/// </summary>
/// <example>
/// <code>
/// var latest = await catalog.ListAsync(ct).FirstAsync();   // newest DONE first
/// Console.WriteLine($"{latest.Id} ended {latest.EndTime:u}, age {latest.Age}");
/// </code>
/// </example>
public sealed class Backup
{
    /// <summary>Backup id (Barman: the <c>YYYYMMDDTHHMMSS</c> folder name; local: the folder or file name).</summary>
    public required string Id { get; init; }
    /// <summary>Human name (Barman <c>-n</c>, the CNPG Backup name), if any.</summary>
    public string? Name { get; init; }
    /// <summary>Which catalogue found it.</summary>
    public required BackupSourceKind SourceKind { get; init; }
    /// <summary>The source in the user's words, e.g. <c>s3://backups/pg/app-db</c>.</summary>
    public required string Source { get; init; }
    /// <summary>The tool that took it: <c>barman-cloud</c>, <c>pg_basebackup</c>, <c>pg_dump</c>.</summary>
    public required string Method { get; init; }
    /// <summary>Catalogue status.</summary>
    public BackupStatus Status { get; init; } = BackupStatus.Done;
    /// <summary>When the backup started (UTC).</summary>
    public DateTimeOffset? BeginTime { get; init; }
    /// <summary>When the backup ended (UTC); the base of <see cref="Age"/>.</summary>
    public DateTimeOffset? EndTime { get; init; }
    /// <summary>First WAL segment the backup needs.</summary>
    public string? BeginWal { get; init; }
    /// <summary>Last WAL segment needed for consistency.</summary>
    public string? EndWal { get; init; }
    /// <summary>Start LSN.</summary>
    public string? BeginLsn { get; init; }
    /// <summary>Consistency LSN.</summary>
    public string? EndLsn { get; init; }
    /// <summary>Timeline the backup was taken on.</summary>
    public int? Timeline { get; init; }
    /// <summary>PostgreSQL major version (e.g. 15).</summary>
    public int? PostgresMajorVersion { get; init; }
    /// <summary>PostgreSQL version number (e.g. 150018).</summary>
    public int? PostgresVersionNumber { get; init; }
    /// <summary>Database system identifier.</summary>
    public string? SystemId { get; init; }
    /// <summary>Base backup compression inferred from the archive suffix (<c>none</c>, <c>gzip</c>, <c>bzip2</c>, …).</summary>
    public string? Compression { get; init; }
    /// <summary>WAL segment size in bytes.</summary>
    public long WalSegmentSize { get; init; } = 16 * 1024 * 1024;
    /// <summary>The catalogue's error text for failed backups.</summary>
    public string? Error { get; init; }
    /// <summary>How to reach the bytes.</summary>
    public required BackupLocation Location { get; init; }
    /// <summary>How this backup was found (the command that finds exactly it again), for the runbook of a target restored from it.</summary>
    public RunbookStep? Discovery { get; set; }

    /// <summary>Time since the backup ended, as of now: the recovery point objective's first term.</summary>
    [JsonIgnore]
    public TimeSpan? Age => EndTime is { } end ? DateTimeOffset.UtcNow - end : null;

    /// <inheritdoc />
    public override string ToString() => $"{Source} {Id}";
}
