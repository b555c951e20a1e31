using System.Globalization;
using System.Text.RegularExpressions;
using RestoreOps.Model;

namespace RestoreOps.Wal;

/// <summary>
/// Reads <c>pg_waldump</c>'s text, record by record, and keeps per transaction only what tells a destructive change:
/// heap deletes and updates per relation file, relation files created, data written into them, and at commit the
/// files dropped. Row contents never pass through here: pg_waldump prints record headers, not tuples.
/// </summary>
internal sealed partial class WalDumpScanner(int minimumRows)
{
    // Relation files below this number are the system catalogs': every DDL statement deletes and updates their rows.
    private const ulong FirstUserFileNode = 16384;

    private readonly Dictionary<ulong, Transaction> _open = [];
    private readonly List<Finding> _found = [];

    /// <summary>One destructive change, before its relation is resolved.</summary>
    public sealed record Finding(ulong Xid, DateTimeOffset CommitTime, string CommitLsn, DestructiveOperation Operation, string RelFileNode, long? Rows);

    private sealed class Transaction
    {
        public readonly Dictionary<string, long> Deleted = new(StringComparer.Ordinal);
        public readonly Dictionary<string, long> Updated = new(StringComparer.Ordinal);
        public readonly HashSet<string> Created = new(StringComparer.Ordinal);
        public long PagesIntoCreated;
    }

    /// <summary>What was found so far, in commit order.</summary>
    public IReadOnlyList<Finding> Found => _found;

    /// <summary>Records read (for the progress line).</summary>
    public long Records { get; private set; }

    /// <summary>Takes one line of pg_waldump output.</summary>
    public void Add(string line)
    {
        var m = Record().Match(line);
        if (!m.Success) return;
        Records++;
        var rmgr = m.Groups["rmgr"].Value;
        var xid = ulong.Parse(m.Groups["xid"].Value, CultureInfo.InvariantCulture);
        var lsn = m.Groups["lsn"].Value;
        var desc = m.Groups["desc"].Value;
        switch (rmgr)
        {
            case "Transaction":
                if (desc.StartsWith("COMMIT ", StringComparison.Ordinal)) Commit(xid, lsn, desc);
                else if (desc.StartsWith("ABORT", StringComparison.Ordinal)) Abort(xid, desc);
                return;
            case "Storage" when xid != 0 && desc.StartsWith("CREATE ", StringComparison.Ordinal):
                if (FileNode(desc["CREATE ".Length..].Trim()) is { } created) Of(xid).Created.Add(created);
                return;
            case "Heap" when xid != 0:
                if (Relation(desc) is not { } rel) return;
                if (desc.StartsWith("DELETE", StringComparison.Ordinal)) Count(Of(xid).Deleted, rel, 1);
                else if (desc.StartsWith("UPDATE", StringComparison.Ordinal) || desc.StartsWith("HOT_UPDATE", StringComparison.Ordinal)) Count(Of(xid).Updated, rel, 1);
                else if (desc.StartsWith("INSERT", StringComparison.Ordinal)) WroteInto(xid, rel);
                return;
            case "Heap2" when xid != 0 && desc.StartsWith("MULTI_INSERT", StringComparison.Ordinal):
            case "XLOG" when xid != 0 && desc.StartsWith("FPI", StringComparison.Ordinal):
                if (Relation(desc) is { } written) WroteInto(xid, written);
                return;
        }
    }

    private Transaction Of(ulong xid)
    {
        if (!_open.TryGetValue(xid, out var t)) _open[xid] = t = new Transaction();
        return t;
    }

    private void WroteInto(ulong xid, string rel)
    {
        if (_open.TryGetValue(xid, out var t) && t.Created.Contains(rel)) t.PagesIntoCreated++;
    }

    private static void Count(Dictionary<string, long> counts, string rel, long n)
    {
        if (!ulong.TryParse(rel[(rel.LastIndexOf('/') + 1)..], CultureInfo.InvariantCulture, out var node) || node < FirstUserFileNode) return;
        counts[rel] = counts.GetValueOrDefault(rel) + n;
    }

    private void Abort(ulong xid, string desc)
    {
        _open.Remove(xid);
        foreach (var sub in SubTransactions(desc)) _open.Remove(sub);
    }

    private void Commit(ulong xid, string lsn, string desc)
    {
        var t = Of(xid);
        // A subtransaction's records carry its own id; the top-level commit lists them.
        foreach (var sub in SubTransactions(desc))
        {
            if (!_open.Remove(sub, out var s)) continue;
            foreach (var (k, v) in s.Deleted) t.Deleted[k] = t.Deleted.GetValueOrDefault(k) + v;
            foreach (var (k, v) in s.Updated) t.Updated[k] = t.Updated.GetValueOrDefault(k) + v;
            t.Created.UnionWith(s.Created);
            t.PagesIntoCreated += s.PagesIntoCreated;
        }
        _open.Remove(xid);
        var time = CommitTime(desc);
        if (time is null) return;

        var dropped = Field(desc, "rels").Select(FileNode).OfType<string>()
            .Where(r => ulong.TryParse(r[(r.LastIndexOf('/') + 1)..], CultureInfo.InvariantCulture, out var n) && n >= FirstUserFileNode)
            .Distinct(StringComparer.Ordinal).ToList();
        if (dropped.Count > 0)
        {
            // New files that received no more than their own first page (an index's metapage) replaced the dropped ones
            // empty: TRUNCATE. A rewrite (VACUUM FULL, CLUSTER, ALTER TABLE … TYPE) fills them and is no data loss.
            var replaced = t.Created.Count > 0;
            var rewritten = replaced && t.PagesIntoCreated > t.Created.Count;
            if (!rewritten)
                foreach (var rel in dropped)
                    _found.Add(new Finding(xid, time.Value, lsn, replaced ? DestructiveOperation.Truncate : DestructiveOperation.Drop, rel, null));
        }
        foreach (var (rel, n) in t.Deleted.Where(d => d.Value >= minimumRows && !dropped.Contains(d.Key)))
            _found.Add(new Finding(xid, time.Value, lsn, DestructiveOperation.Delete, rel, n));
        foreach (var (rel, n) in t.Updated.Where(d => d.Value >= minimumRows && !dropped.Contains(d.Key)))
            _found.Add(new Finding(xid, time.Value, lsn, DestructiveOperation.Update, rel, n));
    }

    private static DateTimeOffset? CommitTime(string desc)
    {
        // "COMMIT 2026-12-02 08:04:43.963304 UTC; rels: …" — pg_waldump runs with TZ=UTC, so the zone is always UTC.
        var m = CommitStamp().Match(desc);
        return m.Success && DateTime.TryParseExact(m.Groups[1].Value, ["yyyy-MM-dd HH:mm:ss.FFFFFF", "yyyy-MM-dd HH:mm:ss"], CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t)
            ? new DateTimeOffset(t, TimeSpan.Zero)
            : null;
    }

    private static IEnumerable<ulong> SubTransactions(string desc) =>
        Field(desc, "subxacts").Select(s => ulong.TryParse(s, CultureInfo.InvariantCulture, out var x) ? x : 0).Where(x => x != 0);

    /// <summary>The space-separated words of one <c>; name: …</c> part of a description.</summary>
    private static IEnumerable<string> Field(string desc, string name)
    {
        foreach (var part in desc.Split(';'))
        {
            var p = part.Trim();
            if (p.StartsWith(name + ":", StringComparison.Ordinal))
                return p[(name.Length + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        }
        return [];
    }

    /// <summary>The first block reference's relation file, <c>spc/db/rel</c>.</summary>
    private static string? Relation(string desc)
    {
        var m = BlockRef().Match(desc);
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>A relation path as a commit or CREATE record prints it, as <c>spc/db/rel</c>: base/D/R, global/R, pg_tblspc/S/PG_…/D/R.</summary>
    internal static string? FileNode(string path)
    {
        var parts = path.Split('/');
        return parts switch
        {
            ["base", var db, var rel] when IsNumber(db) && IsNumber(rel) => $"1663/{db}/{rel}",
            ["global", var rel] when IsNumber(rel) => $"1664/0/{rel}",
            ["pg_tblspc", var spc, _, var db, var rel] when IsNumber(spc) && IsNumber(db) && IsNumber(rel) => $"{spc}/{db}/{rel}",
            _ => null,
        };
        static bool IsNumber(string s) => s.Length > 0 && s.All(char.IsAsciiDigit);
    }

    [GeneratedRegex(@"^rmgr: (?<rmgr>\S+)\s+len \(rec/tot\):\s*\d+/\s*\d+, tx:\s*(?<xid>\d+), lsn: (?<lsn>[0-9A-F]+/[0-9A-F]+), prev [0-9A-F]+/[0-9A-F]+, desc: (?<desc>.*)$")]
    private static partial Regex Record();

    [GeneratedRegex(@"blkref #\d+: rel (\d+/\d+/\d+)")]
    private static partial Regex BlockRef();

    [GeneratedRegex(@"^COMMIT (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC")]
    private static partial Regex CommitStamp();
}
