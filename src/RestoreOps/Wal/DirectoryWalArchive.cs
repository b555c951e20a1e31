using RestoreOps.Compression;

namespace RestoreOps.Wal;

/// <summary>A WAL archive in a local directory (what <c>archive_command = 'cp %p /archive/%f'</c> produces), flat or compressed.</summary>
internal sealed class DirectoryWalArchive : IWalArchive
{
    private readonly string _directory;

    /// <summary>Reads WAL from <paramref name="directory"/>.</summary>
    public DirectoryWalArchive(string directory)
    {
        if (!Directory.Exists(directory))
            throw new ConfigurationException($"The WAL archive directory '{directory}' does not exist.",
                $"Pass the directory your archive_command copies WAL into ({InputKey.WalArchive.Ref()}).");
        _directory = Path.GetFullPath(directory);
    }

    /// <inheritdoc />
    public string Description => _directory;

    /// <inheritdoc />
    public Task<IReadOnlyList<WalArchiveFile>> ListAsync(WalFileName from, CancellationToken cancellationToken)
    {
        var files = new List<WalArchiveFile>();
        foreach (var path in Directory.EnumerateFiles(_directory))
        {
            var (name, compression) = Decompression.SplitSuffix(Path.GetFileName(path));
            if (WalFileName.TryParse(name, out var wal))
            {
                if (wal.Timeline >= from.Timeline) files.Add(new WalArchiveFile(name, path, compression, new FileInfo(path).Length));
            }
            else if (WalFileName.IsHistoryFile(name, out _))
            {
                files.Add(new WalArchiveFile(name, path, compression, new FileInfo(path).Length));
            }
        }
        return Task.FromResult<IReadOnlyList<WalArchiveFile>>(files);
    }

    /// <inheritdoc />
    public Task<Stream> OpenAsync(WalArchiveFile file, CancellationToken cancellationToken)
    {
        Stream raw = new FileStream(file.Location, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        return Task.FromResult(Decompression.Open(raw, file.Compression));
    }
}
