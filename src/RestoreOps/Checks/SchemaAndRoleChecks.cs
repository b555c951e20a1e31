using System.Globalization;
using Npgsql;
using RestoreOps.Model;

namespace RestoreOps.Checks;

/// <summary>Tables, views, functions and extensions that must exist in the restored database.</summary>
/// <example><code>new SchemaCheck("shop", tables: ["public.orders"], views: [], functions: ["public.order_total"], extensions: ["pgcrypto"])</code></example>
public sealed class SchemaCheck(string database, IReadOnlyList<string> tables, IReadOnlyList<string> views, IReadOnlyList<string> functions,
    IReadOnlyList<string> extensions, string? name = null) : RestoreCheck(name ?? "schema", "schema", database)
{
    /// <summary>Tables (incl. partitioned), optionally schema-qualified; unqualified names resolve through <c>search_path</c>.</summary>
    public IReadOnlyList<string> Tables { get; } = tables;
    /// <summary>Views and materialised views.</summary>
    public IReadOnlyList<string> Views { get; } = views;
    /// <summary>Functions or procedures by name (any signature).</summary>
    public IReadOnlyList<string> Functions { get; } = functions;
    /// <summary>Extension names.</summary>
    public IReadOnlyList<string> Extensions { get; } = extensions;

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: true, cancellationToken).ConfigureAwait(false);
        var missing = new List<string>();
        async Task Relations(IReadOnlyList<string> names, string kinds, string what)
        {
            foreach (var n in names)
            {
                // to_regclass never raises for a missing or malformed name; relkind tells a table from a view.
                var kind = await s.ScalarAsync("select c.relkind::text from pg_class c where c.oid = to_regclass(@n)", cancellationToken, ("n", n)).ConfigureAwait(false) as string;
                if (kind is null || !kinds.Contains(kind, StringComparison.Ordinal)) missing.Add($"{what} {n}");
            }
        }
        await Relations(Tables, "rpf", "table").ConfigureAwait(false);
        await Relations(Views, "vm", "view").ConfigureAwait(false);
        foreach (var f in Functions)
        {
            var parts = f.Split('.', 2);
            var found = await s.ScalarAsync(parts.Length == 2
                ? "select exists(select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = @a and p.proname = @b)"
                : "select exists(select 1 from pg_proc p where p.proname = @b and pg_function_is_visible(p.oid))",
                cancellationToken, ("a", parts[0]), ("b", parts[^1])).ConfigureAwait(false);
            if (found is not true) missing.Add($"function {f}");
        }
        foreach (var e in Extensions)
        {
            var found = await s.ScalarAsync("select exists(select 1 from pg_extension where extname = @e)", cancellationToken, ("e", e)).ConfigureAwait(false);
            if (found is not true) missing.Add($"extension {e}");
        }
        var total = Tables.Count + Views.Count + Functions.Count + Extensions.Count;
        var expected = $"{total} objects present";
        return missing.Count == 0
            ? (CheckStatus.Passed, expected, $"{total} present", $"All {total} required objects exist in {Database}.")
            : (CheckStatus.Failed, expected, $"{missing.Count} missing: {string.Join(", ", missing)}",
                $"{Database} lacks {string.Join(", ", missing)}. The backup predates them, the restore targeted the wrong database or point, or the check file names them wrongly (schema-qualify names; extensions must be installed in the source).");
    }
}

/// <summary>Roles exist and (unless <paramref name="mustLogin"/> is false) can log in: <c>rolcanlogin</c> and an unexpired <c>rolvaliduntil</c>.</summary>
/// <example><code>new RoleCheck("shop", ["app", "reporting"])</code></example>
public sealed class RoleCheck(string database, IReadOnlyList<string> roles, bool mustLogin = true, string? name = null)
    : RestoreCheck(name ?? "roles", "roles", database)
{
    /// <summary>Role names.</summary>
    public IReadOnlyList<string> Roles { get; } = roles;
    /// <summary>Whether each role must be able to log in.</summary>
    public bool MustLogin { get; } = mustLogin;

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: true, cancellationToken).ConfigureAwait(false);
        var problems = new List<string>();
        foreach (var role in Roles)
        {
            var rows = await s.QueryAsync("select rolcanlogin, rolvaliduntil is not null and rolvaliduntil < now() from pg_roles where rolname = @r",
                r => (Login: r.GetBoolean(0), Expired: r.GetBoolean(1)), cancellationToken, ("r", role)).ConfigureAwait(false);
            if (rows.Count == 0) problems.Add($"role {role} does not exist");
            else if (MustLogin && !rows[0].Login) problems.Add($"role {role} cannot log in (NOLOGIN)");
            else if (MustLogin && rows[0].Expired) problems.Add($"role {role}'s password has expired (VALID UNTIL)");
        }
        var expected = MustLogin ? $"{Roles.Count} roles exist and can log in" : $"{Roles.Count} roles exist";
        return problems.Count == 0
            ? (CheckStatus.Passed, expected, "all present", $"Roles {string.Join(", ", Roles)} are present{(MustLogin ? " and can log in" : "")}.")
            : (CheckStatus.Failed, expected, string.Join("; ", problems),
                $"{string.Join("; ", problems)}. Roles are cluster-wide: a dump restore needs pg_dumpall --roles-only first; otherwise fix the role (ALTER ROLE … LOGIN / VALID UNTIL) in the source.");
    }
}

/// <summary>
/// A role holds the privileges an application needs on tables and schemas, and objects have the expected owners.
/// Privileges are evaluated with <c>has_table_privilege</c>/<c>has_schema_privilege</c>, which include grants through role membership and PUBLIC.
/// </summary>
/// <example>
/// <code>
/// new GrantCheck("shop", "app",
///     tables: new Dictionary&lt;string, IReadOnlyList&lt;string&gt;&gt; { ["public.orders"] = ["select", "insert"] },
///     schemas: new Dictionary&lt;string, IReadOnlyList&lt;string&gt;&gt; { ["public"] = ["usage"] },
///     owners: new Dictionary&lt;string, string&gt; { ["public.orders"] = "postgres" })
/// </code>
/// </example>
public sealed class GrantCheck : RestoreCheck
{
    private static readonly HashSet<string> TablePrivileges = new(StringComparer.OrdinalIgnoreCase) { "select", "insert", "update", "delete", "truncate", "references", "trigger" };
    private static readonly HashSet<string> SchemaPrivileges = new(StringComparer.OrdinalIgnoreCase) { "usage", "create" };

    /// <summary>Creates the check; privilege names are validated here so a typo is a configuration error, not a failed drill.</summary>
    public GrantCheck(string database, string role, IReadOnlyDictionary<string, IReadOnlyList<string>> tables,
        IReadOnlyDictionary<string, IReadOnlyList<string>> schemas, IReadOnlyDictionary<string, string> owners, string? name = null)
        : base(name ?? $"grants {role}", "grants", database)
    {
        foreach (var (t, privs) in tables)
            foreach (var p in privs.Where(p => !TablePrivileges.Contains(p)))
                throw new ConfigurationException($"The grants check for {role} names unknown table privilege '{p}' on {t}.", $"Use one of: {string.Join(", ", TablePrivileges)}.");
        foreach (var (n, privs) in schemas)
            foreach (var p in privs.Where(p => !SchemaPrivileges.Contains(p)))
                throw new ConfigurationException($"The grants check for {role} names unknown schema privilege '{p}' on {n}.", "Use usage or create.");
        Role = role;
        Tables = tables;
        Schemas = schemas;
        Owners = owners;
    }

    /// <summary>The application role.</summary>
    public string Role { get; }
    /// <summary>Table → privileges the role needs.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Tables { get; }
    /// <summary>Schema → privileges the role needs.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Schemas { get; }
    /// <summary>Table, view or sequence → owning role.</summary>
    public IReadOnlyDictionary<string, string> Owners { get; }

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: true, cancellationToken).ConfigureAwait(false);
        if (await s.ScalarAsync("select exists(select 1 from pg_roles where rolname = @r)", cancellationToken, ("r", Role)).ConfigureAwait(false) is not true)
            return (CheckStatus.Failed, $"role {Role} exists", "missing", $"Role {Role} does not exist in the restored instance. Restore roles (pg_dumpall --roles-only) before the data, or fix the role name.");
        var missing = new List<string>();
        foreach (var (table, privs) in Tables)
        {
            if (await s.ScalarAsync("select to_regclass(@t) is not null", cancellationToken, ("t", table)).ConfigureAwait(false) is not true)
            {
                missing.Add($"table {table} does not exist");
                continue;
            }
            foreach (var p in privs)
                if (await s.ScalarAsync("select has_table_privilege(@r, to_regclass(@t), @p)", cancellationToken, ("r", Role), ("t", table), ("p", p.ToUpperInvariant())).ConfigureAwait(false) is not true)
                    missing.Add($"{p.ToUpperInvariant()} on {table}");
        }
        foreach (var (schema, privs) in Schemas)
        {
            if (await s.ScalarAsync("select exists(select 1 from pg_namespace where nspname = @n)", cancellationToken, ("n", schema)).ConfigureAwait(false) is not true)
            {
                missing.Add($"schema {schema} does not exist");
                continue;
            }
            foreach (var p in privs)
                if (await s.ScalarAsync("select has_schema_privilege(@r, @n, @p)", cancellationToken, ("r", Role), ("n", schema), ("p", p.ToUpperInvariant())).ConfigureAwait(false) is not true)
                    missing.Add($"{p.ToUpperInvariant()} on schema {schema}");
        }
        var wrongOwners = new List<string>();
        foreach (var (obj, owner) in Owners)
        {
            var actual = await s.ScalarAsync("select pg_get_userbyid(relowner)::text from pg_class where oid = to_regclass(@t)", cancellationToken, ("t", obj)).ConfigureAwait(false) as string;
            if (actual != owner) wrongOwners.Add($"{obj} owned by {actual ?? "(missing object)"}, expected {owner}");
        }
        var count = Tables.Sum(t => t.Value.Count) + Schemas.Sum(t => t.Value.Count);
        var expected = $"{count} privileges, {Owners.Count} owners";
        if (missing.Count == 0 && wrongOwners.Count == 0)
            return (CheckStatus.Passed, expected, "all present", $"{Role} has all {count} required privileges; {Owners.Count} owners as expected.");
        var fixes = new List<string>();
        if (missing.Count > 0) fixes.Add($"{Role} lacks {string.Join(", ", missing)}: GRANT them in the source (a restore with --no-privileges or --no-acl drops grants)");
        if (wrongOwners.Count > 0) fixes.Add($"ownership differs ({string.Join("; ", wrongOwners)}): restore without --no-owner or ALTER … OWNER TO in the source");
        return (CheckStatus.Failed, expected, string.Join("; ", missing.Concat(wrongOwners)), string.Join(". ", fixes) + ".");
    }
}

/// <summary>
/// The application role can read and write: runs <see cref="ReadSql"/> and <see cref="WriteSql"/> as <see cref="Role"/> inside
/// one transaction that is always rolled back. Without <see cref="CheckContext.ConnectionForRole"/> the check logs in as the
/// checking role, which is made a member of <see cref="Role"/> for the run, and uses <c>SET LOCAL ROLE</c>, so privileges,
/// row-level security and defaults apply as for the application. Each statement is exactly one query or INSERT, UPDATE,
/// DELETE or MERGE (see <see cref="CheckSession.UserQueryAsync"/>): nothing can commit. A role that is a superuser, can create
/// roles or holds a server-file or program role is refused: the check's SQL would run with its powers.
/// </summary>
/// <example><code>new ReadWriteCheck("shop", "app", "select id from orders limit 1", "insert into orders(customer_id, batch, amount) values (1, 'drill', 0)")</code></example>
public sealed class ReadWriteCheck : RestoreCheck
{
    /// <summary>Creates the check; at least one statement is required.</summary>
    public ReadWriteCheck(string database, string role, string? readSql, string? writeSql, string? name = null)
        : base(name ?? $"read/write as {role}", "read-write", database)
    {
        if (string.IsNullOrWhiteSpace(readSql) && string.IsNullOrWhiteSpace(writeSql))
            throw new ConfigurationException($"The read-write check for {role} has neither a read nor a write statement.", "Give 'read' (one SELECT) and/or 'write' (one INSERT, UPDATE, DELETE or MERGE; it is rolled back).");
        Role = role;
        ReadSql = readSql;
        WriteSql = writeSql;
    }

    /// <summary>The application role.</summary>
    public string Role { get; }
    /// <summary>A representative query.</summary>
    public string? ReadSql { get; }
    /// <summary>A representative write; rolled back.</summary>
    public string? WriteSql { get; }

    /// <inheritdoc />
    protected override async Task<(CheckStatus, string?, string?, string)> EvaluateAsync(CheckContext context, CancellationToken cancellationToken)
    {
        var asRole = context.ConnectionForRole?.Invoke(Database, Role);
        if (await context.Access.PrepareToActAsAsync(context, Database, Role, grant: asRole is null, cancellationToken).ConfigureAwait(false) == CheckAccess.ActAs.Missing)
            return (CheckStatus.Failed, $"role {Role} exists", "missing", $"Role {Role} does not exist, so the application could not work. Restore the roles (pg_dumpall --roles-only) or fix the role name.");
        await using var s = await CheckSession.OpenAsync(context, Database, readOnly: false, cancellationToken, asRole).ConfigureAwait(false);
        if (asRole is null)
            await s.ExecuteAsync($"set local role {QuoteIdentifier(Role)}", cancellationToken).ConfigureAwait(false);
        const string expected = "read and write succeed (rolled back)";
        string step = "read";
        try
        {
            long read = 0;
            if (!string.IsNullOrWhiteSpace(ReadSql))
            {
                // Counting rows, never keeping them: the result may hold application data.
                await using (var r = await s.UserQueryAsync("read statement", ReadSql, write: false, cancellationToken).ConfigureAwait(false))
                    while (await r.ReadAsync(cancellationToken).ConfigureAwait(false)) read++;
            }
            step = "write";
            var written = string.IsNullOrWhiteSpace(WriteSql) ? 0 : await s.UserExecuteAsync("write statement", WriteSql, write: true, cancellationToken).ConfigureAwait(false);
            var actual = $"read {read} rows, wrote {written} rows";
            return (CheckStatus.Passed, expected, actual, $"As {Role}: {actual}; the write was rolled back.");
        }
        catch (PostgresException e) when (e.SqlState is "42501" or "25006" or "42P01" or "42703" or "23505" or "23503" or "23502" or "23514" or "42883")
        {
            var fix = e.SqlState == "42501"
                ? $"GRANT the missing privilege to {Role} in the source (a restore with --no-privileges drops grants)"
                : e.SqlState == "25006"
                    ? "the restored server is read-only (still in recovery or default_transaction_read_only): promote it"
                    : "the statement does not fit the restored schema or data: fix the statement in the check file, or the schema";
            return (CheckStatus.Failed, expected, $"{step} failed: {e.SqlState}",
                $"As {Role}, the {step} statement failed with {e.SqlState}: {e.MessageText}. Fix: {fix}.");
        }
    }
}

internal static class Text
{
    internal static string Invariant(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        DateTime d => d.ToString("O", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "null",
    };
}
