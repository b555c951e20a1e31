using System.Globalization;
using System.Text.RegularExpressions;
using RestoreOps.Model;

namespace RestoreOps.Checks;

/// <summary>Migration tools whose history tables the migrations check reads.</summary>
public enum MigrationTool
{
    /// <summary><c>flyway_schema_history(version, success)</c>.</summary>
    Flyway,
    /// <summary><c>databasechangelog(id, orderexecuted)</c>: changeset ids, matched exactly.</summary>
    Liquibase,
    /// <summary><c>alembic_version(version_num)</c>: the current head revision, matched exactly.</summary>
    Alembic,
    /// <summary><c>"__EFMigrationsHistory"("MigrationId")</c>: ids start with a timestamp.</summary>
    EfCore,
    /// <summary><c>schema_migrations(version)</c> without a <c>dirty</c> column.</summary>
    Rails,
    /// <summary><c>schema_migrations(version bigint, dirty)</c>.</summary>
    GolangMigrate,
    /// <summary><c>django_migrations(app, name)</c> for one app.</summary>
    Django,
}

/// <summary>
/// The schema's applied migration version is at least the expected one. Versions made of numbers (Flyway, EF Core, Rails,
/// golang-migrate, Django) compare numerically part by part (<c>1.10</c> &gt; <c>1.9</c>); Alembic revisions and Liquibase
/// changeset ids only pass when the expected id is applied.
/// </summary>
/// <example><code>new MigrationCheck("shop", MigrationTool.Flyway, table: null, minimum: "1.4", app: null)</code></example>
public sealed class MigrationCheck : RestoreCheck
{
    /// <summary>Creates the check; <paramref name="tool"/> null means detect it from the tables present.</summary>
    public MigrationCheck(string database, MigrationTool? tool, string? table, string minimum, string? app, string? name = null)
        : base(name ?? "migrations", "migrations", database)
    {
        if (tool == MigrationTool.Django && string.IsNullOrEmpty(app))
            throw new ConfigurationException("The migrations check for Django needs the app whose migrations to compare.", "Add 'app: <django app label>'.");
        Tool = tool;
        Table = table;
        Minimum = minimum;
        App = app;
    }

    /// <summary>The tool, or null to auto-detect.</summary>
    public MigrationTool? Tool { get; }
    /// <summary>History table when not the tool's default.</summary>
    public string? Table { get; }
    /// <summary>Lowest acceptable applied version (or the exact revision for Alembic/Liquibase).</summary>
    public string Minimum { get; }
    /// <summary>Django app label.</summary>
    public string? App { get; }

    internal static string DefaultTable(MigrationTool tool) => tool switch
    {
        MigrationTool.Flyway => "flyway_schema_history",
        MigrationTool.Liquibase => "databasechangelog",
        MigrationTool.Alembic => "alembic_version",
        MigrationTool.EfCore => "\"__EFMigrationsHistory\"",
        MigrationTool.Django => "django_migrations",
        _ => "schema_migrations",
    };

    private static bool Ordered(MigrationTool tool) => tool is not (MigrationTool.Alembic or MigrationTool.Liquibase);

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: true, cancellationToken).ConfigureAwait(false);
        async Task<bool> Exists(string t) => await s.ScalarAsync("select to_regclass(@t) is not null", cancellationToken, ("t", t)).ConfigureAwait(false) is true;
        async Task<bool> HasDirty(string t) => await s.ScalarAsync(
            "select exists(select 1 from pg_attribute where attrelid = to_regclass(@t) and attname = 'dirty' and not attisdropped)", cancellationToken, ("t", t)).ConfigureAwait(false) is true;

        var tool = Tool;
        if (tool is null)
        {
            var found = new List<MigrationTool>();
            foreach (var candidate in new[] { MigrationTool.Flyway, MigrationTool.Liquibase, MigrationTool.Alembic, MigrationTool.EfCore, MigrationTool.Django, MigrationTool.Rails })
                if (await Exists(Table ?? DefaultTable(candidate)).ConfigureAwait(false))
                    found.Add(candidate == MigrationTool.Rails && await HasDirty(Table ?? DefaultTable(candidate)).ConfigureAwait(false) ? MigrationTool.GolangMigrate : candidate);
            if (found.Count != 1)
                return (CheckStatus.Failed, $"one migration history at version ≥ {Minimum}", found.Count == 0 ? "no migration table" : $"several: {string.Join(", ", found)}",
                    found.Count == 0
                        ? $"No migration history table (Flyway, Liquibase, Alembic, EF Core, Rails, golang-migrate, Django) is visible in {Database}. The schema was not migrated by a known tool, the restore lost it, or it lives outside search_path: name 'tool' and a schema-qualified 'table'."
                        : $"{Database} has migration tables of {string.Join(" and ", found)}. Name the one the application uses with 'tool'.");
            tool = found[0];
        }
        var table = Table ?? DefaultTable(tool.Value);
        if (!await Exists(table).ConfigureAwait(false))
            return (CheckStatus.Failed, $"{tool} history at version ≥ {Minimum}", "table missing",
                $"The {tool} history table {table} does not exist in {Database}: the restore lost the schema history or the check names the wrong table or schema.");
        var t = QuoteQualified(table);
        string sql = tool switch
        {
            MigrationTool.Flyway => $"select version, success from {t} where version is not null",
            MigrationTool.Liquibase => $"select id, true from {t} order by orderexecuted",
            MigrationTool.Alembic => $"select version_num, true from {t}",
            MigrationTool.EfCore => $"select \"MigrationId\", true from {t}",
            MigrationTool.Django => $"select name, true from {t} where app = @app",
            MigrationTool.GolangMigrate => $"select version::text, not dirty from {t}",
            _ => $"select version::text, true from {t}",
        };
        var rows = await s.QueryAsync(sql, r => (Version: r.GetString(0), Ok: r.GetBoolean(1)), cancellationToken,
            tool == MigrationTool.Django ? [("app", App)] : []).ConfigureAwait(false);
        var failed = rows.Where(r => !r.Ok).Select(r => r.Version).ToList();
        var expected = Ordered(tool.Value) ? $"{tool} version ≥ {Minimum}" : $"{tool} revision {Minimum} applied";
        if (rows.Count == 0)
            return (CheckStatus.Failed, expected, "no migrations applied", $"The {tool} history in {Database} is empty{(App is null ? "" : $" for app {App}")}: the schema was never migrated or the restore lost the rows.");
        var current = Ordered(tool.Value) ? rows.Select(r => r.Version).MaxBy(VersionKey, VersionComparer.Instance)! : rows[^1].Version;
        if (failed.Count > 0)
            return (CheckStatus.Failed, expected, $"{current}; failed or dirty: {string.Join(", ", failed)}",
                $"{tool} records a failed or dirty migration ({string.Join(", ", failed)}) in {Database}: the backup caught a broken migration. Repair the history in the source (flyway repair / migrate force) and take a new backup.");
        var ok = rows.Any(r => r.Version == Minimum) || (Ordered(tool.Value) && VersionComparer.Instance.Compare(VersionKey(current), VersionKey(Minimum)) >= 0);
        return ok
            ? (CheckStatus.Passed, expected, current, $"{tool} history in {Database} is at {current} ({expected}).")
            : (CheckStatus.Failed, expected, current,
                $"{tool} history in {Database} is at {current}, expected {(Ordered(tool.Value) ? "at least " : "")}{Minimum}. The backup or recovery point predates migration {Minimum}: restore a newer backup or later point, or update the expectation after a rollback.");
    }

    private static List<string> VersionKey(string version) => Regex.Matches(version.Split('_', 2)[0] is { Length: > 0 } head && char.IsDigit(head[0]) ? head : version, @"\d+")
        .Select(m => m.Value.TrimStart('0')).ToList();

    private sealed class VersionComparer : IComparer<List<string>>
    {
        internal static readonly VersionComparer Instance = new();

        public int Compare(List<string>? x, List<string>? y)
        {
            for (var i = 0; i < Math.Max(x!.Count, y!.Count); i++)
            {
                var a = i < x.Count ? x[i] : "";
                var b = i < y.Count ? y[i] : "";
                // Digit strings without leading zeros compare numerically by length first, with no overflow for timestamps.
                var c = a.Length != b.Length ? a.Length.CompareTo(b.Length) : string.CompareOrdinal(a, b);
                if (c != 0) return c;
            }
            return 0;
        }
    }
}

/// <summary>
/// Named business records exist, and optionally their content matches a SHA-256 hash computed on the source. The hash is
/// computed by the server over <c>row(columns)::text</c> with fixed output settings (UTC, ISO dates), so row contents
/// never leave the database: results name keys and hashes only. <see cref="HashQuery"/> gives the query to run on the source.
/// </summary>
/// <example><code>new KeyRecordCheck("shop", "public.customers", "id", ["1", "42"], ["name"], new Dictionary&lt;string, string&gt; { ["42"] = "9f86d0…" })</code></example>
public sealed class KeyRecordCheck : RestoreCheck
{
    /// <summary>Creates the check.</summary>
    public KeyRecordCheck(string database, string table, string keyColumn, IReadOnlyList<string> keys, IReadOnlyList<string> columns,
        IReadOnlyDictionary<string, string> hashes, string? name = null)
        : base(name ?? $"key records {table}", "key-records", database)
    {
        if (keys.Count == 0 && hashes.Count == 0)
            throw new ConfigurationException($"The key-records check on {table} names no keys.", "List the keys under 'keys' or 'hashes'.");
        if (hashes.Count > 0 && columns.Count == 0)
            throw new ConfigurationException($"The key-records check on {table} has hashes but no columns to hash.", "List the hashed columns under 'columns', in the order used on the source.");
        Table = table;
        KeyColumn = keyColumn;
        Keys = keys.Concat(hashes.Keys).Distinct(StringComparer.Ordinal).ToList();
        Columns = columns;
        Hashes = hashes;
    }

    /// <summary>The table.</summary>
    public string Table { get; }
    /// <summary>The key column, compared as text.</summary>
    public string KeyColumn { get; }
    /// <summary>Keys that must exist.</summary>
    public IReadOnlyList<string> Keys { get; }
    /// <summary>Columns whose content is hashed.</summary>
    public IReadOnlyList<string> Columns { get; }
    /// <summary>Key → expected lower-case hex SHA-256.</summary>
    public IReadOnlyDictionary<string, string> Hashes { get; }

    /// <summary>Output settings the hash depends on; run them in the same transaction before <see cref="HashQuery"/>.</summary>
    public const string HashSettings = "set local timezone = 'UTC'; set local datestyle = 'ISO, MDY'; set local intervalstyle = 'postgres'; set local extra_float_digits = 1; set local bytea_output = 'hex'";

    /// <summary>The SQL that computes key and hash for the keys bound to <paramref name="keysParameter"/> (a text array); run it on the source after <see cref="HashSettings"/> (same output formats) to fill <c>hashes</c>.</summary>
    public static string HashQuery(string table, string keyColumn, IReadOnlyList<string> columns, string keysParameter = "@keys")
    {
        var cols = string.Join(", ", columns.Select(QuoteIdentifier));
        var hash = columns.Count == 0 ? "null::text" : $"encode(sha256(convert_to(row({cols})::text, 'UTF8')), 'hex')";
        return $"select {QuoteIdentifier(keyColumn)}::text, {hash} from {QuoteQualified(table)} where {QuoteIdentifier(keyColumn)}::text = any({keysParameter})";
    }

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: true, cancellationToken).ConfigureAwait(false);
        await s.ExecuteAsync(HashSettings, cancellationToken).ConfigureAwait(false);
        var found = (await s.QueryAsync(HashQuery(Table, KeyColumn, Columns), r => (Key: r.GetString(0), Hash: r.IsDBNull(1) ? null : r.GetString(1)),
            cancellationToken, ("keys", Keys.ToArray())).ConfigureAwait(false)).GroupBy(r => r.Key).ToDictionary(g => g.Key, g => g.First().Hash);
        var missing = Keys.Where(k => !found.ContainsKey(k)).ToList();
        var mismatched = Hashes.Where(h => found.TryGetValue(h.Key, out var got) && !string.Equals(got, h.Value, StringComparison.OrdinalIgnoreCase))
            .Select(h => $"{h.Key} (expected {h.Value}, got {found[h.Key]})").ToList();
        var expected = Hashes.Count > 0 ? $"{Keys.Count} keys present, {Hashes.Count} hashes match" : $"{Keys.Count} keys present";
        if (missing.Count == 0 && mismatched.Count == 0)
        {
            // Hashes of a check without expectations are reported so they can be copied into the check file.
            var actual = Columns.Count > 0 && Hashes.Count == 0
                ? string.Join(", ", Keys.Select(k => $"{k}={found[k]}"))
                : $"{Keys.Count} keys present";
            return (CheckStatus.Passed, expected, actual, $"All {Keys.Count} key records of {Table} are present{(Hashes.Count > 0 ? " with the expected content hashes" : "")}.");
        }
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add($"missing keys {string.Join(", ", missing)}");
        if (mismatched.Count > 0) parts.Add($"content differs for keys {string.Join(", ", mismatched)}");
        return (CheckStatus.Failed, expected, string.Join("; ", parts),
            $"{Table} in {Database}: {string.Join("; ", parts)}. The restore lost or changed business records (or the recovery point is before they were written, or the source changed them since the hashes were taken: recompute with KeyRecordCheck.HashQuery on the source).");
    }
}

/// <summary>
/// The achieved recovery point: the newest commit the restored data contains, from a timestamp column or from commit timestamps
/// (<c>track_commit_timestamp</c>). Compared with the recovery target (no data after it; optionally no more than
/// <see cref="MaxGapToTarget"/> before it) and with the backup's end, and optionally bounded by <see cref="MaxDataAge"/> (the promised RPO).
/// <see cref="CheckResult.Actual"/> holds the instant in ISO 8601; see <see cref="TryGetAchievedRecoveryPoint"/>.
/// </summary>
/// <example><code>new RecoveryPointCheck("shop", "public.orders", "created_at", useCommitTimestamps: false, maxDataAge: TimeSpan.FromHours(1), maxGapToTarget: null)</code></example>
public sealed class RecoveryPointCheck : RestoreCheck
{
    /// <summary>Category of this check, for finding its result.</summary>
    public const string CategoryName = "recovery-point";

    /// <summary>Creates the check; a column or <paramref name="useCommitTimestamps"/> is required.</summary>
    public RecoveryPointCheck(string database, string table, string? column, bool useCommitTimestamps, TimeSpan? maxDataAge, TimeSpan? maxGapToTarget, string? name = null)
        : base(name ?? "recovery point", CategoryName, database)
    {
        if (column is null == !useCommitTimestamps)
            throw new ConfigurationException($"The recovery-point check on {table} needs exactly one of 'column' (a timestamp column) and 'commitTimestamps: true'.", "Name the column that records when a row was written.");
        Table = table;
        Column = column;
        UseCommitTimestamps = useCommitTimestamps;
        MaxDataAge = maxDataAge;
        MaxGapToTarget = maxGapToTarget;
    }

    /// <summary>Table that receives the newest writes.</summary>
    public string Table { get; }
    /// <summary>Timestamp column (timestamptz, or timestamp in UTC).</summary>
    public string? Column { get; }
    /// <summary>Use <c>pg_xact_commit_timestamp(xmin)</c> instead of a column.</summary>
    public bool UseCommitTimestamps { get; }
    /// <summary>Largest acceptable age of the newest data at check time.</summary>
    public TimeSpan? MaxDataAge { get; }
    /// <summary>Largest acceptable gap between the newest data and a time recovery target.</summary>
    public TimeSpan? MaxGapToTarget { get; }

    /// <summary>Reads the achieved recovery point from this check's result.</summary>
    public static bool TryGetAchievedRecoveryPoint(CheckResult result, out DateTimeOffset instant)
    {
        instant = default;
        return result.Category == CategoryName && result.Actual is { } a
            && DateTimeOffset.TryParse(a, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out instant);
    }

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: true, cancellationToken).ConfigureAwait(false);
        if (UseCommitTimestamps && await s.ScalarAsync("select current_setting('track_commit_timestamp')::bool", cancellationToken).ConfigureAwait(false) is not true)
            return (CheckStatus.Failed, "commit timestamps", "track_commit_timestamp = off",
                $"Commit timestamps are off in {Database}'s server. Enable track_commit_timestamp in the source, or name a timestamp 'column' instead.");
        await s.ExecuteAsync("set local timezone = 'UTC'", cancellationToken).ConfigureAwait(false);
        var expr = UseCommitTimestamps ? "pg_xact_commit_timestamp(xmin)" : $"{QuoteIdentifier(Column!)}::timestamptz";
        var value = await s.ScalarAsync($"select max({expr}) from {QuoteQualified(Table)}", cancellationToken).ConfigureAwait(false);
        if (value is not DateTime newestRaw)
            return (CheckStatus.Failed, "a newest commit", "none",
                $"{Table} in {Database} has no rows with a {(UseCommitTimestamps ? "commit timestamp" : Column)}: name the table that receives the application's newest writes.");
        var newest = new DateTimeOffset(DateTime.SpecifyKind(newestRaw, DateTimeKind.Utc));
        var now = DateTimeOffset.UtcNow;
        var facts = new List<string> { $"newest data {newest:O}", $"data age {Describe(now - newest)}" };
        var problems = new List<string>();
        var expectations = new List<string>();
        if (context.RecoveryTarget?.Time is { } target)
        {
            var gap = target - newest;
            facts.Add($"{Describe(gap)} before the recovery target {target:O}");
            expectations.Add($"not after {target:O}");
            if (newest > target)
                problems.Add($"the data contains writes from {Describe(newest - target)} after the recovery target: replay went past it. Check recovery_target_time/inclusive and the server's time zone");
            else if (MaxGapToTarget is { } maxGap)
            {
                expectations.Add($"within {Describe(maxGap)} of the target");
                if (gap > maxGap)
                    problems.Add($"the newest data is {Describe(gap)} older than the recovery target (allowed {Describe(maxGap)}): WAL between them is missing from the archive, or the table had no writes then. Check the archive for gaps");
            }
        }
        if (context.BackupEndTime is { } end)
            facts.Add(newest >= end ? $"{Describe(newest - end)} of writes replayed after the backup ended" : $"newest data {Describe(end - newest)} before the backup ended");
        if (MaxDataAge is { } maxAge)
        {
            expectations.Add($"data age ≤ {Describe(maxAge)}");
            if (now - newest > maxAge)
                problems.Add($"the newest data is {Describe(now - newest)} old, more than the promised {Describe(maxAge)}: backups or WAL archiving are behind. Check the archiver (pg_stat_archiver) and the backup schedule");
        }
        var expected = expectations.Count == 0 ? "a newest commit" : string.Join("; ", expectations);
        var iso = newest.ToString("O", CultureInfo.InvariantCulture);
        return problems.Count == 0
            ? (CheckStatus.Passed, expected, iso, $"Achieved recovery point of {Database}: {string.Join("; ", facts)}.")
            : (CheckStatus.Failed, expected, iso, $"In {Database}, {string.Join("; ", problems)}. ({string.Join("; ", facts)}.)");
    }

    private static string Describe(TimeSpan t) => t.TotalSeconds < 120
        ? $"{t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s"
        : t.ToString(@"d\.hh\:mm\:ss", CultureInfo.InvariantCulture);
}

/// <summary>
/// A custom query returns no rows (e.g. "orders without customer") or at least <see cref="MinimumRows"/> rows. Rows are counted,
/// never reported. The query is one statement in a read-only transaction (see <see cref="CheckSession.UserQueryAsync"/>).
/// </summary>
/// <example><code>new SqlRowsCheck("no negative totals", "shop", "select 1 from orders where amount &lt; 0", minimumRows: null)</code></example>
public sealed class SqlRowsCheck(string name, string database, string sql, long? minimumRows) : RestoreCheck(name, "sql", database)
{
    /// <summary>The query.</summary>
    public string Sql { get; } = sql;
    /// <summary>Null: the query must return no rows; otherwise at least this many.</summary>
    public long? MinimumRows { get; } = minimumRows;

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: true, cancellationToken).ConfigureAwait(false);
        // Counting at most what decides the outcome keeps a broad query cheap.
        var cap = MinimumRows is { } m ? m : 1000;
        await using var r = await s.UserQueryAsync("query", Sql, write: false, cancellationToken).ConfigureAwait(false);
        long n = 0;
        while (n < cap && await r.ReadAsync(cancellationToken).ConfigureAwait(false)) n++;
        var more = n == cap && MinimumRows is null && await r.ReadAsync(cancellationToken).ConfigureAwait(false);
        var actual = $"{n}{(more ? "+" : "")} rows";
        if (MinimumRows is null)
            return n == 0
                ? (CheckStatus.Passed, "no rows", actual, $"{Name}: the query returned no rows, as expected.")
                : (CheckStatus.Failed, "no rows", actual, $"{Name}: the query returned {actual} in {Database}, expected none. Run it on the restored copy to see them, then fix the data in the source (or the query).");
        return n >= MinimumRows
            ? (CheckStatus.Passed, $"at least {MinimumRows} rows", actual, $"{Name}: the query returned at least {MinimumRows} rows.")
            : (CheckStatus.Failed, $"at least {MinimumRows} rows", actual, $"{Name}: the query returned only {n} rows in {Database}, expected at least {MinimumRows}. Data is missing from the restore (or the recovery point is too early), or the expectation is stale.");
    }
}
