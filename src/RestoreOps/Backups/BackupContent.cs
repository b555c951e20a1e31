using RestoreOps.Compression;
using RestoreOps.Model;
using RestoreOps.ObjectStore;
using RestoreOps.Wal;

namespace RestoreOps.Backups;

/// <summary>What one base-backup archive restores into.</summary>
internal enum ArchiveRole
{
    /// <summary>PGDATA (data.tar, its split parts, base.tar).</summary>
    Data,
    /// <summary>pg_wal contents (pg_basebackup's pg_wal.tar).</summary>
    Wal,
    /// <summary>One tablespace (<c>&lt;oid&gt;.tar</c>).</summary>
    Tablespace,
}

/// <summary>One archive of a base backup, opened already decompressed.</summary>
/// <param name="Name">File or object name, for messages.</param>
/// <param name="Role">Where it restores to.</param>
/// <param name="TablespaceOid">The tablespace's oid, for <see cref="ArchiveRole.Tablespace"/>.</param>
/// <param name="Size">Stored size, when known.</param>
/// <param name="Open">
/// Opens the decompressed tar stream, reporting the stored (compressed) bytes read to the progress sink when one is
/// given. Read it to its end, past the tar end-of-archive marker: only there are the transfer's length and checksum
/// (and a compressed archive's trailer) checked.
/// </param>
internal sealed record BaseArchive(string Name, ArchiveRole Role, string? TablespaceOid, long? Size, Func<IProgress<ObjectReadProgress>?, CancellationToken, Task<Stream>> Open)
{
    /// <summary>Classifies an archive by its name: data.tar*, data_0001.tar*, base.tar*, pg_wal.tar*, &lt;oid&gt;.tar*.</summary>
    public static (ArchiveRole Role, string? Oid)? Classify(string fileName)
    {
        var (name, _) = Decompression.SplitSuffix(fileName);
        if (!name.EndsWith(".tar", StringComparison.Ordinal)) return null;
        var stem = name[..^4];
        if (stem is "data" or "base" || (stem.StartsWith("data_", StringComparison.Ordinal) && stem[5..].All(char.IsAsciiDigit)))
            return (ArchiveRole.Data, null);
        if (stem == "pg_wal") return (ArchiveRole.Wal, null);
        if (stem.Length > 0 && stem.All(char.IsAsciiDigit)) return (ArchiveRole.Tablespace, stem);
        return null;
    }
}

/// <summary>The bytes of a backup: its base archives and the WAL archive that continues it.</summary>
internal sealed class BackupContent : IDisposable
{
    private readonly IDisposable? _owned;

    private BackupContent(IReadOnlyList<BaseArchive> archives, IWalArchive? wal, IDisposable? owned)
    {
        Archives = archives;
        WalArchive = wal;
        _owned = owned;
    }

    /// <summary>Base archives in restore order.</summary>
    public IReadOnlyList<BaseArchive> Archives { get; }

    /// <summary>The WAL archive, or null for a dump.</summary>
    public IWalArchive? WalArchive { get; }

    /// <summary>Opens the content of a Barman Cloud or local base backup.</summary>
    public static BackupContent Open(Backup backup, ObjectStoreOptions? objectStore)
    {
        switch (backup.SourceKind)
        {
            case BackupSourceKind.BarmanCloud:
            {
                var location = S3Location.Parse(backup.Location.DestinationPath
                    ?? throw new ConfigurationException($"Backup {backup.Id} has no destination path.", $"List it again from its catalogue ({InputKey.DestinationPath.Ref()})."));
                var server = backup.Location.ServerName
                    ?? throw new ConfigurationException($"Backup {backup.Id} has no server name.", $"Pass {InputKey.ServerName.Ref()}.");
                var options = (objectStore ?? new ObjectStoreOptions()) with
                {
                    EndpointUrl = objectStore?.EndpointUrl ?? backup.Location.EndpointUrl,
                    Region = objectStore?.Region ?? backup.Location.Region,
                };
                var store = new S3ObjectStore(location.Bucket, options.Resolve());
                var archives = backup.Location.DataObjects.Select(key =>
                {
                    var fileName = key[(key.LastIndexOf('/') + 1)..];
                    var role = BaseArchive.Classify(fileName) ?? (ArchiveRole.Data, null);
                    var (_, compression) = Decompression.SplitSuffix(fileName);
                    return new BaseArchive(store.Describe(key), role.Role, role.Oid, null,
                        async (progress, ct) => Decompression.Open(await store.OpenReadAsync(key, progress, ct).ConfigureAwait(false), compression));
                }).ToList();
                if (archives.Count == 0)
                    throw new RestoreFailedException($"Backup {backup.Id} in {backup.Source} has no data archive (data.tar…).",
                        "The backup is incomplete; choose another one.");
                return new BackupContent(archives, new BarmanCloudWalArchive(store, location.Prefix, server), store);
            }
            case BackupSourceKind.LocalBaseBackup:
            {
                var dir = backup.Location.BaseDirectory!;
                var archives = LocalArchives(dir);
                var wal = backup.Location.WalDirectory is { } w ? new DirectoryWalArchive(w) : null;
                return new BackupContent(archives, wal, null);
            }
            case BackupSourceKind.LocalDump:
                return new BackupContent([], null, null);
            default:
                throw new ConfigurationException($"A local restore cannot read {backup.SourceKind} backups.",
                    "Restore CNPG Backup resources into a CNPG cluster instead.");
        }
    }

    internal static List<BaseArchive> LocalArchives(string directory)
    {
        var archives = new List<BaseArchive>();
        foreach (var path in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
        {
            var fileName = Path.GetFileName(path);
            if (BaseArchive.Classify(fileName) is not { } role) continue;
            var (_, compression) = Decompression.SplitSuffix(fileName);
            var size = new FileInfo(path).Length;
            archives.Add(new BaseArchive(path, role.Role, role.Oid, size,
                (progress, _) => Task.FromResult(Decompression.Open(new CountingStream(File.OpenRead(path), size, progress), compression))));
        }
        // Data first (split parts in order), then pg_wal, then tablespaces.
        return archives.OrderBy(a => a.Role).ThenBy(a => a.Name, StringComparer.Ordinal).ToList();
    }

    /// <inheritdoc />
    public void Dispose() => _owned?.Dispose();

    /// <summary>Reports the bytes read from a local archive, as the object store does for its objects.</summary>
    private sealed class CountingStream(Stream inner, long size, IProgress<ObjectReadProgress>? progress) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => size;
        public override long Position { get => _read; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Count(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        private int Count(int n)
        {
            _read += n;
            if (n > 0 || _read == size) progress?.Report(new ObjectReadProgress(_read, size));
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
