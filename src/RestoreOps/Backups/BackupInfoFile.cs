using System.Globalization;
using System.Text;
using RestoreOps.Model;
using RestoreOps.Wal;

namespace RestoreOps.Backups;

/// <summary>
/// Barman's <c>backup.info</c>: one <c>key=value</c> line per field, <c>None</c> for null, Python <c>repr</c>
/// for lists, dicts and the backup label. Unknown keys are kept, so newer Barman versions still parse.
/// </summary>
/// <remarks>
/// Two traps, both observed with barman-cloud-backup: <c>server_name</c> is always <c>cloud</c> (not the
/// server folder), and <c>compression</c> is <c>None</c> even for <c>--gzip</c> backups. The backup id is
/// not in the file at all: it is the folder name.
/// </remarks>
internal sealed class BackupInfoFile
{
    private static readonly string[] TimeFormats =
    [
        "yyyy-MM-dd HH:mm:ss.FFFFFFzzz",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFzzz",
        "yyyy-MM-dd HH:mm:ss.FFFFFF",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFF",
    ];

    /// <summary>The smallest WAL segment PostgreSQL can be built or initialised with (<c>initdb --wal-segsize=1</c>).</summary>
    public const long MinWalSegmentSize = 1L << 20;
    /// <summary>The largest WAL segment PostgreSQL allows (<c>initdb --wal-segsize=1024</c>).</summary>
    public const long MaxWalSegmentSize = 1L << 30;

    private readonly Dictionary<string, string?> _values;

    private BackupInfoFile(string backupId, string source, Dictionary<string, string?> values)
    {
        BackupId = backupId;
        Source = source;
        _values = values;
    }

    /// <summary>The backup id: the folder the file was found in (<c>YYYYMMDDTHHMMSS</c>).</summary>
    public string BackupId { get; }

    /// <summary>Where the file came from, for messages (e.g. <c>s3://backups/pg/pg1/base/20261121T051928/backup.info</c>).</summary>
    public string Source { get; }

    /// <summary>Every key with its raw value (<c>None</c> as null; Python reprs as written).</summary>
    public IReadOnlyDictionary<string, string?> Values => _values;

    /// <summary>Parses the file's text.</summary>
    /// <param name="text">The whole file.</param>
    /// <param name="backupId">The folder name, which is the backup id.</param>
    /// <param name="source">Where the text came from, named in error messages.</param>
    /// <exception cref="RestoreFailedException">A non-empty line without <c>=</c> (a truncated or foreign file).</exception>
    public static BackupInfoFile Parse(string text, string backupId, string source)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.TrimEnd('\r');
            if (line.Length == 0) continue;
            var eq = line.IndexOf('=');
            if (eq <= 0)
                throw new RestoreFailedException(
                    $"{source} line {lineNumber} is not a key=value line: '{Shorten(line)}'.",
                    "The backup.info file is damaged or not written by Barman; this backup cannot be trusted. Take a new backup, or repair the file from a copy.");
            var value = line[(eq + 1)..];
            values[line[..eq].Trim()] = value == "None" ? null : value;
        }
        return new BackupInfoFile(backupId, source, values);
    }

    private static string Shorten(string s) => s.Length <= 80 ? s : s[..80] + "…";

    /// <summary>The raw value of <paramref name="key"/>; null when absent or <c>None</c>.</summary>
    public string? this[string key] => _values.TryGetValue(key, out var v) ? v : null;

    /// <summary>Barman status: <c>DONE</c>, <c>FAILED</c>, <c>STARTED</c>, <c>WAITING_FOR_WALS</c>, <c>SYNCING</c>, <c>EMPTY</c>.</summary>
    public string? Status => this["status"];

    /// <summary><see cref="Status"/> as the model's enum.</summary>
    public BackupStatus BackupStatus => ToBackupStatus(Status);

    /// <summary>Maps a Barman status string onto <see cref="Model.BackupStatus"/>.</summary>
    public static BackupStatus ToBackupStatus(string? status) => status?.Trim().ToUpperInvariant() switch
    {
        "DONE" => Model.BackupStatus.Done,
        "FAILED" => Model.BackupStatus.Failed,
        "STARTED" => Model.BackupStatus.Started,
        "WAITING_FOR_WALS" => Model.BackupStatus.WaitingForWals,
        "SYNCING" => Model.BackupStatus.Syncing,
        "EMPTY" or null => Model.BackupStatus.Empty,
        _ => Model.BackupStatus.Unknown,
    };

    /// <summary>When the backup started (UTC).</summary>
    public DateTimeOffset? BeginTime => GetTime("begin_time");

    /// <summary>When the backup ended (UTC); null for failed backups.</summary>
    public DateTimeOffset? EndTime => GetTime("end_time");

    /// <summary>First WAL segment the backup needs.</summary>
    public string? BeginWal => this["begin_wal"];

    /// <summary>Last WAL segment needed for consistency.</summary>
    public string? EndWal => this["end_wal"];

    /// <summary>Start LSN, e.g. <c>0/5000028</c>.</summary>
    public string? BeginXlog => this["begin_xlog"];

    /// <summary>Consistency LSN.</summary>
    public string? EndXlog => this["end_xlog"];

    /// <summary>Timeline the backup was taken on.</summary>
    /// <exception cref="RestoreFailedException">Not an integer, or below 1 (timelines start at 1).</exception>
    public int? Timeline => GetInt("timeline") is { } t ? t >= 1 ? t : throw Malformed("timeline", "a timeline id (1 or more)") : null;

    /// <summary>PostgreSQL version number, e.g. 150018.</summary>
    /// <exception cref="RestoreFailedException">Not a PostgreSQL version number (9.0, 90000, up to 99.x, 999999).</exception>
    public int? Version => GetInt("version") is { } v
        ? v is >= 90000 and <= 999999 ? v : throw Malformed("version", "a PostgreSQL version number such as 150018 (9.0 to 99.x)")
        : null;

    /// <summary>PostgreSQL major version (150018 → 15).</summary>
    public int? PostgresMajorVersion => Version / 10000;

    /// <summary>Database system identifier (kept as text: it does not fit every JSON consumer's number type).</summary>
    public string? SystemId => this["systemid"];

    /// <summary>WAL segment size in bytes.</summary>
    /// <exception cref="RestoreFailedException">Not a power of two from 1 MiB to 1 GiB: no PostgreSQL writes such segments, and WAL arithmetic would divide by it.</exception>
    public long? XlogSegmentSize => GetLong("xlog_segment_size") is { } size
        ? size is >= MinWalSegmentSize and <= MaxWalSegmentSize && (size & (size - 1)) == 0 ? size
            : throw Malformed("xlog_segment_size", "a power of two from 1 MiB (1048576) to 1 GiB (1073741824), PostgreSQL's WAL segment sizes")
        : null;

    /// <summary>The <c>-n</c> name, if one was given.</summary>
    public string? BackupName => GetString("backup_name");

    /// <summary>Barman's error text for failed backups.</summary>
    public string? Error => GetString("error");

    /// <summary>Tablespaces as Barman wrote them (a Python list repr), or null for none.</summary>
    public string? Tablespaces => this["tablespaces"];

    /// <summary>What Barman recorded as compression. Usually <c>None</c>, even for compressed backups: infer from the archive suffix instead.</summary>
    public string? Compression => GetString("compression");

    /// <summary>The <c>backup_label</c> file's content, unquoted.</summary>
    public string? BackupLabel => GetString("backup_label");

    /// <summary>A value with Python string quoting removed, if it was quoted.</summary>
    public string? GetString(string key) => this[key] is { } raw ? UnquotePython(raw) : null;

    /// <summary>An integer value; null when absent or <c>None</c>.</summary>
    /// <exception cref="RestoreFailedException">The value is not an integer.</exception>
    public int? GetInt(string key) => GetLong(key) is { } v
        ? v is >= int.MinValue and <= int.MaxValue ? (int)v : throw Malformed(key, "an integer")
        : null;

    /// <summary>A 64-bit integer value; null when absent or <c>None</c>.</summary>
    /// <exception cref="RestoreFailedException">The value is not an integer.</exception>
    public long? GetLong(string key)
    {
        if (this[key] is not { } raw) return null;
        return long.TryParse(raw.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : throw Malformed(key, "an integer");
    }

    /// <summary>A timestamp such as <c>2026-11-21 05:19:28.372824+00:00</c>, converted to UTC; values without an offset are taken as UTC.</summary>
    /// <exception cref="RestoreFailedException">The value is not a timestamp.</exception>
    public DateTimeOffset? GetTime(string key)
    {
        if (GetString(key) is not { } raw) return null;
        raw = raw.Trim();
        if (DateTimeOffset.TryParseExact(raw, TimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            || DateTimeOffset.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out t))
            return t.ToUniversalTime();
        throw Malformed(key, "a timestamp like 2026-11-21 05:19:28.372824+00:00");
    }

    private RestoreFailedException Malformed(string key, string expected) => new(
        $"{Source}: {key}='{Shorten(this[key] ?? "")}' is not {expected}.",
        "The backup.info file is damaged or from an unsupported Barman version; take a new backup or report the file's content.");

    /// <summary>
    /// Checks every value a restore or a freshness verdict relies on: numbers in PostgreSQL's ranges, WAL names and
    /// LSNs that parse, ends not before beginnings, and no time later than <paramref name="now"/> plus
    /// <see cref="InputLimits.ClockSkewAllowance"/> (a future end time would make the backup look fresher than any real one).
    /// </summary>
    /// <param name="now">The instant times are judged against (the reader's clock).</param>
    /// <exception cref="RestoreFailedException">The first value that fails, naming the file, the key and the value.</exception>
    public void Validate(DateTimeOffset now)
    {
        _ = Version;
        _ = Timeline;
        var segmentSize = XlogSegmentSize ?? 16 * 1024 * 1024;
        var beginWal = Wal("begin_wal", segmentSize);
        var endWal = Wal("end_wal", segmentSize);
        var beginLsn = LsnValue("begin_xlog");
        var endLsn = LsnValue("end_xlog");
        var begin = BeginTime;
        var end = EndTime;
        foreach (var (key, time) in new[] { ("begin_time", begin), ("end_time", end) })
            if (time is { } t && t - now > InputLimits.ClockSkewAllowance)
                throw new RestoreFailedException(
                    $"{Source}: {key}='{Shorten(this[key] ?? "")}' is {Evidence.DurationText.Format(t - now)} in the future (more than the {Evidence.DurationText.Format(InputLimits.ClockSkewAllowance)} allowed for clock skew), so the backup's age cannot be trusted.",
                    "Check the clock of the host that took the backup and of this one; take a new backup once they agree.");
        if (beginWal is { } bw && endWal is { } ew && ew.CompareTo(bw) < 0) throw Malformed("end_wal", $"at or after begin_wal {bw}");
        if (beginLsn is { } bl && endLsn is { } el && el < bl) throw Malformed("end_xlog", $"at or after begin_xlog {bl}");
        if (begin is { } b && end is { } e && e < b) throw Malformed("end_time", $"at or after begin_time {b:yyyy-MM-dd HH:mm:ss.ffffff}+00:00");
    }

    private WalFileName? Wal(string key, long segmentSize)
    {
        if (GetString(key) is not { } raw) return null;
        // The segment field counts segments within one 4 GiB log file; a name past that is no segment PostgreSQL writes.
        return WalFileName.TryParse(raw.Trim(), out var wal) && wal.Timeline >= 1 && wal.Segment < 0x1_0000_0000UL / (ulong)segmentSize
            ? wal
            : throw Malformed(key, "a WAL segment name (24 hexadecimal digits, e.g. 000000010000000000000005)");
    }

    private Lsn? LsnValue(string key) =>
        GetString(key) is not { } raw ? null
        : Lsn.TryParse(raw.Trim(), out var lsn) ? lsn
        : throw Malformed(key, "a WAL location such as 0/5000028");

    /// <summary>
    /// Undoes Python's <c>repr</c> of a string: strips matching single or double quotes and decodes the
    /// escapes repr produces (<c>\n \r \t \\ \' \"</c>, <c>\xNN</c>, <c>\uNNNN</c>, <c>\UNNNNNNNN</c>).
    /// Unquoted values are returned unchanged.
    /// </summary>
    public static string UnquotePython(string value)
    {
        if (value.Length < 2 || value[0] != value[^1] || value[0] is not ('\'' or '"')) return value;
        var body = value.AsSpan(1, value.Length - 2);
        if (body.IndexOf('\\') < 0) return body.ToString();

        var sb = new StringBuilder(body.Length);
        for (var i = 0; i < body.Length; i++)
        {
            var c = body[i];
            if (c != '\\' || i + 1 >= body.Length)
            {
                sb.Append(c);
                continue;
            }
            var e = body[++i];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'x' when TryHex(body, i + 1, 2, out var x): sb.Append((char)x); i += 2; break;
                case 'u' when TryHex(body, i + 1, 4, out var u): sb.Append((char)u); i += 4; break;
                case 'U' when TryHex(body, i + 1, 8, out var cp) && cp <= 0x10FFFF: sb.Append(char.ConvertFromUtf32(cp)); i += 8; break;
                // Python keeps unknown escapes verbatim.
                default: sb.Append('\\').Append(e); break;
            }
        }
        return sb.ToString();
    }

    private static bool TryHex(ReadOnlySpan<char> s, int start, int length, out int value)
    {
        value = 0;
        return start + length <= s.Length
            && int.TryParse(s.Slice(start, length), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }
}
