using RestoreOps.Model;

namespace RestoreOps.Wal;

/// <summary>
/// The WAL files a restore may ask for, in the order it will ask, and what the archive is missing.
/// Built from one listing, before the server starts, so gaps are found up front instead of by a
/// server that silently promotes at the first missing segment.
/// </summary>
internal sealed class WalRestorePlan
{
    private WalRestorePlan(IReadOnlyList<WalArchiveFile> files, WalFileName? firstGap, WalFileName? lastSegment, WalFileName? lastOnNewest)
    {
        Files = files;
        FirstGapAfterBackup = firstGap;
        LastSegment = lastSegment;
        LastSegmentOnNewestTimeline = lastOnNewest;
    }

    /// <summary>Files to fetch, history files first, then segments by position and timeline.</summary>
    public IReadOnlyList<WalArchiveFile> Files { get; }

    /// <summary>The first segment missing after the backup's end on its timeline, when the archive continues past it.</summary>
    public WalFileName? FirstGapAfterBackup { get; }

    /// <summary>The newest segment the archive holds on the restore's timelines.</summary>
    public WalFileName? LastSegment { get; }

    /// <summary>
    /// The newest segment of the newest timeline the archive holds: where a restore to the end of the archive must get
    /// to (replay follows the newest timeline; segments an abandoned timeline archived past its branch are not replayed).
    /// </summary>
    public WalFileName? LastSegmentOnNewestTimeline { get; }

    /// <summary>Total stored bytes to fetch.</summary>
    public long TotalBytes => Files.Sum(f => f.Size);

    /// <summary>
    /// Plans a restore of <paramref name="backup"/>: every segment from its begin WAL on its timeline and later
    /// ones, and every history file of a later timeline. Throws when the archive lacks a segment the backup
    /// needs to become consistent.
    /// </summary>
    /// <param name="archive">Where the WAL is.</param>
    /// <param name="backup">The backup the restore starts from.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <param name="requireBackupRange">Fail when the archive lacks a segment between the backup's begin and end WAL
    /// (true for backups that never carry their own WAL, like Barman's).</param>
    public static async Task<WalRestorePlan> CreateAsync(IWalArchive archive, Backup backup, CancellationToken cancellationToken, bool requireBackupRange = true)
    {
        if (backup.BeginWal is null || !WalFileName.TryParse(backup.BeginWal, out var begin))
            throw new RestoreFailedException($"Backup {backup.Id} does not say which WAL segment it starts at, so its WAL cannot be planned.",
                "The backup's metadata (backup.info or backup_label) is incomplete; take a new backup.");
        var end = backup.EndWal is not null && WalFileName.TryParse(backup.EndWal, out var e) ? e : begin;
        var size = backup.WalSegmentSize;
        var beginSegno = begin.SegmentNumber(size);

        var listed = await archive.ListAsync(begin, cancellationToken).ConfigureAwait(false);
        var segments = new List<(WalFileName Wal, WalArchiveFile File)>();
        var history = new List<WalArchiveFile>();
        foreach (var f in listed)
        {
            if (WalFileName.TryParse(f.Name, out var wal))
            {
                if (wal.Timeline >= begin.Timeline && wal.SegmentNumber(size) >= beginSegno) segments.Add((wal, f));
            }
            else if (WalFileName.IsHistoryFile(f.Name, out var tli) && tli >= begin.Timeline && tli > 1)
            {
                history.Add(f);
            }
        }
        // Several copies of one name (say, gzip and plain after a config change): keep one.
        segments = segments.GroupBy(s => s.Wal).Select(g => g.First()).OrderBy(s => s.Wal).ToList();
        history = history.GroupBy(h => h.Name).Select(g => g.First()).OrderBy(h => h.Name, StringComparer.Ordinal).ToList();

        var onTimeline = segments.Where(s => s.Wal.Timeline == begin.Timeline).Select(s => s.Wal.SegmentNumber(size)).ToHashSet();
        for (var n = beginSegno; requireBackupRange && n <= end.SegmentNumber(size); n++)
        {
            if (!onTimeline.Contains(n))
            {
                var missing = WalFileName.FromSegmentNumber(begin.Timeline, n, size);
                throw new RestoreFailedException(
                    $"The WAL archive {archive.Description} lacks segment {missing}, which backup {backup.Id} needs to become consistent ({backup.BeginWal}..{end}).",
                    "This backup cannot be restored. Check the archiver (pg_stat_archiver.failed_count) and take a new backup.");
            }
        }

        WalFileName? gap = null;
        if (onTimeline.Count > 0)
        {
            var max = onTimeline.Max();
            for (var n = end.SegmentNumber(size) + 1; n < max; n++)
                if (!onTimeline.Contains(n)) { gap = WalFileName.FromSegmentNumber(begin.Timeline, n, size); break; }
        }

        var files = history.Concat(segments.Select(s => s.File)).ToList();
        var newest = segments.Count == 0 ? (WalFileName?)null : segments.Where(s => s.Wal.Timeline == segments.Max(m => m.Wal.Timeline)).Max(s => s.Wal);
        return new WalRestorePlan(files, gap, segments.Count == 0 ? null : segments[^1].Wal, newest);
    }
}
