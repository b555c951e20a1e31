using RestoreOps.Backups;
using RestoreOps.Model;
using RestoreOps.ObjectStore;
using RestoreOps.Tests.Fixtures;
using Xunit;

namespace RestoreOps.Tests.Backups;

/// <summary>
/// Catalogue logic over a synthetic Barman layout in s3rver (backup.info texts from real barman output, stand-in
/// archives). Tests against real barman-cloud-backup output live with the shared backup fixture.
/// </summary>
[Collection("s3rver")]
public sealed class BarmanCloudCatalogTests(S3rverServer s3)
{
    private static string Info(string status, string begin, string? end, string? error = null, string? name = null) =>
        $"""
        backup_name={name ?? "None"}
        begin_time={begin}
        begin_wal=000000010000000000000005
        begin_xlog=0/5000028
        compression=None
        end_time={end ?? "None"}
        end_wal={(end is null ? "None" : "000000010000000000000005")}
        end_xlog={(end is null ? "None" : "0/5000100")}
        error={error ?? "None"}
        server_name=cloud
        status={status}
        systemid=7710489969471539644
        timeline=1
        version=150018
        xlog_segment_size=16777216

        """;

    private async Task<string> LayoutAsync(params (string Key, string Body)[] objects)
    {
        var root = $"cat-{Guid.NewGuid():N}";
        using var client = s3.CreateClient();
        foreach (var (key, body) in objects) await s3.PutAsync(client, $"{root}/{key}", body);
        return root;
    }

    private BarmanCloudCatalog Catalog(string root, string server = "pg1") =>
        BarmanCloudCatalog.Create($"s3://{S3rverServer.Bucket}/{root}", server, s3.Options);

    [Fact]
    public async Task Lists_done_backups_newest_first_with_everything_a_restore_needs()
    {
        var root = await LayoutAsync(
            ("pg1/base/20261121T051922/backup.info", Info("DONE", "2026-11-21 05:19:22.1+00:00", "2026-11-21 05:19:25.5+00:00", name: "plain1")),
            ("pg1/base/20261121T051922/data.tar", "tar"),
            ("pg1/base/20261121T051928/backup.info", BackupInfoFileTests.DoneGzip),
            ("pg1/base/20261121T051928/data.tar.gz", "gz"),
            ("pg1/base/20261121T052102/backup.info", BackupInfoFileTests.FailedSnappy),
            // an upload still running (or killed): data but no backup.info yet
            ("pg1/base/20261121T053000/data.tar.gz", "partial"),
            ("pg1/wals/0000000100000000/000000010000000000000005.gz", "wal"),
            ("other/base/20261121T060000/backup.info", BackupInfoFileTests.DoneGzip));

        using var catalog = Catalog(root);
        var backups = await catalog.ListAsync();

        Assert.Equal(new[] { "20261121T051928", "20261121T051922" }, backups.Select(b => b.Id));
        var gz = backups[0];
        Assert.Equal("gz1", gz.Name);
        Assert.Equal(BackupSourceKind.BarmanCloud, gz.SourceKind);
        Assert.Equal("barman-cloud", gz.Method);
        Assert.Equal($"s3://backups/{root}/pg1", gz.Source);
        Assert.Equal(BackupStatus.Done, gz.Status);
        Assert.Equal("gzip", gz.Compression);
        Assert.Equal(15, gz.PostgresMajorVersion);
        Assert.Equal(150018, gz.PostgresVersionNumber);
        Assert.Equal(1, gz.Timeline);
        Assert.Equal("0/5000028", gz.BeginLsn);
        Assert.Equal("0/5000100", gz.EndLsn);
        Assert.Equal("000000010000000000000005", gz.BeginWal);
        Assert.Equal("7710489969471539644", gz.SystemId);
        Assert.Equal(new DateTimeOffset(2026, 11, 21, 5, 19, 31, TimeSpan.Zero).AddTicks(9368110), gz.EndTime);
        Assert.Equal(16 * 1024 * 1024, gz.WalSegmentSize);
        Assert.Null(gz.Error);
        Assert.Equal($"s3://backups/{root}", gz.Location.DestinationPath);
        Assert.Equal("pg1", gz.Location.ServerName);
        Assert.Equal(s3.Endpoint, gz.Location.EndpointUrl);
        Assert.Equal("us-east-1", gz.Location.Region);
        Assert.Equal(new[] { $"{root}/pg1/base/20261121T051928/data.tar.gz" }, gz.Location.DataObjects);

        Assert.Equal("none", backups[1].Compression);
        Assert.Equal("plain1", backups[1].Name);

        var all = await catalog.ListAsync(includeUnusable: true);
        Assert.Equal(3, all.Count);
        var failed = Assert.Single(all, b => b.Status == BackupStatus.Failed);
        Assert.Equal("20261121T052102", failed.Id);
        Assert.Contains("python-snappy", failed.Error);
        Assert.Empty(failed.Location.DataObjects);
        Assert.Null(failed.Compression);
        Assert.Equal(failed, all[0]);      // no end time, but it started last: the newest in the history

        Assert.Equal("20261121T051928", (await catalog.GetLatestAsync()).Id);
        Assert.Equal("20261121T051922", (await catalog.GetAsync("plain1")).Id);
        Assert.Equal("20261121T051922", (await catalog.GetAsync("20261121T051922")).Id);
        await Assert.ThrowsAsync<ConfigurationException>(() => catalog.GetAsync("nope"));
    }

    [Fact]
    public async Task Data_objects_come_in_restore_order()
    {
        var root = await LayoutAsync(
            ("pg1/base/20261121T070000/backup.info", BackupInfoFileTests.DoneGzip),
            ("pg1/base/20261121T070000/16390.tar.gz", "t"),
            ("pg1/base/20261121T070000/data_0010.tar.gz", "d"),
            ("pg1/base/20261121T070000/data_0002.tar.gz", "d"),
            ("pg1/base/20261121T070000/9000.tar.gz", "t"),
            ("pg1/base/20261121T070000/data.tar.gz", "d"),
            ("pg1/base/20261121T070000/data_0001.tar.gz", "d"),
            ("pg1/base/20261121T070000/backup_label", "label"));

        using var catalog = Catalog(root);
        var backup = Assert.Single(await catalog.ListAsync());
        var prefix = $"{root}/pg1/base/20261121T070000/";
        Assert.Equal(new[] { "data.tar.gz", "data_0001.tar.gz", "data_0002.tar.gz", "data_0010.tar.gz", "9000.tar.gz", "16390.tar.gz" },
            backup.Location.DataObjects.Select(k => k[prefix.Length..]));
    }

    [Fact]
    public async Task No_backups_at_all_is_a_configuration_error_naming_the_searched_prefix()
    {
        var root = await LayoutAsync(("pg1/base/20261121T051928/backup.info", BackupInfoFileTests.DoneGzip));
        using var catalog = Catalog(root, "cluster-typo");
        var ex = await Assert.ThrowsAsync<ConfigurationException>(() => catalog.GetLatestAsync());
        Assert.Contains($"s3://backups/{root}/cluster-typo/base/", ex.Message);
        Assert.Contains("cluster-typo", ex.Fix);
        Assert.Empty(await catalog.ListAsync(includeUnusable: true));
    }

    [Fact]
    public async Task Only_failed_backups_is_a_restore_failure_listing_their_errors()
    {
        var root = await LayoutAsync(
            ("pg1/base/20261121T052102/backup.info", BackupInfoFileTests.FailedSnappy),
            ("pg1/base/20261121T052200/backup.info", Info("FAILED", "2026-11-21 05:22:00+00:00", null, error: "failure contacting PostgreSQL")),
            ("pg1/base/20261121T052300/backup.info", Info("STARTED", "2026-11-21 05:23:00+00:00", null)));
        using var catalog = Catalog(root);
        var ex = await Assert.ThrowsAsync<RestoreFailedException>(() => catalog.GetLatestAsync());
        Assert.Contains("3 backup(s) found", ex.Message);
        Assert.Contains("2 FAILED", ex.Message);
        Assert.Contains("python-snappy", ex.Message);
        Assert.Contains("failure contacting PostgreSQL", ex.Message);
        Assert.Contains("20261121T052300: Started", ex.Message);
        Assert.Contains($"s3://backups/{root}/pg1/base/", ex.Message);
        Assert.Empty(await catalog.ListAsync());
    }

    [Fact]
    public async Task A_damaged_backup_info_is_listed_as_unusable_without_hiding_the_others()
    {
        var root = await LayoutAsync(
            ("pg1/base/20261121T051928/backup.info", BackupInfoFileTests.DoneGzip),
            ("pg1/base/20261121T051928/data.tar.gz", "gz"),
            ("pg1/base/20261121T080000/backup.info", "status=DONE\nbegin_time=not a time\n\u0000garbage"),
            ("pg1/base/20261121T090000/backup.info", "status=DONE\nend_time=2026-11-21 09:00:00+00:00\n"));
        using var catalog = Catalog(root);

        var all = await catalog.ListAsync(includeUnusable: true);
        var damaged = Assert.Single(all, b => b.Id == "20261121T080000");
        Assert.Equal(BackupStatus.Unknown, damaged.Status);
        Assert.Contains("backup.info", damaged.Error);

        // DONE without any data archive: newest, still listed, but the error says what is missing.
        var empty = all[0];
        Assert.Equal("20261121T090000", empty.Id);
        Assert.Contains("no data.tar", empty.Error);
        Assert.Empty(empty.Location.DataObjects);
    }

    [Fact]
    public async Task A_backup_dated_in_the_future_is_never_the_latest_and_says_why()
    {
        // A forged or clock-skewed end time would make this the "newest" backup, with a negative age that meets any RPO.
        var future = DateTimeOffset.UtcNow.AddDays(30).ToString("yyyy-MM-dd HH:mm:ss.ffffff+00:00", System.Globalization.CultureInfo.InvariantCulture);
        var root = await LayoutAsync(
            ("pg1/base/20261121T051928/backup.info", BackupInfoFileTests.DoneGzip),
            ("pg1/base/20261121T051928/data.tar.gz", "gz"),
            ("pg1/base/20261122T000000/backup.info", Info("DONE", "2026-11-22 00:00:00+00:00", future)),
            ("pg1/base/20261122T000000/data.tar.gz", "gz"));
        using var catalog = Catalog(root);

        Assert.Equal(["20261121T051928"], (await catalog.ListAsync()).Select(b => b.Id));
        Assert.Equal("20261121T051928", (await catalog.GetLatestAsync()).Id);
        var flagged = Assert.Single(await catalog.ListAsync(includeUnusable: true), b => b.Id == "20261122T000000");
        Assert.Equal(BackupStatus.Unknown, flagged.Status);
        Assert.Contains($"end_time='{future}'", flagged.Error);
        var ex = await Assert.ThrowsAsync<RestoreFailedException>(() => catalog.GetAsync("20261122T000000"));
        Assert.Contains($"s3://backups/{root}/pg1/base/20261122T000000/backup.info", ex.Message);
        Assert.Contains("in the future", ex.Message);
    }

    [Fact]
    public async Task Only_damaged_backups_fail_latest_with_each_ones_key_and_value()
    {
        var root = await LayoutAsync(
            ("pg1/base/20261121T051928/backup.info", BackupInfoFileTests.DoneGzip.Replace("xlog_segment_size=16777216", "xlog_segment_size=0")),
            ("pg1/base/20261121T051928/data.tar.gz", "gz"));
        using var catalog = Catalog(root);
        var ex = await Assert.ThrowsAsync<RestoreFailedException>(() => catalog.GetLatestAsync());
        Assert.Contains("xlog_segment_size='0'", ex.Message);
        Assert.Contains($"s3://backups/{root}/pg1/base/20261121T051928/backup.info", ex.Message);
    }

    [Fact]
    public async Task Works_at_the_bucket_root_with_many_backups_read_in_parallel()
    {
        var server = $"srv-{Guid.NewGuid():N}";
        var objects = Enumerable.Range(0, 30).SelectMany(i =>
        {
            var id = $"20261122T{i:D2}0000";
            return new[]
            {
                ($"{server}/base/{id}/backup.info", Info("DONE", $"2026-11-22 {i % 24:D2}:00:00+00:00", $"2026-11-22 {i % 24:D2}:30:00+00:00")),
                ($"{server}/base/{id}/data.tar.bz2", "x"),
            };
        }).ToArray();
        using (var client = s3.CreateClient())
            foreach (var (key, body) in objects) await s3.PutAsync(client, key, body);

        using var catalog = BarmanCloudCatalog.Create("s3://backups", server, s3.Options);
        var backups = await catalog.ListAsync();
        Assert.Equal(30, backups.Count);
        Assert.All(backups, b => Assert.Equal("bzip2", b.Compression));
        // 23:30 is the latest end time (i = 23); ties on end time (i and i+24) break by id, newest first.
        Assert.Equal("20261122T230000", backups[0].Id);
        Assert.Equal(new[] { "20261122T220000", "20261122T210000" }, backups.Skip(1).Take(2).Select(b => b.Id));
        Assert.Equal(new[] { "20261122T290000", "20261122T050000" }, backups.Where(b => b.EndTime!.Value.Hour == 5).Select(b => b.Id));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData(" pg1")]
    public void Bad_server_names_are_configuration_errors(string server)
    {
        var ex = Assert.Throws<ConfigurationException>(() => BarmanCloudCatalog.Create("s3://backups/pg", server, s3.Options));
        Assert.Contains("server name", ex.Message);
    }

    [Fact]
    public void OrderDataObjects_ignores_non_archives()
    {
        Assert.Equal(new[] { "data.tar", "data_0001.tar" },
            BarmanCloudCatalog.OrderDataObjects(new[] { "backup.info", "data_0001.tar", "backup_label", "data.tar", "data_x.tar", "notes.txt" }));
    }
}
