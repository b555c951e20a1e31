using System.Globalization;
using Npgsql;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Processes;
using Xunit;

namespace RestoreOps.Tests.Fixtures;

/// <summary>
/// Real backups, made once per test run with the tools users have: a PostgreSQL 15 primary whose
/// archive_command copies each segment to a local directory and, in parallel, to three Barman Cloud servers
/// in s3rver (plain, gzip and bzip2 WAL); a barman-cloud-backup of each server with the matching base
/// compression; a newer FAILED backup (barman's own --snappy failure); a pg_basebackup tar; a pg_dump -Fc.
/// After the backups: a batch of rows, a recovery target expressed four ways (time, LSN, XID, restore
/// point), then a second batch, then everything archived. A correct point-in-time restore has the first
/// batch and none of the second.
/// </summary>
public sealed class BackupFixtures : IAsyncLifetime
{
    /// <summary>Orders in the database when the backups were taken.</summary>
    public const int RowsAtBackup = 2000;
    /// <summary>Orders committed after the backups, before the target.</summary>
    public const int RowsBeforeTarget = 300;
    /// <summary>Orders committed after the target.</summary>
    public const int RowsAfterTarget = 200;
    /// <summary>Rows in the table that lives in a tablespace of its own.</summary>
    public const int RowsInTablespace = 150;
    /// <summary>Name of the restore point between the two batches.</summary>
    public const string RestorePoint = "restoreops_between_batches";

    /// <summary>Barman destination path of every server.</summary>
    public const string DestinationPath = "s3://backups/pg";

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"restoreops-fixtures-{Guid.NewGuid():N}"[..40]);
    private LocalInstance? _primary;

    public S3rverServer S3 { get; private set; } = null!;
    internal OsAccount Account { get; private set; } = null!;
    internal PostgresBinaries Binaries { get; private set; } = null!;
    public string WorkRoot => Path.Combine(_root, "restores");
    public string BaseBackupDirectory => Path.Combine(_root, "basebackup");
    public string WalArchiveDirectory => Path.Combine(_root, "wal-archive");
    public string DumpFile => Path.Combine(_root, "shop.dump");
    /// <summary>The source's tablespace directory: a restore must never write here.</summary>
    public string TablespaceDirectory => Path.Combine(_root, "tablespace-archive");
    public DateTimeOffset TargetTime { get; private set; }
    public string TargetLsn { get; private set; } = "";
    public ulong TargetXid { get; private set; }
    /// <summary>backup id of the DONE barman backup per server ("plain", "gzip", "bzip2").</summary>
    public Dictionary<string, string> BackupIds { get; } = new();
    /// <summary>Id of the FAILED backup on server "gzip", newer than its DONE one.</summary>
    public string FailedBackupId { get; private set; } = "";

    /// <summary>Restore settings that keep every restore of this run under one folder and point at this s3rver.</summary>
    internal LocalRestoreOptions RestoreOptions(RestoreOps.ObjectStoreOptions? objectStore = null) => new()
    {
        WorkRoot = WorkRoot,
        ObjectStore = objectStore ?? S3.Options,
        ReadyTimeout = TimeSpan.FromMinutes(3),
        WalParallelism = 4,
    };

    public async Task InitializeAsync()
    {
        var ct = CancellationToken.None;
        S3 = new S3rverServer();
        Account = OsAccount.ForPostgres();
        Binaries = await PostgresBinaries.FindAsync(15, null, ct);
        Directory.CreateDirectory(_root);
        File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101);
        Account.CreateDirectory(WalArchiveDirectory, (UnixFileMode)0b111_000_000);
        Account.CreateDirectory(TablespaceDirectory, (UnixFileMode)0b111_000_000);
        Directory.CreateDirectory(WorkRoot);

        var env = new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = S3rverServer.AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = S3rverServer.Secret,
            ["AWS_DEFAULT_REGION"] = "us-east-1",
        };
        var archiveScript = Path.Combine(_root, "archive.sh");
        // Each segment goes to the local archive and, concurrently, to the three Barman servers: one
        // archiver process per destination, as each real deployment would have.
        await File.WriteAllTextAsync(archiveScript, $$"""
            #!/bin/sh
            # $1 = %f, $2 = %p
            test -f '{{WalArchiveDirectory}}'/"$1" || cp "$2" '{{WalArchiveDirectory}}'/"$1" || exit 1
            barman-cloud-wal-archive --endpoint-url {{S3.Endpoint}} {{DestinationPath}} plain "$2" & a=$!
            barman-cloud-wal-archive --gzip --endpoint-url {{S3.Endpoint}} {{DestinationPath}} gzip "$2" & b=$!
            barman-cloud-wal-archive --bzip2 --endpoint-url {{S3.Endpoint}} {{DestinationPath}} bzip2 "$2" & c=$!
            wait $a || exit 1; wait $b || exit 1; wait $c || exit 1

            """, ct);
        File.SetUnixFileMode(archiveScript, (UnixFileMode)0b111_101_101);

        _primary = await LocalInstance.InitializeAsync(Binaries, Account, Path.Combine(_root, "primary"), "postgres", ct);
        await _primary.StartAsync(new Dictionary<string, string>
        {
            ["wal_level"] = "replica",
            ["archive_mode"] = "on",
            ["archive_command"] = $"/bin/sh {archiveScript} %f %p",
            ["shared_buffers"] = "32MB",
        }, env, ct);
        await _primary.WaitForConnectionsAsync(TimeSpan.FromSeconds(60), ct);
        await _primary!.ExecuteAsync("postgres", "create database shop", ct);
        await _primary!.ExecuteAsync("shop", $"""
            create table customers(id int primary key, name text not null);
            create table orders(id bigserial primary key, customer_id int not null references customers(id),
                                batch text not null, amount numeric(10,2) not null, created_at timestamptz not null default clock_timestamp());
            insert into customers select g, 'customer ' || g from generate_series(1, 500) g;
            insert into orders(customer_id, batch, amount) select 1 + g % 500, 'seed', (g % 1000) / 10.0 from generate_series(1, {RowsAtBackup}) g;
            create role app login password 'app-password';
            grant select, insert on orders to app;
            """, ct);
        // A second tablespace: its own archive in every backup, relocated by every restore.
        await _primary!.ExecuteAsync("postgres", $"create tablespace archive location '{TablespaceDirectory}'", ct);
        await _primary!.ExecuteAsync("shop", $"""
            create table archived_orders(id int primary key, note text) tablespace archive;
            insert into archived_orders select g, 'archived ' || g from generate_series(1, {RowsInTablespace}) g;
            """, ct);

        // Three Barman backups at once: PostgreSQL allows concurrent non-exclusive base backups.
        var socket = _primary.SocketDirectory;
        var port = _primary.Port.ToString(CultureInfo.InvariantCulture);
        Task<CommandResult> Barman(string server, string? compression, string name) =>
            CommandRunner.RunAsync("barman-cloud-backup",
                new[] { "--endpoint-url", S3.Endpoint, "-h", socket, "-p", port, "-U", "postgres", "--immediate-checkpoint", "-n", name }
                    .Concat(compression is null ? [] : [compression]).Concat([DestinationPath, server]),
                Account, env, ct);
        // The plain backup is split into several data_NNNN.tar parts, as barman does for archives over --max-archive-size.
        var results = await Task.WhenAll(Barman("plain", "--max-archive-size=12MB", "plain-base"), Barman("gzip", "--gzip", "gzip-base"), Barman("bzip2", "--bzip2", "bzip2-base"));
        foreach (var r in results)
            Assert.True(r.ExitCode == 0, $"barman-cloud-backup failed: {r.StandardError}");
        // barman's own failure: python-snappy is not installed, so this leaves a FAILED backup.info, newer than gzip-base.
        var snappy = await Barman("gzip", "--snappy", "gzip-failed");
        Assert.NotEqual(0, snappy.ExitCode);

        foreach (var server in new[] { "plain", "gzip", "bzip2" })
        {
            using var catalog = RestoreOps.Backups.BarmanCloudCatalog.Create(DestinationPath, server, S3.Options);
            var all = await catalog.ListAsync(includeUnusable: true, ct);
            BackupIds[server] = all.Single(b => b.Status == BackupStatus.Done).Id;
            if (server == "gzip") FailedBackupId = all.Single(b => b.Status == BackupStatus.Failed).Id;
        }

        await CommandRunner.RunCheckedAsync("pg_basebackup", Binaries.Tool("pg_basebackup"),
            ["-h", socket, "-p", port, "-U", "postgres", "-D", BaseBackupDirectory, "-Ft", "-X", "fetch", "-c", "fast", "-l", "fixture"],
            null, null, ct);

        // Batch A, then the target four ways, then batch B.
        await using (var c = await OpenAsync("shop"))
        {
            await using var tx = await c.BeginTransactionAsync();
            await using (var insert = new NpgsqlCommand($"insert into orders(customer_id, batch, amount) select 1 + g % 500, 'before-target', 1 from generate_series(1, {RowsBeforeTarget}) g", c, tx))
                await insert.ExecuteNonQueryAsync();
            await using (var xid = new NpgsqlCommand("select txid_current()", c, tx))
                TargetXid = Convert.ToUInt64(await xid.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
            await tx.CommitAsync();
        }
        TargetLsn = (string)(await _primary!.ScalarAsync("postgres", "select pg_current_wal_lsn()::text", ct))!;
        TargetTime = new DateTimeOffset((DateTime)(await _primary!.ScalarAsync("postgres", "select clock_timestamp()", ct))!, TimeSpan.Zero);
        await _primary!.ScalarAsync("postgres", $"select pg_create_restore_point('{RestorePoint}')::text", ct);
        await _primary!.ExecuteAsync("shop", $"insert into orders(customer_id, batch, amount) select 1 + g % 500, 'after-target', 2 from generate_series(1, {RowsAfterTarget}) g", ct);

        await CommandRunner.RunCheckedAsync("pg_dump", Binaries.Tool("pg_dump"),
            ["-h", socket, "-p", port, "-U", "postgres", "-Fc", "-f", DumpFile, "shop"], null, null, ct);
        await RestoreOps.Automation.DemoSource.SwitchAndWaitForArchiveAsync(_primary, ct);
        await _primary.StopAsync();
    }

    private async Task<NpgsqlConnection> OpenAsync(string db)
    {
        var c = new NpgsqlConnection(_primary!.ConnectionString(db).ConnectionString);
        await c.OpenAsync();
        return c;
    }

    public async Task DisposeAsync()
    {
        if (_primary is not null) await _primary.DisposeAsync();
        S3?.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Tests that restore the shared real backups. One collection: restores run one at a time on 2 cores.</summary>
[CollectionDefinition("backups")]
public sealed class BackupsCollection : ICollectionFixture<BackupFixtures>
{
}
