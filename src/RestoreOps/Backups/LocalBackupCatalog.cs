using System.Formats.Tar;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Processes;
using RestoreOps.Wal;

namespace RestoreOps.Backups;

/// <summary>Describes backups on local disk: a <c>pg_basebackup -Ft</c> directory with a WAL archive, or a <c>pg_dump -Fc</c> file.</summary>
internal static partial class LocalBackupCatalog
{
    /// <summary>
    /// Reads a pg_basebackup tar-format directory: backup_label and PG_VERSION from base.tar, the stop point
    /// from the backup history file in the WAL archive (or backup_manifest when there is none).
    /// </summary>
    public static async Task<Backup> ReadBaseBackupAsync(string baseDirectory, string? walDirectory, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(baseDirectory))
            throw new ConfigurationException($"The base backup directory '{baseDirectory}' does not exist.",
                $"Pass the directory pg_basebackup -Ft wrote ({InputKey.BaseBackup.Ref()}).");
        var archives = BackupContent.LocalArchives(baseDirectory);
        var data = archives.FirstOrDefault(a => a.Role == ArchiveRole.Data)
            ?? throw new ConfigurationException($"'{baseDirectory}' holds no base.tar (or .tar.gz/.tar.bz2).",
                $"Point {InputKey.BaseBackup.Ref()} at a pg_basebackup -Ft output directory.");

        string? label = null, pgVersion = null;
        await using (var stream = await data.Open(null, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                using var reader = new TarReader(stream);
                while ((label is null || pgVersion is null) && await reader.GetNextEntryAsync(false, cancellationToken).ConfigureAwait(false) is { } entry)
                {
                    var name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
                    if (entry.DataStream is null) continue;
                    if (name == "backup_label") label = await ReadAllAsync(entry.DataStream, cancellationToken).ConfigureAwait(false);
                    else if (name == "PG_VERSION") pgVersion = (await ReadAllAsync(entry.DataStream, cancellationToken).ConfigureAwait(false)).Trim();
                }
            }
            catch (Exception e) when (e is EndOfStreamException or InvalidDataException or FormatException)
            {
                throw new RestoreFailedException($"{data.Name} is truncated or corrupt ({e.Message}).", "Take a new base backup.", e);
            }
        }
        if (label is null)
            throw new RestoreFailedException($"{data.Name} has no backup_label, so it is not a base backup PostgreSQL can recover from.",
                "Take the backup with pg_basebackup -Ft (or barman-cloud-backup).");

        var fields = ParseLabel(label);
        var startLsn = LsnInLine(fields.GetValueOrDefault("START WAL LOCATION"));
        var beginWal = FileInLine(fields.GetValueOrDefault("START WAL LOCATION"));
        var timeline = int.TryParse(fields.GetValueOrDefault("START TIMELINE"), CultureInfo.InvariantCulture, out var tli) ? tli : 1;
        var begin = ParseLabelTime(fields.GetValueOrDefault("START TIME"));
        DateTimeOffset? end = null;
        string? endWal = null, endLsn = null;

        // The backup history file (NAME.OFFSET.backup) is archived at pg_backup_stop and records the stop point.
        if (walDirectory is not null && Directory.Exists(walDirectory) && beginWal is not null)
        {
            var history = Directory.EnumerateFiles(walDirectory, beginWal + ".*.backup*").FirstOrDefault();
            if (history is not null)
            {
                var (_, compression) = Compression.Decompression.SplitSuffix(Path.GetFileName(history));
                await using var s = Compression.Decompression.Open(File.OpenRead(history), compression);
                var h = ParseLabel(await ReadAllAsync(s, cancellationToken).ConfigureAwait(false));
                end = ParseLabelTime(h.GetValueOrDefault("STOP TIME"));
                endWal = FileInLine(h.GetValueOrDefault("STOP WAL LOCATION"));
                endLsn = LsnInLine(h.GetValueOrDefault("STOP WAL LOCATION"));
            }
        }
        var manifest = Path.Combine(baseDirectory, "backup_manifest");
        if (endLsn is null && File.Exists(manifest))
        {
            using var doc = JsonDocument.Parse(await File.ReadAllBytesAsync(manifest, cancellationToken).ConfigureAwait(false));
            if (doc.RootElement.TryGetProperty("WAL-Ranges", out var ranges) && ranges.GetArrayLength() > 0
                && ranges[ranges.GetArrayLength() - 1].TryGetProperty("End-LSN", out var e) && Lsn.TryParse(e.GetString(), out var lsn))
            {
                endLsn = lsn.ToString();
                endWal = WalFileName.FromLsn((uint)timeline, new Lsn(lsn.Value - 1)).ToString();
            }
            end ??= File.GetLastWriteTimeUtc(manifest);
        }

        int? major = int.TryParse(pgVersion, CultureInfo.InvariantCulture, out var v) ? v : null;
        var (_, comp) = Compression.Decompression.SplitSuffix(Path.GetFileName(data.Name));
        return new Backup
        {
            Id = Path.GetFileName(Path.GetFullPath(baseDirectory).TrimEnd('/')),
            Name = fields.GetValueOrDefault("LABEL"),
            SourceKind = BackupSourceKind.LocalBaseBackup,
            Source = Path.GetFullPath(baseDirectory),
            Method = "pg_basebackup",
            BeginTime = begin,
            EndTime = end ?? begin,
            BeginWal = beginWal,
            EndWal = endWal ?? beginWal,
            BeginLsn = startLsn,
            EndLsn = endLsn,
            Timeline = timeline,
            PostgresMajorVersion = major,
            Compression = comp ?? "none",
            Location = new BackupLocation { BaseDirectory = Path.GetFullPath(baseDirectory), WalDirectory = walDirectory is null ? null : Path.GetFullPath(walDirectory) },
        };
    }

    /// <summary>Reads a pg_dump custom-format file's header with <c>pg_restore -l</c> (from <paramref name="postgresBinDirectory"/> when given).</summary>
    public static async Task<Backup> ReadDumpAsync(string dumpFile, CancellationToken cancellationToken, string? postgresBinDirectory = null)
    {
        if (!File.Exists(dumpFile))
            throw new ConfigurationException($"The dump file '{dumpFile}' does not exist.", $"Pass a file written by pg_dump -Fc ({InputKey.Dump.Ref()}).");
        var binaries = await PostgresBinaries.FindAsync(null, postgresBinDirectory, cancellationToken).ConfigureAwait(false);
        var r = await CommandRunner.RunAsync(binaries.Tool("pg_restore"), ["-l", dumpFile], null, null, cancellationToken).ConfigureAwait(false);
        if (r.ExitCode != 0)
            throw new RestoreFailedException($"pg_restore cannot read '{dumpFile}': {r.Tail(5)}",
                "Pass a custom-format dump (pg_dump -Fc); plain SQL dumps are restored with psql, not RestoreOps.");
        var header = r.StandardOutput;
        var created = DumpHeader().Match(header) is { Success: true } m ? ParseLabelTime(m.Groups[1].Value) : null;
        var version = DumpVersion().Match(header) is { Success: true } vm ? int.Parse(vm.Groups[1].Value, CultureInfo.InvariantCulture) : (int?)null;
        var dbname = DumpDbName().Match(header) is { Success: true } dm ? dm.Groups[1].Value.Trim() : null;
        return new Backup
        {
            Id = Path.GetFileName(dumpFile),
            Name = dbname,
            SourceKind = BackupSourceKind.LocalDump,
            Source = Path.GetFullPath(dumpFile),
            Method = "pg_dump",
            BeginTime = created,
            EndTime = created ?? File.GetLastWriteTimeUtc(dumpFile),
            PostgresMajorVersion = version,
            Compression = "custom",
            Location = new BackupLocation { DumpFile = Path.GetFullPath(dumpFile) },
        };
    }

    private static async Task<string> ReadAllAsync(Stream s, CancellationToken ct)
    {
        using var ms = new MemoryStream();
        await s.CopyToAsync(ms, ct).ConfigureAwait(false);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    internal static Dictionary<string, string> ParseLabel(string text)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var i = line.IndexOf(": ", StringComparison.Ordinal);
            if (i > 0) d[line[..i].Trim()] = line[(i + 2)..].Trim();
        }
        return d;
    }

    private static string? LsnInLine(string? value) => value?.Split(' ')[0];

    private static string? FileInLine(string? value) =>
        value is not null && FileInLabel().Match(value) is { Success: true } m ? m.Groups[1].Value : null;

    /// <summary>PostgreSQL writes label times as <c>2026-11-21 05:19:28 UTC</c> (log_timezone's abbreviation).</summary>
    internal static DateTimeOffset? ParseLabelTime(string? value)
    {
        if (string.IsNullOrWhiteSpace(value)) return null;
        var v = value.Trim();
        foreach (var utc in new[] { " UTC", " GMT", " Etc/UTC" })
            if (v.EndsWith(utc, StringComparison.Ordinal)) { v = v[..^utc.Length] + "Z"; break; }
        return DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t) ? t : null;
    }

    [GeneratedRegex(@"\(file ([0-9A-F]{24})\)")]
    private static partial Regex FileInLabel();

    [GeneratedRegex(@"Archive created at (.+)")]
    private static partial Regex DumpHeader();

    [GeneratedRegex(@"Dumped from database version: (\d+)")]
    private static partial Regex DumpVersion();

    [GeneratedRegex(@"dbname: (.+)")]
    private static partial Regex DumpDbName();
}
