using System.Globalization;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Processes;
using Xunit;

namespace RestoreOps.Tests.Fixtures;

/// <summary>
/// The shape of an incident's archive, made with the tools users have: one Barman Cloud server (gzip WAL) in s3rver
/// with two backups, writes between them around a point in time, writes just after the second backup around another,
/// and then many more archived segments, as the hours of WAL after a bad change would be.
/// </summary>
public sealed class IncidentFixtures : IAsyncLifetime
{
    /// <summary>The Barman server name.</summary>
    public const string Server = "incident";
    /// <summary>Orders before the first backup.</summary>
    public const int RowsAtFirstBackup = 1000;
    /// <summary>Orders between the first backup and the target between the backups.</summary>
    public const int RowsBeforeBetween = 100;
    /// <summary>Orders after that target, before the second backup.</summary>
    public const int RowsAfterBetween = 50;
    /// <summary>Orders after the second backup, before the target near its end.</summary>
    public const int RowsBeforeNear = 20;
    /// <summary>Segments archived after the target near the second backup's end (at least: each filler batch writes over two).</summary>
    public const int SegmentsAfterNear = 20;

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"restoreops-incident-{Guid.NewGuid():N}"[..40]);
    private LocalInstance? _primary;

    public S3rverServer S3 { get; private set; } = null!;
    public string WorkRoot => Path.Combine(_root, "restores");
    /// <summary>Orders written between the bad changes (one before, one after each).</summary>
    public const int GoodRowsAroundBadChanges = 4;
    /// <summary>Rows in each table a bad change hits.</summary>
    public const int VictimRows = 500;
    /// <summary>Before the three bad changes (after the near target).</summary>
    public DateTimeOffset BeforeBadChanges { get; private set; }
    /// <summary>After the three bad changes.</summary>
    public DateTimeOffset AfterBadChanges { get; private set; }
    /// <summary>The TRUNCATE of public.t_truncate.</summary>
    public ulong TruncateXid { get; private set; }
    /// <summary>The DROP TABLE of public.t_drop.</summary>
    public ulong DropXid { get; private set; }
    /// <summary>The DELETE without WHERE of public.t_delete.</summary>
    public ulong DeleteXid { get; private set; }
    public string FirstBackupId { get; private set; } = "";
    public string SecondBackupId { get; private set; } = "";
    /// <summary>A time between the two backups: only the first backup can reach it.</summary>
    public DateTimeOffset BetweenBackups { get; private set; }
    /// <summary>A time just after the second backup ended, with <see cref="SegmentsAfterNear"/> segments archived after it.</summary>
    public DateTimeOffset NearSecondBackup { get; private set; }
    /// <summary>A time before the first backup ended: no backup can reach it.</summary>
    public DateTimeOffset BeforeEverything { get; private set; }

    public async Task InitializeAsync()
    {
        var ct = CancellationToken.None;
        S3 = new S3rverServer();
        var account = OsAccount.ForPostgres();
        var binaries = await PostgresBinaries.FindAsync(15, null, ct);
        Directory.CreateDirectory(_root);
        File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101);
        Directory.CreateDirectory(WorkRoot);
        var env = new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = S3rverServer.AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = S3rverServer.Secret,
            ["AWS_DEFAULT_REGION"] = "us-east-1",
        };

        _primary = await LocalInstance.InitializeAsync(binaries, account, Path.Combine(_root, "primary"), "postgres", ct);
        await _primary.StartAsync(new Dictionary<string, string>
        {
            ["wal_level"] = "replica",
            ["archive_mode"] = "on",
            ["archive_command"] = $"barman-cloud-wal-archive --gzip --endpoint-url {S3.Endpoint} {BackupFixtures.DestinationPath} {Server} %p",
            ["shared_buffers"] = "32MB",
        }, env, ct);
        await _primary.WaitForConnectionsAsync(TimeSpan.FromSeconds(60), ct);
        await _primary.ExecuteAsync("postgres", "create database shop", ct);
        await _primary.ExecuteAsync("shop", $"""
            create table orders(id bigserial primary key, batch text not null, created_at timestamptz not null default clock_timestamp());
            insert into orders(batch) select 'seed' from generate_series(1, {RowsAtFirstBackup});
            """, ct);
        BeforeEverything = await NowAsync(ct);

        FirstBackupId = await BackupAsync("incident-one", ct);
        await InsertAsync("before-between", RowsBeforeBetween, ct);
        BetweenBackups = await NowAsync(ct);
        await InsertAsync("after-between", RowsAfterBetween, ct);

        SecondBackupId = await BackupAsync("incident-two", ct);
        await InsertAsync("before-near", RowsBeforeNear, ct);
        NearSecondBackup = await NowAsync(ct);
        await InsertAsync("after-near", 10, ct);
        // Three bad changes, each between good writes: what Find-RecoveryPoint must find.
        await _primary.ExecuteAsync("shop", $$"""
            create table t_truncate(id int primary key, v text not null);
            create table t_drop(id int primary key, v text not null);
            create table t_delete(id int primary key, v text not null);
            insert into t_truncate select g, 'row ' || g from generate_series(1, {{VictimRows}}) g;
            insert into t_drop select g, 'row ' || g from generate_series(1, {{VictimRows}}) g;
            insert into t_delete select g, 'row ' || g from generate_series(1, {{VictimRows}}) g;
            """, ct);
        await InsertAsync("good", 1, ct);
        BeforeBadChanges = await NowAsync(ct);
        // A rewrite replaces files as TRUNCATE does but keeps every row: it must not be listed.
        await _primary.ExecuteAsync("shop", "vacuum full t_truncate", ct);
        TruncateXid = await BadChangeAsync("truncate t_truncate");
        await InsertAsync("good", 1, ct);
        DropXid = await BadChangeAsync("drop table t_drop");
        await InsertAsync("good", 1, ct);
        DeleteXid = await BadChangeAsync("delete from t_delete");
        await InsertAsync("good", 1, ct);
        AfterBadChanges = await NowAsync(ct);

        // The hours of WAL after the bad change, as full segments: nearly empty ones (a switch after each small write)
        // would let PostgreSQL's WAL read-ahead, which decodes up to 512 kB ahead of replay, run through many of them.
        await _primary.ExecuteAsync("shop", "create table filler(pad text not null)", ct);
        for (var i = 0; i < SegmentsAfterNear / 2; i++)
            await _primary.ExecuteAsync("shop", "insert into filler select repeat(md5(g::text), 16) from generate_series(1, 60000) g", ct);
        await RestoreOps.Automation.DemoSource.SwitchAndWaitForArchiveAsync(_primary, ct);
        await _primary.StopAsync();

        // One implicit transaction: the statement and txid_current() share the transaction id.
        async Task<ulong> BadChangeAsync(string sql) =>
            Convert.ToUInt64(await _primary!.ScalarAsync("shop", $"{sql}; select txid_current()", ct), CultureInfo.InvariantCulture);

        async Task<string> BackupAsync(string name, CancellationToken token)
        {
            var r = await CommandRunner.RunAsync("barman-cloud-backup",
                ["--endpoint-url", S3.Endpoint, "-h", _primary!.SocketDirectory, "-p", _primary.Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres",
                 "--immediate-checkpoint", "--gzip", "-n", name, BackupFixtures.DestinationPath, Server], account, env, token);
            Assert.True(r.ExitCode == 0, $"barman-cloud-backup failed: {r.StandardError}");
            using var catalog = RestoreOps.Backups.BarmanCloudCatalog.Create(BackupFixtures.DestinationPath, Server, S3.Options);
            return (await catalog.GetAsync(name, token)).Id;
        }
    }

    private Task InsertAsync(string batch, int rows, CancellationToken ct) =>
        _primary!.ExecuteAsync("shop", $"insert into orders(batch) select '{batch}' from generate_series(1, {rows})", ct);

    // Taken between two commits: commit timestamps are microsecond-precise, so the target falls strictly between them.
    private async Task<DateTimeOffset> NowAsync(CancellationToken ct) =>
        new((DateTime)(await _primary!.ScalarAsync("postgres", "select clock_timestamp()", ct))!, TimeSpan.Zero);

    public async Task DisposeAsync()
    {
        if (_primary is not null) await _primary.DisposeAsync();
        S3?.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Tests that restore the incident archive, one at a time.</summary>
[CollectionDefinition("incident")]
public sealed class IncidentCollection : ICollectionFixture<IncidentFixtures>
{
}
