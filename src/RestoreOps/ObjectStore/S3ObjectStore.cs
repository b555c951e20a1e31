using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace RestoreOps.ObjectStore;

/// <summary>
/// <see cref="IObjectStore"/> over one bucket of AWS S3 or an S3-compatible store (MinIO, Ceph, s3rver…),
/// with SDK errors translated into messages that name the object and the fix.
/// </summary>
internal sealed class S3ObjectStore : IObjectStore
{
    private readonly IAmazonS3 _client;
    private readonly bool _ownsClient;
    private readonly string _endpointDescription;

    /// <summary>Creates a store for <paramref name="bucket"/>; <paramref name="options"/> are resolved against the environment first.</summary>
    /// <exception cref="ConfigurationException">The options are inconsistent (see <see cref="ObjectStoreOptions.Resolve"/>).</exception>
    public S3ObjectStore(string bucket, ObjectStoreOptions options)
        : this(options.Resolve(), bucket)
    {
    }

    private S3ObjectStore(ObjectStoreOptions resolved, string bucket)
        : this(CreateClient(resolved, out var endpoint), bucket, endpoint, ownsClient: true)
    {
        ReadTimeout = resolved.EffectiveReadInactivityTimeout;
        ReadAttempts = resolved.ReadAttempts;
        RetryDelay = resolved.RetryDelay;
    }

    /// <summary>Wraps an existing client (tests, or a caller that shares one client).</summary>
    /// <param name="client">The S3 client.</param>
    /// <param name="bucket">Bucket name.</param>
    /// <param name="endpointDescription">The endpoint in messages, e.g. <c>http://127.0.0.1:4568</c>.</param>
    /// <param name="ownsClient">Dispose the client with this store.</param>
    public S3ObjectStore(IAmazonS3 client, string bucket, string endpointDescription, bool ownsClient = false)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (string.IsNullOrWhiteSpace(bucket))
            throw new ConfigurationException("No bucket name was given.", "Give the location as s3://BUCKET/PATH.");
        _client = client;
        Bucket = bucket;
        _endpointDescription = endpointDescription;
        _ownsClient = ownsClient;
    }

    /// <summary>The bucket this store reads.</summary>
    public string Bucket { get; }

    /// <summary>Keys per listing request (1–1000); smaller values only make sense in tests.</summary>
    public int MaxKeys { get; init; } = 1000;

    /// <summary>The longest wait for response headers or for the next bytes of a body (see <see cref="ObjectStoreOptions.ReadInactivityTimeout"/>).</summary>
    public TimeSpan ReadTimeout { get; init; } = ObjectStoreOptions.DefaultReadInactivityTimeout;

    /// <summary>Requests for one object that may fail in a row without progress (see <see cref="ObjectStoreOptions.ReadAttempts"/>).</summary>
    public int ReadAttempts { get; init; } = 4;

    /// <summary>Pause before the first retry of an object read; doubles per failure in a row.</summary>
    internal TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The endpoint as messages name it.</summary>
    internal string EndpointDescription => _endpointDescription;

    internal IAmazonS3 Client => _client;

    /// <summary>The pause before retry number <paramref name="failures"/>: doubling, capped at 30 s, with jitter so parallel readers spread out.</summary>
    internal TimeSpan Backoff(int failures)
    {
        var delay = RetryDelay.TotalMilliseconds * Math.Pow(2, Math.Clamp(failures - 1, 0, 16));
        delay = Math.Min(delay, 30_000) * (0.75 + Random.Shared.NextDouble() / 2);
        return TimeSpan.FromMilliseconds(delay);
    }

    /// <summary>
    /// Builds the SDK client for resolved options: path-style and a signing region for S3-compatible
    /// endpoints, checksums only where S3 requires them, and few retries so a dead endpoint fails in seconds.
    /// </summary>
    /// <param name="options">Options already passed through <see cref="ObjectStoreOptions.Resolve"/>.</param>
    /// <param name="endpointDescription">The endpoint as it should appear in messages.</param>
    public static AmazonS3Client CreateClient(ObjectStoreOptions options, out string endpointDescription)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.UsePathStyle,
            // Several S3 clones reject or mangle the CRC trailers the SDK sends by default.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            // The SDK default (standard mode, 3 attempts with backoff) turns a typo in the endpoint into a
            // long hang for a drill that should report the problem at once.
            MaxErrorRetry = 2,
            // A backstop for every request; object reads also run under their own, configurable inactivity timeout.
            Timeout = options.EffectiveReadInactivityTimeout > TimeSpan.FromSeconds(60) ? options.EffectiveReadInactivityTimeout : TimeSpan.FromSeconds(60),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        if (options.EndpointUrl is { } endpoint)
        {
            config.ServiceURL = endpoint;
            // Signing needs a region even when the store ignores it; us-east-1 is what clones expect by default.
            config.AuthenticationRegion = options.Region ?? "us-east-1";
            endpointDescription = endpoint;
        }
        else
        {
            if (options.Region is { } region) config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
            endpointDescription = options.Region is null ? "AWS S3" : $"AWS S3 ({options.Region})";
        }

        if (options.AccessKeyId is null) return new AmazonS3Client(config);
        AWSCredentials credentials = options.SessionToken is null
            ? new BasicAWSCredentials(options.AccessKeyId, options.SecretAccessKey)
            : new SessionAWSCredentials(options.AccessKeyId, options.SecretAccessKey, options.SessionToken);
        return new AmazonS3Client(credentials, config);
    }

    /// <inheritdoc />
    public string Describe(string key) => key.Length == 0 ? $"s3://{Bucket}" : $"s3://{Bucket}/{key}";

    /// <inheritdoc />
    public async IAsyncEnumerable<ObjectEntry> ListAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request
        {
            BucketName = Bucket,
            Prefix = prefix,
            MaxKeys = MaxKeys,
            StartAfter = string.IsNullOrEmpty(startAfter) ? null : startAfter,
        };
        while (true)
        {
            ListObjectsV2Response response;
            try
            {
                response = await _client.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (Translate(ex, prefix, "list", cancellationToken) is { } translated)
            {
                throw translated;
            }

            // The SDK leaves the collection null for an empty page unless AWSConfigs.InitializeCollections
            // is set, which is process-wide and not ours to change inside a host like PowerShell.
            if (response.S3Objects is { } objects)
            {
                foreach (var o in objects)
                    yield return new ObjectEntry(o.Key, o.Size ?? 0, o.LastModified is { } modified ? new DateTimeOffset(modified.ToUniversalTime()) : default);
            }

            if (response.IsTruncated != true) yield break;
            if (string.IsNullOrEmpty(response.NextContinuationToken))
                throw new InfrastructureException(
                    $"The object store at {_endpointDescription} returned a truncated listing of {Describe(prefix)} without a continuation token.",
                    "The store does not implement ListObjectsV2 paging correctly; check its version (s3rver needs node --openssl-legacy-provider).");
            request.ContinuationToken = response.NextContinuationToken;
            // S3 ignores StartAfter once a token is present; clones do not all agree, so drop it.
            request.StartAfter = null;
        }
    }

    /// <inheritdoc />
    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken) => OpenReadAsync(key, null, cancellationToken);

    /// <summary>
    /// Opens an object for streaming. The stream never waits longer than <see cref="ReadTimeout"/> for bytes,
    /// resumes with a ranged GET from the byte it reached after a reset, stall, truncation or HTTP 5xx (checking
    /// that the ETag did not change), and at its end checks the length and, where the ETag is a plain MD5, the
    /// content. See <see cref="ObjectReadStream"/> for what each failure becomes.
    /// </summary>
    /// <exception cref="RestoreFailedException">The object does not exist.</exception>
    /// <exception cref="InfrastructureException">The store refused the credentials, or kept failing.</exception>
    public async Task<Stream> OpenReadAsync(string key, IProgress<ObjectReadProgress>? progress, CancellationToken cancellationToken) =>
        await ObjectReadStream.OpenAsync(this, key, progress, ObjectReadStream.Check.Verify, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Maps an SDK or network failure onto our exception kinds; null leaves it alone (cancellation the
    /// caller asked for, or an exception already ours).
    /// </summary>
    internal Exception? Translate(Exception ex, string key, string operation, CancellationToken cancellationToken)
    {
        if (ex is RestoreOpsException) return null;
        if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested) return null;

        var what = Describe(key);
        switch (ex)
        {
            case AmazonS3Exception s3 when s3.ErrorCode is "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "AccessDenied" or "InvalidToken" or "ExpiredToken" or "TokenRefreshRequired"
                                           || s3.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized:
                return new InfrastructureException(
                    $"The object store at {_endpointDescription} rejected the credentials for {what} ({s3.ErrorCode ?? s3.StatusCode.ToString()}: {s3.Message}).",
                    $"Check AWS_ACCESS_KEY_ID/{InputKey.AccessKeyId.Ref()} and AWS_SECRET_ACCESS_KEY/{InputKey.SecretAccessKey.Ref()} (and AWS_SESSION_TOKEN for temporary credentials), and that they may read this bucket and prefix.",
                    ex);
            case AmazonS3Exception s3 when s3.ErrorCode == "NoSuchBucket":
                return new ConfigurationException(
                    $"The bucket '{Bucket}' does not exist at {_endpointDescription} (while trying to {operation} {what}).",
                    "Check the bucket in the destination path (s3://BUCKET/PATH) and the endpoint URL/region.",
                    ex);
            case AmazonS3Exception s3 when s3.ErrorCode == "NoSuchKey" || s3.StatusCode == HttpStatusCode.NotFound:
                return new RestoreFailedException(
                    $"The object {what} does not exist at {_endpointDescription}.",
                    "The backup or WAL archive is incomplete: the file was deleted or never uploaded. Check the archive's retention policy, or restore from another backup.",
                    ex);
            case AmazonS3Exception s3 when s3.ErrorCode is "PermanentRedirect" or "AuthorizationHeaderMalformed" or "IllegalLocationConstraintException":
                return new ConfigurationException(
                    $"The bucket '{Bucket}' is in another region than the one used ({s3.ErrorCode}: {s3.Message}).",
                    $"Pass {InputKey.Region.Ref()} (or set AWS_REGION) to the bucket's region.",
                    ex);
            case AmazonS3Exception s3:
                return new InfrastructureException(
                    $"The object store at {_endpointDescription} failed to {operation} {what}: HTTP {(int)s3.StatusCode} {s3.ErrorCode}: {s3.Message}",
                    "Check that the endpoint is an S3-compatible store and is healthy; retry later if the error is temporary.",
                    ex);
        }

        if (IsNetworkFailure(ex, out var detail))
            return new InfrastructureException(
                $"Could not reach the object store at {_endpointDescription} to {operation} {what}: {detail}.",
                $"Check the endpoint URL ({InputKey.EndpointUrl.Ref()} / AWS_ENDPOINT_URL_S3), DNS, network policies and that the store is running.",
                ex);

        if (ex is AmazonClientException client)
            return new InfrastructureException(
                $"The S3 client could not {operation} {what} at {_endpointDescription}: {client.Message}",
                $"If no credentials were found, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or {InputKey.AccessKeyId.Ref()} and {InputKey.SecretAccessKey.Ref()}) or configure an AWS profile or role; if no region was found, pass {InputKey.Region.Ref()} or set AWS_REGION.",
                ex);

        return null;
    }

    internal static bool IsNetworkFailure(Exception ex, out string detail)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case SocketException socket:
                    detail = socket.SocketErrorCode switch
                    {
                        SocketError.ConnectionRefused => "connection refused",
                        SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData => "host name not found",
                        SocketError.TimedOut => "connection timed out",
                        _ => socket.Message,
                    };
                    return true;
                case HttpRequestException http when http.InnerException is null:
                    detail = http.Message;
                    return true;
                case TimeoutException:
                case OperationCanceledException:
                    detail = "the request timed out";
                    return true;
            }
        }

        if (ex is HttpRequestException or IOException)
        {
            detail = ex.Message;
            return true;
        }
        detail = "";
        return false;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsClient) _client.Dispose();
    }
}
