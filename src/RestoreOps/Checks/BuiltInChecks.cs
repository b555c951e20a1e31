using System.Diagnostics;
using System.Globalization;
using Npgsql;
using RestoreOps.Model;

namespace RestoreOps.Checks;

/// <summary>The restored server accepts a session; reports version, recovery state and timeline. Retries until a deadline.</summary>
/// <example><code>new ConnectivityCheck("postgres", TimeSpan.FromSeconds(30))</code></example>
public sealed class ConnectivityCheck(string database, TimeSpan deadline, string? name = null) : RestoreCheck(name ?? "connectivity", "connectivity", database)
{
    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                await using var c = await context.OpenAsync(Database, cancellationToken).ConfigureAwait(false);
                await using var cmd = new NpgsqlCommand(
                    "select current_setting('server_version'), pg_is_in_recovery(), case when not pg_is_in_recovery() then substring(pg_walfile_name(pg_current_wal_lsn()), 1, 8) end", c);
                await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await r.ReadAsync(cancellationToken).ConfigureAwait(false);
                var version = r.GetString(0);
                if (r.GetBoolean(1))
                    return (CheckStatus.Failed, "promoted (not in recovery)", "in recovery",
                        $"PostgreSQL {version} accepts sessions but is still in recovery; a restore must end promoted. Check the recovery target and the server log.");
                var timeline = int.Parse(r.GetString(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                return (CheckStatus.Passed, "accepts sessions, promoted", $"PostgreSQL {version}, timeline {timeline}",
                    $"Connected to {Database}: PostgreSQL {version}, promoted, timeline {timeline}.");
            }
            catch (NpgsqlException e) when (clock.Elapsed < deadline && e is not PostgresException { SqlState: "3D000" })
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
            catch (PostgresException e) when (e.SqlState == "3D000")
            {
                return (CheckStatus.Failed, $"database {Database} exists", "missing",
                    $"The restored instance has no database '{Database}'. Name a database the backup contains.");
            }
        }
    }
}

/// <summary>
/// A table's row count is exactly, or within bounds of, what is expected, and/or has not dropped by more than a
/// percentage since the previous drill (read from <see cref="CheckContext.PreviousResults"/>, matched by check name and database).
/// </summary>
/// <example><code>new RowCountCheck("shop", "public.orders", 11000, null, maxDropPercent: 5)</code></example>
public sealed class RowCountCheck : RestoreCheck
{
    /// <summary>Creates the check; at least one bound or <paramref name="maxDropPercent"/> is required.</summary>
    public RowCountCheck(string database, string table, long? minimum, long? maximum, string? name = null, double? maxDropPercent = null)
        : base(name ?? $"rows {table}", "row-count", database)
    {
        if (minimum is null && maximum is null && maxDropPercent is null)
            throw new ConfigurationException($"The row-count check on {table} has neither a minimum, a maximum nor maxDropPercent.", "Give an exact count (N), bounds (MIN..MAX) or maxDropPercent.");
        if (minimum > maximum)
            throw new ConfigurationException($"The row-count check on {table} has minimum {minimum} above maximum {maximum}.", "Swap the bounds.");
        if (maxDropPercent is < 0 or > 100)
            throw new ConfigurationException($"The row-count check on {table} has maxDropPercent {maxDropPercent}; it must be between 0 and 100.", "Give a percentage such as 5.");
        Table = table;
        Minimum = minimum;
        Maximum = maximum;
        MaxDropPercent = maxDropPercent;
    }

    /// <summary>Table, optionally schema-qualified.</summary>
    public string Table { get; }
    /// <summary>Lowest acceptable count.</summary>
    public long? Minimum { get; }
    /// <summary>Highest acceptable count.</summary>
    public long? Maximum { get; }
    /// <summary>Largest acceptable drop, in percent, relative to the previous drill's count.</summary>
    public double? MaxDropPercent { get; }

    private string Expectation => (Minimum, Maximum) switch
    {
        ({ } a, { } b) when a == b => $"exactly {a}",
        ({ } a, { } b) => $"between {a} and {b}",
        ({ } a, null) => $"at least {a}",
        (null, { } b) => $"at most {b}",
        _ => "any",
    };

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        var count = Convert.ToInt64(await ReadScalarAsync(context, Database, $"select count(*) from {QuoteQualified(Table)}", cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
        var actual = count.ToString(CultureInfo.InvariantCulture);
        var expectations = new List<string>();
        var problems = new List<string>();
        if (Minimum is not null || Maximum is not null)
        {
            expectations.Add(Expectation);
            if (!((Minimum is null || count >= Minimum) && (Maximum is null || count <= Maximum)))
                problems.Add($"{Table} has {count} rows, expected {Expectation}. Either data was lost before the backup or recovery point, or the expectation is stale: compare with the source and update it.");
        }
        string? skippedRelative = null;
        if (MaxDropPercent is { } pct)
        {
            var previous = context.PreviousResults?.FirstOrDefault(r => r.Name == Name && r.Database == Database
                && long.TryParse(r.Actual, NumberStyles.Integer, CultureInfo.InvariantCulture, out _));
            if (previous is null)
                skippedRelative = $"no previous drill evidence has a count for '{Name}' in {Database}, so the drop limit of {pct.ToString(CultureInfo.InvariantCulture)}% was not applied (set the evidence directory to compare)";
            else
            {
                var before = long.Parse(previous.Actual!, CultureInfo.InvariantCulture);
                var floor = (long)Math.Ceiling(before * (1 - pct / 100.0));
                expectations.Add($"at least {floor} (previous {before} - {pct.ToString(CultureInfo.InvariantCulture)}%)");
                if (count < floor)
                {
                    var drop = before == 0 ? 0 : 100.0 * (before - count) / before;
                    problems.Add($"{Table} dropped from {before} rows in the previous drill to {count} ({drop.ToString("0.##", CultureInfo.InvariantCulture)}%, more than the allowed {pct.ToString(CultureInfo.InvariantCulture)}%). Find out whether the source lost data or the backup is incomplete; if the drop is intended, raise maxDropPercent once.");
                }
            }
        }
        var expected = expectations.Count == 0 ? "any (relative limit not applied)" : string.Join("; ", expectations);
        if (problems.Count > 0) return (CheckStatus.Failed, expected, actual, string.Join(" ", problems));
        if (expectations.Count == 0) return (CheckStatus.Skipped, expected, actual, $"{Table} has {count} rows; {skippedRelative}.");
        return (CheckStatus.Passed, expected, actual, $"{Table} has {count} rows ({expected}){(skippedRelative is null ? "" : "; " + skippedRelative)}.");
    }
}

/// <summary>
/// A query's single value equals the expected text. The query is one statement in a read-only transaction (see
/// <see cref="CheckSession.UserQueryAsync"/>). Numbers, booleans and NULL are recorded as they are; any other value (text,
/// dates, ids: possibly row data or a secret) is recorded in <c>Expected</c>, <c>Actual</c> and the message only as
/// <c>sha256:…</c> unless <see cref="ShowValue"/> is set. An expected value written as <c>sha256:…</c> matches a value with that hash.
/// </summary>
/// <example><code>new SqlScalarCheck("no orphans", "shop", "select count(*) from orders o left join customers c on c.id = o.customer_id where c.id is null", "0")</code></example>
public sealed class SqlScalarCheck(string name, string database, string sql, string expected, bool showValue = false) : RestoreCheck(name, "sql", database)
{
    /// <summary>The query.</summary>
    public string Sql { get; } = sql;
    /// <summary>Expected value, compared as text (<c>null</c> for SQL NULL), or <c>sha256:</c> and the hash of that text.</summary>
    public string Expected { get; } = expected;
    /// <summary>Record a text value as it is instead of its hash (the check file's <c>showValue: true</c>).</summary>
    public bool ShowValue { get; } = showValue;

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: true, cancellationToken).ConfigureAwait(false);
        object? value = null;
        await using (var r = await s.UserQueryAsync("query", Sql, write: false, cancellationToken).ConfigureAwait(false))
            if (await r.ReadAsync(cancellationToken).ConfigureAwait(false) && r.FieldCount > 0 && !await r.IsDBNullAsync(0, cancellationToken).ConfigureAwait(false))
                value = r.GetValue(0);
        var text = value switch
        {
            null => "null",
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "null",
        };
        var expectsHash = UserSql.IsHash(Expected);
        var matches = expectsHash ? string.Equals(UserSql.Hash(text), Expected, StringComparison.OrdinalIgnoreCase) : text == Expected;
        var show = ShowValue || UserSql.IsPlain(value);
        var actual = show ? text : UserSql.Hash(text);
        var expected = show || expectsHash ? Expected : UserSql.Hash(Expected);
        var hidden = show ? "" : " (a value that is not a number or boolean is recorded as its SHA-256; set showValue: true to record it as it is)";
        return matches
            ? (CheckStatus.Passed, expected, actual, $"{Name}: got {actual} as expected{hidden}.")
            : (CheckStatus.Failed, expected, actual, $"{Name}: expected {expected} but the restored database returned {actual}{hidden}. Check the data or update the expectation.");
    }
}
