using System.Globalization;
using RestoreOps.Checks;
using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Checks;

[Collection("checks-db")]
public sealed class BuiltInCheckTests(ChecksDatabase db)
{
    private const string App = ChecksDatabase.Database;
    private static readonly Dictionary<string, IReadOnlyList<string>> NoMap = new();
    private static readonly Dictionary<string, string> NoOwners = new();

    private Task<CheckResult> Run(RestoreCheck check, CheckContext? context = null) => check.RunAsync(context ?? db.Context(), CancellationToken.None);

    private static void AssertStatus(CheckStatus expected, CheckResult r) => Assert.True(r.Status == expected, $"expected {expected}, got {r.Status}: {r.Message} (actual: {r.Actual})");

    [Fact]
    public async Task Connectivity_reports_server_facts_and_fails_for_a_missing_database()
    {
        var ok = await Run(new ConnectivityCheck(App, TimeSpan.FromSeconds(5)));
        AssertStatus(CheckStatus.Passed, ok);
        Assert.Contains("PostgreSQL 15", ok.Actual);
        Assert.Contains("timeline 1", ok.Actual);
        var missing = await Run(new ConnectivityCheck("no_such_db", TimeSpan.FromSeconds(5)));
        AssertStatus(CheckStatus.Failed, missing);
        Assert.Contains("no_such_db", missing.Message);
    }

    [Fact]
    public async Task Schema_passes_when_objects_exist_and_names_what_a_broken_copy_lacks()
    {
        SchemaCheck Check(string database) => new(database, ["public.orders", "customers", "order_items"], ["customer_totals"], ["order_total"], ["amcheck"]);
        AssertStatus(CheckStatus.Passed, await Run(Check(App)));
        var broken = await db.CloneAsync("drop view customer_totals; drop function order_total(bigint);");
        var r = await Run(Check(broken));
        AssertStatus(CheckStatus.Failed, r);
        Assert.Contains("view customer_totals", r.Actual);
        Assert.Contains("function order_total", r.Actual);
        Assert.DoesNotContain("orders,", r.Actual);
    }

    [Fact]
    public async Task Schema_does_not_take_a_table_for_a_view()
    {
        var r = await Run(new SchemaCheck(App, [], ["public.orders"], [], []));
        AssertStatus(CheckStatus.Failed, r);
        Assert.Contains("view public.orders", r.Actual);
    }

    [Fact]
    public async Task Row_count_exact_and_bounds()
    {
        AssertStatus(CheckStatus.Passed, await Run(new RowCountCheck(App, "public.orders", ChecksDatabase.Orders, ChecksDatabase.Orders)));
        var r = await Run(new RowCountCheck(App, "public.orders", 1001, null));
        AssertStatus(CheckStatus.Failed, r);
        Assert.Equal("1000", r.Actual);
        Assert.Contains("at least 1001", r.Message);
    }

    private static CheckResult Previous(string name, long count) => new()
    {
        Name = name, Category = "row-count", Database = App, Status = CheckStatus.Passed, Actual = count.ToString(CultureInfo.InvariantCulture), Message = "",
    };

    [Fact]
    public async Task Row_count_relative_to_the_previous_drill()
    {
        var check = new RowCountCheck(App, "public.orders", null, null, "orders count", maxDropPercent: 5);
        var within = await Run(check, db.Context() with { PreviousResults = [Previous("orders count", 1050)] });
        AssertStatus(CheckStatus.Passed, within);
        var dropped = await Run(check, db.Context() with { PreviousResults = [Previous("orders count", 2000)] });
        AssertStatus(CheckStatus.Failed, dropped);
        Assert.Contains("2000", dropped.Message);
        Assert.Contains("50%", dropped.Message);
        // A result of another check with the same count must not be taken as this check's history.
        var none = await Run(check, db.Context() with { PreviousResults = [Previous("other", 2000)] });
        AssertStatus(CheckStatus.Skipped, none);
    }

    [Fact]
    public async Task Row_count_relative_reads_the_newest_drill_record_in_the_evidence_folder()
    {
        var dir = RestoreOps.Tests.Evidence.TestLocations.NewTempDirectory();
        try
        {
            async Task Write(string id, DateTimeOffset started, long count, string source = "prod")
            {
                var record = new DrillRecord { DrillId = id, ToolVersion = "test", Host = "test", StartedAt = started, Source = source };
                record.Checks.Add(Previous("orders count", count));
                await DrillRecordJson.WriteAsync(record, dir, CancellationToken.None);
            }
            await Write("older", DateTimeOffset.UtcNow.AddDays(-2), 1000);
            await Write("newer", DateTimeOffset.UtcNow.AddDays(-1), 5000);
            await Write("newest-other-source", DateTimeOffset.UtcNow.AddHours(-1), 1000, source: "staging");
            await File.WriteAllTextAsync(Path.Combine(dir, "not-a-record.json"), "{ broken");
            var check = new RowCountCheck(App, "public.orders", null, null, "orders count", maxDropPercent: 10);
            var results = await CheckRunner.RunAsync([check], db.Context() with { EvidenceDirectory = dir, Source = "prod" }, null, CancellationToken.None);
            AssertStatus(CheckStatus.Failed, results[0]);
            Assert.Contains("5000", results[0].Message);
            var staging = await CheckRunner.RunAsync([check], db.Context() with { EvidenceDirectory = dir, Source = "staging" }, null, CancellationToken.None);
            AssertStatus(CheckStatus.Passed, staging[0]);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Custom_sql_scalar_no_rows_and_minimum_rows()
    {
        AssertStatus(CheckStatus.Passed, await Run(new SqlScalarCheck("orders", App, "select count(*) from orders", "1000")));
        AssertStatus(CheckStatus.Failed, await Run(new SqlScalarCheck("orders", App, "select count(*) from orders", "999")));
        AssertStatus(CheckStatus.Passed, await Run(new SqlRowsCheck("no negative", App, "select * from orders where amount < 0", null)));
        var some = await Run(new SqlRowsCheck("no seed", App, "select * from customers where id <= 3", null));
        AssertStatus(CheckStatus.Failed, some);
        Assert.Equal("3 rows", some.Actual);
        Assert.DoesNotContain("customer 1", some.Message);
        AssertStatus(CheckStatus.Passed, await Run(new SqlRowsCheck("enough", App, "select 1 from orders", 1000)));
        AssertStatus(CheckStatus.Failed, await Run(new SqlRowsCheck("too many", App, "select 1 from orders", 1001)));
    }

    [Fact]
    public async Task Custom_sql_runs_read_only()
    {
        var r = await Run(new SqlScalarCheck("sneaky write", App, "delete from orders returning 1", "1"));
        AssertStatus(CheckStatus.Error, r);
        Assert.Contains("25006", r.Message);
        Assert.Equal(1000L, await db.ScalarAsync(App, "select count(*) from orders"));
    }

    [Fact]
    public async Task Roles_exist_and_can_log_in()
    {
        AssertStatus(CheckStatus.Passed, await Run(new RoleCheck(App, [ChecksDatabase.AppRole])));
        AssertStatus(CheckStatus.Passed, await Run(new RoleCheck(App, [ChecksDatabase.NoLoginRole], mustLogin: false)));
        var r = await Run(new RoleCheck(App, [ChecksDatabase.AppRole, ChecksDatabase.NoLoginRole, "ghost"]));
        AssertStatus(CheckStatus.Failed, r);
        Assert.Contains($"role {ChecksDatabase.NoLoginRole} cannot log in", r.Actual);
        Assert.Contains("role ghost does not exist", r.Actual);
        await db.ExecAsync("postgres", "create role expired_user login valid until '2000-01-01'");
        AssertStatus(CheckStatus.Failed, await Run(new RoleCheck(App, ["expired_user"])));
    }

    private static GrantCheck AppGrants(string database) => new(database, ChecksDatabase.AppRole,
        new Dictionary<string, IReadOnlyList<string>> { ["public.orders"] = ["select", "insert"], ["customers"] = ["select"] },
        new Dictionary<string, IReadOnlyList<string>> { ["public"] = ["usage"] },
        new Dictionary<string, string> { ["public.orders"] = "postgres" });

    [Fact]
    public async Task Grants_pass_and_name_a_revoked_privilege_and_a_changed_owner()
    {
        AssertStatus(CheckStatus.Passed, await Run(AppGrants(App)));
        var broken = await db.CloneAsync($"revoke insert on orders from {ChecksDatabase.AppRole}; alter table orders owner to {ChecksDatabase.NoLoginRole};");
        var r = await Run(AppGrants(broken));
        AssertStatus(CheckStatus.Failed, r);
        Assert.Contains("INSERT on public.orders", r.Actual);
        Assert.Contains($"public.orders owned by {ChecksDatabase.NoLoginRole}", r.Actual);
        Assert.Contains("GRANT", r.Message);
        Assert.DoesNotContain("SELECT on public.orders", r.Actual);
    }

    [Fact]
    public void Grants_reject_an_unknown_privilege_at_configuration_time()
    {
        var e = Assert.Throws<ConfigurationException>(() => new GrantCheck(App, "x",
            new Dictionary<string, IReadOnlyList<string>> { ["orders"] = ["selekt"] }, NoMap, NoOwners));
        Assert.Contains("selekt", e.Message);
    }

    private static ReadWriteCheck RoundTrip(string database) => new(database, ChecksDatabase.AppRole,
        "select id, amount from orders order by id desc limit 5",
        "insert into orders(customer_id, batch, amount) values (1, 'drill', 0)");

    [Fact]
    public async Task Read_write_round_trip_as_the_application_role_is_rolled_back()
    {
        var r = await Run(RoundTrip(App));
        AssertStatus(CheckStatus.Passed, r);
        Assert.Equal("read 5 rows, wrote 1 rows", r.Actual);
        Assert.Equal(0L, await db.ScalarAsync(App, "select count(*) from orders where batch = 'drill'"));
    }

    [Fact]
    public async Task Read_write_fails_when_the_role_lost_a_grant_even_though_the_checker_is_superuser()
    {
        var broken = await db.CloneAsync($"revoke insert on orders from {ChecksDatabase.AppRole}");
        var r = await Run(RoundTrip(broken));
        AssertStatus(CheckStatus.Failed, r);
        Assert.Contains("write failed: 42501", r.Actual);
        Assert.Contains("GRANT", r.Message);
    }

    [Fact]
    public async Task Foreign_keys_resolve_and_an_orphan_or_a_not_valid_constraint_fails()
    {
        var ok = await Run(new ForeignKeyCheck(App, []));
        AssertStatus(CheckStatus.Passed, ok);
        Assert.Contains("2 foreign keys", ok.Actual);
        var orphan = await db.CloneAsync("""
            set session_replication_role = replica;
            insert into orders(customer_id, batch, amount) values (999999, 'orphan', 1), (999998, 'orphan', 1);
            """);
        var r = await Run(new ForeignKeyCheck(orphan, []));
        AssertStatus(CheckStatus.Failed, r);
        Assert.Contains("orders_customer_id_fkey", r.Actual);
        Assert.Contains("2 orphans", r.Actual);
        Assert.DoesNotContain("999999", r.Message);
        var bounded = await Run(new ForeignKeyCheck(orphan, [], maxRowsPerKey: 1));
        Assert.Contains("≥1 orphans", bounded.Actual);

        var notValid = await db.CloneAsync("alter table orders add constraint amount_not_negative check (amount >= 0) not valid");
        var nv = await Run(new ForeignKeyCheck(notValid, []));
        AssertStatus(CheckStatus.Failed, nv);
        Assert.Contains("amount_not_negative NOT VALID", nv.Actual);
        Assert.Contains("VALIDATE CONSTRAINT", nv.Message);
    }

    [Fact]
    public async Task Sequences_ahead_pass_and_a_sequence_behind_its_column_fails()
    {
        var ok = await Run(new SequenceCheck(App, []));
        AssertStatus(CheckStatus.Passed, ok);
        Assert.Contains("2 sequences", ok.Actual); // orders_id_seq (serial) and order_items_id_seq (identity)
        var broken = await db.CloneAsync("select setval('orders_id_seq', 10); alter table order_items alter column id restart with 5;");
        var r = await Run(new SequenceCheck(broken, []));
        AssertStatus(CheckStatus.Failed, r);
        Assert.Contains("orders_id_seq would hand out 11", r.Actual);
        Assert.Contains("order_items_id_seq would hand out 5", r.Actual);
        Assert.Contains("setval", r.Message);
    }

    [Fact]
    public async Task Migrations_compare_versions_numerically_and_detect_the_tool()
    {
        var flyway = await Run(new MigrationCheck(App, MigrationTool.Flyway, null, "1.9", null));
        AssertStatus(CheckStatus.Passed, flyway); // 1.10 > 1.9
        Assert.Equal("1.10", flyway.Actual);
        var tooOld = await Run(new MigrationCheck(App, MigrationTool.Flyway, null, "2.0", null));
        AssertStatus(CheckStatus.Failed, tooOld);
        Assert.Contains("expected at least 2.0", tooOld.Message);
        AssertStatus(CheckStatus.Passed, await Run(new MigrationCheck(App, MigrationTool.Alembic, null, "ae1027a6acf", null)));
        AssertStatus(CheckStatus.Failed, await Run(new MigrationCheck(App, MigrationTool.Alembic, null, "ffffffffff", null)));
        var ambiguous = await Run(new MigrationCheck(App, null, null, "1", null));
        AssertStatus(CheckStatus.Failed, ambiguous);
        Assert.Contains("Flyway and Alembic", ambiguous.Message);
        var onlyFlyway = await db.CloneAsync("drop table alembic_version");
        AssertStatus(CheckStatus.Passed, await Run(new MigrationCheck(onlyFlyway, null, null, "1.2", null)));
        var failed = await db.CloneAsync("""
            drop table alembic_version;
            insert into flyway_schema_history(installed_rank, version, description, type, script, installed_by, execution_time, success)
            values (5, '1.11', 'broken', 'SQL', 'V1.11__broken.sql', 'postgres', 5, false);
            """);
        var f = await Run(new MigrationCheck(failed, null, null, "1.2", null));
        AssertStatus(CheckStatus.Failed, f);
        Assert.Contains("1.11", f.Actual);
    }

    [Fact]
    public async Task Migrations_golang_migrate_and_django_tables()
    {
        var other = await db.CloneAsync("""
            drop table alembic_version; drop table flyway_schema_history;
            create table schema_migrations(version bigint primary key, dirty boolean not null);
            insert into schema_migrations values (20240105, false);
            create table django_migrations(id serial primary key, app text, name text, applied timestamptz default now());
            insert into django_migrations(app, name) values ('shop', '0001_initial'), ('shop', '0012_add_index'), ('auth', '0099_x');
            """);
        AssertStatus(CheckStatus.Passed, await Run(new MigrationCheck(other, MigrationTool.GolangMigrate, null, "20240101", null)));
        AssertStatus(CheckStatus.Passed, await Run(new MigrationCheck(other, MigrationTool.Django, null, "0010", "shop")));
        AssertStatus(CheckStatus.Failed, await Run(new MigrationCheck(other, MigrationTool.Django, null, "0013", "shop")));
        await db.ExecAsync(other, "update schema_migrations set dirty = true");
        AssertStatus(CheckStatus.Failed, await Run(new MigrationCheck(other, MigrationTool.GolangMigrate, null, "20240101", null)));
    }

    [Fact]
    public async Task Key_records_report_keys_and_hashes_never_contents()
    {
        var discover = await Run(new KeyRecordCheck(App, "public.customers", "id", ["2", "200"], ["name", "email"], NoOwners));
        AssertStatus(CheckStatus.Passed, discover);
        Assert.DoesNotContain("customer 2", discover.Actual + discover.Message);
        var hashes = discover.Actual!.Split(", ").Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1]);
        Assert.All(hashes.Values, h => Assert.Matches("^[0-9a-f]{64}$", h));

        var withHashes = new Func<string, KeyRecordCheck>(database => new KeyRecordCheck(database, "public.customers", "id", [], ["name", "email"], hashes));
        AssertStatus(CheckStatus.Passed, await Run(withHashes(App)));
        var broken = await db.CloneAsync("update customers set name = 'changed secret' where id = 2; delete from customers where id = 200;");
        var r = await Run(withHashes(broken));
        AssertStatus(CheckStatus.Failed, r);
        Assert.Contains("missing keys 200", r.Actual);
        Assert.Contains($"2 (expected {hashes["2"]}", r.Actual);
        Assert.DoesNotContain("changed secret", r.Actual + r.Message);
        Assert.DoesNotContain("customer 2", r.Actual + r.Message);
    }

    [Fact]
    public async Task Amcheck_verifies_indexes_and_heap_and_fails_when_it_cannot_run()
    {
        var ok = await Run(new AmcheckCheck(App, null, TimeSpan.FromMinutes(1), install: false));
        AssertStatus(CheckStatus.Passed, ok);
        Assert.Matches(@"^(\d+) of \1 relations verified$", ok.Actual);
        var sample = await Run(new AmcheckCheck(App, 3, TimeSpan.FromMinutes(1), install: false));
        Assert.Equal("3 of 3 relations verified", sample.Actual);

        var without = await db.CloneAsync("drop extension amcheck");
        var missing = await Run(new AmcheckCheck(without, null, TimeSpan.FromMinutes(1), install: false));
        AssertStatus(CheckStatus.Failed, missing);
        Assert.Contains("install: true", missing.Message);
        AssertStatus(CheckStatus.Passed, await Run(new AmcheckCheck(without, 5, TimeSpan.FromMinutes(1), install: true)));
    }

    [Fact]
    public async Task Recovery_point_compares_newest_data_with_the_target_and_the_promise()
    {
        var newest = (DateTime)(await db.ScalarAsync(App, "select max(created_at) from orders"))!;
        var newestUtc = new DateTimeOffset(DateTime.SpecifyKind(newest.ToUniversalTime(), DateTimeKind.Utc));
        var check = new RecoveryPointCheck(App, "public.orders", "created_at", false, null, null);

        var ok = await Run(check, db.Context() with { RecoveryTarget = RecoveryTarget.AtTime(newestUtc.AddSeconds(1)), BackupEndTime = newestUtc.AddMinutes(-1) });
        AssertStatus(CheckStatus.Passed, ok);
        Assert.True(RecoveryPointCheck.TryGetAchievedRecoveryPoint(ok, out var achieved));
        Assert.Equal(newestUtc, achieved);
        Assert.Contains("replayed after the backup ended", ok.Message);

        var past = await Run(check, db.Context() with { RecoveryTarget = RecoveryTarget.AtTime(newestUtc.AddSeconds(-10)) });
        AssertStatus(CheckStatus.Failed, past);
        Assert.Contains("after the recovery target", past.Message);

        var gap = new RecoveryPointCheck(App, "public.orders", "created_at", false, null, TimeSpan.FromSeconds(5));
        AssertStatus(CheckStatus.Failed, await Run(gap, db.Context() with { RecoveryTarget = RecoveryTarget.AtTime(newestUtc.AddMinutes(10)) }));

        var stale = new RecoveryPointCheck(App, "public.orders", "created_at", false, TimeSpan.FromMilliseconds(1), null);
        var s = await Run(stale);
        AssertStatus(CheckStatus.Failed, s);
        Assert.Contains("pg_stat_archiver", s.Message);

        var commits = await Run(new RecoveryPointCheck(App, "public.orders", null, true, null, null));
        AssertStatus(CheckStatus.Failed, commits);
        Assert.Contains("track_commit_timestamp", commits.Message);
    }
}
