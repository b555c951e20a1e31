using RestoreOps.Backups;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Backups;

public sealed class BackupInfoFileTests
{
    // backup.info of a real `barman-cloud-backup --gzip -n gz1` (barman 3.4), as shown in RECIPES.md §4.
    internal const string DoneGzip = """
backup_label='START WAL LOCATION: 0/5000028 (file 000000010000000000000005)\nCHECKPOINT LOCATION: 0/5000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-11-21 05:19:28 UTC\nLABEL: Barman backup cloud 20261121T051928\nSTART TIMELINE: 1\n'
backup_name=gz1
begin_offset=40
begin_time=2026-11-21 05:19:28.372824+00:00
begin_wal=000000010000000000000005
begin_xlog=0/5000028
compression=None
config_file=$W/pgdata/postgresql.conf
copy_stats={'total_time': 5.786991, 'number_of_workers': 2, 'analysis_time': 0, 'analysis_time_per_item': {'data': 0}, 'copy_time_per_item': {'data': 0.157113}, 'serialized_copy_time_per_item': {'data': 0.117332}, 'copy_time': 0.157113, 'serialized_copy_time': 0.117332}
deduplicated_size=None
end_offset=256
end_time=2026-11-21 05:19:31.936811+00:00
end_wal=000000010000000000000005
end_xlog=0/5000100
error=None
hba_file=$W/pgdata/pg_hba.conf
ident_file=$W/pgdata/pg_ident.conf
included_files=None
mode=None
pgdata=$W/pgdata
server_name=cloud
size=None
status=DONE
systemid=7710489969471539644
tablespaces=None
timeline=1
version=150018
xlog_segment_size=16777216

""";

    // The FAILED variant RECIPES.md §4 describes (--snappy without python-snappy).
    internal const string FailedSnappy = """
backup_label=None
backup_name=snap1
begin_offset=40
begin_time=2026-11-21 05:21:02.114527+00:00
begin_wal=000000010000000000000007
begin_xlog=0/7000028
compression=None
end_offset=None
end_time=None
end_wal=None
end_xlog=None
error=failure uploading data (Missing required python module: python-snappy)
server_name=cloud
status=FAILED
systemid=7710489969471539644
tablespaces=None
timeline=1
version=150018
xlog_segment_size=16777216
""";

    [Fact]
    public void Parses_a_done_backup_exactly()
    {
        var info = BackupInfoFile.Parse(DoneGzip, "20261121T051928", "s3://backups/pg/pg1/base/20261121T051928/backup.info");

        Assert.Equal("20261121T051928", info.BackupId);
        Assert.Equal("DONE", info.Status);
        Assert.Equal(BackupStatus.Done, info.BackupStatus);
        Assert.Equal("gz1", info.BackupName);
        Assert.Equal(new DateTimeOffset(2026, 11, 21, 5, 19, 28, TimeSpan.Zero).AddTicks(3728240), info.BeginTime);
        Assert.Equal(new DateTimeOffset(2026, 11, 21, 5, 19, 31, TimeSpan.Zero).AddTicks(9368110), info.EndTime);
        Assert.Equal(TimeSpan.Zero, info.EndTime!.Value.Offset);
        Assert.Equal("000000010000000000000005", info.BeginWal);
        Assert.Equal("000000010000000000000005", info.EndWal);
        Assert.Equal("0/5000028", info.BeginXlog);
        Assert.Equal("0/5000100", info.EndXlog);
        Assert.Equal(1, info.Timeline);
        Assert.Equal(150018, info.Version);
        Assert.Equal(15, info.PostgresMajorVersion);
        Assert.Equal("7710489969471539644", info.SystemId);
        Assert.Equal(16777216L, info.XlogSegmentSize);
        Assert.Null(info.Error);
        Assert.Null(info.Tablespaces);
        Assert.Null(info.Compression);                     // None even though the data is gzip
        Assert.Equal("cloud", info["server_name"]);        // kept, but never the server name
        Assert.Equal(40L, info.GetLong("begin_offset"));
        Assert.Null(info.GetLong("size"));
        Assert.StartsWith("{'total_time': 5.786991,", info["copy_stats"]);
        Assert.Equal(28, info.Values.Count);
    }

    [Fact]
    public void The_backup_label_is_unquoted_and_unescaped()
    {
        var info = BackupInfoFile.Parse(DoneGzip, "20261121T051928", "test");
        var label = info.BackupLabel!;
        Assert.StartsWith("START WAL LOCATION: 0/5000028 (file 000000010000000000000005)\nCHECKPOINT LOCATION: 0/5000060\n", label);
        Assert.EndsWith("LABEL: Barman backup cloud 20261121T051928\nSTART TIMELINE: 1\n", label);
        Assert.Equal(7, label.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith("'START WAL", info["backup_label"]);   // raw stays raw
    }

    [Fact]
    public void Parses_a_failed_backup()
    {
        var info = BackupInfoFile.Parse(FailedSnappy, "20261121T052102", "test");
        Assert.Equal(BackupStatus.Failed, info.BackupStatus);
        Assert.Equal("failure uploading data (Missing required python module: python-snappy)", info.Error);
        Assert.Null(info.EndTime);
        Assert.Null(info.EndWal);
        Assert.Null(info.BackupLabel);
        Assert.NotNull(info.BeginTime);
    }

    [Fact]
    public void Unknown_keys_and_crlf_and_equals_in_values_are_tolerated()
    {
        var info = BackupInfoFile.Parse("status=DONE\r\ndata_checksums=on\r\nsummarize_wal=off\r\nerror=a=b=c\r\nparent_backup_id=None\r\n", "x", "test");
        Assert.Equal("on", info["data_checksums"]);
        Assert.Equal("a=b=c", info.Error);
        Assert.Null(info["parent_backup_id"]);
        Assert.True(info.Values.ContainsKey("parent_backup_id"));
        Assert.Null(info.BeginTime);
        Assert.Null(info["no_such_key"]);
    }

    [Theory]
    [InlineData("DONE", BackupStatus.Done)]
    [InlineData("FAILED", BackupStatus.Failed)]
    [InlineData("STARTED", BackupStatus.Started)]
    [InlineData("WAITING_FOR_WALS", BackupStatus.WaitingForWals)]
    [InlineData("SYNCING", BackupStatus.Syncing)]
    [InlineData("EMPTY", BackupStatus.Empty)]
    [InlineData("KEEP:FULL", BackupStatus.Unknown)]
    public void Statuses_map_to_the_model(string status, BackupStatus expected)
    {
        Assert.Equal(expected, BackupInfoFile.Parse($"status={status}\n", "x", "test").BackupStatus);
    }

    [Theory]
    [InlineData("2026-11-21 05:19:28+00:00", "2026-11-21T05:19:28.0000000+00:00")]
    [InlineData("2026-11-21 07:19:28.5+02:00", "2026-11-21T05:19:28.5000000+00:00")]
    [InlineData("2026-11-21T05:19:28.123456+00:00", "2026-11-21T05:19:28.1234560+00:00")]
    [InlineData("2026-11-21 05:19:28", "2026-11-21T05:19:28.0000000+00:00")]
    public void Times_become_utc(string raw, string expected)
    {
        var info = BackupInfoFile.Parse($"end_time={raw}\n", "x", "test");
        Assert.Equal(expected, info.EndTime!.Value.ToString("O"));
    }

    [Fact]
    public void A_malformed_value_names_the_file_and_key()
    {
        var info = BackupInfoFile.Parse("timeline=one\nend_time=yesterday\n", "x", "s3://b/p/backup.info");
        var ex = Assert.Throws<RestoreFailedException>(() => info.Timeline);
        Assert.Contains("s3://b/p/backup.info", ex.Message);
        Assert.Contains("timeline='one'", ex.Message);
        Assert.Throws<RestoreFailedException>(() => info.EndTime);
    }

    [Fact]
    public void A_line_without_equals_is_rejected_with_its_line_number()
    {
        var ex = Assert.Throws<RestoreFailedException>(() => BackupInfoFile.Parse("status=DONE\ngarbage line\n", "x", "s3://b/backup.info"));
        Assert.Contains("line 2", ex.Message);
        Assert.Contains("s3://b/backup.info", ex.Message);
    }

    [Theory]
    [InlineData("'plain'", "plain")]
    [InlineData("\"it's\"", "it's")]
    [InlineData(@"'a\\b\'c\td'", "a\\b'c\td")]
    [InlineData(@"'caf\xe9 \u20ac'", "café €")]
    [InlineData(@"'keep \q'", @"keep \q")]
    [InlineData("unquoted 'x'", "unquoted 'x'")]
    [InlineData("'", "'")]
    public void Python_string_reprs_are_decoded(string raw, string expected)
    {
        Assert.Equal(expected, BackupInfoFile.UnquotePython(raw));
    }

    private const string InfoSource = "s3://backups/pg/pg1/base/20261121T051928/backup.info";
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The real DONE backup.info with one value replaced, as a damaged or forged file would have it.</summary>
    private static BackupInfoFile DoneWith(string key, string value) =>
        BackupInfoFile.Parse(System.Text.RegularExpressions.Regex.Replace(DoneGzip, $"(?m)^{key}=.*$", $"{key}={value}"), "20261121T051928", InfoSource);

    [Fact]
    public void The_real_backup_info_passes_validation()
    {
        BackupInfoFile.Parse(DoneGzip, "20261121T051928", InfoSource).Validate(Now);
        BackupInfoFile.Parse(FailedSnappy, "20261121T052102", InfoSource).Validate(Now);
    }

    [Theory]
    [InlineData("xlog_segment_size", "0")]
    [InlineData("xlog_segment_size", "-16777216")]
    [InlineData("xlog_segment_size", "16777215")]
    [InlineData("xlog_segment_size", "524288")]
    [InlineData("xlog_segment_size", "2147483648")]
    [InlineData("timeline", "0")]
    [InlineData("timeline", "-3")]
    [InlineData("version", "15")]
    [InlineData("version", "1500018")]
    public void Numbers_outside_postgres_ranges_name_the_file_key_and_value(string key, string value)
    {
        var info = DoneWith(key, value);
        // The typed value itself refuses: every consumer (the catalogue, WAL arithmetic) gets a valid number or this error.
        var ex = Assert.Throws<RestoreFailedException>(() => key switch
        {
            "xlog_segment_size" => (object?)info.XlogSegmentSize,
            "timeline" => info.Timeline,
            _ => info.Version,
        });
        Assert.Contains(InfoSource, ex.Message);
        Assert.Contains($"{key}='{value}'", ex.Message);
        Assert.Throws<RestoreFailedException>(() => info.Validate(Now));
    }

    [Theory]
    [InlineData("xlog_segment_size", "1048576")]
    [InlineData("xlog_segment_size", "1073741824")]
    [InlineData("version", "90624")]
    [InlineData("version", "180001")]
    public void Every_size_and_version_postgres_can_have_is_accepted(string key, string value)
    {
        // With 1 GiB segments a log file holds 4 of them: segment 05 would not exist, 03 does.
        var text = System.Text.RegularExpressions.Regex.Replace(DoneGzip, $"(?m)^{key}=.*$", $"{key}={value}").Replace("000000010000000000000005", "000000010000000000000003");
        BackupInfoFile.Parse(text, "20261121T051928", InfoSource).Validate(Now);
    }

    [Theory]
    [InlineData("begin_wal", "00000001000000000000000G")]
    [InlineData("begin_wal", "000000000000000000000005")]
    [InlineData("end_wal", "0000000100000000000001FF")]
    [InlineData("end_wal", "000000010000000000000004")]
    [InlineData("begin_xlog", "5000028")]
    [InlineData("end_xlog", "0/5000000")]
    [InlineData("end_time", "2026-11-21 05:19:27+00:00")]
    public void Wal_names_locations_and_times_that_cannot_be_are_refused(string key, string value)
    {
        var ex = Assert.Throws<RestoreFailedException>(() => DoneWith(key, value).Validate(Now));
        Assert.Contains(InfoSource, ex.Message);
        Assert.Contains($"{key}='{value}'", ex.Message);
    }

    [Fact]
    public void A_time_in_the_future_beyond_clock_skew_is_refused_and_within_it_is_not()
    {
        var future = Now.AddHours(3).ToString("yyyy-MM-dd HH:mm:ss.ffffff+00:00", System.Globalization.CultureInfo.InvariantCulture);
        var ex = Assert.Throws<RestoreFailedException>(() => DoneWith("end_time", future).Validate(Now));
        Assert.Contains($"end_time='{future}'", ex.Message);
        Assert.Contains("3h0m in the future", ex.Message);
        Assert.Contains("clock", ex.Fix);

        var skewed = Now.AddMinutes(2).ToString("yyyy-MM-dd HH:mm:ss.ffffff+00:00", System.Globalization.CultureInfo.InvariantCulture);
        DoneWith("end_time", skewed).Validate(Now);
    }
}
