using RestoreOps.Model;
using RestoreOps.ObjectStore;
using RestoreOps.Tests.Fixtures;
using Xunit;

namespace RestoreOps.Tests.Faults;

/// <summary>
/// Object reads through <see cref="FaultProxy"/> in front of the real s3rver: every fault either heals (the exact
/// bytes arrive) or becomes the right error, naming the object and the endpoint, and nothing hangs.
/// </summary>
[Collection("s3rver")]
public sealed class ObjectStoreFaultTests(S3rverServer s3) : IAsyncLifetime
{
    private const int Size = 1_000_000;
    private FaultProxy _proxy = null!;

    public Task InitializeAsync()
    {
        _proxy = new FaultProxy(s3.Endpoint);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _proxy.DisposeAsync();

    private async Task<(string Key, byte[] Body)> PutAsync(int size = Size, int seed = 1)
    {
        var key = $"faults-{Guid.NewGuid():N}/object.bin";
        var body = new byte[size];
        new Random(seed).NextBytes(body);
        using var client = s3.CreateClient();
        await s3.PutAsync(client, key, body);
        return (key, body);
    }

    /// <summary>The engine's store through the proxy, with a 2 s read timeout and quick retries.</summary>
    private S3ObjectStore Store(int attempts = 3, TimeSpan? readTimeout = null) => new(S3rverServer.Bucket, _proxy.Options(s3.Options) with
    {
        ReadInactivityTimeout = readTimeout ?? TimeSpan.FromSeconds(2),
        ReadAttempts = attempts,
        RetryDelay = TimeSpan.FromMilliseconds(50),
    });

    /// <summary>Reads an object whole. The guard turns a hang (the defect these tests exist for) into a failure.</summary>
    private static async Task<byte[]> ReadAllAsync(IObjectStore store, string key, IProgress<ObjectReadProgress>? progress = null)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var stream = await store.OpenReadAsync(key, progress, guard.Token);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, guard.Token);
        return copy.ToArray();
    }

    private List<ProxiedRequest> RequestsFor(string key) => _proxy.Requests.Where(r => r.Key == key).ToList();

    [Fact]
    public async Task A_body_that_stalls_for_good_is_an_infrastructure_error_naming_object_and_endpoint()
    {
        var (key, _) = await PutAsync();
        var rule = _proxy.Add(new FaultRule { Key = k => k == key, StallAt = 300_000 });
        using var store = Store(attempts: 3);

        var ex = await Assert.ThrowsAsync<InfrastructureException>(() => ReadAllAsync(store, key));

        Assert.Equal(300_000, await rule.Fired.Task);
        Assert.Contains($"s3://backups/{key}", ex.Message);
        Assert.Contains(_proxy.Endpoint, ex.Message);
        Assert.Contains("no data for 2 s", ex.Message);
        // The fix names the setting in each front end's own spelling.
        Assert.Contains("--read-timeout", ex.Render(InputSpelling.Cli));
        Assert.DoesNotContain("--read-timeout", ex.Render(InputSpelling.PowerShell));
        var requests = RequestsFor(key);
        Assert.Equal(3, requests.Count);
        Assert.Null(requests[0].Range);
        Assert.All(requests.Skip(1), r => Assert.Equal($"bytes=300000-{Size - 1}", r.Range));
    }

    [Fact]
    public async Task A_body_that_stalls_once_is_resumed_from_the_byte_reached_with_a_range_request()
    {
        var (key, body) = await PutAsync();
        var rule = _proxy.Add(new FaultRule { Key = k => k == key, StallAt = 300_000, Times = 1 });
        using var store = Store();

        var read = await ReadAllAsync(store, key);

        Assert.True(body.AsSpan().SequenceEqual(read));
        Assert.Equal(1, rule.Hits);
        var requests = RequestsFor(key);
        Assert.Equal(2, requests.Count);
        // s3rver honours Range: the resumed request is answered 206 with the rest only.
        Assert.Equal($"bytes=300000-{Size - 1}", requests[1].Range);
        Assert.Equal(206, requests[1].Status);
    }

    [Fact]
    public async Task A_connection_reset_mid_body_is_resumed_and_returns_the_exact_bytes()
    {
        var (key, body) = await PutAsync();
        var rule = _proxy.Add(new FaultRule { Key = k => k == key, ResetAt = 500_000, Times = 1 });
        using var store = Store();

        var read = await ReadAllAsync(store, key);

        Assert.True(body.AsSpan().SequenceEqual(read));
        Assert.Equal(500_000, await rule.Fired.Task);
        var resumed = RequestsFor(key)[1];
        Assert.StartsWith("bytes=", resumed.Range);
        Assert.Equal(206, resumed.Status);
    }

    [Fact]
    public async Task A_reset_that_recurs_at_the_same_byte_gives_up_naming_object_and_endpoint()
    {
        var (key, _) = await PutAsync();
        _proxy.Add(new FaultRule { Key = k => k == key, ResetAt = 500_000 });
        using var store = Store(attempts: 3);

        var ex = await Assert.ThrowsAsync<InfrastructureException>(() => ReadAllAsync(store, key));

        Assert.Contains($"s3://backups/{key}", ex.Message);
        Assert.Contains(_proxy.Endpoint, ex.Message);
        Assert.Contains("Gave up", ex.Message);
    }

    [Fact]
    public async Task A_body_cut_short_under_a_correct_content_length_is_resumed()
    {
        var (key, body) = await PutAsync();
        _proxy.Add(new FaultRule { Key = k => k == key, TruncateAt = 400_000, Times = 1 });
        using var store = Store();

        var read = await ReadAllAsync(store, key);

        Assert.True(body.AsSpan().SequenceEqual(read));
        Assert.Equal($"bytes=400000-{Size - 1}", RequestsFor(key)[1].Range);
    }

    [Fact]
    public async Task A_body_cut_short_under_a_matching_short_content_length_is_caught_by_the_md5_and_completed()
    {
        var (key, body) = await PutAsync();
        _proxy.Add(new FaultRule { Key = k => k == key, TruncateAt = 400_000, LieAboutLength = true, Times = 1 });
        using var store = Store();

        var read = await ReadAllAsync(store, key);

        Assert.True(body.AsSpan().SequenceEqual(read));
        var requests = RequestsFor(key);
        Assert.Equal("truncate, short length", requests[0].Fault);
        // The lie is only visible as an MD5 mismatch; the read then asks what follows the bytes it has.
        Assert.Equal("bytes=400000-", requests[1].Range);
        Assert.Equal(206, requests[1].Status);
    }

    [Fact]
    public async Task A_burst_of_503s_longer_than_the_sdk_retries_is_retried_and_returns_the_exact_bytes()
    {
        var (key, body) = await PutAsync();
        var rule = _proxy.Add(new FaultRule { Key = k => k == key, Status503 = 5 });
        using var store = Store(attempts: 4);

        var read = await ReadAllAsync(store, key);

        Assert.True(body.AsSpan().SequenceEqual(read));
        Assert.Equal(5, rule.Hits);
    }

    [Fact]
    public async Task A_500_on_one_object_fails_naming_it_while_other_objects_read()
    {
        var (bad, _) = await PutAsync();
        var (good, body) = await PutAsync(seed: 2);
        _proxy.Add(new FaultRule { Key = k => k == bad, Status500 = true });
        // The SDK's own retries of a 500 (with its backoff) run inside one of our attempts: on a busy machine they could
        // outlast a 2 s deadline and turn this into a timeout test. The 500s themselves come at once.
        using var store = Store(attempts: 2, readTimeout: TimeSpan.FromSeconds(30));

        var ex = await Assert.ThrowsAsync<InfrastructureException>(() => ReadAllAsync(store, bad));
        Assert.Contains($"s3://backups/{bad}", ex.Message);
        Assert.Contains(_proxy.Endpoint, ex.Message);
        Assert.Contains("HTTP 500 InternalError", ex.Message);

        var read = await ReadAllAsync(store, good);
        Assert.True(body.AsSpan().SequenceEqual(read));
    }

    [Fact]
    public async Task A_slow_link_delivers_every_byte_and_reports_bytes_and_size_as_they_arrive()
    {
        // 600 KB at 300 KB/s: the whole transfer outlasts the 2 s read timeout, the silences within it do not.
        var (key, body) = await PutAsync(600_000);
        _proxy.Add(new FaultRule { Key = k => k == key, BytesPerSecond = 300_000 });
        using var store = Store();
        var reports = new List<ObjectReadProgress>();

        var read = await ReadAllAsync(store, key, new SyncProgress<ObjectReadProgress>(reports.Add));

        Assert.True(body.AsSpan().SequenceEqual(read));
        Assert.True(reports.Count > 10, $"{reports.Count} reports");
        Assert.All(reports, r => Assert.Equal(600_000, r.TotalBytes));
        Assert.Equal(reports.Select(r => r.BytesRead).Order(), reports.Select(r => r.BytesRead));
        Assert.Equal(600_000, reports[^1].BytesRead);
        Assert.All(reports, r => Assert.Null(r.Retrying));
    }

    [Fact]
    public async Task A_retry_is_reported_to_the_progress_sink_with_its_cause()
    {
        var (key, _) = await PutAsync();
        _proxy.Add(new FaultRule { Key = k => k == key, StallAt = 300_000, Times = 1 });
        using var store = Store();
        var reports = new List<ObjectReadProgress>();

        await ReadAllAsync(store, key, new SyncProgress<ObjectReadProgress>(reports.Add));

        var retry = Assert.Single(reports, r => r.Retrying is not null);
        Assert.Equal(300_000, retry.BytesRead);
        Assert.Equal("attempt 2 of 3 after: no data for 2 s (the read timeout)", retry.Retrying);
    }

    [Fact]
    public async Task Bytes_damaged_in_transit_once_are_a_retryable_infrastructure_error_not_a_corrupt_backup()
    {
        var (key, _) = await PutAsync();
        var rule = _proxy.Add(new FaultRule { Key = k => k == key, FlipAt = 123_456, Times = 1 });
        using var store = Store();

        var ex = await Assert.ThrowsAsync<InfrastructureException>(() => ReadAllAsync(store, key));

        Assert.Equal(123_456, await rule.Fired.Task);
        Assert.Contains($"s3://backups/{key}", ex.Message);
        Assert.Contains("arrived damaged", ex.Message);
        Assert.Contains("second read matched", ex.Message);
        Assert.True(ObjectReadStream.IsRetryable(ex));
    }

    [Fact]
    public async Task A_stored_object_whose_bytes_no_longer_match_its_etag_is_a_restore_failure_naming_it()
    {
        var (key, _) = await PutAsync();
        await using (var file = new FileStream(s3.StoredObjectFile(key), FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 654_321;
            var b = (byte)file.ReadByte();
            file.Position = 654_321;
            file.WriteByte((byte)~b);
        }
        using var store = Store();

        var ex = await Assert.ThrowsAsync<RestoreFailedException>(() => ReadAllAsync(store, key));

        Assert.Contains($"s3://backups/{key}", ex.Message);
        Assert.Contains(_proxy.Endpoint, ex.Message);
        Assert.Contains("is damaged", ex.Message);
        Assert.Contains("ETag", ex.Message);
        Assert.False(ObjectReadStream.IsRetryable(ex));
    }

    [Fact]
    public async Task A_bzip2_object_is_read_to_its_end_so_its_checksum_is_checked()
    {
        // The bzip2 decoder stops at its end-of-stream marker; bytes after it (here: padding) are only ever read, and
        // the object's MD5 only ever checked, because the decompressing stream drains its input at the end.
        var payload = new byte[300_000];
        new Random(3).NextBytes(payload);
        using var compressed = new MemoryStream();
        using (var bzip2 = new ICSharpCode.SharpZipLib.BZip2.BZip2OutputStream(compressed) { IsStreamOwner = false }) bzip2.Write(payload);
        var length = compressed.Length;
        compressed.Write(new byte[4096]);
        var key = $"faults-{Guid.NewGuid():N}/000000010000000000000001.bz2";
        using (var client = s3.CreateClient()) await s3.PutAsync(client, key, compressed.ToArray());
        await using (var file = new FileStream(s3.StoredObjectFile(key), FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = length + 100;
            file.WriteByte(0x42);
        }
        using var store = Store();

        var ex = await Assert.ThrowsAsync<RestoreFailedException>(async () =>
        {
            await using var stream = RestoreOps.Compression.Decompression.Open(await store.OpenReadAsync(key, CancellationToken.None), "bzip2");
            var read = new MemoryStream();
            await stream.CopyToAsync(read);
            Assert.Equal(payload.Length, read.Length);
        });
        Assert.Contains($"s3://backups/{key}", ex.Message);
        Assert.Contains("is damaged", ex.Message);
    }

    [Fact]
    public async Task An_object_replaced_during_a_stall_is_not_spliced_onto_the_old_bytes()
    {
        var (key, _) = await PutAsync();
        var rule = _proxy.Add(new FaultRule { Key = k => k == key, StallAt = 300_000, Times = 1 });
        using var store = Store();

        var reading = ReadAllAsync(store, key);
        await rule.Fired.Task;
        var replacement = new byte[Size];
        new Random(99).NextBytes(replacement);
        using (var client = s3.CreateClient()) await s3.PutAsync(client, key, replacement);

        var ex = await Assert.ThrowsAsync<InfrastructureException>(() => reading);
        Assert.Contains($"s3://backups/{key}", ex.Message);
        Assert.Contains("changed while it was being read", ex.Message);
    }

    [Fact]
    public async Task A_missing_object_behind_the_proxy_is_still_a_restore_failure_at_once()
    {
        using var store = Store();
        var key = $"faults-{Guid.NewGuid():N}/absent";
        var ex = await Assert.ThrowsAsync<RestoreFailedException>(() => ReadAllAsync(store, key));
        Assert.Contains($"s3://backups/{key}", ex.Message);
        Assert.Single(RequestsFor(key));
    }

    /// <summary>Reports inline, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> onReport) : IProgress<T>
    {
        public void Report(T value) => onReport(value);
    }
}

/// <summary>The meter that turns byte counts into the progress a person reads: throttled, with size, percent and rate.</summary>
public sealed class TransferMeterTests
{
    [Fact]
    public void Reports_at_most_four_times_a_second_but_always_the_first_the_last_and_each_retry()
    {
        var now = TimeSpan.Zero;
        var reports = new List<DrillProgress>();
        var meter = new TransferMeter(new Sink(reports.Add), DrillPhase.Download, "Downloading and unpacking s3://b/data.tar", "s3://b/data.tar", () => now);

        now = TimeSpan.FromSeconds(1);
        meter.Report(new ObjectReadProgress(1_000, 4_000_000));           // first: shown
        for (var i = 2; i <= 100; i++)
        {
            now += TimeSpan.FromMilliseconds(1);
            meter.Report(new ObjectReadProgress(i * 1_000, 4_000_000));   // within 250 ms: dropped
        }
        meter.Report(new ObjectReadProgress(100_000, 4_000_000, "attempt 2 of 4 after: connection reset"));  // retry: shown
        now = TimeSpan.FromSeconds(2);
        meter.Report(new ObjectReadProgress(2_000_000, 4_000_000));       // 250 ms later, and retry over: shown
        meter.Report(new ObjectReadProgress(4_000_000, 4_000_000));       // last: shown at once
        meter.Report(new ObjectReadProgress(4_000_000, 4_000_000));       // nothing after the last

        Assert.Equal(4, reports.Count);
        Assert.All(reports, r => Assert.Equal("Downloading and unpacking s3://b/data.tar", r.Activity));
        Assert.All(reports, r => Assert.Equal(DrillPhase.Download, r.Phase));
        Assert.Equal("1.00 KB of 4.00 MB (0%) at 1.00 KB/s, 1 h 6 min left", reports[0].Status);
        Assert.Contains("retrying, attempt 2 of 4 after: connection reset", reports[1].Status);
        Assert.Equal("2.00 MB of 4.00 MB (50%) at 1.00 MB/s, 2 s left", reports[2].Status);
        Assert.Equal(50, reports[2].PercentComplete);
        Assert.Equal(2_000_000, reports[2].Transfer!.BytesTransferred);
        Assert.Equal(1_000_000, reports[2].Transfer!.BytesPerSecond);
        Assert.Equal(TimeSpan.FromSeconds(2), reports[2].Transfer!.Remaining);
        Assert.Equal("4.00 MB of 4.00 MB (100%) at 2.00 MB/s", reports[3].Status);
        Assert.Equal(100, reports[3].PercentComplete);
    }

    [Fact]
    public void Unknown_size_shows_bytes_and_rate_without_percent()
    {
        var reports = new List<DrillProgress>();
        var meter = new TransferMeter(new Sink(reports.Add), DrillPhase.Download, "a", "b", () => TimeSpan.FromSeconds(4));
        meter.Report(new ObjectReadProgress(50_000, null));
        var report = Assert.Single(reports);
        Assert.Null(report.PercentComplete);
        Assert.Equal("50.0 KB at 12.5 KB/s", report.Status);
    }

    private sealed class Sink(Action<DrillProgress> onReport) : IProgress<DrillProgress>
    {
        public void Report(DrillProgress value) => onReport(value);
    }
}
