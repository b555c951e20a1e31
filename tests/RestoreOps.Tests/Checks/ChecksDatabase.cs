using Npgsql;
using RestoreOps.Checks;
using RestoreOps.Local;
using RestoreOps.Processes;
using Xunit;

namespace RestoreOps.Tests.Checks;

/// <summary>
/// One throwaway PostgreSQL 15 with a realistic application database <c>app</c>: customers, orders and order items
/// with foreign keys, a serial and an identity sequence, a view and a function, an application role with grants,
/// Flyway and Alembic history tables and amcheck. Tests that break data do it in a clone (<see cref="CloneAsync"/>),
/// so the good database stays good whatever order tests run in.
/// </summary>
public sealed class ChecksDatabase : IAsyncLifetime
{
    /// <summary>The good database.</summary>
    public const string Database = "app";
    /// <summary>Customers 1..200; orders reference 1..150 only, so 151..200 can be deleted without touching orders.</summary>
    public const int Customers = 200;
    /// <summary>Orders in <see cref="Database"/>.</summary>
    public const int Orders = 1000;
    /// <summary>The application role: LOGIN, SELECT/INSERT on customers and orders.</summary>
    public const string AppRole = "app_user";
    /// <summary>A role that exists but cannot log in.</summary>
    public const string NoLoginRole = "batch_owner";

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"restoreops-checks-{Guid.NewGuid():N}"[..36]);
    private LocalInstance? _pg;
    private int _clones;

    internal LocalInstance Instance => _pg!;

    public CheckContext Context(TimeSpan? statementTimeout = null) =>
        new(db => _pg!.ConnectionString(db), statementTimeout ?? TimeSpan.FromSeconds(30));

    /// <summary>A context whose connection logs in as <paramref name="role"/> (trust on the private socket), as CNPG's non-superuser <c>app</c> secret does.</summary>
    public CheckContext ContextAs(string role) => new(db =>
    {
        var b = _pg!.ConnectionString(db);
        b.Username = role;
        // RestoreOps' own session options set superuser-only parameters; a plain role's connection carries none.
        b.Options = null;
        return b;
    }, TimeSpan.FromSeconds(30));

    public async Task InitializeAsync()
    {
        var ct = CancellationToken.None;
        var binaries = await PostgresBinaries.FindAsync(15, null, ct);
        Directory.CreateDirectory(_root);
        File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101);
        _pg = await LocalInstance.InitializeAsync(binaries, OsAccount.ForPostgres(), Path.Combine(_root, "pg"), "postgres", ct);
        await _pg.StartAsync(new Dictionary<string, string> { ["shared_buffers"] = "32MB", ["fsync"] = "off" }, null, ct);
        await _pg.WaitForConnectionsAsync(TimeSpan.FromSeconds(60), ct);
        await ExecAsync("postgres", $"""
            create database {Database};
            create role {AppRole} login;
            create role {NoLoginRole} nologin;
            """);
        await ExecAsync(Database, $"""
            create extension amcheck;
            create table customers(id int primary key, name text not null, email text);
            create table orders(id bigserial primary key, customer_id int not null references customers(id),
                                batch text not null, amount numeric(10,2) not null, created_at timestamptz not null default clock_timestamp());
            create table order_items(id int generated always as identity primary key, order_id bigint not null references orders(id),
                                     sku text not null, qty int not null check (qty > 0));
            create index orders_customer on orders(customer_id);
            create view customer_totals as select o.customer_id, sum(o.amount) as total from orders o group by o.customer_id;
            create function order_total(bigint) returns numeric language sql stable as $$ select amount from orders where id = $1 $$;
            insert into customers select g, 'customer ' || g, 'c' || g || '@example.test' from generate_series(1, {Customers}) g;
            insert into orders(customer_id, batch, amount) select 1 + g % 150, 'seed', (g % 1000) / 10.0 from generate_series(1, {Orders}) g;
            insert into order_items(order_id, sku, qty) select 1 + g % {Orders}, 'sku-' || (g % 17), 1 + g % 3 from generate_series(1, 2000) g;
            create table flyway_schema_history(installed_rank int primary key, version varchar(50), description varchar(200) not null,
                type varchar(20) not null, script varchar(1000) not null, checksum int, installed_by varchar(100) not null,
                installed_on timestamp not null default now(), execution_time int not null, success boolean not null);
            insert into flyway_schema_history(installed_rank, version, description, type, script, installed_by, execution_time, success) values
                (1, '1', 'init', 'SQL', 'V1__init.sql', 'postgres', 5, true),
                (2, '1.2', 'orders', 'SQL', 'V1.2__orders.sql', 'postgres', 5, true),
                (3, '1.10', 'items', 'SQL', 'V1.10__items.sql', 'postgres', 5, true),
                (4, null, 'views', 'SQL', 'R__views.sql', 'postgres', 5, true);
            create table alembic_version(version_num varchar(32) primary key);
            insert into alembic_version values ('ae1027a6acf');
            grant usage on schema public to {AppRole};
            grant select, insert on customers, orders to {AppRole};
            grant usage on sequence orders_id_seq to {AppRole};
            """);
        await ExecAsync(Database, "vacuum analyze");
    }

    /// <summary>A fresh copy of <see cref="Database"/> for a test that breaks something.</summary>
    public async Task<string> CloneAsync(string? breakSql = null)
    {
        var name = $"clone_{Interlocked.Increment(ref _clones)}";
        await ExecAsync("postgres", $"create database {name} template {Database}");
        if (breakSql is not null) await ExecAsync(name, breakSql);
        return name;
    }

    public async Task ExecAsync(string db, string sql)
    {
        await using var c = new NpgsqlConnection(_pg!.ConnectionString(db).ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }

    public async Task<object?> ScalarAsync(string db, string sql)
    {
        await using var c = new NpgsqlConnection(_pg!.ConnectionString(db).ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        return await cmd.ExecuteScalarAsync();
    }

    public async Task DisposeAsync()
    {
        if (_pg is not null) await _pg.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Check tests share one server; they run one at a time.</summary>
[CollectionDefinition("checks-db")]
public sealed class ChecksDbCollection : ICollectionFixture<ChecksDatabase>
{
}
