using System.Buffers;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.Runtime.Internal.Util;
using Amazon.S3;
using Amazon.S3.Model;
using RestoreOps.Compression;


namespace RestoreOps.ObjectStore;

/// <summary>
/// The body of one object, read so that a misbehaving store or network can neither hang a drill nor slip it
/// wrong bytes, and so that each failure is reported as what it is.
/// </summary>
/// <remarks>
/// <para>Deadlines: every request waits at most <see cref="S3ObjectStore.ReadTimeout"/> for its headers, and every
/// read of the body at most as long for its next bytes. A slow link that keeps delivering is never cut off.</para>
/// <para>Retries: resets, read timeouts, bodies that end early and HTTP 5xx (GET is idempotent) are retried with a
/// doubling backoff; after the first response each retry is a ranged GET (<c>Range: bytes=N-</c>) from the byte
/// reached, with <c>If-Match</c> and an explicit ETag comparison, so a resumed read can never splice two versions
/// of an object. A store that ignores Range sends the whole body again and the bytes already delivered are
/// skipped. Up to <see cref="S3ObjectStore.ReadAttempts"/> requests may fail in a row; any progress resets the
/// count. After that: <see cref="InfrastructureException"/> naming the object and the endpoint.</para>
/// <para>Integrity, checked at the end of the body (which is why base archives are read to their end): the byte
/// count must equal the announced size, and where the ETag is a plain MD5 (single-part upload, no SSE-KMS/SSE-C)
/// the content must hash to it. Multipart ETags (<c>"…-N"</c>) are no content hash, so for them the length is all
/// that can be checked. A mismatch is classified before it is reported:</para>
/// <list type="bullet">
/// <item>a body that ended early under a short Content-Length is a truncation on the wire: transient, so the read
/// asks for the bytes after it and goes on (only the MD5 can reveal this case);</item>
/// <item>otherwise the object is read a second time: if that copy matches the ETag, the first was damaged in
/// transit (<see cref="InfrastructureException"/>, marked retryable: the stored backup is fine, but bytes already
/// handed on were wrong, so only the caller can start over);</item>
/// <item>if the second read returns the same wrong bytes, the stored object does not match the checksum the store
/// recorded when it was written: the backup is corrupt (<see cref="RestoreFailedException"/>, exit 1).</item>
/// </list>
/// <para>A transport fault is never reported as a <see cref="RestoreFailedException"/>.</para>
/// </remarks>
internal sealed class ObjectReadStream : ReadOnlyStream
{
    /// <summary>What to do with the content hash at the end of the body.</summary>
    internal enum Check
    {
        /// <summary>Compare with the ETag and classify a mismatch.</summary>
        Verify,
        /// <summary>Only compute it (the second read of a classification).</summary>
        DigestOnly,
    }

    private const string RetryableKey = "RestoreOps.ObjectStore.Retryable";

    private readonly S3ObjectStore _store;
    private readonly string _key;
    private readonly IProgress<ObjectReadProgress>? _progress;
    private readonly Check _check;
    private IncrementalHash? _md5;
    private GetObjectResponse? _response;
    private Stream? _body;
    private long _skip;
    private bool _opened;
    private string? _etag;
    private long? _length;
    private long _position;
    private int _failures;
    // Every distinct cause since the last progress: the one that ended the read is not always the one worth knowing
    // (a 500, then a timeout while the store recovers, says more than the timeout alone).
    private readonly List<string> _faults = new();
    private bool _done;
    private bool _disposed;

    private ObjectReadStream(S3ObjectStore store, string key, IProgress<ObjectReadProgress>? progress, Check check)
    {
        _store = store;
        _key = key;
        _progress = progress;
        _check = check;
    }

    /// <summary>Sends the first request (with retries), so a missing object or refused credentials surface here.</summary>
    public static async Task<ObjectReadStream> OpenAsync(S3ObjectStore store, string key, IProgress<ObjectReadProgress>? progress, Check check, CancellationToken cancellationToken)
    {
        var stream = new ObjectReadStream(store, key, progress, check);
        try
        {
            await stream.RequestAsync(null, probe: false, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return stream;
    }

    /// <summary>True for a failure that a fresh read of the same object may not repeat (the bytes were damaged in transit).</summary>
    public static bool IsRetryable(Exception e) => e.Data[RetryableKey] is true;

    private string What => _store.Describe(_key);

    /// <summary>The object's ETag as the store sent it.</summary>
    internal string? ETag => _etag;

    /// <summary>The MD5 of everything read, once the end is reached; null when the ETag is not a plain MD5.</summary>
    internal string? Digest { get; private set; }

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count), CancellationToken.None).AsTask().GetAwaiter().GetResult();

    public override int Read(Span<byte> buffer)
    {
        var rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            var n = Read(rented, 0, buffer.Length);
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (buffer.Length == 0 || _done) return 0;
        while (true)
        {
            string fault;
            try
            {
                var n = await ReadBodyAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (n > 0)
                {
                    _md5?.AppendData(buffer.Span[..n]);
                    _position += n;
                    _failures = 0;
                    _faults.Clear();
                    _progress?.Report(new ObjectReadProgress(_position, _length));
                    return n;
                }
                if (_length is { } length && _position < length)
                {
                    fault = $"the connection closed after {_position:N0} of {length:N0} bytes";
                }
                else
                {
                    if (!await FinishAsync(cancellationToken).ConfigureAwait(false)) continue;
                    _done = true;
                    _progress?.Report(new ObjectReadProgress(_position, _length ?? _position));
                    return 0;
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && TransientFault(e, headers: false) is { } transient)
            {
                fault = transient;
            }
            CloseResponse();
            await RequestAsync(fault, probe: false, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<int> ReadBodyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_store.ReadTimeout);
        while (_skip > 0)
        {
            // The store ignored the Range header and sent the object from its start: skip what was delivered already.
            var skipped = await _body!.ReadAsync(buffer[..(int)Math.Min(buffer.Length, _skip)], timeout.Token).ConfigureAwait(false);
            if (skipped == 0) return 0;
            _skip -= skipped;
            timeout.CancelAfter(_store.ReadTimeout);
        }
        return await _body!.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends a GET, retrying transient failures; after a failure (<paramref name="fault"/>) it first counts it
    /// and waits. Returns false only for a <paramref name="probe"/> that finds nothing after the bytes read.
    /// </summary>
    private async Task<bool> RequestAsync(string? fault, bool probe, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (fault is not null)
            {
                _failures++;
                if (!_faults.Contains(fault)) _faults.Add(fault);
                if (_failures >= _store.ReadAttempts) throw GiveUp();
                _progress?.Report(new ObjectReadProgress(_position, _length, $"attempt {_failures + 1} of {_store.ReadAttempts} after: {fault}"));
                await Task.Delay(_store.Backoff(_failures), cancellationToken).ConfigureAwait(false);
            }

            var request = new GetObjectRequest { BucketName = _store.Bucket, Key = _key };
            if (_opened && (probe || _length is not (null or 0)))
            {
                request.ByteRange = probe || _length is null ? new ByteRange($"bytes={_position}-") : new ByteRange(_position, _length.Value - 1);
                // Stores that honour If-Match refuse a replaced object outright; the ETag comparison below covers the rest.
                if (_etag is not null) request.EtagToMatch = _etag;
            }

            GetObjectResponse response;
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_store.ReadTimeout);
                response = await _store.Client.GetObjectAsync(request, timeout.Token).ConfigureAwait(false);
            }
            catch (AmazonS3Exception e) when (probe && e.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                return false;
            }
            catch (AmazonS3Exception e) when (_opened && e.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                throw Changed($"the store answered the resumed request with HTTP {(int)e.StatusCode} {e.ErrorCode}");
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                fault = TransientFault(e, headers: true) ?? throw (_store.Translate(e, _key, "read", cancellationToken) ?? e);
                continue;
            }

            if (Accept(response, probe, out var unexpected)) return true;
            if (unexpected is null) return false;
            fault = unexpected;
        }
    }

    /// <summary>Takes a response on as the current body; false with a reason to retry, or false and null when a probe found nothing more.</summary>
    private bool Accept(GetObjectResponse response, bool probe, out string? fault)
    {
        fault = null;
        var partial = response.HttpStatusCode == HttpStatusCode.PartialContent;
        long? total = response.ContentLength >= 0 ? response.ContentLength : null;
        long start = 0;
        if (partial && TryParseContentRange(response.ContentRange, out var rangeStart, out var rangeTotal))
        {
            start = rangeStart;
            total = rangeTotal;
        }

        if (!_opened)
        {
            _opened = true;
            _etag = response.ETag;
            _length = total;
            _md5 = IsPlainMd5(response) ? IncrementalHash.CreateHash(HashAlgorithmName.MD5) : null;
        }
        else
        {
            if (!string.Equals(response.ETag, _etag, StringComparison.Ordinal))
            {
                Dispose(response);
                throw Changed($"its ETag is now {response.ETag}");
            }
            if (partial && start != _position)
            {
                Dispose(response);
                fault = $"the store answered a request for the bytes from {_position:N0} with bytes from {start:N0}";
                return false;
            }
            if (!partial && total is { } whole && whole <= _position && probe)
            {
                Dispose(response);
                return false;
            }
            if (probe) _length = total;
            else if (total is { } t && _length is { } l && t != l)
            {
                Dispose(response);
                throw Changed($"its size is now {t:N0} bytes instead of {l:N0}");
            }
        }

        _skip = partial ? 0 : _position;
        _response = response;
        // The SDK wraps a whole-object body in its own MD5 check, which a resumed read cannot use; this stream hashes
        // the object itself across every range, so it reads beneath the wrapper instead of hashing twice.
        _body = response.ResponseStream is WrapperStream wrapper ? wrapper.GetNonWrapperBaseStream() : response.ResponseStream;
        return true;
    }

    /// <summary>At the end of a body with all announced bytes read: true when the object is complete and intact.</summary>
    private async Task<bool> FinishAsync(CancellationToken cancellationToken)
    {
        if (_md5 is null) return true;
        Digest = Convert.ToHexString(_md5.GetCurrentHash()).ToLowerInvariant();
        if (_check == Check.DigestOnly || Digest == PlainEtag(_etag)) return true;

        // The content does not hash to the ETag. If the body was cut short under a Content-Length that matched the cut
        // (a proxy or a store still writing the object), more bytes follow: ask for them and go on.
        CloseResponse();
        if (await RequestAsync(null, probe: true, cancellationToken).ConfigureAwait(false))
        {
            Digest = null;
            return false;
        }

        // The object really ends here. A second read tells damage in transit from a damaged stored object.
        string? second;
        await using (var again = await OpenAsync(_store, _key, null, Check.DigestOnly, cancellationToken).ConfigureAwait(false))
        {
            await again.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            if (!string.Equals(again.ETag, _etag, StringComparison.Ordinal)) throw Changed($"its ETag is now {again.ETag}");
            second = again.Digest;
        }
        var etag = PlainEtag(_etag);
        if (second == etag)
        {
            var transit = new InfrastructureException(
                $"{What} arrived damaged from the object store at {_store.EndpointDescription}: the {_position:N0} bytes read hash to MD5 {Digest}, not to its ETag {etag}, but a second read matched the ETag. The stored object is intact; the copy read the first time was not.",
                "Run the drill again. If it recurs, look for a proxy or middlebox between here and the store that alters response bodies.");
            transit.Data[RetryableKey] = true;
            throw transit;
        }
        if (second == Digest)
            throw new RestoreFailedException(
                $"{What} at {_store.EndpointDescription} is damaged: its {_position:N0} bytes hash to MD5 {Digest}, not to the checksum the store recorded when it was written (ETag {etag}), and a second read returned the same bytes.",
                "The stored copy of this backup is corrupt (bit rot, or a tool that changed the object's bytes in place). Restore from another backup, and check the bucket's integrity (versioning, replication, the store's own scrubbing).");
        throw new InfrastructureException(
            $"The object store at {_store.EndpointDescription} returned different bytes for {What} on two reads (MD5 {Digest}, then {second}), neither matching its ETag {etag}.",
            "The store or the network path to it is unreliable; check its health and run the drill again.");
    }

    /// <summary>A description of a failure worth retrying, or null for one that is not.</summary>
    private string? TransientFault(Exception e, bool headers)
    {
        var timeout = FormatDuration(_store.ReadTimeout);
        switch (e)
        {
            case RestoreOpsException:
                return null;
            case OperationCanceledException:
                return headers ? $"no response within {timeout}" : $"no data for {timeout} (the read timeout)";
            case AmazonS3Exception s3 when (int)s3.StatusCode >= 500 || s3.ErrorCode is "SlowDown" or "RequestTimeout" or "InternalError" or "ServiceUnavailable":
                return $"HTTP {(int)s3.StatusCode} {s3.ErrorCode}: {s3.Message}";
            case AmazonS3Exception:
                return null;
        }
        if (!S3ObjectStore.IsNetworkFailure(e, out var detail)) return null;
        return detail == "the request timed out" ? (headers ? $"no response within {timeout}" : $"no data for {timeout} (the read timeout)") : detail;
    }

    private InfrastructureException GiveUp() => new(
        $"Gave up reading {What} from the object store at {_store.EndpointDescription}: {_failures} request(s) in a row failed without progress, at byte {_position:N0}{(_length is { } l ? $" of {l:N0}" : "")}; {(_faults.Count == 1 ? "each" : "in turn")}: {string.Join("; then ", _faults)}.",
        $"Check that the store is healthy and reachable from here (proxies, load balancers, network policies). If it is only slow, raise {InputKey.ReadTimeout.Ref()} (now {FormatDuration(_store.ReadTimeout)}). Then run the drill again.");

    private InfrastructureException Changed(string how) => new(
        $"{What} changed while it was being read from the object store at {_store.EndpointDescription} ({how}; it was {_etag}, {_length?.ToString("N0", CultureInfo.InvariantCulture) ?? "?"} bytes).",
        "A backup must not be rewritten after it was taken: find what writes to this prefix (a second archiver, a lifecycle or replication rule), then run the drill again.");

    private static string FormatDuration(TimeSpan t) =>
        t.TotalSeconds >= 1 ? $"{t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s" : $"{t.TotalMilliseconds:0} ms";

    /// <summary>Whether the ETag is an MD5 of the content: 32 hex digits, not a multipart ETag, no KMS or customer-key encryption.</summary>
    private static bool IsPlainMd5(GetObjectResponse response)
    {
        var etag = PlainEtag(response.ETag);
        if (etag is null || etag.Length != 32 || !etag.All(Uri.IsHexDigit)) return false;
        var sse = response.ServerSideEncryptionMethod?.Value;
        if (sse is not null && sse.StartsWith("aws:kms", StringComparison.Ordinal)) return false;
        return response.ServerSideEncryptionCustomerMethod is null || response.ServerSideEncryptionCustomerMethod == ServerSideEncryptionCustomerMethod.None;
    }

    private static string? PlainEtag(string? etag) => etag?.Trim().Trim('"').ToLowerInvariant();

    /// <summary>Parses <c>bytes START-END/TOTAL</c> (TOTAL may be <c>*</c>).</summary>
    internal static bool TryParseContentRange(string? value, out long start, out long? total)
    {
        start = 0;
        total = null;
        if (value is null) return false;
        var v = value.Trim();
        if (!v.StartsWith("bytes ", StringComparison.OrdinalIgnoreCase)) return false;
        v = v[6..].Trim();
        var dash = v.IndexOf('-');
        var slash = v.IndexOf('/');
        if (dash <= 0 || slash <= dash) return false;
        if (!long.TryParse(v[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out start)) return false;
        var totalText = v[(slash + 1)..];
        if (totalText != "*")
        {
            if (!long.TryParse(totalText, NumberStyles.None, CultureInfo.InvariantCulture, out var t)) return false;
            total = t;
        }
        return true;
    }

    private void CloseResponse()
    {
        if (_response is null) return;
        Dispose(_response);
        _response = null;
        _body = null;
    }

    private static void Dispose(GetObjectResponse response)
    {
        // Abandoning a body part-way closes its connection; the SDK's own hash wrapper may object on the way out.
        try { response.Dispose(); }
        catch (Exception e) when (e is AmazonClientException or IOException or ObjectDisposedException) { }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            CloseResponse();
            _md5?.Dispose();
        }
        base.Dispose(disposing);
    }
}
