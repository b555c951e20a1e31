using System.Globalization;
using RestoreOps.Model;

namespace RestoreOps.Backups;

/// <summary>
/// Which backup a restore to a recovery target starts from when the user named none: the newest completed one that
/// ended before the target, as CNPG's own recovery chooses. A backup can only be rolled forward from its end, so a
/// newer one that ended after the target cannot reach it, and an older one only replays more WAL than needed.
/// </summary>
internal static class BackupSelection
{
    /// <summary>The backup to restore for <paramref name="target"/>, and in words why it was chosen.</summary>
    /// <param name="usable">The source's completed backups, in any order.</param>
    /// <param name="target">Where replay is to stop.</param>
    /// <param name="source">The source in the user's words, for messages.</param>
    /// <exception cref="ConfigurationException">No backups, or none ended before the target (the message names the earliest recoverable point).</exception>
    public static (Backup Backup, string Reason) ForTarget(IReadOnlyList<Backup> usable, RecoveryTarget target, string source)
    {
        var newestFirst = usable.OrderByDescending(b => b.EndTime ?? DateTimeOffset.MinValue).ThenByDescending(b => b.Id, StringComparer.Ordinal).ToList();
        if (newestFirst.Count == 0)
            throw new ConfigurationException($"{source} has no completed backup to restore.", "Take a backup first, or check the source's name and location.");
        var newest = newestFirst[0];
        switch (target.Kind)
        {
            case RecoveryTargetKind.Time when target.Time is { } time:
            {
                var chosen = newestFirst.FirstOrDefault(b => b.EndTime is { } end && end <= time);
                if (chosen is null) throw BeforeEverything(newestFirst, $"the target time {Text(time)}", source);
                return (chosen, Why(chosen, newestFirst, $"the target time {Text(time)}", b => b.EndTime is { } e && e > time));
            }
            case RecoveryTargetKind.Lsn when Lsn.TryParse(target.Value, out var lsn):
            {
                bool EndedAfter(Backup b) => b.EndLsn is not null && Lsn.TryParse(b.EndLsn, out var e) && e > lsn;
                // Backups whose end LSN is unknown are not chosen for an LSN target: nothing says they can reach it.
                var chosen = newestFirst.FirstOrDefault(b => b.EndLsn is not null && Lsn.TryParse(b.EndLsn, out var e) && e <= lsn);
                if (chosen is null) throw BeforeEverything(newestFirst, $"the target LSN {target.Value}", source);
                return (chosen, Why(chosen, newestFirst, $"the target LSN {target.Value}", EndedAfter));
            }
            case RecoveryTargetKind.Xid:
                return (newest, $"backup {newest.Id}, the newest: a transaction id cannot be placed in time from the catalogue, so if transaction {target.Value} is older than this backup, name an older backup");
            default:
                return (newest, $"backup {newest.Id}, the newest completed one");
        }
    }

    private static string Why(Backup chosen, IReadOnlyList<Backup> newestFirst, string what, Func<Backup, bool> endedAfter)
    {
        var skipped = newestFirst.TakeWhile(b => !ReferenceEquals(b, chosen)).Count(endedAfter);
        return $"backup {chosen.Id} (ended {Text(chosen.EndTime)}), the newest that ended before {what}" +
            (skipped == 0 ? "" : $"; {skipped} newer backup(s) ended after it and cannot reach it");
    }

    private static ConfigurationException BeforeEverything(IReadOnlyList<Backup> newestFirst, string what, string source)
    {
        var oldest = newestFirst[^1];
        return new ConfigurationException(
            $"No completed backup of {source} ended before {what}. The oldest, {oldest.Id}, ended at {Text(oldest.EndTime)}" +
            (oldest.EndLsn is { } lsn ? $" (LSN {lsn})" : "") + ": that is the earliest point these backups can restore to.",
            "Choose a target after that point, or restore from an older backup kept elsewhere.");
    }

    private static string Text(DateTimeOffset? t) => t?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "(unknown)";
}
