using System.Buffers.Binary;
using System.Globalization;
using Npgsql;
using RestoreOps.Model;
using RestoreOps.Processes;
using RestoreOps.Wal;

namespace RestoreOps.Automation;

/// <summary>
/// Where to look for the bad change: a WAL archive (a Barman Cloud server, or a local directory of segments), a time
/// window, how many rows make a DELETE or UPDATE worth listing, and optionally a database to name relations by.
/// </summary>
/// <example>
/// <code>
/// var points = await engine.FindRecoveryPointsAsync(new RecoveryPointQuery
/// {
///     DestinationPath = "s3://backups/pg", ServerName = "app-db",
///     From = DateTimeOffset.UtcNow.AddHours(-2),
/// }, progress, ct);
/// </code>
/// </example>
public sealed class RecoveryPointQuery
{
    /// <summary>Barman Cloud destination path (with <see cref="ServerName"/>); or leave it null and give <see cref="WalDirectory"/>.</summary>
    public string? DestinationPath { get; init; }
    /// <summary>Barman server name.</summary>
    public string? ServerName { get; init; }
    /// <summary>Object-store access for the Barman source (resolved from the environment when null).</summary>
    public ObjectStoreOptions? ObjectStore { get; init; }
    /// <summary>A local WAL archive directory (what <c>archive_command</c> copies into).</summary>
    public string? WalDirectory { get; init; }
    /// <summary>Start of the window; null: 24 hours before <see cref="To"/>.</summary>
    public DateTimeOffset? From { get; init; }
    /// <summary>End of the window; null: when the newest segment was archived.</summary>
    public DateTimeOffset? To { get; init; }
    /// <summary>Rows one transaction must delete or update in one relation to be listed.</summary>
    public int MinimumRows { get; init; } = 1000;
    /// <summary>
    /// A PostgreSQL connection string whose catalogue names the relations (the source database if it is still there, or
    /// a target restored to before the change: dropped and truncated relations resolve only there). Null: relations
    /// are listed by file.
    /// </summary>
    public string? ResolveConnectionString { get; init; }
    /// <summary>The PostgreSQL binaries whose <c>pg_waldump</c> reads the WAL (default: the one matching the WAL's version).</summary>
    public string? PostgresBinDirectory { get; init; }
    /// <summary>
    /// How far the archive's clock (it stamps when each segment arrived) may be from the database's (it stamps commits):
    /// segments are chosen by arrival with this much to spare on both sides. Default 10 seconds.
    /// </summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>Finds destructive transactions in archived WAL: fetches only the window's segments and reads them with pg_waldump.</summary>
internal static class RecoveryPointSearch
{
    public static async Task<IReadOnlyList<RecoveryPoint>> FindAsync(RecoveryPointQuery query, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        if (query.MinimumRows < 1)
            throw new ConfigurationException($"{InputKey.MinimumRows.Ref()} must be at least 1 (was {query.MinimumRows}).", $"Pass {InputKey.MinimumRows.Ref()} 1 or more.", parameter: InputKey.MinimumRows);
        if (query.From is { } f && query.To is { } t && f > t)
            throw new ConfigurationException($"The window starts ({f:u}) after it ends ({t:u}).", $"Give {InputKey.From.Ref()} before {InputKey.To.Ref()}.", parameter: InputKey.From);
        IWalArchive archive;
        string source;
        if (query.WalDirectory is { } dir)
        {
            if (query.DestinationPath is not null)
                throw new ConfigurationException("Both a Barman destination path and a WAL directory were given.", $"Give {InputKey.DestinationPath.Ref()} or {InputKey.WalArchive.Ref()}, not both.");
            if (!Directory.Exists(dir))
                throw new ConfigurationException($"The WAL archive directory '{dir}' does not exist.", $"Pass {InputKey.WalArchive.Ref()} with the folder archive_command copies WAL into.", parameter: InputKey.WalArchive);
            archive = new DirectoryWalArchive(dir);
            source = dir;
        }
        else if (query.DestinationPath is { } dest)
        {
            var server = query.ServerName ?? throw new ConfigurationException($"{InputKey.DestinationPath.Ref()} {dest} needs {InputKey.ServerName.Ref()}.",
                $"Pass {InputKey.ServerName.Ref()} (the folder under the path).", parameter: InputKey.ServerName);
            var options = (query.ObjectStore ?? new ObjectStoreOptions()).Resolve();
            Evidence.Redactor.RegisterSecrets(options);
            archive = BarmanCloudWalArchive.Create(dest, server, options);
            source = $"{dest.TrimEnd('/')}/{server}";
        }
        else
        {
            throw new ConfigurationException("No WAL source was given.", $"Pass {InputKey.DestinationPath.Ref()} and {InputKey.ServerName.Ref()}, or {InputKey.WalArchive.Ref()}.");
        }

        var work = Directory.CreateTempSubdirectory("restoreops-waldump-").FullName;
        try
        {
            progress?.Report(new DrillProgress(DrillPhase.Discover, $"Listing WAL in {archive.Description}"));
            var listed = (await archive.ListAsync(new WalFileName(1, 0, 0), ct).ConfigureAwait(false))
                .Where(x => WalFileName.TryParse(x.Name, out _)).Select(x => (Wal: WalFileName.Parse(x.Name), File: x))
                .GroupBy(x => x.Wal).Select(g => g.First()).OrderBy(x => x.Wal.Timeline).ThenBy(x => x.Wal).ToList();
            if (listed.Count == 0)
                throw new ConfigurationException($"{archive.Description} holds no WAL segments.", "Check the path (and server name): it must be where the WAL is archived.");
            var to = query.To ?? listed.Max(x => x.File.Archived) ?? DateTimeOffset.UtcNow;
            var from = query.From ?? to - TimeSpan.FromHours(24);
            // A segment archived before the window holds nothing committed in it. The first one archived after the window
            // ends still can (it was being written when the window ended); later ones cannot.
            var chosen = new List<(WalFileName Wal, WalArchiveFile File)>();
            foreach (var tl in listed.GroupBy(x => x.Wal.Timeline))
            {
                var afterEnd = false;
                foreach (var x in tl)
                {
                    var at = x.File.Archived;
                    // Stamps may be whole seconds: a segment stamped a second before the window may have arrived in it.
                    if (at is { } a && a + TimeSpan.FromSeconds(1) + query.ClockSkew <= from) continue;
                    if (afterEnd) break;
                    chosen.Add(x);
                    if (at is { } b && b > to + query.ClockSkew) afterEnd = true;
                }
            }
            if (chosen.Count == 0) return [];

            progress?.Report(new DrillProgress(DrillPhase.Download, $"Fetching {chosen.Count} of {listed.Count} WAL segments (the window {from:u} to {to:u})"));
            foreach (var (wal, file) in chosen)
            {
                await using var input = await archive.OpenAsync(file, ct).ConfigureAwait(false);
                await using var output = File.Create(Path.Combine(work, wal.ToString()));
                await input.CopyToAsync(output, ct).ConfigureAwait(false);
            }
            SegmentsFetchedForTests = chosen.Count;

            var (major, segmentSize) = ReadHeader(Path.Combine(work, chosen[0].Wal.ToString()));
            var binaries = await PostgresBinaries.FindAsync(major, query.PostgresBinDirectory, ct).ConfigureAwait(false);
            var scanner = new WalDumpScanner(query.MinimumRows);
            // pg_waldump reads a contiguous run of segments on one timeline; a gap (or a timeline switch) starts another run.
            foreach (var run in Runs(chosen.Select(c => c.Wal), segmentSize))
            {
                progress?.Report(new DrillProgress(DrillPhase.Download, $"Reading {run.First}..{run.Last} with pg_waldump"));
                await DumpAsync(binaries, work, run.First, run.Last, scanner, ct).ConfigureAwait(false);
            }

            var findings = scanner.Found.Where(x => x.CommitTime >= from && x.CommitTime <= to).ToList();
            var names = query.ResolveConnectionString is { } cs ? await ResolveAsync(cs, findings.Select(x => x.RelFileNode).Distinct(), ct).ConfigureAwait(false) : null;
            var points = new List<RecoveryPoint>();
            var timeline = chosen.Max(c => c.Wal.Timeline);
            // Without a name the table cannot be told from its indexes: the transaction's lowest file stands for it (created first).
            static WalDumpScanner.Finding Lowest(IEnumerable<WalDumpScanner.Finding> group) =>
                group.MinBy(x => ulong.Parse(x.RelFileNode[(x.RelFileNode.LastIndexOf('/') + 1)..], CultureInfo.InvariantCulture))!;
            foreach (var group in findings.GroupBy(x => (x.Xid, x.Operation)))
            {
                if (names is not null)
                {
                    // Indexes and TOAST files go with their table: only tables are listed once names are known.
                    foreach (var x in group.Where(x => names.TryGetValue(x.RelFileNode, out var n) && n.IsTable))
                        points.Add(Point(x, names[x.RelFileNode].Name, source, timeline));
                    if (!group.Any(x => names.ContainsKey(x.RelFileNode)))
                        points.Add(Point(Lowest(group), null, source, timeline));
                }
                else
                {
                    points.Add(Point(Lowest(group), null, source, timeline));
                }
            }
            return points.OrderByDescending(p => p.CommitTime).ThenByDescending(p => p.Xid).ToList();
        }
        finally
        {
            (archive as IDisposable)?.Dispose();
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Test seam: segments the last search fetched.</summary>
    internal static int SegmentsFetchedForTests { get; private set; }

    private static RecoveryPoint Point(WalDumpScanner.Finding x, string? relation, string source, uint timeline) => new()
    {
        CommitTime = x.CommitTime,
        Xid = x.Xid,
        CommitLsn = x.CommitLsn,
        Operation = x.Operation,
        RelFileNode = x.RelFileNode,
        Relation = relation,
        Rows = x.Rows,
        Source = source,
        Timeline = timeline,
    };

    private static IEnumerable<(WalFileName First, WalFileName Last)> Runs(IEnumerable<WalFileName> segments, long segmentSize)
    {
        WalFileName? first = null, last = null;
        foreach (var s in segments)
        {
            if (last is { } l && (s.Timeline != l.Timeline || s.SegmentNumber(segmentSize) != l.SegmentNumber(segmentSize) + 1))
            {
                yield return (first!.Value, l);
                first = null;
            }
            first ??= s;
            last = s;
        }
        if (first is { } f && last is { } e) yield return (f, e);
    }

    /// <summary>
    /// What a segment's first (long) page header says: the PostgreSQL major version that wrote it (from the page magic;
    /// null when unknown) and the segment size (xlp_seg_size; 16 MiB when it does not say).
    /// </summary>
    private static (int? Major, long SegmentSize) ReadHeader(string segment)
    {
        const long DefaultSize = 16 * 1024 * 1024;
        Span<byte> head = stackalloc byte[40];
        int read;
        using (var s = File.OpenRead(segment)) read = s.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        int? major = read < 2 ? null : BinaryPrimitives.ReadUInt16LittleEndian(head) switch
        {
            0xD106 => 13,
            0xD10D => 14,
            0xD110 => 15,
            0xD113 => 16,
            0xD116 => 17,
            _ => null,
        };
        var size = read < head.Length ? 0 : BinaryPrimitives.ReadUInt32LittleEndian(head[32..]);
        return (major, size >= 1024 * 1024 && (size & (size - 1)) == 0 ? size : DefaultSize);
    }

    private static async Task DumpAsync(PostgresBinaries binaries, string directory, WalFileName first, WalFileName last, WalDumpScanner scanner, CancellationToken ct)
    {
        // TZ=UTC: commit times are printed in the process's zone, and the scanner reads them as UTC.
        var psi = CommandRunner.CreateStartInfo(binaries.Tool("pg_waldump"), ["--path", directory, first.ToString(), last.ToString()], null,
            new Dictionary<string, string?> { ["TZ"] = "UTC", ["LC_ALL"] = "C" });
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        using var process = CommandRunner.Start(psi, "pg_waldump");
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            while (await process.StandardOutput.ReadLineAsync(ct).ConfigureAwait(false) is { } line) scanner.Add(line);
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            CommandRunner.KillQuietly(process);
            throw;
        }
        var error = await stderr.ConfigureAwait(false);
        // The last segment ends mid-record more often than not: pg_waldump says so and exits 1 after printing everything.
        if (process.ExitCode != 0 && !error.Contains("invalid record length", StringComparison.Ordinal) && !error.Contains("could not find a valid record", StringComparison.Ordinal)
            && !error.Contains("error in WAL record", StringComparison.Ordinal))
            throw new InfrastructureException($"pg_waldump could not read {first}..{last}: {error.Trim()}",
                $"Check that {binaries.Tool("pg_waldump")} matches the WAL's PostgreSQL version ({InputKey.PostgresBinDirectory.Ref()}).");
    }

    /// <summary>schema.table for each relation file, from the given database's catalogue (each file's own database).</summary>
    private static async Task<Dictionary<string, (string Name, bool IsTable)>> ResolveAsync(string connectionString, IEnumerable<string> fileNodes, CancellationToken ct)
    {
        var result = new Dictionary<string, (string, bool)>(StringComparer.Ordinal);
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        Evidence.Redactor.RegisterSecret(builder.Password);
        var byDatabase = fileNodes.Select(n => n.Split('/')).Where(p => p.Length == 3).GroupBy(p => p[1]);
        Dictionary<string, string> databases;
        await using (var c = new NpgsqlConnection(builder.ConnectionString))
        {
            await c.OpenAsync(ct).ConfigureAwait(false);
            databases = new Dictionary<string, string>(StringComparer.Ordinal);
            await using var cmd = new NpgsqlCommand("select oid::text, datname from pg_database", c);
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false)) databases[r.GetString(0)] = r.GetString(1);
        }
        foreach (var db in byDatabase)
        {
            if (!databases.TryGetValue(db.Key, out var datname)) continue;
            var per = new NpgsqlConnectionStringBuilder(builder.ConnectionString) { Database = datname };
            await using var c = new NpgsqlConnection(per.ConnectionString);
            await c.OpenAsync(ct).ConfigureAwait(false);
            foreach (var p in db)
            {
                // pg_default is 0 to pg_filenode_relation; the files of mapped catalogs and of other tablespaces pass as they are.
                await using var cmd = new NpgsqlCommand("""
                    select n.nspname || '.' || c.relname, c.relkind in ('r', 'p', 'm')
                    from pg_class c join pg_namespace n on n.oid = c.relnamespace
                    where c.oid = pg_filenode_relation($1, $2)
                    """, c);
                cmd.Parameters.AddWithValue(p[0] == "1663" ? 0u : uint.Parse(p[0], CultureInfo.InvariantCulture));
                cmd.Parameters.AddWithValue(uint.Parse(p[2], CultureInfo.InvariantCulture));
                cmd.Parameters[0].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid;
                cmd.Parameters[1].NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Oid;
                await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                if (await r.ReadAsync(ct).ConfigureAwait(false)) result[string.Join('/', p)] = (r.GetString(0), r.GetBoolean(1));
            }
        }
        return result;
    }
}
