using System.Globalization;
using Npgsql;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Processes;
using RestoreOps.Tests.Fixtures;

namespace RestoreOps.Benchmarks;

/// <summary>
/// One benchmark subject: a Barman Cloud server in s3rver holding one base backup and W WAL segments after
/// it, each made of real writes and a pg_switch_wal(), archived by barman-cloud-wal-archive (once plain,
/// once --gzip, into two servers).
/// </summary>
internal sealed class BenchSource : IAsyncDisposable
{
    public const string Destination = "s3://backups/bench";
    private readonly string _root;

    private BenchSource(string root, S3rverServer s3, OsAccount account, PostgresBinaries binaries, int segments, long rows)
    {
        _root = root;
        S3 = s3;
        Account = account;
        Binaries = binaries;
        Segments = segments;
        ExpectedRows = rows;
    }

    public S3rverServer S3 { get; }
    public OsAccount Account { get; }
    public PostgresBinaries Binaries { get; }
    public int Segments { get; }
    public long ExpectedRows { get; }
    public string WorkRoot => Path.Combine(_root, "restores");

    public Dictionary<string, string?> AwsEnvironment => new()
    {
        ["AWS_ACCESS_KEY_ID"] = S3rverServer.AccessKey,
        ["AWS_SECRET_ACCESS_KEY"] = S3rverServer.Secret,
        ["AWS_DEFAULT_REGION"] = "us-east-1",
    };

    public static async Task<BenchSource> CreateAsync(int segments, TextWriter log, CancellationToken ct)
    {
        var root = Directory.CreateTempSubdirectory("restoreops-bench-").FullName;
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        var s3 = new S3rverServer();
        var account = OsAccount.ForPostgres();
        var binaries = await PostgresBinaries.FindAsync(15, null, ct);
        var wal = account.CreateDirectory(Path.Combine(root, "wal"), (UnixFileMode)0b111_101_101);
        Directory.CreateDirectory(Path.Combine(root, "restores"));
        var env = new BenchSource(root, s3, account, binaries, segments, 0).AwsEnvironment;

        await using var primary = await LocalInstance.InitializeAsync(binaries, account, Path.Combine(root, "primary"), "postgres", ct);
        await primary.StartAsync(new Dictionary<string, string>
        {
            ["wal_level"] = "replica",
            ["archive_mode"] = "on",
            ["archive_command"] = $"cp %p {wal}/%f",
            ["max_wal_size"] = "4GB",
            ["shared_buffers"] = "128MB",
        }, null, ct);
        await primary.WaitForConnectionsAsync(TimeSpan.FromSeconds(60), ct);
        await primary.ExecuteAsync("postgres", "create table events(id bigserial primary key, at timestamptz not null default clock_timestamp(), payload text not null)", ct, 600);
        await primary.ExecuteAsync("postgres", "insert into events(payload) select repeat(md5(g::text), 8) from generate_series(1, 50000) g", ct, 600);

        log.WriteLine($"  W={segments}: base backups (plain, gzip)");
        var socket = primary.SocketDirectory;
        var port = primary.Port.ToString(CultureInfo.InvariantCulture);
        foreach (var (server, flag) in new[] { ("plain", (string?)null), ("gzip", "--gzip") })
        {
            var args = new List<string> { "--endpoint-url", s3.Endpoint, "-h", socket, "-p", port, "-U", "postgres", "--immediate-checkpoint", "-n", $"bench-{server}" };
            if (flag is not null) args.Add(flag);
            args.AddRange([Destination, server]);
            await CommandRunner.RunCheckedAsync("barman-cloud-backup", "barman-cloud-backup", args, account, env, ct);
        }

        // Each segment: ~2.5 MB of real row writes, then a switch, as a busy database's archive looks.
        log.WriteLine($"  W={segments}: writing and switching {segments} segments");
        for (var i = 0; i < segments; i++)
        {
            await primary.ExecuteAsync("postgres", "insert into events(payload) select repeat(md5(g::text), 8) from generate_series(1, 8000) g", ct, 600);
            await primary.ExecuteAsync("postgres", "select pg_switch_wal()", ct, 600);
        }
        await DemoSource.SwitchAndWaitForArchiveAsync(primary, ct);
        var rows = (long)(await primary.ScalarAsync("postgres", "select count(*) from events", ct, 600))!;
        await primary.StopAsync();

        log.WriteLine($"  W={segments}: archiving {Directory.GetFiles(wal).Length} WAL files with barman-cloud-wal-archive (plain and --gzip)");
        var files = Directory.GetFiles(wal).Order(StringComparer.Ordinal).ToList();
        using var gate = new SemaphoreSlim(4);
        await Task.WhenAll(files.SelectMany(f => new[] { ("plain", (string?)null, f), ("gzip", "--gzip", f) }).Select(async job =>
        {
            await gate.WaitAsync(ct);
            try
            {
                var args = new List<string> { "--endpoint-url", s3.Endpoint };
                if (job.Item2 is not null) args.Add(job.Item2);
                args.AddRange([Destination, job.Item1, job.f]);
                await CommandRunner.RunCheckedAsync("barman-cloud-wal-archive", "barman-cloud-wal-archive", args, account, env, ct);
            }
            finally
            {
                gate.Release();
            }
        }));
        return new BenchSource(root, s3, account, binaries, segments, rows);
    }

    public ValueTask DisposeAsync()
    {
        S3.Dispose();
        Directory.Delete(_root, recursive: true);
        return ValueTask.CompletedTask;
    }
}
