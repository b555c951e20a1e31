using System.Globalization;

namespace RestoreOps.Wal;

/// <summary>A WAL segment name (<c>TTTTTTTTLLLLLLLLSSSSSSSS</c>): timeline, log and segment in hex.</summary>
public readonly record struct WalFileName(uint Timeline, uint Log, uint Segment) : IComparable<WalFileName>
{
    /// <summary>Parses a 24-hex segment name; false for history, backup-label and partial files.</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out WalFileName wal)
    {
        wal = default;
        if (name.Length != 24) return false;
        foreach (var c in name)
            if (!char.IsAsciiHexDigit(c)) return false;
        wal = new WalFileName(
            uint.Parse(name[..8], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            uint.Parse(name[8..16], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            uint.Parse(name[16..], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        return true;
    }

    /// <summary>Parses a 24-hex segment name, throwing on bad input.</summary>
    public static WalFileName Parse(string name) =>
        TryParse(name, out var wal) ? wal : throw new FormatException($"'{name}' is not a WAL segment name (24 hexadecimal digits).");

    /// <summary>True for <c>0000000N.history</c>.</summary>
    public static bool IsHistoryFile(ReadOnlySpan<char> name, out uint timeline)
    {
        timeline = 0;
        return name.Length == 16 && name.EndsWith(".history", StringComparison.Ordinal)
            && uint.TryParse(name[..8], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out timeline);
    }

    /// <summary>The absolute segment number for a segment size (16 MiB by default).</summary>
    public ulong SegmentNumber(long segmentSize = 16 * 1024 * 1024) => (ulong)Log * SegmentsPerLog(segmentSize) + Segment;

    /// <summary>The name of segment number <paramref name="segno"/> on <paramref name="timeline"/>.</summary>
    public static WalFileName FromSegmentNumber(uint timeline, ulong segno, long segmentSize = 16 * 1024 * 1024)
    {
        var perLog = SegmentsPerLog(segmentSize);
        return new WalFileName(timeline, (uint)(segno / perLog), (uint)(segno % perLog));
    }

    /// <summary>The segment that holds <paramref name="lsn"/>.</summary>
    public static WalFileName FromLsn(uint timeline, RestoreOps.Model.Lsn lsn, long segmentSize = 16 * 1024 * 1024) =>
        FromSegmentNumber(timeline, lsn.Value / (ulong)segmentSize, segmentSize);

    /// <summary>Barman's folder for this segment: the first 16 hex digits.</summary>
    public string HashDirectory => ToString()[..16];

    private static ulong SegmentsPerLog(long segmentSize) => 0x1_0000_0000UL / (ulong)segmentSize;

    /// <summary>Orders by segment position, then timeline.</summary>
    public int CompareTo(WalFileName other)
    {
        var c = ((ulong)Log << 32 | Segment).CompareTo((ulong)other.Log << 32 | other.Segment);
        return c != 0 ? c : Timeline.CompareTo(other.Timeline);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Timeline:X8}{Log:X8}{Segment:X8}";
}
