using Npgsql;
using RestoreOps.Backups;
using RestoreOps.Checks;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Processes;

namespace RestoreOps.Automation;

/// <summary>
/// The embedded default for <c>restoreops drill --demo</c>: a real PostgreSQL with a small shop database, a
/// real pg_basebackup and WAL archive, more writes on both sides of a recovery target, and the checks that
/// prove the restore landed exactly at the target. Needs nothing but the PostgreSQL server binaries.
/// </summary>
internal sealed class DemoSource : IAsyncDisposable
{
    /// <summary>Orders committed before the backup.</summary>
    public const int RowsInBackup = 1000;
    /// <summary>Orders committed after the backup, before the recovery target.</summary>
    public const int RowsBeforeTarget = 500;
    /// <summary>Orders committed after the recovery target: a correct restore has none of them.</summary>
    public const int RowsAfterTarget = 250;

    /// <summary>The application role of the sample database: it logs in, reads and writes orders, and owns nothing.</summary>
    public const string AppRole = "shop_app";

    /// <summary>
    /// The sample shop database as an application leaves it (run in database <c>shop</c>): its tables, the migration
    /// history a golang-migrate deployment writes, 100 customers, and an application role with exactly the grants it
    /// needs. demo-checks.yaml checks each of these; tests build the same database from it.
    /// </summary>
    public const string SampleDatabaseSql = $"""
        create table customers(id int primary key, name text not null);
        create table orders(id bigserial primary key, customer_id int not null references customers(id),
                            batch text not null, amount numeric(10,2) not null, created_at timestamptz not null default clock_timestamp());
        create table schema_migrations(version bigint primary key, dirty boolean not null);
        insert into schema_migrations values (20261115120000, false);
        insert into customers select g, 'customer ' || g from generate_series(1, 100) g;
        do $do$ begin create role {AppRole} login; exception when duplicate_object then null; end $do$;
        grant usage on schema public to {AppRole};
        grant select, insert, update on orders to {AppRole};
        grant select on customers, schema_migrations to {AppRole};
        grant usage on sequence orders_id_seq to {AppRole};
        """;

    private readonly string _work;

    private DemoSource(string work, Backup backup, RecoveryTarget target)
    {
        _work = work;
        Backup = backup;
        RecoveryTarget = target;
    }

    /// <summary>The pg_basebackup with its WAL archive.</summary>
    public Backup Backup { get; }
    /// <summary>A point in time between the two batches of writes after the backup.</summary>
    public RecoveryTarget RecoveryTarget { get; }

    /// <summary>
    /// Checks that hold only for a restore that stopped exactly at the target: docs/examples/demo-checks.yaml,
    /// embedded, so the documented example is what runs.
    /// </summary>
    public CheckSuite Checks { get; } = LoadDemoChecks();

    /// <summary>The folder holding the sample source, its backup and its archive (deleted by <see cref="DisposeAsync"/>).</summary>
    public string Directory => _work;

    /// <summary>The text of docs/examples/demo-checks.yaml, as embedded.</summary>
    public static string ChecksYaml()
    {
        using var stream = typeof(DemoSource).Assembly.GetManifestResourceStream("RestoreOps.Automation.demo-checks.yaml")!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static CheckSuite LoadDemoChecks() => CheckFile.Parse(ChecksYaml(), "demo-checks.yaml");

    /// <summary>Builds the source, backs it up, writes around a target, and stops it.</summary>
    public static async Task<DemoSource> CreateAsync(LocalRestoreOptions options, IProgress<DrillProgress>? progress, CancellationToken cancellationToken)
    {
        var account = OsAccount.ForPostgres(options.OsUser);
        var binaries = await PostgresBinaries.FindAsync(null, options.PostgresBinDirectory, cancellationToken).ConfigureAwait(false);
        var work = Path.Combine(options.WorkRoot ?? Path.GetTempPath(), $"restoreops-demo-{DrillRunner.NewDrillId()}");
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(work)!);
        try
        {
            // The account writes the backup and the archive here, so it must own the folder, not only its parts.
            account.CreateDirectory(work, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            progress?.Report(new DrillProgress(DrillPhase.Discover, "Demo: creating a sample database with WAL archiving"));
            var source = await LocalInstance.InitializeAsync(binaries, account, Path.Combine(work, "source"), "postgres", cancellationToken).ConfigureAwait(false);
            const UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            var wal = account.CreateDirectory(Path.Combine(work, "wal-archive"), mode);
            var baseDir = Path.Combine(work, "base-backup");
            await using (source.ConfigureAwait(false))
            {
                await source.StartAsync(new Dictionary<string, string>
                {
                    ["wal_level"] = "replica",
                    ["archive_mode"] = "on",
                    ["archive_command"] = $"test ! -f {CommandRunner.ShellQuote(wal)}/%f && cp %p {CommandRunner.ShellQuote(wal)}/%f",
                    ["shared_buffers"] = "32MB",
                }, null, cancellationToken).ConfigureAwait(false);
                await source.WaitForConnectionsAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
                await source.ExecuteAsync("postgres", "create database shop", cancellationToken).ConfigureAwait(false);
                await source.ExecuteAsync("shop", SampleDatabaseSql, cancellationToken).ConfigureAwait(false);
                await source.ExecuteAsync("shop", $"insert into orders(customer_id, batch, amount) select 1 + g % 100, 'in-backup', (g % 1000) / 10.0 from generate_series(1, {RowsInBackup}) g", cancellationToken).ConfigureAwait(false);

                progress?.Report(new DrillProgress(DrillPhase.Discover, "Demo: taking a base backup (pg_basebackup -Ft -z)"));
                var conn = source.ConnectionString();
                await CommandRunner.RunCheckedAsync("pg_basebackup", binaries.Tool("pg_basebackup"),
                    ["-h", conn.Host!, "-p", conn.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres",
                     "-D", baseDir, "-Ft", "-z", "-X", "fetch", "-c", "fast", "-l", "restoreops-demo"],
                    account, LocalInstance.MinimalEnvironment(account), cancellationToken).ConfigureAwait(false);

                progress?.Report(new DrillProgress(DrillPhase.Discover, "Demo: writing before and after a recovery target"));
                await source.ExecuteAsync("shop", $"insert into orders(customer_id, batch, amount) select 1 + g % 100, 'before-target', 1 from generate_series(1, {RowsBeforeTarget}) g", cancellationToken).ConfigureAwait(false);
                // Taken after the first batch committed and before the second starts: commit timestamps are
                // microsecond-precise, so the target falls strictly between the two commits.
                var target = (DateTime)(await source.ScalarAsync("shop", "select clock_timestamp()", cancellationToken).ConfigureAwait(false))!;
                await source.ExecuteAsync("shop", $"insert into orders(customer_id, batch, amount) select 1 + g % 100, 'after-target', 2 from generate_series(1, {RowsAfterTarget}) g", cancellationToken).ConfigureAwait(false);
                await SwitchAndWaitForArchiveAsync(source, cancellationToken).ConfigureAwait(false);
                await source.StopAsync().ConfigureAwait(false);

                var backup = await LocalBackupCatalog.ReadBaseBackupAsync(baseDir, wal, cancellationToken).ConfigureAwait(false);
                return new DemoSource(work, backup, RecoveryTarget.AtTime(new DateTimeOffset(DateTime.SpecifyKind(target, DateTimeKind.Utc))));
            }
        }
        catch
        {
            DeleteQuietly(work);
            throw;
        }
    }

    /// <summary>Forces the current WAL segment into the archive and waits until the archiver has copied it.</summary>
    public static async Task SwitchAndWaitForArchiveAsync(LocalInstance source, CancellationToken cancellationToken)
    {
        var segment = (string)(await source.ScalarAsync("postgres", "select pg_walfile_name(pg_switch_wal())", cancellationToken).ConfigureAwait(false))!;
        await source.PollAsync(async ct =>
        {
            var row = await source.ScalarAsync("postgres",
                $"select coalesce(last_archived_wal >= '{segment}', false) or failed_count > 0 from pg_stat_archiver", ct).ConfigureAwait(false);
            return (bool)row!;
        }, TimeSpan.FromSeconds(120), $"archive WAL segment {segment}", cancellationToken).ConfigureAwait(false);
        var failed = await source.ScalarAsync("postgres", $"select coalesce(last_archived_wal >= '{segment}', false) from pg_stat_archiver", cancellationToken).ConfigureAwait(false);
        if (!(bool)failed!)
            throw new InfrastructureException($"The sample database could not archive {segment}. Server log:\n{source.LogTail()}", "See the archive_command error in the log.");
    }

    private static void DeleteQuietly(string dir)
    {
        try { if (System.IO.Directory.Exists(dir)) System.IO.Directory.Delete(dir, true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>Deletes the sample source, its backup and its archive.</summary>
    public ValueTask DisposeAsync()
    {
        DeleteQuietly(_work);
        return ValueTask.CompletedTask;
    }
}
