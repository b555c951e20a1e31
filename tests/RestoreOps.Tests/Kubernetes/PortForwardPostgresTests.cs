using System.Text.Json.Nodes;
using Npgsql;
using RestoreOps.Kubernetes;
using RestoreOps.Local;
using RestoreOps.Processes;
using Xunit;

namespace RestoreOps.Tests.Kubernetes;

/// <summary>The reason port-forward exists: a real PostgreSQL session (startup, SCRAM, queries) through it.</summary>
public sealed class PortForwardPostgresTests : IAsyncLifetime
{
    private const string Password = "forwarded-secret";
    private readonly TempFolder _dir = new();
    private readonly FakeKubernetesServer _server = new();
    private readonly CancellationTokenSource _guard = new(TimeSpan.FromMinutes(3));
    private LocalInstance? _postgres;

    public async Task InitializeAsync()
    {
        File.SetUnixFileMode(_dir.Path, (UnixFileMode)0b111_101_101);
        var binaries = await PostgresBinaries.FindAsync(null, null, _guard.Token);
        _postgres = await LocalInstance.InitializeAsync(binaries, OsAccount.ForPostgres(), Path.Combine(_dir.Path, "pg"), "postgres", _guard.Token);
        await _postgres.StartAsync(new Dictionary<string, string> { ["shared_buffers"] = "16MB" }, null, _guard.Token);
        await _postgres.WaitForConnectionsAsync(TimeSpan.FromSeconds(60), _guard.Token);
        await using var local = new NpgsqlConnection(_postgres.ConnectionString().ConnectionString);
        await local.OpenAsync(_guard.Token);
        await using var setPassword = new NpgsqlCommand($"alter role postgres password '{Password}'", local);
        await setPassword.ExecuteNonQueryAsync(_guard.Token);
    }

    public async Task DisposeAsync()
    {
        _guard.Cancel();
        if (_postgres is not null)
            await _postgres.DisposeAsync();
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task Npgsql_connects_and_queries_through_the_forward()
    {
        _server.Put(ResourceKind.Pod, new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "pg-restore-1", ["namespace"] = "drills" },
            ["status"] = new JsonObject { ["phase"] = "Running" },
        });
        _server.MapPortForward("drills", "pg-restore-1", new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, _postgres!.Port));
        using var api = new KubernetesClient(_server.Config("t", "drills"));
        await using var forward = await api.PortForwardAsync("drills", "pg-restore-1", 5432, _guard.Token);

        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = forward.LocalPort,
            Username = "postgres",
            Password = Password,
            Database = "postgres",
            Pooling = false,
        }.ConnectionString;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(_guard.Token);
        // Enough rows to span many WebSocket frames.
        await using var command = new NpgsqlCommand("select count(*), sum(length(md5(g::text))) from generate_series(1, 20000) g", connection);
        await using var reader = await command.ExecuteReaderAsync(_guard.Token);
        Assert.True(await reader.ReadAsync(_guard.Token));
        Assert.Equal(20000L, reader.GetInt64(0));
        Assert.Equal(640000m, reader.GetDecimal(1));
        await reader.CloseAsync();

        await using var rows = new NpgsqlCommand("select string_agg(md5(g::text), '') from generate_series(1, 5000) g", connection);
        var text = (string)(await rows.ExecuteScalarAsync(_guard.Token))!;
        Assert.Equal(5000 * 32, text.Length);
        Assert.Null(forward.LastError);
    }
}
