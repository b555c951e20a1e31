using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Amazon.Runtime;
using Amazon.Runtime.Internal;
using Amazon.S3;
using Amazon.S3.Model;
using RestoreOps.ObjectStore;

namespace RestoreOps.Tests.Fixtures;

/// <summary>
/// A throwaway s3rver (tools/s3rver, s3rver 3.7.1) on a free loopback port with one bucket, <c>backups</c>.
/// Start once per test run through the "s3rver" collection.
/// </summary>
public sealed class S3rverServer : IDisposable
{
    /// <summary>The only access key s3rver accepts.</summary>
    public const string AccessKey = "S3RVER";
    /// <summary>s3rver never checks the secret.</summary>
    public const string Secret = "S3RVER";
    /// <summary>The bucket created at start-up.</summary>
    public const string Bucket = "backups";

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string _directory;

    /// <summary>Starts s3rver and waits until the bucket answers.</summary>
    public S3rverServer()
    {
        EnsureNoChunkUploads();
        RepositoryRoot = RepositoryPaths.Root;
        var script = Path.Combine(RepositoryRoot, "tools", "s3rver", "node_modules", "s3rver", "bin", "s3rver.js");
        if (!File.Exists(script))
            throw new InvalidOperationException($"s3rver is not installed ({script} is missing). Run scripts/setup.sh, or: cd tools/s3rver && npm ci --no-audit --no-fund");

        _directory = Directory.CreateTempSubdirectory("restoreops-s3rver-").FullName;
        Port = FreePort();
        Endpoint = $"http://127.0.0.1:{Port}";

        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The legacy provider gives OpenSSL 3 back the DES that s3rver's continuation tokens use; without it
        // every paged listing fails with HTTP 500.
        foreach (var arg in new[] { "--openssl-legacy-provider", script, "--directory", _directory, "--address", "127.0.0.1",
                     "--port", Port.ToString(), "--configure-bucket", Bucket, "--silent" })
            start.ArgumentList.Add(arg);

        _process = Process.Start(start) ?? throw new InvalidOperationException("node did not start.");
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        try
        {
            WaitUntilReady(TimeSpan.FromSeconds(30));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The repository root (the folder holding RestoreOps.sln).</summary>
    public string RepositoryRoot { get; }

    /// <summary>The port s3rver listens on.</summary>
    public int Port { get; }

    /// <summary>The endpoint URL, e.g. <c>http://127.0.0.1:40123</c>.</summary>
    public string Endpoint { get; }

    /// <summary>
    /// The file s3rver keeps an object's bytes in. Changing it in place damages the stored object behind s3rver's back:
    /// its ETag (the MD5 recorded at upload) and its length stay, as with bit rot on a real store.
    /// </summary>
    public string StoredObjectFile(string key)
    {
        var parts = key.Split('/');
        return Path.Combine([_directory, Bucket, .. parts[..^1], parts[^1] + "._S3rver_object"]);
    }

    /// <summary>What s3rver printed so far.</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>Options that reach this server with its credentials.</summary>
    public ObjectStoreOptions Options => new() { EndpointUrl = Endpoint, AccessKeyId = AccessKey, SecretAccessKey = Secret, Region = "us-east-1" };

    /// <summary>An SDK client for test-side uploads (uploads must be made with <c>UseChunkEncoding = false</c>; see <see cref="EnsureNoChunkUploads"/>).</summary>
    public AmazonS3Client CreateClient(string accessKey = AccessKey) =>
        new(new BasicAWSCredentials(accessKey, Secret), new AmazonS3Config
        {
            ServiceURL = Endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 0,
        });

    /// <summary>The engine's store over this server's bucket.</summary>
    internal S3ObjectStore CreateStore(int maxKeys = 1000) => new(Bucket, Options) { MaxKeys = maxKeys };

    /// <summary>Uploads one object byte-exactly.</summary>
    public async Task PutAsync(AmazonS3Client client, string key, byte[] body)
    {
        using var content = new MemoryStream(body);
        await client.PutObjectAsync(new PutObjectRequest { BucketName = Bucket, Key = key, InputStream = content, UseChunkEncoding = false });
    }

    /// <summary>Uploads one text object.</summary>
    public Task PutAsync(AmazonS3Client client, string key, string text) => PutAsync(client, key, Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// Copies every object under <paramref name="sourcePrefix"/> that <paramref name="include"/> accepts to the same
    /// relative key under <paramref name="destinationPrefix"/>, by GET and PUT (s3rver's CopyObject is broken).
    /// <paramref name="transform"/> may change a body, or return null to leave the object out (a dropped WAL segment).
    /// </summary>
    /// <returns>How many objects were written.</returns>
    public async Task<int> CopyPrefixAsync(string sourcePrefix, string destinationPrefix, Func<string, bool>? include = null,
        Func<string, byte[], byte[]?>? transform = null, CancellationToken cancellationToken = default)
    {
        using var client = CreateClient();
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = sourcePrefix };
        do
        {
            var page = await client.ListObjectsV2Async(request, cancellationToken);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            request.ContinuationToken = page.IsTruncated == true ? page.NextContinuationToken : null;
        } while (request.ContinuationToken is not null);

        var written = 0;
        foreach (var key in keys)
        {
            if (include is not null && !include(key)) continue;
            var body = await ReadAsync(client, key, cancellationToken);
            var output = transform is null ? body : transform(key, body);
            if (output is null) continue;
            await PutAsync(client, destinationPrefix + key[sourcePrefix.Length..], output);
            written++;
        }
        return written;
    }

    /// <summary>
    /// Reads one object whole. s3rver under load now and then serves a body whose MD5 does not match its ETag (the SDK
    /// reports "Expected hash not equal to calculated hash"); the engine retries that as transient, and so does the
    /// fixture, so a blip of the stand-in does not fail a test about something else.
    /// </summary>
    private static async Task<byte[]> ReadAsync(IAmazonS3 client, string key, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var response = await client.GetObjectAsync(Bucket, key, cancellationToken);
                using var buffer = new MemoryStream();
                await response.ResponseStream.CopyToAsync(buffer, cancellationToken);
                return buffer.ToArray();
            }
            catch (AmazonClientException e) when (attempt < 3 && e.Message.Contains("hash", StringComparison.OrdinalIgnoreCase))
            {
                // Read again: the stored object is intact, only this response was not.
            }
        }
    }

    /// <summary>
    /// Makes every SDK upload in this process send a plain body instead of aws-chunked framing, which s3rver
    /// stores verbatim (silently corrupting the object). Test code only: the engine never uploads. Idempotent.
    /// </summary>
    public static void EnsureNoChunkUploads()
    {
        lock (CustomizerLock)
        {
            if (_customizerRegistered) return;
            RuntimePipelineCustomizerRegistry.Instance.Register(new NoChunkCustomizer());
            _customizerRegistered = true;
        }
    }

    private static readonly object CustomizerLock = new();
    private static bool _customizerRegistered;

    private sealed class NoChunkCustomizer : IRuntimePipelineCustomizer
    {
        public string UniqueName => "restoreops-tests-s3rver-no-aws-chunked";

        public void Customize(Type type, RuntimePipeline pipeline)
        {
            if (type.FullName == "Amazon.S3.AmazonS3Client") pipeline.AddHandlerBefore<Marshaller>(new Handler());
        }

        // Must run before marshalling: the flag is read when the HTTP request is built.
        private sealed class Handler : PipelineHandler
        {
            public override void InvokeSync(IExecutionContext executionContext)
            {
                Fix(executionContext);
                base.InvokeSync(executionContext);
            }

            public override Task<T> InvokeAsync<T>(IExecutionContext executionContext)
            {
                Fix(executionContext);
                return base.InvokeAsync<T>(executionContext);
            }

            private static void Fix(IExecutionContext context)
            {
                switch (context.RequestContext.OriginalRequest)
                {
                    case PutObjectRequest put: put.UseChunkEncoding = false; break;
                    case UploadPartRequest part: part.UseChunkEncoding = false; break;
                }
            }
        }
    }

    private void WaitUntilReady(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + timeout;
        string last = "no answer yet";
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"s3rver exited with code {_process.ExitCode} before it was ready. Output:\n{Output}");
            try
            {
                using var response = http.GetAsync($"{Endpoint}/{Bucket}").GetAwaiter().GetResult();
                if (response.StatusCode == HttpStatusCode.OK) return;
                last = $"HTTP {(int)response.StatusCode}";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                last = ex.Message;
            }
            Thread.Sleep(100);
        }
        throw new TimeoutException($"s3rver did not answer GET {Endpoint}/{Bucket} with 200 within {timeout.TotalSeconds:0} s (last: {last}). Output:\n{Output}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Stops s3rver (with any children) and deletes its data directory.</summary>
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
