using System.Security.Cryptography;
using Npgsql;
using RestoreOps.Evidence;
using RestoreOps.Local;

namespace RestoreOps.Checks;

/// <summary>
/// Who checks log in as: never a superuser. When the context's connection is a superuser (a local restore: RestoreOps
/// created that instance, so it may add a role to it), the first check creates a role for this run,
/// <c>restoreops_check_&lt;random&gt;</c>, LOGIN with a generated password, NOSUPERUSER, NOCREATEROLE, NOCREATEDB, BYPASSRLS
/// (checks count every row, as the data's owner would), member of <c>pg_read_all_data</c> (read every table, view and
/// sequence) and <c>pg_monitor</c> (statistics and settings), EXECUTE on amcheck's functions, CONNECT on each checked
/// database, <c>default_transaction_read_only = on</c>; checks then log in as that role. Otherwise (CNPG: RestoreOps holds
/// only the non-superuser <c>app</c> secret) checks run as the given role, refused if it holds a server-file or program role.
/// </summary>
/// <remarks>
/// Logging in as the role is the only design the check SQL cannot undo. Verified on PostgreSQL 15: in a superuser's
/// session, <c>SET SESSION AUTHORIZATION</c> is undone by the single statement <c>RESET SESSION AUTHORIZATION</c>, and even
/// by <c>select set_config('session_authorization', 'postgres', false)</c> inside a SELECT, because the authenticated user
/// stays a superuser; <c>SET ROLE</c> is undone by <c>RESET ROLE</c> the same way. A session that logged in as a
/// non-superuser cannot become one: SET ROLE and SET SESSION AUTHORIZATION to a superuser are refused.
/// </remarks>
internal sealed class CheckAccess
{
    internal const string RolePrefix = "restoreops_check_";

    /// <summary>Predefined roles that reach the host: a role holding any of them never runs a check.</summary>
    internal static readonly IReadOnlyList<string> HostRoles = ["pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"];

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, NpgsqlConnectionStringBuilder> _ready = new(StringComparer.Ordinal);
    private readonly string _password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('/', 'x').Replace('+', 'y').TrimEnd('=');

    /// <summary>The role this run created, or null while none was (not yet, or the given connection is no superuser).</summary>
    internal string? CreatedRole { get; private set; }

    /// <summary>Who checks run as in <paramref name="database"/> and what that role may do, for a refused privilege's message.</summary>
    internal string Describe(string database)
    {
        string? user;
        lock (_ready) user = _ready.TryGetValue(database, out var s) ? s.Username : null;
        return user is not null && user == CreatedRole
            ? $"Checks run as {user}, which reads all data and statistics but cannot write, read server files, run programs or take another role's rights (docs/checks.md)"
            : $"Checks run as {user ?? "the connection's role"}, which is not a superuser (docs/checks.md)";
    }

    /// <summary>Settings to log in to <paramref name="database"/> as the checking role; creates the role on first use.</summary>
    /// <exception cref="CheckRefusedException">The given connection may reach the host and no safer role can be made.</exception>
    internal async Task<NpgsqlConnectionStringBuilder> SettingsAsync(CheckContext context, string database, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            lock (_ready)
                if (_ready.TryGetValue(database, out var known)) return Copy(known);
            var given = context.ConnectionFor(database);
            await using var admin = await OpenAsync(given, ct).ConfigureAwait(false);
            var me = await FactsAsync(admin, null, ct).ConfigureAwait(false);
            NpgsqlConnectionStringBuilder settings;
            if (!me.Superuser)
            {
                if (me.HostRole is { } host)
                    throw new CheckRefusedException(
                        $"Checks connect to {database} as {me.Name}, which has the privileges of {host}: a check in that session could run programs on, or read and write files of, the database server.",
                        $"Give the checks a connection whose role does not hold {string.Join(", ", HostRoles)}.");
                settings = Copy(given);
            }
            else
            {
                CreatedRole ??= await CreateRoleAsync(admin, me.Version, ct).ConfigureAwait(false);
                await GrantInDatabaseAsync(admin, database, me.Version, ct).ConfigureAwait(false);
                settings = Copy(given);
                settings.Username = CreatedRole;
                settings.Password = _password;
                // The admin's protective session options set superuser-only parameters, which this role may not send.
                // It needs them less: it is new (no settings of its own), and a restored copy has had the database
                // settings that load code removed before any check runs (LocalRestore's Ready phase).
                settings.Options = "-c local_preload_libraries=";
                // Pooled sessions would outlive the run and keep a role alive that the run drops at its end.
                settings.Pooling = false;
            }
            lock (_ready) _ready[database] = settings;
            return Copy(settings);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Whether the role a read-write check acts as is usable: it exists, is no superuser and cannot reach the host.</summary>
    internal enum ActAs { Ready, Missing }

    /// <summary>
    /// Lets the checking role <c>SET ROLE</c> to <paramref name="role"/> (a superuser grants the membership; a non-superuser
    /// connection needs it already, as before). Refuses a role that is a superuser, can create roles or holds a host role:
    /// acting as it would give the check SQL those powers.
    /// </summary>
    internal async Task<ActAs> PrepareToActAsAsync(CheckContext context, string database, string role, bool grant, CancellationToken ct)
    {
        await SettingsAsync(context, database, ct).ConfigureAwait(false);
        await using var admin = await OpenAsync(context.ConnectionFor(database), ct).ConfigureAwait(false);
        var facts = await FactsAsync(admin, role, ct).ConfigureAwait(false);
        if (!facts.Exists) return ActAs.Missing;
        if (facts.Superuser || facts.CreateRole || facts.HostRole is not null)
            throw new CheckRefusedException(
                $"the check would act as role {role}, which {(facts.Superuser ? "is a superuser" : facts.CreateRole ? "can create roles (CREATEROLE)" : $"has the privileges of {facts.HostRole}")}: the check's SQL would run with powers over the database server.",
                $"Check an application role without SUPERUSER, CREATEROLE and {string.Join(", ", HostRoles)}; an application should not log in as such a role either.");
        if (grant && CreatedRole is { } checker)
        {
            await using var member = new NpgsqlCommand($"grant {Quote(role)} to {Quote(checker)}", admin);
            await member.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        return ActAs.Ready;
    }

    /// <summary>After amcheck was installed by the administrative connection: lets the checking role execute its functions.</summary>
    internal async Task GrantAmcheckAsync(CheckContext context, string database, CancellationToken ct)
    {
        await SettingsAsync(context, database, ct).ConfigureAwait(false);
        if (CreatedRole is null) return;
        await using var admin = await OpenAsync(context.ConnectionFor(database), ct).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand(AmcheckGrants(CreatedRole), admin);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Drops the role this run created, with its grants in every database it was given; best effort (a killed run leaves
    /// it, and it goes with the instance). The next check with the same context creates a new one.
    /// </summary>
    internal async Task RemoveAsync(CheckContext context)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (CreatedRole is not { } role) return;
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            List<string> databases;
            lock (_ready) databases = [.. _ready.Keys];
            try
            {
                foreach (var db in databases)
                {
                    await using var c = await OpenAsync(context.ConnectionFor(db), limit.Token).ConfigureAwait(false);
                    await using var cmd = new NpgsqlCommand($"drop owned by {Quote(role)}", c);
                    await cmd.ExecuteNonQueryAsync(limit.Token).ConfigureAwait(false);
                }
                await using (var c = await OpenAsync(context.ConnectionFor(databases.FirstOrDefault() ?? "postgres"), limit.Token).ConfigureAwait(false))
                await using (var cmd = new NpgsqlCommand($"drop role if exists {Quote(role)}", c))
                    await cmd.ExecuteNonQueryAsync(limit.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException)
            {
                // The checks' results stand; a role left behind cannot log in without its password, which only this run knew.
            }
            CreatedRole = null;
            lock (_ready) _ready.Clear();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<string> CreateRoleAsync(NpgsqlConnection admin, int version, CancellationToken ct)
    {
        var role = RolePrefix + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)).ToLowerInvariant();
        Redactor.RegisterSecret(_password);
        var q = Quote(role);
        // The password is sent as a SCRAM verifier: the clear text never reaches the server or its log.
        // pg_read_all_data exists from PostgreSQL 14; older servers get per-schema grants in GrantInDatabaseAsync.
        var sql = $"""
            create role {q} login nosuperuser nocreatedb nocreaterole noreplication bypassrls inherit password '{ScramVerifier.Create(_password)}';
            alter role {q} set default_transaction_read_only = on;
            grant pg_monitor to {q};
            {(version >= 140000 ? $"grant pg_read_all_data to {q};" : "")}
            """;
        await using var cmd = new NpgsqlCommand(sql, admin);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return role;
    }

    private async Task GrantInDatabaseAsync(NpgsqlConnection admin, string database, int version, CancellationToken ct)
    {
        var role = CreatedRole!;
        var sql = $"grant connect on database {Quote(database)} to {Quote(role)}; {AmcheckGrants(role)}";
        if (version < 140000)
            sql += $"""
                ; do $$ declare s name; begin
                  for s in select nspname from pg_namespace where nspname not like 'pg\_%' and nspname <> 'information_schema' loop
                    execute format('grant usage on schema %I to %I', s, '{role}');
                    execute format('grant select on all tables in schema %I to %I', s, '{role}');
                    execute format('grant select on all sequences in schema %I to %I', s, '{role}');
                  end loop; end $$
                """;
        await using var cmd = new NpgsqlCommand(sql, admin);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    // amcheck revokes its functions from PUBLIC; the role gets EXECUTE on whichever of them this version has.
    private static string AmcheckGrants(string role) => $"""
        do $$ declare f regprocedure; begin
          for f in select d.objid::regprocedure from pg_depend d join pg_extension e on e.oid = d.refobjid
                   where d.classid = 'pg_proc'::regclass and d.refclassid = 'pg_extension'::regclass and e.extname = 'amcheck' loop
            execute format('grant execute on function %s to %I', f, '{role}');
          end loop; end $$
        """;

    private sealed record RoleFacts(bool Exists, string Name, bool Superuser, bool CreateRole, string? HostRole, int Version);

    private static async Task<RoleFacts> FactsAsync(NpgsqlConnection c, string? role, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            select r.rolname::text, r.rolsuper, r.rolcreaterole,
                   (select h from unnest(@host::text[]) h where pg_has_role(r.oid, h, 'USAGE') limit 1),
                   current_setting('server_version_num')::int
            from pg_roles r where r.rolname = coalesce(@role, current_user::text)
            """, c);
        cmd.Parameters.AddWithValue("host", HostRoles.ToArray());
        cmd.Parameters.AddWithValue("role", NpgsqlTypes.NpgsqlDbType.Text, (object?)role ?? DBNull.Value);
        await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
        if (!await r.ReadAsync(ct).ConfigureAwait(false)) return new RoleFacts(false, role ?? "", false, false, null, 0);
        return new RoleFacts(true, r.GetString(0), r.GetBoolean(1), r.GetBoolean(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetInt32(4));
    }

    private static async Task<NpgsqlConnection> OpenAsync(NpgsqlConnectionStringBuilder settings, CancellationToken ct)
    {
        var c = new NpgsqlConnection(settings.ConnectionString);
        try
        {
            await c.OpenAsync(ct).ConfigureAwait(false);
            return c;
        }
        catch
        {
            await c.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static NpgsqlConnectionStringBuilder Copy(NpgsqlConnectionStringBuilder b) => new(b.ConnectionString);

    private static string Quote(string name) => new NpgsqlCommandBuilder().QuoteIdentifier(name);
}

/// <summary>A check refused to run what it was given: more than one statement, a statement a check may not run, or a role with powers over the server.</summary>
internal sealed class CheckRefusedException : Exception
{
    /// <summary>Creates the refusal; <paramref name="fix"/> says what to change.</summary>
    internal CheckRefusedException(string message, string fix) : base(message) => Fix = fix;

    /// <summary>What to change so the check runs.</summary>
    internal string Fix { get; }
}
