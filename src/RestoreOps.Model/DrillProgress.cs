using System.Globalization;

namespace RestoreOps.Model;

/// <summary>One progress report from the engine, rendered by each front end (Write-Progress, a terminal line).</summary>
/// <param name="Phase">The drill phase.</param>
/// <param name="Activity">What is happening, in words.</param>
/// <param name="PercentComplete">0–100 when known.</param>
/// <param name="Status">Detail such as bytes or segments.</param>
public sealed record DrillProgress(DrillPhase Phase, string Activity, double? PercentComplete = null, string? Status = null)
{
    /// <summary>How far a download has got, when this report is about one; its text is also in <see cref="Status"/>.</summary>
    public TransferProgress? Transfer { get; init; }
}

/// <summary>How far the download of one object or file has got.</summary>
/// <param name="Source">The object or file, e.g. <c>s3://backups/pg/main/base/…/data.tar</c>.</param>
/// <param name="BytesTransferred">Bytes read so far (as stored, i.e. compressed).</param>
/// <param name="TotalBytes">Its size, when known.</param>
/// <param name="BytesPerSecond">Average rate since the download started.</param>
public sealed record TransferProgress(string Source, long BytesTransferred, long? TotalBytes, double BytesPerSecond)
{
    /// <summary>0–100 when the size is known.</summary>
    public double? PercentComplete => TotalBytes switch
    {
        null => null,
        <= 0 => 100,
        { } total => Math.Min(100, 100.0 * BytesTransferred / total),
    };

    /// <summary>Time left at the current rate, when the size is known and bytes are moving.</summary>
    public TimeSpan? Remaining => TotalBytes is { } total && BytesPerSecond > 0
        ? TimeSpan.FromSeconds(Math.Max(0, total - BytesTransferred) / BytesPerSecond)
        : null;

    /// <summary>What was retried last, e.g. "attempt 2 of 4 after: no data for 60 s"; null while all is well.</summary>
    public string? Retrying { get; init; }

    /// <summary>A byte count in the units people read: <c>512 B</c>, <c>3.4 KB</c>, <c>12.3 MB</c>, <c>1.02 GB</c> (powers of 1000).</summary>
    public static string FormatBytes(double bytes)
    {
        string[] units = ["B", "KB", "MB", "GB", "TB", "PB"];
        var unit = 0;
        while (Math.Abs(bytes) >= 1000 && unit < units.Length - 1)
        {
            bytes /= 1000;
            unit++;
        }
        var format = unit == 0 ? "0" : bytes < 10 ? "0.00" : bytes < 100 ? "0.0" : "0";
        return bytes.ToString(format, CultureInfo.InvariantCulture) + " " + units[unit];
    }

    /// <summary>For example <c>12.3 MB of 40.0 MB (31%) at 1.20 MB/s, 23 s left</c>.</summary>
    public override string ToString()
    {
        var text = TotalBytes is { } total
            ? $"{FormatBytes(BytesTransferred)} of {FormatBytes(total)} ({PercentComplete!.Value.ToString("0", CultureInfo.InvariantCulture)}%) at {FormatBytes(BytesPerSecond)}/s"
            : $"{FormatBytes(BytesTransferred)} at {FormatBytes(BytesPerSecond)}/s";
        if (Remaining is { } left && BytesTransferred < TotalBytes)
            text += left.TotalSeconds < 1 ? ", under 1 s left" : $", {FormatRemaining(left)} left";
        if (Retrying is not null) text += $"; retrying, {Retrying}";
        return text;
    }

    private static string FormatRemaining(TimeSpan left) =>
        left.TotalHours >= 1 ? $"{(int)left.TotalHours} h {left.Minutes} min"
        : left.TotalMinutes >= 1 ? $"{(int)left.TotalMinutes} min {left.Seconds} s"
        : $"{(int)left.TotalSeconds} s";
}
