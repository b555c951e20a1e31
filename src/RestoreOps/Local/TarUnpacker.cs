using System.Formats.Tar;

namespace RestoreOps.Local;

/// <summary>What one archive held.</summary>
/// <param name="Entries">Entries written.</param>
/// <param name="Bytes">File bytes written.</param>
/// <param name="Symlinks">Symbolic links found (name → target); never created as given, see <see cref="TarUnpacker"/>.</param>
internal sealed record UnpackStats(int Entries, long Bytes, IReadOnlyDictionary<string, string> Symlinks);

/// <summary>
/// Streams a tar archive into a directory. Entries that would land outside the directory are refused, and
/// symbolic links are reported instead of created: in a PostgreSQL backup they point at the source
/// machine's tablespace locations, and following them would write outside the isolated restore.
/// </summary>
internal static class TarUnpacker
{
    /// <summary>Unpacks <paramref name="tar"/> (already decompressed) into <paramref name="destination"/>.</summary>
    public static async Task<UnpackStats> UnpackAsync(Stream tar, string destination, string archiveName, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(destination);
        var rootWithSlash = root.EndsWith('/') ? root : root + "/";
        var symlinks = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = 0;
        long bytes = 0;
        string? current = null;
        var buffer = new byte[1 << 20];
        try
        {
            using var reader = new TarReader(tar, leaveOpen: true);
            while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                current = entry.Name;
                var relative = Normalize(entry.Name);
                if (relative.Length == 0) continue;
                var full = Path.GetFullPath(Path.Combine(root, relative));
                if (!full.StartsWith(rootWithSlash, StringComparison.Ordinal) && full != root)
                    throw new RestoreFailedException(
                        $"{archiveName} holds an entry that would be written outside the restore directory: '{entry.Name}'.",
                        "This is not a PostgreSQL base backup RestoreOps can restore safely; check where the archive came from.");
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        Directory.CreateDirectory(full);
                        SetMode(full, entry.Mode | UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                        await using (var output = new FileStream(full, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
                        {
                            if (entry.DataStream is { } data)
                            {
                                int n;
                                while ((n = await data.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                                {
                                    await output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                                    bytes += n;
                                }
                                if (output.Length != entry.Length)
                                    throw new EndOfStreamException($"entry '{entry.Name}' ended after {output.Length} of {entry.Length} bytes");
                            }
                        }
                        SetMode(full, (entry.Mode | UnixFileMode.UserRead | UnixFileMode.UserWrite) & ~(UnixFileMode.SetUser | UnixFileMode.SetGroup));
                        break;
                    case TarEntryType.SymbolicLink:
                        symlinks[relative.TrimEnd('/')] = entry.LinkName;
                        break;
                    case TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes:
                        break;
                    default:
                        throw new RestoreFailedException(
                            $"{archiveName} holds '{entry.Name}' of type {entry.EntryType}, which a PostgreSQL base backup never contains.",
                            "Check that the archive is a base backup taken by barman-cloud-backup or pg_basebackup -Ft.");
                }
                entries++;
                if (entries % 64 == 0) cancellationToken.ThrowIfCancellationRequested();
            }
            // On past the end-of-archive marker to the end of the stream: only there are the transfer's length and
            // checksum and a compressed archive's trailer checked. Stopping at the marker let damage pass unseen.
            await tar.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or FormatException
                                      or ICSharpCode.SharpZipLib.SharpZipBaseException)
        {
            throw new RestoreFailedException(
                $"{archiveName} is truncated or corrupt: reading stopped after {entries} entries{(current is null ? "" : $" at '{current}'")} ({e.Message}).",
                "Take a new backup and check the object store's copy (size and checksum) of this archive.", e);
        }
        return new UnpackStats(entries, bytes, symlinks);
    }

    private static string Normalize(string name)
    {
        var n = name.Replace('\\', '/');
        while (n.StartsWith("./", StringComparison.Ordinal)) n = n[2..];
        if (n == ".") return "";
        if (n.StartsWith('/') || n.Split('/').Contains(".."))
            return "../" + n; // forces the outside-the-root refusal with the original name in the message
        return n;
    }

    private static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, mode);
    }
}
