using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RestoreOps.ObjectStore;

namespace RestoreOps.Tests.Faults;

/// <summary>
/// What goes wrong with the responses for the objects a rule matches. Offsets are positions in the object, so a
/// rule means the same for a whole-object GET and for a ranged GET that resumes part-way.
/// </summary>
public sealed class FaultRule
{
    private readonly ConcurrentDictionary<string, int> _served503 = new();
    private int _remainingBodyFaults;

    /// <summary>Which object keys (the path after the bucket) the rule applies to; GET requests only.</summary>
    public required Func<string, bool> Key { get; init; }

    /// <summary>Answer the first N requests for each matching object with 503 SlowDown (without asking the store).</summary>
    public int Status503 { get; init; }

    /// <summary>Answer every matching request with 500 InternalError.</summary>
    public bool Status500 { get; init; }

    /// <summary>Send the headers and the body up to this object offset, then nothing, holding the connection open.</summary>
    public long? StallAt { get; init; }

    /// <summary>Send the body up to this object offset, then reset the connection (TCP RST).</summary>
    public long? ResetAt { get; init; }

    /// <summary>Send the body up to this object offset, then close the connection cleanly.</summary>
    public long? TruncateAt { get; init; }

    /// <summary>With <see cref="TruncateAt"/>: announce the truncated length as Content-Length, so the cut looks like a complete body.</summary>
    public bool LieAboutLength { get; init; }

    /// <summary>Invert the byte at this object offset in transit.</summary>
    public long? FlipAt { get; init; }

    /// <summary>How many responses the body fault (stall, reset, truncation, flip) applies to; later ones pass untouched.</summary>
    public int Times { get => _remainingBodyFaults; init => _remainingBodyFaults = value; }

    /// <summary>Cap the body rate of matching responses (0: no cap).</summary>
    public int BytesPerSecond { get; init; }

    /// <summary>Completes with the object offset where a body fault first hit.</summary>
    public TaskCompletionSource<long> Fired { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Responses the body fault was applied to, and 503/500 answers given.</summary>
    public int Hits => Volatile.Read(ref _hits);
    private int _hits;

    /// <summary>Default: a body fault applies to every response.</summary>
    public FaultRule() => _remainingBodyFaults = int.MaxValue;

    internal bool Take503(string key) => _served503.AddOrUpdate(key, 1, (_, n) => n + 1) <= Status503 && Hit();

    internal bool Hit()
    {
        Interlocked.Increment(ref _hits);
        return true;
    }

    internal long? BodyFaultAt => StallAt ?? ResetAt ?? TruncateAt ?? FlipAt;

    internal bool TakeBodyFault(long start, long? length)
    {
        if (BodyFaultAt is not { } at || at < start || (length is { } l && at > start + l) || (length is { } m && at == start + m && FlipAt is not null)) return false;
        if (Interlocked.Decrement(ref _remainingBodyFaults) < 0) return false;
        return Hit();
    }
}

/// <summary>One request as the proxy saw and answered it.</summary>
public sealed record ProxiedRequest(string Method, string Target, string? Key, string? Range, int Status, string? Fault);

/// <summary>
/// A fault-injecting HTTP/1.1 proxy on 127.0.0.1 in front of s3rver, on raw sockets (the faults live below what
/// HttpListener lets a server do: a stall after N body bytes, a reset mid-body, a lying Content-Length). Every
/// request gets its own upstream connection and <c>Connection: close</c>, so a fault never leaks into the next request.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly int _upstreamPort;
    private readonly Task _accept;
    private readonly ConcurrentQueue<ProxiedRequest> _requests = new();
    private readonly List<FaultRule> _rules = new();
    private readonly ConcurrentDictionary<Task, bool> _connections = new();

    public FaultProxy(string upstreamEndpoint)
    {
        _upstreamPort = new Uri(upstreamEndpoint).Port;
        _listener.Start();
        Endpoint = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
        _accept = Task.Run(AcceptAsync);
    }

    /// <summary>The proxy's URL, to use as the object store endpoint.</summary>
    public string Endpoint { get; }

    /// <summary>Every request answered so far, in order.</summary>
    public IReadOnlyList<ProxiedRequest> Requests => _requests.ToList();

    /// <summary>Adds a rule; the first rule whose key matches a request decides its faults.</summary>
    public FaultRule Add(FaultRule rule)
    {
        lock (_rules) _rules.Add(rule);
        return rule;
    }

    /// <summary>Store options that reach s3rver through this proxy.</summary>
    public ObjectStoreOptions Options(ObjectStoreOptions direct) => direct with { EndpointUrl = Endpoint };

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            var task = Task.Run(() => HandleAsync(client));
            _connections[task] = true;
            _ = task.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        var ct = _stop.Token;
        using (client)
        {
            try
            {
                client.NoDelay = true;
                var down = client.GetStream();
                var request = await ReadHeadAsync(down, ct);
                if (request is null) return;
                var (requestLines, requestRest) = request.Value;
                var parts = requestLines[0].Split(' ');
                var method = parts[0];
                var target = parts.Length > 1 ? parts[1] : "/";
                var headers = Headers(requestLines);
                var requestBody = await ReadBodyAsync(down, requestRest, headers.TryGetValue("content-length", out var cl) ? long.Parse(cl, CultureInfo.InvariantCulture) : 0, ct);
                var key = KeyOf(target);
                headers.TryGetValue("range", out var range);
                FaultRule? rule = null;
                if (method == "GET" && key is not null)
                    lock (_rules) rule = _rules.FirstOrDefault(r => r.Key(key));

                if (rule is not null && rule.Take503(key!))
                {
                    await RespondErrorAsync(down, 503, "Slow Down", "SlowDown", "Please reduce your request rate.", target, ct);
                    _requests.Enqueue(new ProxiedRequest(method, target, key, range, 503, "503"));
                    return;
                }
                if (rule is { Status500: true } && rule.Hit())
                {
                    await RespondErrorAsync(down, 500, "Internal Server Error", "InternalError", "We encountered an internal error. Please try again.", target, ct);
                    _requests.Enqueue(new ProxiedRequest(method, target, key, range, 500, "500"));
                    return;
                }

                using var upstream = new TcpClient { NoDelay = true };
                await upstream.ConnectAsync(IPAddress.Loopback, _upstreamPort, ct);
                var up = upstream.GetStream();
                var forwarded = new StringBuilder();
                forwarded.Append(requestLines[0]).Append("\r\n");
                foreach (var line in requestLines.Skip(1))
                    if (!line.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase)) forwarded.Append(line).Append("\r\n");
                forwarded.Append("Connection: close\r\n\r\n");
                await up.WriteAsync(Encoding.ASCII.GetBytes(forwarded.ToString()), ct);
                if (requestBody.Length > 0) await up.WriteAsync(requestBody, ct);

                var response = await ReadHeadAsync(up, ct) ?? throw new IOException("s3rver closed the connection without a response");
                var (responseLines, responseRest) = response;
                var status = int.Parse(responseLines[0].Split(' ')[1], CultureInfo.InvariantCulture);
                var responseHeaders = Headers(responseLines);
                long? length = responseHeaders.TryGetValue("content-length", out var rl) ? long.Parse(rl, CultureInfo.InvariantCulture) : null;
                long start = 0;
                if (status == 206 && responseHeaders.TryGetValue("content-range", out var cr))
                    start = long.Parse(cr.Split(' ', '-')[1], CultureInfo.InvariantCulture);

                var fault = rule is not null && status is 200 or 206 && rule.TakeBodyFault(start, length) ? rule : null;
                var head = new StringBuilder();
                head.Append(responseLines[0]).Append("\r\n");
                foreach (var line in responseLines.Skip(1))
                {
                    if (line.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase)) continue;
                    if (fault is { TruncateAt: { } cut, LieAboutLength: true } && line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                    {
                        head.Append("Content-Length: ").Append(cut - start).Append("\r\n");
                        continue;
                    }
                    head.Append(line).Append("\r\n");
                }
                head.Append("Connection: close\r\n\r\n");
                await down.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), ct);

                var what = fault is null ? null
                    : fault.StallAt is not null ? "stall" : fault.ResetAt is not null ? "reset" : fault.TruncateAt is not null ? (fault.LieAboutLength ? "truncate, short length" : "truncate") : "flip";
                _requests.Enqueue(new ProxiedRequest(method, target, key, range, status, what));
                await PumpAsync(up, responseRest, down, client, start, fault, rule?.BytesPerSecond ?? 0, ct);
            }
            catch (Exception) when (ct.IsCancellationRequested)
            {
            }
            catch (IOException)
            {
                // The client went away (it gave up on a stalled body, or was reset): nothing left to answer.
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private static async Task PumpAsync(Stream up, byte[] first, NetworkStream down, TcpClient client, long start, FaultRule? fault, int bytesPerSecond, CancellationToken ct)
    {
        var at = fault?.BodyFaultAt;
        var position = start;
        var buffer = new byte[64 * 1024];
        var pending = first;
        while (true)
        {
            int n;
            if (pending.Length > 0)
            {
                n = pending.Length;
                if (n > buffer.Length) buffer = new byte[n];
                pending.CopyTo(buffer, 0);
                pending = [];
            }
            else
            {
                n = await up.ReadAsync(buffer, ct);
                if (n == 0) return;
            }

            var send = n;
            var stop = false;
            if (at is { } offset && fault!.FlipAt is null && position + n >= offset)
            {
                send = (int)(offset - position);
                stop = true;
            }
            if (fault?.FlipAt is { } flip && flip >= position && flip < position + n)
            {
                buffer[flip - position] ^= 0xFF;
                fault.Fired.TrySetResult(flip);
            }

            await WriteAsync(down, buffer.AsMemory(0, send), bytesPerSecond, ct);
            position += send;
            if (!stop) continue;

            await down.FlushAsync(ct);
            fault!.Fired.TrySetResult(position);
            if (fault.StallAt is not null)
            {
                // Silence: hold the connection until the client gives up on it (or the proxy stops).
                var probe = new byte[1];
                try { while (await down.ReadAsync(probe, ct) > 0) { } }
                catch (IOException) { }
            }
            else if (fault.ResetAt is not null)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                client.Client.Close();
            }
            return;
        }
    }

    private static async Task WriteAsync(NetworkStream down, ReadOnlyMemory<byte> data, int bytesPerSecond, CancellationToken ct)
    {
        if (bytesPerSecond <= 0)
        {
            await down.WriteAsync(data, ct);
            return;
        }
        // A slow link: a slice every 50 ms.
        var slice = Math.Max(1, bytesPerSecond / 20);
        for (var i = 0; i < data.Length; i += slice)
        {
            await down.WriteAsync(data.Slice(i, Math.Min(slice, data.Length - i)), ct);
            await Task.Delay(50, ct);
        }
    }

    private static async Task RespondErrorAsync(NetworkStream down, int status, string reason, string code, string message, string resource, CancellationToken ct)
    {
        var body = Encoding.UTF8.GetBytes($"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><Resource>{WebUtility.HtmlEncode(resource)}</Resource><RequestId>fault-proxy</RequestId></Error>");
        var head = $"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        await down.WriteAsync(Encoding.ASCII.GetBytes(head), ct);
        await down.WriteAsync(body, ct);
    }

    /// <summary>The object key of a path-style request (<c>/bucket/key?query</c>), or null for a bucket-level request.</summary>
    private static string? KeyOf(string target)
    {
        var path = target.Split('?')[0];
        var slash = path.IndexOf('/', 1);
        if (slash < 0 || slash == path.Length - 1) return null;
        return Uri.UnescapeDataString(path[(slash + 1)..]);
    }

    private static Dictionary<string, string> Headers(List<string> lines)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        return headers;
    }

    /// <summary>Reads up to the blank line; returns the head's lines and the bytes read past it.</summary>
    private static async Task<(List<string> Lines, byte[] Remainder)?> ReadHeadAsync(Stream stream, CancellationToken ct)
    {
        var data = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            var n = await stream.ReadAsync(buffer, ct);
            if (n == 0) return null;
            data.Write(buffer, 0, n);
            var bytes = data.GetBuffer().AsSpan(0, (int)data.Length);
            var end = bytes.IndexOf("\r\n\r\n"u8);
            if (end < 0) continue;
            var head = Encoding.ASCII.GetString(bytes[..end]);
            return (head.Split("\r\n").ToList(), bytes[(end + 4)..].ToArray());
        }
    }

    private static async Task<byte[]> ReadBodyAsync(Stream stream, byte[] rest, long length, CancellationToken ct)
    {
        if (length <= rest.Length) return rest[..(int)length];
        var body = new byte[length];
        rest.CopyTo(body, 0);
        var read = rest.Length;
        while (read < length)
        {
            var n = await stream.ReadAsync(body.AsMemory(read), ct);
            if (n == 0) throw new IOException("the client closed the connection mid-request");
            read += n;
        }
        return body;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try { await _accept; } catch (OperationCanceledException) { }
        try { await Task.WhenAll(_connections.Keys); } catch (Exception) { }
        _stop.Dispose();
    }
}
