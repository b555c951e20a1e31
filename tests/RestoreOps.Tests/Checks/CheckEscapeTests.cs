using RestoreOps.Checks;
using RestoreOps.Cli;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Checks;

/// <summary>
/// SQL from a check file tries to write, to leave its transaction, to become a superuser or to reach the host, against a
/// real PostgreSQL 15. Every attempt must end as a check Error and leave the data and the host untouched. Each escape runs
/// in a clone, so a regression damages only that clone.
/// </summary>
[Collection("checks-db")]
public sealed class CheckEscapeTests(ChecksDatabase db)
{
    private Task<CheckResult> Run(RestoreCheck check, CheckContext? context = null) => check.RunAsync(context ?? db.Context(), CancellationToken.None);

    private static void AssertError(CheckResult r, params string[] messageParts)
    {
        Assert.True(r.Status == CheckStatus.Error, $"expected Error, got {r.Status}: {r.Message} (actual: {r.Actual})");
        Assert.Contains(r.Name, r.Message);
        foreach (var part in messageParts) Assert.Contains(part, r.Message);
    }

    private async Task AssertOrdersIntact(string database) =>
        Assert.Equal((long)ChecksDatabase.Orders, await db.ScalarAsync(database, "select count(*) from orders"));

    /// <summary>A path the server's account can write to; deleted afterwards whatever happened.</summary>
    private static string HostFile(string what) => Path.Combine(Path.GetTempPath(), $"restoreops-escape-{what}-{Guid.NewGuid():N}");

    [Fact]
    public async Task A_second_statement_after_commit_is_refused_and_the_table_survives()
    {
        var clone = await db.CloneAsync();
        var scalar = await Run(new SqlScalarCheck("sneaky commit", clone, "select 1; commit; drop table orders", "1"));
        AssertError(scalar, "more than one SQL statement");
        var rows = await Run(new SqlRowsCheck("sneaky rows", clone, "select 1 from orders;\ncommit;\ndelete from orders", null));
        AssertError(rows, "more than one SQL statement");
        // --expect-sql builds the same check.
        var cli = await Run(CliApp.ParseSqlCheck(clone, "select 1; commit; truncate orders cascade => 1", 1));
        AssertError(cli, "more than one SQL statement");
        await AssertOrdersIntact(clone);
    }

    [Fact]
    public async Task One_statement_with_semicolons_in_strings_and_comments_and_a_trailing_semicolon_runs()
    {
        var r = await Run(new SqlScalarCheck("semicolons", ChecksDatabase.Database,
            "/* a; comment */ select count(*) from orders where batch <> 'a;b' -- trailing; comment\n;", ChecksDatabase.Orders.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.True(r.Status == CheckStatus.Passed, r.Message);
    }

    [Fact]
    public async Task Copy_to_program_creates_no_file()
    {
        var clone = await db.CloneAsync();
        var file = HostFile("copy");
        try
        {
            var r = await Run(new SqlRowsCheck("copy out", clone, $"copy (select 1) to program 'touch {file}'", null));
            AssertError(r, "COPY statement");
            Assert.False(File.Exists(file), $"COPY … TO PROGRAM ran on the server: {file} exists");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_do_block_is_refused_and_its_program_never_runs()
    {
        var clone = await db.CloneAsync();
        var file = HostFile("do");
        try
        {
            var r = await Run(new SqlRowsCheck("do block", clone, $"do $$ begin execute 'copy (select 1) to program ''touch {file}'''; end $$", null));
            AssertError(r, "DO statement");
            Assert.False(File.Exists(file), $"the DO block ran a program on the server: {file} exists");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Pg_read_file_is_denied()
    {
        var r = await Run(new SqlScalarCheck("read passwd", ChecksDatabase.Database, "select pg_read_file('/etc/passwd')", "x"));
        AssertError(r, "42501", "permission denied for function pg_read_file", CheckAccess.RolePrefix);
        Assert.Null(r.Actual);
    }

    [Fact]
    public async Task Lo_export_writes_no_file()
    {
        var clone = await db.CloneAsync("select lo_from_bytea(4242, 'secret')");
        var file = HostFile("lo");
        try
        {
            var r = await Run(new SqlScalarCheck("lo export", clone, $"select lo_export(4242, '{file}')", "1"));
            AssertError(r, "42501", "lo_export");
            Assert.False(File.Exists(file), $"lo_export wrote {file} on the server");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_check_is_not_a_superuser_and_cannot_become_one()
    {
        var me = await Run(new SqlScalarCheck("who", ChecksDatabase.Database, "select rolsuper from pg_roles where rolname = current_user", "false"));
        Assert.True(me.Status == CheckStatus.Passed, me.Message);

        AssertError(await Run(new SqlRowsCheck("reset session authorization", ChecksDatabase.Database, "reset session authorization", null)), "RESET statement");
        AssertError(await Run(new SqlRowsCheck("set role", ChecksDatabase.Database, "set role postgres", null)), "SET statement");
        AssertError(await Run(new SqlRowsCheck("set session authorization", ChecksDatabase.Database, "set session authorization postgres", null)), "SET statement");
        // The same inside one SELECT: set_config is a function, so only the session's own rights can stop it.
        AssertError(await Run(new SqlScalarCheck("set_config role", ChecksDatabase.Database,
            "select set_config('role', 'postgres', false)", "postgres")), "42501");
        AssertError(await Run(new SqlScalarCheck("set_config session authorization", ChecksDatabase.Database,
            "select set_config('session_authorization', 'postgres', false)", "postgres")), "42501");
    }

    [Fact]
    public async Task Read_write_cannot_take_a_superusers_rights()
    {
        var clone = await db.CloneAsync();
        // The read statement tries to switch to the superuser; the write is one app_user may not make.
        var r = await Run(new ReadWriteCheck(clone, ChecksDatabase.AppRole, "select set_config('role', 'postgres', true)", "update orders set amount = 0"));
        Assert.NotEqual(CheckStatus.Passed, r.Status);
        Assert.Contains("42501", r.Actual + r.Message);
        await AssertOrdersIntact(clone);

        var commit = await Run(new ReadWriteCheck(clone, ChecksDatabase.AppRole, "select 1; commit", "insert into orders(customer_id, batch, amount) values (1, 'escaped', 0)"));
        AssertError(commit, "more than one SQL statement");
        var create = await Run(new ReadWriteCheck(clone, ChecksDatabase.AppRole, null, "create table escaped(i int)"));
        AssertError(create, "CREATE statement");
        Assert.Equal(0L, await db.ScalarAsync(clone, "select count(*) from orders where batch = 'escaped'"));
        Assert.Equal(true, await db.ScalarAsync(clone, "select to_regclass('escaped') is null"));
    }

    [Fact]
    public async Task Read_write_refuses_to_act_as_a_superuser_role()
    {
        await db.ExecAsync("postgres", "do $$ begin if not exists (select 1 from pg_roles where rolname = 'super_app') then create role super_app superuser login; end if; end $$");
        var r = await Run(new ReadWriteCheck(ChecksDatabase.Database, "super_app", "select 1", null));
        AssertError(r, "super_app", "is a superuser");
    }

    [Fact]
    public async Task Create_table_is_refused_as_a_statement_a_check_may_not_run()
    {
        var clone = await db.CloneAsync();
        var r = await Run(new SqlRowsCheck("create", clone, "create table escaped as select * from orders", null));
        AssertError(r, "CREATE statement");
        Assert.Equal(true, await db.ScalarAsync(clone, "select to_regclass('escaped') is null"));
    }

    [Fact]
    public async Task The_role_made_for_a_run_is_dropped_after_it()
    {
        var results = await CheckRunner.RunAsync([new SqlScalarCheck("whoami", ChecksDatabase.Database, "select current_user::text", "?", showValue: true)],
            db.Context(), null, CancellationToken.None);
        var role = results[0].Actual!;
        Assert.StartsWith(CheckAccess.RolePrefix, role);
        Assert.Equal(0L, await db.ScalarAsync("postgres", $"select count(*) from pg_roles where rolname = '{role}'"));
    }

    [Fact]
    public async Task A_non_superuser_connection_is_used_as_it_is_and_one_that_reaches_the_host_is_refused()
    {
        var app = await Run(new SqlScalarCheck("as app", ChecksDatabase.Database, "select current_user::text", ChecksDatabase.AppRole, showValue: true),
            db.ContextAs(ChecksDatabase.AppRole));
        Assert.True(app.Status == CheckStatus.Passed, app.Message);

        await db.ExecAsync("postgres", "do $$ begin if not exists (select 1 from pg_roles where rolname = 'file_reader') then create role file_reader login in role pg_read_server_files; end if; end $$");
        var r = await Run(new SqlScalarCheck("as file reader", ChecksDatabase.Database, "select length(pg_read_file('/etc/passwd')) > 0", "true"),
            db.ContextAs("file_reader"));
        AssertError(r, "file_reader", "pg_read_server_files");
    }

    [Fact]
    public async Task A_text_value_is_recorded_as_its_hash_unless_shown()
    {
        const string query = "select email from customers where id = 2";
        var hidden = await Run(new SqlScalarCheck("email", ChecksDatabase.Database, query, "c2@example.test"));
        Assert.True(hidden.Status == CheckStatus.Passed, hidden.Message);
        Assert.Matches("^sha256:[0-9a-f]{64}$", hidden.Actual);
        Assert.Equal(hidden.Actual, hidden.Expected);
        Assert.DoesNotContain("c2@example", hidden.Actual + hidden.Expected + hidden.Message);

        var wrong = await Run(new SqlScalarCheck("email", ChecksDatabase.Database, query, "someone@else.test"));
        Assert.Equal(CheckStatus.Failed, wrong.Status);
        Assert.DoesNotContain("c2@example", wrong.Actual + wrong.Expected + wrong.Message);
        Assert.DoesNotContain("someone@else", wrong.Actual + wrong.Expected + wrong.Message);

        // The file can hold the hash instead of the secret.
        var byHash = await Run(new SqlScalarCheck("email", ChecksDatabase.Database, query, hidden.Actual!));
        Assert.True(byHash.Status == CheckStatus.Passed, byHash.Message);

        var shown = await Run(new SqlScalarCheck("email", ChecksDatabase.Database, query, "c2@example.test", showValue: true));
        Assert.Equal("c2@example.test", shown.Actual);

        var number = await Run(new SqlScalarCheck("count", ChecksDatabase.Database, "select count(*) from customers", "200"));
        Assert.Equal("200", number.Actual);
    }

    [Fact]
    public async Task A_data_error_does_not_quote_the_row_it_failed_on()
    {
        var r = await Run(new SqlScalarCheck("cast", ChecksDatabase.Database, "select email::int from customers where id = 2", "0"));
        AssertError(r, "22P02");
        Assert.DoesNotContain("c2@example", r.Message);
    }
}
