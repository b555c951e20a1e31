using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using RestoreOps.Kubernetes;
using Xunit;

namespace RestoreOps.Tests.Kubernetes;

public sealed class PortForwardTests : IAsyncLifetime
{
    private readonly FakeKubernetesServer _server = new();
    private readonly CancellationTokenSource _guard = new(TimeSpan.FromSeconds(60));
    private KubernetesClient _api = null!;
    private TcpListener? _echo;

    public Task InitializeAsync()
    {
        _api = new KubernetesClient(_server.Config("pf-token", "drills"));
        _server.Put(ResourceKind.Pod, new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "pg-restore-1", ["namespace"] = "drills" },
            ["status"] = new JsonObject { ["phase"] = "Running" },
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _guard.Cancel();
        _echo?.Stop();
        _api.Dispose();
        await _server.DisposeAsync();
    }

    private IPEndPoint StartEcho()
    {
        _echo = new TcpListener(IPAddress.Loopback, 0);
        _echo.Start();
        var listener = _echo;
        _ = Task.Run(async () =>
        {
            while (true)
            {
                TcpClient client;
                try { client = await listener.AcceptTcpClientAsync(); }
                catch (Exception) { return; }
                _ = Task.Run(async () =>
                {
                    using (client)
                    {
                        var stream = client.GetStream();
                        try { await stream.CopyToAsync(stream); } catch (IOException) { }
                    }
                });
            }
        });
        return (IPEndPoint)_echo.LocalEndpoint;
    }

    private static async Task<byte[]> ReadExactlyAsync(NetworkStream stream, int count, CancellationToken ct)
    {
        var buffer = new byte[count];
        await stream.ReadExactlyAsync(buffer, ct);
        return buffer;
    }

    [Fact]
    public async Task Relays_concurrent_connections_over_websockets_to_the_pod_port()
    {
        _server.MapPortForward("drills", "pg-restore-1", StartEcho());
        await using var forward = await _api.PortForwardAsync("drills", "pg-restore-1", 5432, _guard.Token);
        Assert.Equal(IPAddress.Loopback, forward.LocalEndPoint.Address);

        async Task RoundTrip(int size, byte seed)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort, _guard.Token);
            var stream = client.GetStream();
            var payload = Enumerable.Range(0, size).Select(i => (byte)(i * 31 + seed)).ToArray();
            var reading = ReadExactlyAsync(stream, size, _guard.Token);
            await stream.WriteAsync(payload, _guard.Token);
            Assert.Equal(payload, await reading);
        }

        // Bigger than one relay buffer, so data crosses several WebSocket frames in both directions.
        await Task.WhenAll(RoundTrip(5, 1), RoundTrip(300_000, 2), RoundTrip(70_000, 3));
        Assert.Null(forward.LastError);

        var upgrades = _server.Requests.Where(r => r.Path.EndsWith("/portforward", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, upgrades.Count);
        Assert.All(upgrades, r =>
        {
            Assert.Equal("/api/v1/namespaces/drills/pods/pg-restore-1/portforward", r.Path);
            Assert.Equal("?ports=5432", r.Query);
            Assert.Equal("Bearer pf-token", r.Authorization);
        });
    }

    [Fact]
    public async Task Nothing_listening_in_the_pod_closes_the_local_connection_and_says_why()
    {
        await using var forward = await _api.PortForwardAsync("drills", "pg-restore-1", 5432, _guard.Token);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort, _guard.Token);
        var read = await client.GetStream().ReadAsync(new byte[16], _guard.Token);
        Assert.Equal(0, read);
        var e = Assert.IsType<InfrastructureException>(forward.LastError);
        Assert.Contains("Port-forward to pod \"pg-restore-1\" port 5432 in namespace \"drills\" failed", e.Message);
        Assert.Contains("connection refused", e.Message);
    }

    [Fact]
    public async Task Denied_port_forward_is_reported_with_the_rule_to_add()
    {
        _server.MapPortForward("drills", "pg-restore-1", StartEcho());
        _server.Deny("get", ResourceKind.Pod, "drills", subresource: "portforward");
        await using var forward = await _api.PortForwardAsync("drills", "pg-restore-1", 5432, _guard.Token);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, forward.LocalPort, _guard.Token);
        Assert.Equal(0, await client.GetStream().ReadAsync(new byte[16], _guard.Token));
        var e = Assert.IsType<KubernetesForbiddenException>(forward.LastError);
        Assert.Contains("resources: [\"pods/portforward\"], verbs: [\"get\"]", e.Message);
        Assert.DoesNotContain("pf-token", e.ToString());
    }

    [Fact]
    public async Task A_missing_or_pending_pod_fails_before_listening()
    {
        var missing = await Assert.ThrowsAsync<KubernetesNotFoundException>(() => _api.PortForwardAsync("drills", "pg-restore-9", 5432, _guard.Token));
        Assert.Contains("pods \"pg-restore-9\" was not found in namespace \"drills\"", missing.Message);

        _server.Put(ResourceKind.Pod, new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "pg-restore-2", ["namespace"] = "drills" },
            ["status"] = new JsonObject { ["phase"] = "Pending" },
        });
        var pending = await Assert.ThrowsAsync<InfrastructureException>(() => _api.PortForwardAsync("drills", "pg-restore-2", 5432, _guard.Token));
        Assert.Contains("is Pending", pending.Message);
    }
}
