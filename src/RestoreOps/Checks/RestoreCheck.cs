using System.Diagnostics;
using Npgsql;
using RestoreOps.Model;

namespace RestoreOps.Checks;

/// <summary>Where checks connect, how long a statement may run, and the drill facts some checks compare with.</summary>
/// <param name="ConnectionFor">
/// Connection settings for a database of the restored instance (an administrative role). Checks do not run with these
/// settings when they name a superuser: they log in as a non-superuser role made for the run (see docs/checks.md, "What a
/// check can and cannot do").
/// </param>
/// <param name="StatementTimeout">Per-statement limit (<c>statement_timeout</c>).</param>
/// <example>
/// <code>
/// var context = new CheckContext(db => instance.ConnectionString(db), TimeSpan.FromSeconds(30))
/// {
///     RecoveryTarget = options.RecoveryTarget,
///     BackupEndTime = backup.EndTime,
///     EvidenceDirectory = "/var/lib/restoreops/evidence",
/// };
/// </code>
/// </example>
public sealed record CheckContext(Func<string, NpgsqlConnectionStringBuilder> ConnectionFor, TimeSpan StatementTimeout)
{
    /// <summary>
    /// Connection settings to log in to (database, role) as that role. Optional: without it, checks that act as an
    /// application role connect with <see cref="ConnectionFor"/> and <c>SET ROLE</c> inside their transaction, which
    /// needs a superuser or a member of the role, and is what a local restore (passwords unknown) can do.
    /// </summary>
    public Func<string, string, NpgsqlConnectionStringBuilder>? ConnectionForRole { get; init; }

    /// <summary>The recovery target the drill asked for (recovery-point check).</summary>
    public RecoveryTarget? RecoveryTarget { get; init; }

    /// <summary>When the restored backup ended (recovery-point check: data age relative to the backup).</summary>
    public DateTimeOffset? BackupEndTime { get; init; }

    /// <summary>Results of the previous drill of the same source (relative row counts). Wins over <see cref="EvidenceDirectory"/>.</summary>
    public IReadOnlyList<CheckResult>? PreviousResults { get; init; }

    /// <summary>
    /// Folder of earlier drill records (<c>*.json</c>); the newest one of <see cref="Source"/> supplies <see cref="PreviousResults"/>
    /// when that is not set.
    /// </summary>
    public string? EvidenceDirectory { get; init; }

    /// <summary>The drill's source in the user's words (as in <c>DrillRecord.Source</c>); limits <see cref="EvidenceDirectory"/> to records of the same source.</summary>
    public string? Source { get; init; }

    /// <summary>The role checks log in as; shared by copies made with <c>with</c>, so a run creates it once.</summary>
    internal CheckAccess Access { get; init; } = new();

    /// <summary>Opens a connection to <paramref name="database"/> as the checking role (never a superuser).</summary>
    public async Task<NpgsqlConnection> OpenAsync(string database, CancellationToken cancellationToken)
    {
        var c = new NpgsqlConnection((await Access.SettingsAsync(this, database, cancellationToken).ConfigureAwait(false)).ConnectionString);
        try
        {
            await c.OpenAsync(cancellationToken).ConfigureAwait(false);
            return c;
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}

/// <summary>A verification a restored database must pass.</summary>
/// <example>
/// <code>
/// var result = await new RowCountCheck("shop", "public.orders", 1500, 1500).RunAsync(context, ct);
/// if (result.Status != CheckStatus.Passed) Console.WriteLine(result.Message);
/// </code>
/// </example>
public abstract class RestoreCheck
{
    /// <summary>Creates a check.</summary>
    protected RestoreCheck(string name, string category, string database)
    {
        Name = name;
        Category = category;
        Database = database;
    }

    /// <summary>Unique name within a drill.</summary>
    public string Name { get; }
    /// <summary>Kind of check.</summary>
    public string Category { get; }
    /// <summary>Database it runs in.</summary>
    public string Database { get; }
    /// <summary>Longest this check may run; overrides the runner's per-check timeout.</summary>
    public TimeSpan? Timeout { get => _timeout; init => _timeout = value; }
    private TimeSpan? _timeout;
    internal void SetTimeout(TimeSpan timeout) => _timeout = timeout;

    /// <summary>Runs the check; never throws for a failing database, only returns Failed or Error.</summary>
    public async Task<CheckResult> RunAsync(CheckContext context, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var (status, expected, actual, message) = await EvaluateAsync(context, cancellationToken).ConfigureAwait(false);
            return Result(status, expected, actual, message, clock.Elapsed);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (CheckRefusedException e)
        {
            return Result(CheckStatus.Error, null, null, $"{Name} could not run in database {Database}: {e.Message} {e.Fix}", clock.Elapsed);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or InvalidOperationException or InvalidCastException or FormatException or OverflowException)
        {
            var text = e switch
            {
                // A data exception's text can quote a value of the row it choked on (invalid input syntax for type integer: "…").
                PostgresException pg when pg.SqlState.StartsWith("22", StringComparison.Ordinal) => $"{pg.SqlState} (a data exception; its text is withheld because it can quote row data)",
                PostgresException pg => $"{pg.SqlState}: {pg.MessageText}",
                _ => e.Message,
            };
            var fix = e switch
            {
                PostgresException { SqlState: "57014" } => "A statement hit statement_timeout: raise statementTimeout in the check file or narrow the check.",
                PostgresException { SqlState: "42501" } =>
                    $"{context.Access.Describe(Database)}: change the query, or grant the privilege in the source if the application needs it.",
                PostgresException pg when pg.SqlState.StartsWith("22", StringComparison.Ordinal) => "Run the query on the restored copy to see the value it failed on, then fix the query or the data.",
                _ => "Fix the check or the database it names.",
            };
            return Result(CheckStatus.Error, null, null, $"{Name} could not run in database {Database}: {text}. {fix}", clock.Elapsed);
        }
    }

    internal CheckResult Result(CheckStatus status, string? expected, string? actual, string message, TimeSpan duration) => new()
    {
        Name = Name, Category = Category, Database = Database, Status = status,
        Expected = expected, Actual = actual, Message = message, Duration = duration,
    };

    /// <summary>The check's own logic.</summary>
    protected abstract Task<(CheckStatus Status, string? Expected, string? Actual, string Message)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken);

    /// <summary>Runs a scalar query in a read-only transaction with the context's statement timeout.</summary>
    protected static async Task<object?> ReadScalarAsync(CheckContext context, string database, string sql, CancellationToken cancellationToken)
    {
        await using var s = await CheckSession.OpenAsync(context, database, readOnly: true, cancellationToken).ConfigureAwait(false);
        return await s.ScalarAsync(sql, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Quotes a possibly schema-qualified name (<c>schema.table</c>); parts already in double quotes (<c>"__EFMigrationsHistory"</c>,
    /// <c>"my.schema".t</c>) are taken as the names they quote. The result is always quoted identifiers, never SQL from the check file.
    /// </summary>
    protected static string QuoteQualified(string name)
    {
        var parts = new List<string>();
        var part = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < name.Length && name[i + 1] == '"') { part.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else part.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == '.') { parts.Add(part.ToString()); part.Clear(); }
            else part.Append(c);
        }
        parts.Add(part.ToString());
        return string.Join('.', parts.Select(QuoteIdentifier));
    }

    /// <summary>Quotes one identifier.</summary>
    protected static string QuoteIdentifier(string name) => new NpgsqlCommandBuilder().QuoteIdentifier(name);
}

/// <summary>
/// One connection and one transaction that is always rolled back: a check never changes the restored database,
/// even when it writes to prove that writing works.
/// </summary>
public sealed class CheckSession : IAsyncDisposable
{
    private CheckSession(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        Connection = connection;
        Transaction = transaction;
    }

    /// <summary>The open connection.</summary>
    public NpgsqlConnection Connection { get; }
    /// <summary>The transaction every command runs in.</summary>
    public NpgsqlTransaction Transaction { get; }

    /// <summary>
    /// Opens a session as the checking role (never a superuser, see <see cref="CheckContext.ConnectionFor"/>), or with
    /// <paramref name="settings"/> when given; <paramref name="readOnly"/> makes the server refuse any write the check did not mean to make.
    /// </summary>
    /// <example><code>await using var s = await CheckSession.OpenAsync(context, "shop", readOnly: true, ct);</code></example>
    public static async Task<CheckSession> OpenAsync(CheckContext context, string database, bool readOnly, CancellationToken cancellationToken,
        NpgsqlConnectionStringBuilder? settings = null)
    {
        var c = new NpgsqlConnection((settings ?? await context.Access.SettingsAsync(context, database, cancellationToken).ConfigureAwait(false)).ConnectionString);
        try
        {
            await c.OpenAsync(cancellationToken).ConfigureAwait(false);
            var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var ms = Math.Max(1, (long)context.StatementTimeout.TotalMilliseconds);
            // Read write is stated, not assumed: the checking role's sessions default to read-only transactions.
            await using (var setup = new NpgsqlCommand(
                $"set transaction {(readOnly ? "read only" : "read write")}; set local statement_timeout = {ms}; set local lock_timeout = {ms}", c, tx))
                await setup.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return new CheckSession(c, tx);
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A command bound to this session's transaction.</summary>
    public NpgsqlCommand Command(string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = new NpgsqlCommand(sql, Connection, Transaction);
        foreach (var (n, v) in parameters) cmd.Parameters.AddWithValue(n, v ?? DBNull.Value);
        return cmd;
    }

    /// <summary>First column of the first row, <c>null</c> for no row or SQL NULL.</summary>
    public async Task<object?> ScalarAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var cmd = Command(sql, parameters);
        var v = await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return v is DBNull ? null : v;
    }

    /// <summary>Maps every row.</summary>
    public async Task<List<T>> QueryAsync<T>(string sql, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var cmd = Command(sql, parameters);
        await using var r = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<T>();
        while (await r.ReadAsync(cancellationToken).ConfigureAwait(false)) rows.Add(map(r));
        return rows;
    }

    /// <summary>Runs a statement.</summary>
    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var cmd = Command(sql, parameters);
        return await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private int _prepared;

    /// <summary>
    /// Runs SQL from a check file as exactly one statement and returns its rows. <paramref name="write"/> allows
    /// INSERT, UPDATE, DELETE and MERGE besides queries; nothing else runs: no second statement, no transaction control,
    /// DO block, COPY, SET/RESET or DDL.
    /// </summary>
    /// <remarks>
    /// The server decides, not a parser of ours: the text goes to PostgreSQL as <c>PREPARE … AS &lt;sql&gt;</c> in one
    /// <see cref="NpgsqlBatchCommand"/> without parameters, which Npgsql sends unparsed as a single Parse message (verified
    /// with Npgsql 10: <c>select 1; commit</c> comes back as 42601 "cannot insert multiple commands into a prepared
    /// statement"). PREPARE accepts only SELECT, VALUES, TABLE, WITH, INSERT, UPDATE, DELETE and MERGE, so COMMIT, DO, COPY,
    /// SET ROLE or CREATE are syntax errors before anything runs; semicolons and keywords inside strings, quoted names and
    /// comments are the server's own business, and a trailing semicolon is an empty statement it ignores.
    /// </remarks>
    /// <exception cref="CheckRefusedException">The SQL is not one statement of an allowed kind.</exception>
    internal async Task<NpgsqlDataReader> UserQueryAsync(string what, string sql, bool write, CancellationToken cancellationToken)
    {
        var name = $"restoreops_user_{++_prepared}";
        await PrepareUserSqlAsync(name, what, sql, write, cancellationToken).ConfigureAwait(false);
        await using var cmd = Command($"execute {name}");
        return await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs SQL from a check file as exactly one statement (see <see cref="UserQueryAsync"/>) and returns the rows it changed.</summary>
    internal async Task<int> UserExecuteAsync(string what, string sql, bool write, CancellationToken cancellationToken)
    {
        var name = $"restoreops_user_{++_prepared}";
        await PrepareUserSqlAsync(name, what, sql, write, cancellationToken).ConfigureAwait(false);
        await using var cmd = Command($"execute {name}");
        return await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task PrepareUserSqlAsync(string name, string what, string sql, bool write, CancellationToken cancellationToken)
    {
        var allowed = write ? "SELECT, VALUES, TABLE, WITH, INSERT, UPDATE, DELETE or MERGE" : "SELECT, VALUES, TABLE or WITH";
        var keyword = UserSql.FirstKeyword(sql);
        if (keyword is null)
            throw new CheckRefusedException($"its {what} holds no statement.", $"Write one {allowed} statement.");
        await using var batch = new NpgsqlBatch(Connection, Transaction) { BatchCommands = { new NpgsqlBatchCommand($"prepare {name} as {sql}") } };
        try
        {
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e) when (e.SqlState == "42601")
        {
            if (e.MessageText.Contains("multiple commands", StringComparison.Ordinal))
                throw new CheckRefusedException($"its {what} holds more than one SQL statement; a check runs exactly one.",
                    $"Keep one {allowed} statement (a trailing ';' is fine); split the rest into checks of their own.");
            if (UserSql.IsRefusedCommand(keyword, write))
                throw new CheckRefusedException($"its {what} is a {keyword.ToUpperInvariant()} statement; a check runs only one {allowed} statement.",
                    "Transaction control, DO blocks, COPY, SET/RESET, DDL and other commands are refused: rewrite it as a query.");
            throw new CheckRefusedException($"its {what} is not valid SQL: {e.MessageText}{(e.Position > 0 ? $" at character {e.Position - $"prepare {name} as ".Length}" : "")}.",
                $"Fix the SQL; it must be one {allowed} statement.");
        }
    }

    /// <summary>Rolls back and closes.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Connection.State == System.Data.ConnectionState.Open)
                await Transaction.RollbackAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // A broken connection has no transaction left to roll back; closing it is all that remains.
        }
        await Transaction.DisposeAsync().ConfigureAwait(false);
        await Connection.DisposeAsync().ConfigureAwait(false);
    }
}
