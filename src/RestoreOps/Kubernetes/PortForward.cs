using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace RestoreOps.Kubernetes;

/// <summary>
/// A loopback TCP port that reaches a pod's port, like <c>kubectl port-forward</c>: every local connection gets
/// its own WebSocket to the API server (<c>v4.channel.k8s.io</c>). Dispose it to stop listening and close
/// every relayed connection.
/// </summary>
/// <example>
/// <code>
/// await using var forward = await api.PortForwardAsync("drills", "pg-restore-1", 5432, ct);
/// await using var db = new NpgsqlConnection($"Host=127.0.0.1;Port={forward.LocalPort};Username=app;Password=…");
/// await db.OpenAsync(ct);
/// </code>
/// </example>
internal sealed class PortForward : IAsyncDisposable
{
    // Channel 0 carries the data of the first (only) port, channel 1 its error text. The server first sends
    // the port number (2 bytes, little-endian) on each channel; only what follows is payload.
    private const byte DataChannel = 0;
    private const byte ErrorChannel = 1;

    private readonly TcpListener _listener;
    private readonly Func<CancellationToken, Task<WebSocket>> _connect;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private readonly Task _acceptLoop;
    private Exception? _lastError;

    private PortForward(string ns, string pod, int remotePort, TcpListener listener, Func<CancellationToken, Task<WebSocket>> connect)
    {
        Namespace = ns;
        Pod = pod;
        RemotePort = remotePort;
        _listener = listener;
        _connect = connect;
        LocalEndPoint = (IPEndPoint)listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>Namespace of the pod.</summary>
    public string Namespace { get; }
    /// <summary>The pod connections reach.</summary>
    public string Pod { get; }
    /// <summary>The pod's port.</summary>
    public int RemotePort { get; }
    /// <summary>The loopback endpoint to connect to.</summary>
    public IPEndPoint LocalEndPoint { get; }
    /// <summary>The loopback port to connect to.</summary>
    public int LocalPort => LocalEndPoint.Port;

    /// <summary>
    /// Why the most recent relayed connection failed (API refused the WebSocket, or the pod side reported an
    /// error such as nothing listening on the port); null while all is well.
    /// </summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    internal static PortForward Start(string ns, string pod, int remotePort, Func<CancellationToken, Task<WebSocket>> connect, int localPort = 0)
    {
        // Loopback only: a forward to a restored database must not be reachable from the network.
        var listener = new TcpListener(IPAddress.Loopback, localPort);
        listener.Start();
        return new PortForward(ns, pod, remotePort, listener, connect);
    }

    /// <inheritdoc />
    public override string ToString() => $"127.0.0.1:{LocalPort} → pod {Namespace}/{Pod}:{RemotePort}";

    /// <summary>Stops listening and closes every relayed connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
            return;
        _stop.Cancel();
        _listener.Stop();
        try { await _acceptLoop.ConfigureAwait(false); } catch (Exception) { /* stopping */ }
        await Task.WhenAll(_connections.Keys).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            var task = RelayAsync(client);
            _connections.TryAdd(task, 0);
            _ = task.ContinueWith(t => _connections.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var _ = client;
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        WebSocket socket;
        try
        {
            socket = await _connect(connection.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The local client sees a closed connection; the reason stays available for the caller's message.
            Volatile.Write(ref _lastError, e);
            return;
        }
        using (socket)
        {
            var stream = client.GetStream();
            var fromPod = PodToLocalAsync(socket, stream, connection.Token);
            var toPod = LocalToPodAsync(stream, socket, connection.Token);
            await Task.WhenAny(fromPod, toPod).ConfigureAwait(false);
            connection.Cancel();
            try { await Task.WhenAll(fromPod, toPod).ConfigureAwait(false); } catch (Exception) { /* either side ending ends both */ }
            if (socket.State == WebSocketState.Open)
            {
                using var close = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try { await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, close.Token).ConfigureAwait(false); }
                catch (Exception) { /* the peer may be gone already */ }
            }
        }
    }

    private async Task LocalToPodAsync(NetworkStream local, WebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[32 * 1024 + 1];
        buffer[0] = DataChannel;
        while (true)
        {
            var read = await local.ReadAsync(buffer.AsMemory(1), ct).ConfigureAwait(false);
            if (read == 0)
                return;
            await socket.SendAsync(buffer.AsMemory(0, read + 1), WebSocketMessageType.Binary, endOfMessage: true, ct).ConfigureAwait(false);
        }
    }

    private async Task PodToLocalAsync(WebSocket socket, NetworkStream local, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        var portBytesLeft = new[] { 2, 2 };
        var error = new StringBuilder();
        while (true)
        {
            message.SetLength(0);
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(), ct).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    if (error.Length > 0)
                        Fail(error.ToString());
                    return;
                }
                message.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);

            var frame = message.GetBuffer().AsMemory(0, (int)message.Length);
            if (frame.Length == 0)
                continue;
            var channel = frame.Span[0];
            var payload = frame[1..];
            if (channel > ErrorChannel)
                continue;
            var skip = Math.Min(portBytesLeft[channel], payload.Length);
            if (skip == 2 && portBytesLeft[channel] == 2 && BinaryPrimitives.ReadUInt16LittleEndian(payload.Span) != RemotePort)
                Fail($"the API server answered for port {BinaryPrimitives.ReadUInt16LittleEndian(payload.Span)} instead of {RemotePort}");
            portBytesLeft[channel] -= skip;
            payload = payload[skip..];
            if (payload.Length == 0)
                continue;
            if (channel == DataChannel)
            {
                await local.WriteAsync(payload, ct).ConfigureAwait(false);
            }
            else
            {
                error.Append(Encoding.UTF8.GetString(payload.Span));
                Fail(error.ToString());
                return;
            }
        }
    }

    private void Fail(string reason) =>
        Volatile.Write(ref _lastError, new InfrastructureException(
            $"Port-forward to pod \"{Pod}\" port {RemotePort} in namespace \"{Namespace}\" failed: {reason.Trim()}",
            "check that the pod is running and something listens on that port inside it (kubectl describe pod / logs)."));
}
