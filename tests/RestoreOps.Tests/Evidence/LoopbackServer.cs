using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace RestoreOps.Tests.Evidence;

/// <summary>
/// A real HTTP server on 127.0.0.1 (HttpListener) that records every request and answers with the status
/// <see cref="Respond"/> chooses; tests await <see cref="WaitForRequestsAsync"/> rather than sleeping.
/// </summary>
internal sealed class LoopbackServer : IAsyncDisposable
{
    public sealed record Received(string Method, string PathAndQuery, string? ContentType, string Body);

    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly ConcurrentQueue<Received> _requests = new();
    private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = new();
    private readonly object _gate = new();
    private readonly TaskCompletionSource _neverAnswer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Status for the n-th request (1-based); null: never answer (to test client timeouts).</summary>
    public Func<int, int?> Respond { get; init; } = _ => 200;

    public Uri BaseUrl { get; }

    public LoopbackServer()
    {
        var port = FreePort();
        BaseUrl = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(BaseUrl.ToString());
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public IReadOnlyList<Received> Requests => _requests.ToList();

    public Task WaitForRequestsAsync(int count)
    {
        lock (_gate)
        {
            if (_requests.Count >= count) return Task.CompletedTask;
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, tcs));
            return tcs.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    private async Task LoopAsync()
    {
        var n = 0;
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (HttpListenerException) { return; }
            catch (ObjectDisposedException) { return; }
            var index = Interlocked.Increment(ref n);
            _ = Task.Run(async () =>
            {
                using var reader = new StreamReader(ctx.Request.InputStream, ctx.Request.ContentEncoding);
                var body = await reader.ReadToEndAsync();
                var status = Respond(index);
                lock (_gate)
                {
                    _requests.Enqueue(new Received(ctx.Request.HttpMethod, ctx.Request.Url!.PathAndQuery, ctx.Request.ContentType, body));
                    foreach (var w in _waiters.Where(w => _requests.Count >= w.Count).ToList())
                    {
                        _waiters.Remove(w);
                        w.Signal.TrySetResult();
                    }
                }
                if (status is null) await _neverAnswer.Task;
                try
                {
                    ctx.Response.StatusCode = status ?? 200;
                    ctx.Response.Close();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    // The client gave up (timeout test) or the server is stopping.
                }
            });
        }
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _neverAnswer.TrySetResult();
        _listener.Stop();
        _listener.Close();
        try { await _loop; } catch (Exception) when (_stop.IsCancellationRequested) { }
    }
}
