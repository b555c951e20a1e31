using System.Diagnostics;
using Npgsql;
using RestoreOps.Model;

namespace RestoreOps.Checks;

/// <summary>Where checks connect and how long a statement may run.</summary>
/// <param name="ConnectionFor">Connection settings for a database of the restored instance.</param>
/// <param name="StatementTimeout">Per-statement limit (<c>statement_timeout</c>).</param>
public sealed record CheckContext(Func<string, NpgsqlConnectionStringBuilder> ConnectionFor, TimeSpan StatementTimeout)
{
    /// <summary>Opens a connection to <paramref name="database"/>.</summary>
    public async Task<NpgsqlConnection> OpenAsync(string database, CancellationToken cancellationToken)
    {
        var c = new NpgsqlConnection(ConnectionFor(database).ConnectionString);
        await c.OpenAsync(cancellationToken).ConfigureAwait(false);
        return c;
    }
}

/// <summary>A verification a restored database must pass.</summary>
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
        catch (Exception e) when (e is NpgsqlException or TimeoutException or IOException or InvalidOperationException or InvalidCastException or FormatException)
        {
            var text = e is PostgresException pg ? $"{pg.SqlState}: {pg.MessageText}" : e.Message;
            return Result(CheckStatus.Error, null, null, $"{Name} could not run in database {Database}: {text}. Fix the check or the database it names.", clock.Elapsed);
        }
    }

    private CheckResult Result(CheckStatus status, string? expected, string? actual, string message, TimeSpan duration) => new()
    {
        Name = Name, Category = Category, Database = Database, Status = status,
        Expected = expected, Actual = actual, Message = message, Duration = duration,
    };

    /// <summary>The check's own logic.</summary>
    protected abstract Task<(CheckStatus Status, string? Expected, string? Actual, string Message)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken);

    /// <summary>Runs a scalar query in a read-only transaction with the context's statement timeout.</summary>
    protected static async Task<object?> ReadScalarAsync(CheckContext context, string database, string sql, CancellationToken cancellationToken)
    {
        await using var c = await context.OpenAsync(database, cancellationToken).ConfigureAwait(false);
        await using var tx = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var setup = new NpgsqlCommand($"set transaction read only; set local statement_timeout = {(long)context.StatementTimeout.TotalMilliseconds}", c, tx))
            await setup.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand(sql, c, tx);
        var value = await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
        return value is DBNull ? null : value;
    }

    /// <summary>Quotes a possibly schema-qualified name (<c>schema.table</c>).</summary>
    protected static string QuoteQualified(string name)
    {
        var b = new NpgsqlCommandBuilder();
        return string.Join('.', name.Split('.').Select(part => b.QuoteIdentifier(part)));
    }
}
