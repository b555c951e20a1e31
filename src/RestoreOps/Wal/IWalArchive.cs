namespace RestoreOps.Wal;

/// <summary>One file in a WAL archive.</summary>
/// <param name="Name">The name PostgreSQL asks for: a 24-hex segment name or <c>0000000N.history</c>.</param>
/// <param name="Location">Object key or file path.</param>
/// <param name="Compression">null for none, else <c>gzip</c>, <c>bzip2</c>, <c>xz</c>, <c>zstd</c>, <c>lz4</c>, <c>snappy</c>.</param>
/// <param name="Size">Stored size in bytes.</param>
internal sealed record WalArchiveFile(string Name, string Location, string? Compression, long Size);

/// <summary>A WAL archive a restore can fetch from: Barman Cloud's <c>wals/</c> in object storage, or a local directory.</summary>
internal interface IWalArchive
{
    /// <summary>Where the archive is, in the user's words.</summary>
    string Description { get; }

    /// <summary>
    /// Lists segment files (and every timeline history file) that a restore starting at <paramref name="from"/>
    /// could need. May return more than needed (the planner filters); must not return less. Partial and
    /// backup-label files are left out.
    /// </summary>
    Task<IReadOnlyList<WalArchiveFile>> ListAsync(WalFileName from, CancellationToken cancellationToken);

    /// <summary>Opens a file, already decompressed.</summary>
    Task<Stream> OpenAsync(WalArchiveFile file, CancellationToken cancellationToken);
}
