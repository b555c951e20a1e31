using System.Diagnostics;
using System.Text;
using RestoreOps.ObjectStore;
using RestoreOps.Tests.Fixtures;
using Xunit;

namespace RestoreOps.Tests.ObjectStore;

[Collection("s3rver")]
public sealed class S3ObjectStoreTests(S3rverServer s3)
{
    private static async Task<List<ObjectEntry>> ListAll(IObjectStore store, string prefix, string? startAfter = null)
    {
        var result = new List<ObjectEntry>();
        await foreach (var e in store.ListAsync(prefix, startAfter, CancellationToken.None)) result.Add(e);
        return result;
    }

    private async Task<List<string>> UploadManyAsync(string prefix, int count)
    {
        using var client = s3.CreateClient();
        var keys = Enumerable.Range(0, count).Select(i => $"{prefix}k{i:D5}").ToList();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (key, _) => await s3.PutAsync(client, key, key));
        return keys;
    }

    [Fact]
    public async Task Listing_pages_through_more_than_1000_keys_in_key_order()
    {
        var prefix = $"paging-{Guid.NewGuid():N}/";
        var keys = await UploadManyAsync(prefix, 1205);

        using var store = s3.CreateStore();                    // 1000 per page: 2 pages
        var all = await ListAll(store, prefix);
        Assert.Equal(keys, all.Select(e => e.Key));
        Assert.All(all, e => Assert.Equal(Encoding.UTF8.GetByteCount(e.Key), e.Size));
        Assert.All(all, e => Assert.Equal(TimeSpan.Zero, e.LastModified.Offset));
        Assert.All(all, e => Assert.True(DateTimeOffset.UtcNow - e.LastModified < TimeSpan.FromHours(1)));

        using var small = s3.CreateStore(maxKeys: 170);        // 8 pages
        Assert.Equal(keys, (await ListAll(small, prefix)).Select(e => e.Key));
    }

    [Fact]
    public async Task StartAfter_skips_up_to_and_including_the_given_key_across_pages()
    {
        var prefix = $"startafter-{Guid.NewGuid():N}/";
        var keys = await UploadManyAsync(prefix, 40);
        using var store = s3.CreateStore(maxKeys: 7);

        var after = await ListAll(store, prefix, keys[24]);
        Assert.Equal(keys[25..], after.Select(e => e.Key));

        var afterMissingKey = await ListAll(store, prefix, prefix + "k00010x");
        Assert.Equal(keys[11..], afterMissingKey.Select(e => e.Key));
    }

    [Fact]
    public async Task An_empty_prefix_lists_nothing()
    {
        using var store = s3.CreateStore();
        Assert.Empty(await ListAll(store, $"nothing-{Guid.NewGuid():N}/"));
    }

    [Fact]
    public async Task OpenRead_returns_the_exact_bytes()
    {
        var key = $"read-{Guid.NewGuid():N}/blob.bin";
        var body = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(body);
        using (var client = s3.CreateClient()) await s3.PutAsync(client, key, body);

        using var store = s3.CreateStore();
        await using var stream = await store.OpenReadAsync(key, CancellationToken.None);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        Assert.True(body.AsSpan().SequenceEqual(copy.ToArray()));
    }

    [Fact]
    public async Task A_missing_key_is_a_restore_failure_naming_the_key()
    {
        using var store = s3.CreateStore();
        var key = $"missing-{Guid.NewGuid():N}/000000010000000000000007.gz";
        var ex = await Assert.ThrowsAsync<RestoreFailedException>(() => store.OpenReadAsync(key, CancellationToken.None));
        Assert.Contains($"s3://backups/{key}", ex.Message);
        Assert.NotNull(ex.Fix);
    }

    [Fact]
    public async Task An_unknown_access_key_is_an_infrastructure_error_about_credentials_without_the_secret()
    {
        const string secret = "Sup3rSecretValue/ShouldNeverLeak";
        using var store = new S3ObjectStore(S3rverServer.Bucket, s3.Options with { AccessKeyId = "AKIAWRONGKEY", SecretAccessKey = secret });
        var ex = await Assert.ThrowsAsync<InfrastructureException>(async () => await ListAll(store, "pg/"));
        Assert.Contains("rejected the credentials", ex.Message);
        Assert.Contains("s3://backups/pg/", ex.Message);
        Assert.Contains("AWS_ACCESS_KEY_ID", ex.Message);
        Assert.Contains("InvalidAccessKeyId", ex.Message);
        Assert.DoesNotContain(secret, ex.ToString());

        var read = await Assert.ThrowsAsync<InfrastructureException>(() => store.OpenReadAsync("pg/x", CancellationToken.None));
        Assert.DoesNotContain(secret, read.ToString());
    }

    [Fact]
    public async Task A_missing_bucket_is_a_configuration_error()
    {
        using var store = new S3ObjectStore("no-such-bucket", s3.Options);
        var ex = await Assert.ThrowsAsync<ConfigurationException>(async () => await ListAll(store, "pg/"));
        Assert.Contains("no-such-bucket", ex.Message);
        Assert.Contains(s3.Endpoint, ex.Message);
    }

    [Fact]
    public async Task A_dead_endpoint_fails_fast_naming_the_endpoint()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }
        var endpoint = $"http://127.0.0.1:{port}";
        using var store = new S3ObjectStore(S3rverServer.Bucket, s3.Options with { EndpointUrl = endpoint });
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<InfrastructureException>(async () => await ListAll(store, "pg/"));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"took {watch.Elapsed}");
        Assert.Contains(endpoint, ex.Message);
        Assert.Contains("connection refused", ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task An_unresolvable_host_is_an_infrastructure_error()
    {
        using var store = new S3ObjectStore(S3rverServer.Bucket, s3.Options with { EndpointUrl = "http://no-such-host.invalid:9000" });
        var ex = await Assert.ThrowsAsync<InfrastructureException>(async () => await ListAll(store, "pg/"));
        Assert.Contains("no-such-host.invalid", ex.Message);
    }

    [Fact]
    public async Task Cancellation_is_not_translated()
    {
        using var store = s3.CreateStore();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in store.ListAsync("pg/", null, cts.Token)) { }
        });
    }
}
