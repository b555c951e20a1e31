using System.Globalization;
using RestoreOps.Compression;
using RestoreOps.ObjectStore;

namespace RestoreOps.Wal;

/// <summary>
/// The WAL archive barman-cloud-wal-archive (and CNPG) writes under <c>&lt;destinationPath&gt;/&lt;serverName&gt;/wals/</c>:
/// segments in <c>wals/&lt;first 16 hex&gt;/&lt;24 hex&gt;[.gz|.bz2|.xz|.zst|.lz4|.snappy]</c>, timeline history files
/// directly in <c>wals/0000000N.history[.suffix]</c>.
/// </summary>
internal sealed class BarmanCloudWalArchive : IWalArchive, IDisposable
{
    private readonly IObjectStore _store;
    private readonly bool _ownsStore;
    private readonly string _walsPrefix;

    /// <summary>Creates the archive over an existing store.</summary>
    /// <param name="store">The bucket.</param>
    /// <param name="keyPrefix">The destination path inside the bucket (<c>pg</c> for <c>s3://backups/pg</c>; empty for the bucket root).</param>
    /// <param name="serverName">The Barman server name.</param>
    /// <param name="ownsStore">Dispose the store with the archive.</param>
    public BarmanCloudWalArchive(IObjectStore store, string keyPrefix, string serverName, bool ownsStore = false)
    {
        ArgumentNullException.ThrowIfNull(store);
        BarmanCloudLayout.ValidateServerName(serverName);
        _store = store;
        _ownsStore = ownsStore;
        _walsPrefix = BarmanCloudLayout.JoinKey(keyPrefix.Trim('/'), serverName, "wals") + "/";
        Description = store.Describe(_walsPrefix);
    }

    /// <summary>Creates the archive and its S3 store from a Barman destination path, server name and connection options.</summary>
    /// <exception cref="ConfigurationException">A malformed path, server name or option.</exception>
    public static BarmanCloudWalArchive Create(string destinationPath, string serverName, ObjectStoreOptions options)
    {
        var location = S3Location.Parse(destinationPath);
        BarmanCloudLayout.ValidateServerName(serverName);
        return new BarmanCloudWalArchive(new S3ObjectStore(location.Bucket, options), location.Prefix, serverName, ownsStore: true);
    }

    /// <inheritdoc />
    public string Description { get; }

    /// <summary>
    /// Lists, in key order, the segments of <paramref name="from"/>'s timeline from <paramref name="from"/> on, every
    /// segment and history file of later timelines, and <paramref name="from"/>'s own timeline history file.
    /// </summary>
    /// <remarks>
    /// Keys sort as: all timeline-1 folders, <c>00000002.history</c>, timeline-2 folders, and so on (<c>.</c> sorts
    /// before digits). So one listing that starts just before <paramref name="from"/> covers everything later, without
    /// fetching the older segments a long-lived archive is mostly made of. The from-timeline's own history file sorts
    /// before its folders and needs one small extra listing (timeline 1 has none).
    /// </remarks>
    public async Task<IReadOnlyList<WalArchiveFile>> ListAsync(WalFileName from, CancellationToken cancellationToken)
    {
        var files = new List<WalArchiveFile>();

        if (from.Timeline > 1)
        {
            var historyPrefix = _walsPrefix + from.Timeline.ToString("X8", CultureInfo.InvariantCulture) + ".history";
            await foreach (var entry in _store.ListAsync(historyPrefix, null, cancellationToken).ConfigureAwait(false))
                Add(files, entry, from);
        }

        // StartAfter is exclusive; starting after the previous segment (or after the folder itself for a
        // folder's first segment) keeps an uncompressed "from" segment in the result. The previous segment's
        // compressed form (name.gz sorts after name) still comes back and is dropped in Add.
        var folder = _walsPrefix + from.HashDirectory + "/";
        var startAfter = from.Segment > 0
            ? folder + new WalFileName(from.Timeline, from.Log, from.Segment - 1)
            : folder;
        await foreach (var entry in _store.ListAsync(_walsPrefix, startAfter, cancellationToken).ConfigureAwait(false))
            Add(files, entry, from);

        return files;
    }

    private void Add(List<WalArchiveFile> files, ObjectEntry entry, WalFileName from)
    {
        var key = entry.Key;
        if (key.Length <= _walsPrefix.Length) return;
        var relative = key.AsSpan(_walsPrefix.Length);
        var slash = relative.IndexOf('/');
        var fileName = slash < 0 ? relative : relative[(slash + 1)..];
        var baseLength = Decompression.SplitSuffix(fileName, out var compression);
        var name = fileName[..baseLength];

        if (slash == 16)
        {
            // Anything else in a segment folder (.backup labels, .partial files) is not something a restore asks for.
            if (!WalFileName.TryParse(name, out var segment) || !name[..16].SequenceEqual(relative[..16])) return;
            if (segment.Timeline == from.Timeline && segment.CompareTo(from) < 0) return;
        }
        else if (slash >= 0 || !WalFileName.IsHistoryFile(name, out _))
        {
            return;
        }
        files.Add(new WalArchiveFile(name.ToString(), key, compression, entry.Size));
    }

    /// <inheritdoc />
    public async Task<Stream> OpenAsync(WalArchiveFile file, CancellationToken cancellationToken)
    {
        var stream = await _store.OpenReadAsync(file.Location, cancellationToken).ConfigureAwait(false);
        return Decompression.Open(stream, file.Compression);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsStore) _store.Dispose();
    }
}
