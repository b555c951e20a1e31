using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using RestoreOps.Compression;
using RestoreOps.Model;
using RestoreOps.ObjectStore;

namespace RestoreOps.Backups;

/// <summary>
/// The base backups Barman Cloud (barman-cloud-backup, and CNPG through it) keeps under
/// <c>&lt;destinationPath&gt;/&lt;serverName&gt;/base/&lt;backupId&gt;/</c>, read straight from object storage.
/// </summary>
/// <example>
/// <code>
/// using var catalog = BarmanCloudCatalog.Create("s3://backups/pg", "cluster-example", new ObjectStoreOptions { EndpointUrl = "http://minio:9000" });
/// var latest = await catalog.GetLatestAsync(ct);
/// </code>
/// </example>
internal sealed class BarmanCloudCatalog : IDisposable
{
    private const int ParallelReads = 8;

    private readonly IObjectStore _store;
    private readonly bool _ownsStore;
    private readonly string _basePrefix;
    private readonly string _keyPrefix;

    /// <summary>Creates a catalogue over an existing store.</summary>
    /// <param name="store">The bucket.</param>
    /// <param name="keyPrefix">The destination path inside the bucket (<c>pg</c> for <c>s3://backups/pg</c>; empty for the bucket root).</param>
    /// <param name="serverName">The Barman server name: the folder under the destination path (CNPG: the cluster name unless overridden).</param>
    /// <param name="source">The location in the user's words, e.g. <c>s3://backups/pg/cluster-example</c>.</param>
    /// <param name="endpointUrl">The S3-compatible endpoint, recorded in each <see cref="BackupLocation"/>.</param>
    /// <param name="region">The region, recorded in each <see cref="BackupLocation"/>.</param>
    /// <param name="destinationPath">The Barman destination path, recorded in each <see cref="BackupLocation"/>; defaults to <paramref name="source"/> without the server name.</param>
    /// <param name="ownsStore">Dispose the store with the catalogue.</param>
    public BarmanCloudCatalog(IObjectStore store, string keyPrefix, string serverName, string source,
        string? endpointUrl = null, string? region = null, string? destinationPath = null, bool ownsStore = false)
    {
        ArgumentNullException.ThrowIfNull(store);
        BarmanCloudLayout.ValidateServerName(serverName);
        _store = store;
        _ownsStore = ownsStore;
        _keyPrefix = keyPrefix.Trim('/');
        ServerName = serverName;
        Source = source;
        EndpointUrl = endpointUrl;
        Region = region;
        DestinationPath = destinationPath ?? _store.Describe(_keyPrefix);
        _basePrefix = BarmanCloudLayout.JoinKey(_keyPrefix, serverName, "base") + "/";
    }

    /// <summary>
    /// Creates a catalogue and its S3 store from a Barman destination path (<c>s3://bucket/path</c>), a server name and
    /// connection options (resolved against the AWS environment variables).
    /// </summary>
    /// <exception cref="ConfigurationException">A malformed path, server name or option.</exception>
    public static BarmanCloudCatalog Create(string destinationPath, string serverName, ObjectStoreOptions options)
    {
        var location = S3Location.Parse(destinationPath);
        BarmanCloudLayout.ValidateServerName(serverName);
        var resolved = options.Resolve();
        S3ObjectStore store;
        try
        {
            store = new S3ObjectStore(location.Bucket, resolved);
        }
        catch (Amazon.Runtime.AmazonClientException e)
        {
            // The SDK refuses to build a client with neither an endpoint nor a region it can find.
            throw new ConfigurationException($"The S3 client for {location} could not be set up: {e.Message}",
                $"Pass the bucket's region ({InputKey.Region.Ref()}, or AWS_REGION), or the endpoint of an S3-compatible store ({InputKey.EndpointUrl.Ref()}).", e);
        }
        return new BarmanCloudCatalog(store, location.Prefix, serverName, location.Child(serverName).ToString(),
            resolved.EndpointUrl, resolved.Region, location.ToString(), ownsStore: true);
    }

    /// <summary>The Barman server name.</summary>
    public string ServerName { get; }

    /// <summary>The catalogue in the user's words, e.g. <c>s3://backups/pg/cluster-example</c>.</summary>
    public string Source { get; }

    /// <summary>The Barman destination path recorded in each backup's location.</summary>
    public string DestinationPath { get; }

    /// <summary>The S3-compatible endpoint, if any.</summary>
    public string? EndpointUrl { get; }

    /// <summary>The region, if known.</summary>
    public string? Region { get; }

    /// <summary>
    /// Lists the backups. By default only usable (DONE) ones; with <paramref name="includeUnusable"/> also
    /// FAILED, still-running and unreadable ones. Newest first: by end time, then begin time, then id.
    /// Folders without <c>backup.info</c> (an upload in progress or killed) are not backups yet and are skipped.
    /// </summary>
    public async Task<IReadOnlyList<Backup>> ListAsync(bool includeUnusable = false, CancellationToken cancellationToken = default)
    {
        var all = await ListAllAsync(cancellationToken).ConfigureAwait(false);
        return includeUnusable ? all : all.Where(b => b.Status == BackupStatus.Done).ToList();
    }

    /// <summary>The newest DONE backup.</summary>
    /// <exception cref="ConfigurationException">No backups at all under the server's <c>base/</c> folder (likely a wrong path or server name).</exception>
    /// <exception cref="RestoreFailedException">Backups exist but none is DONE; the message lists the failures.</exception>
    public async Task<Backup> GetLatestAsync(CancellationToken cancellationToken = default)
    {
        var all = await ListAllAsync(cancellationToken).ConfigureAwait(false);
        return all.FirstOrDefault(b => b.Status == BackupStatus.Done) ?? throw NoUsableBackup(all, "latest");
    }

    /// <summary>Finds a backup by id (<c>20261121T051928</c>) or by its <c>-n</c> name; <c>latest</c> means <see cref="GetLatestAsync"/>.</summary>
    /// <exception cref="ConfigurationException">No backup has that id or name.</exception>
    /// <exception cref="RestoreFailedException">The backup is not DONE (failed, unfinished, or its backup.info is damaged); the message says why.</exception>
    public async Task<Backup> GetAsync(string idOrName, CancellationToken cancellationToken = default)
    {
        if (string.Equals(idOrName, "latest", StringComparison.OrdinalIgnoreCase)) return await GetLatestAsync(cancellationToken).ConfigureAwait(false);
        var all = await ListAllAsync(cancellationToken).ConfigureAwait(false);
        var found = all.FirstOrDefault(b => b.Id == idOrName) ?? all.FirstOrDefault(b => b.Name == idOrName);
        if (found is { Status: not BackupStatus.Done })
            throw new RestoreFailedException(
                $"Backup {found.Id} under {Describe(_basePrefix)} is {found.Status}, not DONE, so it cannot be restored{(found.Error is { } why ? ": " + why : ".")}",
                "Pick a DONE backup from the backup list, or take a new backup.");
        return found
            ?? throw new ConfigurationException(
                $"No backup with id or name '{idOrName}' under {Describe(_basePrefix)} ({all.Count} backup(s) found: {string.Join(", ", all.Take(10).Select(b => b.Name is null ? b.Id : $"{b.Id} ({b.Name})"))}{(all.Count > 10 ? ", …" : "")}).",
                "Use an id or name from the backup list, or 'latest'.");
    }

    private Exception NoUsableBackup(IReadOnlyList<Backup> all, string what)
    {
        if (all.Count == 0)
            return new ConfigurationException(
                $"No Barman Cloud backups found under {Describe(_basePrefix)} (no */backup.info objects).",
                $"Check the destination path and the server name '{ServerName}' (the folder under the path; CNPG uses the cluster name unless serverName is set), and the endpoint/region.");

        var failed = all.Where(b => b.Status == BackupStatus.Failed).ToList();
        var message = new StringBuilder($"No DONE backup for '{what}' under {Describe(_basePrefix)}: {all.Count} backup(s) found");
        if (failed.Count > 0)
        {
            message.Append($", {failed.Count} FAILED (");
            message.AppendJoin("; ", failed.Take(5).Select(b => $"{b.Id}: {b.Error ?? "no error text"}"));
            if (failed.Count > 5) message.Append("; …");
            message.Append(')');
        }
        var other = all.Count - failed.Count;
        if (other > 0)
            message.Append($", {other} in other states ({string.Join("; ", all.Where(b => b.Status != BackupStatus.Failed).Take(5).Select(b => $"{b.Id}: {b.Status}{(b.Error is { } why ? $" ({why})" : "")}"))})");
        message.Append('.');
        return new RestoreFailedException(message.ToString(),
            "Fix the cause of the failed backups and take a new one (barman-cloud-backup, or a CNPG Backup); backups still running become usable when they finish.");
    }

    private async Task<List<Backup>> ListAllAsync(CancellationToken cancellationToken)
    {
        // One recursive listing instead of a delimiter listing: some S3 clones (s3rver) get delimiters wrong.
        var folders = new Dictionary<string, BackupFolder>(StringComparer.Ordinal);
        await foreach (var entry in _store.ListAsync(_basePrefix, null, cancellationToken).ConfigureAwait(false))
        {
            var relative = entry.Key.AsSpan(_basePrefix.Length);
            var slash = relative.IndexOf('/');
            if (slash <= 0) continue;
            var fileName = relative[(slash + 1)..];
            if (fileName.Length == 0 || fileName.IndexOf('/') >= 0) continue;
            var id = relative[..slash].ToString();
            if (!folders.TryGetValue(id, out var folder)) folders[id] = folder = new BackupFolder(id);
            if (fileName.SequenceEqual("backup.info")) folder.InfoKey = entry.Key;
            else folder.Files.Add(fileName.ToString());
        }

        var withInfo = folders.Values.Where(f => f.InfoKey is not null).ToList();
        var backups = new ConcurrentBag<Backup>();
        await Parallel.ForEachAsync(withInfo, new ParallelOptions { MaxDegreeOfParallelism = ParallelReads, CancellationToken = cancellationToken },
            async (folder, ct) => backups.Add(await ReadBackupAsync(folder, ct).ConfigureAwait(false))).ConfigureAwait(false);

        // A failed backup has no end time; its start still places it in the history users read.
        return backups
            .OrderByDescending(b => b.EndTime ?? b.BeginTime ?? DateTimeOffset.MinValue)
            .ThenByDescending(b => b.BeginTime ?? DateTimeOffset.MinValue)
            .ThenByDescending(b => b.Id, StringComparer.Ordinal)
            .ToList();
    }

    private async Task<Backup> ReadBackupAsync(BackupFolder folder, CancellationToken cancellationToken)
    {
        var infoSource = _store.Describe(folder.InfoKey!);
        var dataObjects = OrderDataObjects(folder.Files).Select(f => BarmanCloudLayout.JoinKey(_basePrefix.TrimEnd('/'), folder.Id, f)).ToList();
        var dataArchive = folder.Files.FirstOrDefault(f => f.StartsWith("data.tar", StringComparison.Ordinal) || f.StartsWith("data_", StringComparison.Ordinal));
        var location = new BackupLocation
        {
            DestinationPath = DestinationPath,
            ServerName = ServerName,
            EndpointUrl = EndpointUrl,
            Region = Region,
            DataObjects = dataObjects,
        };
        string text;
        using (var stream = await _store.OpenReadAsync(folder.InfoKey!, cancellationToken).ConfigureAwait(false))
        using (var reader = new StreamReader(stream, Encoding.UTF8))
            text = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);

        try
        {
            var info = BackupInfoFile.Parse(text, folder.Id, infoSource);
            info.Validate(DateTimeOffset.UtcNow);
            var status = info.BackupStatus;
            var error = info.Error;
            if (status == BackupStatus.Done && dataArchive is null)
                error = $"backup.info says DONE but there is no data.tar archive under {Describe(BarmanCloudLayout.JoinKey(_basePrefix.TrimEnd('/'), folder.Id))}/";
            return new Backup
            {
                Id = folder.Id,
                Name = info.BackupName,
                SourceKind = BackupSourceKind.BarmanCloud,
                Source = Source,
                Method = "barman-cloud",
                Status = status,
                BeginTime = info.BeginTime,
                EndTime = info.EndTime,
                BeginWal = info.BeginWal,
                EndWal = info.EndWal,
                BeginLsn = info.BeginXlog,
                EndLsn = info.EndXlog,
                Timeline = info.Timeline,
                PostgresMajorVersion = info.PostgresMajorVersion,
                PostgresVersionNumber = info.Version,
                SystemId = info.SystemId,
                Compression = dataArchive is null ? null : Decompression.FromArchiveName(dataArchive) ?? "none",
                WalSegmentSize = info.XlogSegmentSize ?? 16 * 1024 * 1024,
                Error = error,
                Location = location,
            };
        }
        catch (RestoreFailedException ex)
        {
            // One damaged backup.info must not hide the other backups; it shows up as unusable instead, and its
            // message (file, key and value) is what a list and a drill report.
            return new Backup
            {
                Id = folder.Id,
                SourceKind = BackupSourceKind.BarmanCloud,
                Source = Source,
                Method = "barman-cloud",
                Status = BackupStatus.Unknown,
                Error = ex.Message,
                Location = location,
            };
        }
    }

    /// <summary>
    /// Orders base-backup archives the way a restore unpacks them: <c>data.tar*</c>, its split parts
    /// <c>data_0001.tar*</c>… by number, then each tablespace <c>&lt;oid&gt;.tar*</c> (and its parts) by oid.
    /// Other files (backup.info, a snapshot's backup_label) are left out.
    /// </summary>
    internal static IReadOnlyList<string> OrderDataObjects(IEnumerable<string> fileNames)
    {
        var archives = new List<(int Group, long Oid, int Part, string Name)>();
        foreach (var name in fileNames)
        {
            var baseLength = Decompression.SplitSuffix(name.AsSpan(), out _);
            var stem = name.AsSpan(0, baseLength);
            if (!stem.EndsWith(".tar", StringComparison.Ordinal)) continue;
            stem = stem[..^4];
            var part = 0;
            var underscore = stem.LastIndexOf('_');
            if (underscore > 0)
            {
                if (!int.TryParse(stem[(underscore + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out part)) continue;
                stem = stem[..underscore];
            }
            if (stem.SequenceEqual("data")) archives.Add((0, 0, part, name));
            else if (long.TryParse(stem, NumberStyles.None, CultureInfo.InvariantCulture, out var oid)) archives.Add((1, oid, part, name));
        }
        return archives.OrderBy(a => a.Group).ThenBy(a => a.Oid).ThenBy(a => a.Part).ThenBy(a => a.Name, StringComparer.Ordinal).Select(a => a.Name).ToList();
    }

    private string Describe(string key) => _store.Describe(key);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsStore) _store.Dispose();
    }

    private sealed class BackupFolder(string id)
    {
        public string Id { get; } = id;
        public string? InfoKey { get; set; }
        public List<string> Files { get; } = [];
    }
}
