namespace RestoreOps.Model;

/// <summary>What a destructive transaction did, as its WAL shows it.</summary>
public enum DestructiveOperation
{
    /// <summary>A relation emptied by TRUNCATE: a new file replaced its data and the old file was dropped at commit.</summary>
    Truncate,
    /// <summary>A relation dropped (DROP TABLE): its file was dropped at commit and nothing replaced it.</summary>
    Drop,
    /// <summary>Many rows deleted from one relation in one transaction.</summary>
    Delete,
    /// <summary>Many rows updated in one relation in one transaction.</summary>
    Update,
}

/// <summary>
/// A candidate for "the bad change": one committed transaction that emptied, dropped, or deleted or updated many rows
/// of a relation, found in the archived WAL, with the recovery target that restores to just before it. It carries no
/// row data: only what the WAL's record headers say (which relation, how many rows, when, which transaction).
/// </summary>
/// <example><code>Find-RecoveryPoint -DestinationPath s3://backups/pg -ServerName app-db -From (Get-Date).AddHours(-2) | Select-Object -First 1 | New-RestoreCluster -Local</code></example>
public sealed class RecoveryPoint
{
    /// <summary>When the transaction committed (from its commit record).</summary>
    public required DateTimeOffset CommitTime { get; init; }
    /// <summary>The transaction id.</summary>
    public required ulong Xid { get; init; }
    /// <summary>Where its commit record is.</summary>
    public required string CommitLsn { get; init; }
    /// <summary>The WAL timeline it committed on.</summary>
    public uint Timeline { get; init; } = 1;
    /// <summary>What it did.</summary>
    public required DestructiveOperation Operation { get; init; }
    /// <summary><c>schema.table</c> when it could be resolved (from a database given to resolve names), else null.</summary>
    public string? Relation { get; init; }
    /// <summary>The relation's file as the WAL names it: <c>tablespace/database/relfilenode</c>.</summary>
    public required string RelFileNode { get; init; }
    /// <summary>Rows deleted or updated (null for TRUNCATE and DROP, whose WAL does not count rows).</summary>
    public long? Rows { get; init; }
    /// <summary>The WAL source it was found in.</summary>
    public string? Source { get; init; }
    /// <summary>The recovery target that restores to just before it: this transaction id, exclusive.</summary>
    public RecoveryTarget RecoveryTarget => RecoveryTarget.AtXid(Xid, inclusive: false);
    /// <summary>The same point as a WAL location: its commit record's, exclusive.</summary>
    public RecoveryTarget LsnTarget => RecoveryTarget.AtLsn(CommitLsn, inclusive: false);

    /// <summary>What a person reads in a list: when, what, where, which transaction.</summary>
    public override string ToString() =>
        $"{CommitTime.UtcDateTime:yyyy-MM-dd HH:mm:ss.ffffff}Z xid {Xid} {Operation.ToString().ToUpperInvariant()} {Relation ?? RelFileNode}" +
        (Rows is { } n ? $" ({n} rows)" : "");
}
