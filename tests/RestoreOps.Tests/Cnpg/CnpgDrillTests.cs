using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using RestoreOps.Cnpg;
using RestoreOps.Evidence;
using RestoreOps.Kubernetes;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Kubernetes;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Cnpg;

/// <summary>
/// The CNPG drill lifecycle through a PORT-FORWARD, against the in-process API double and the operator simulator,
/// which restores the fixture's REAL Barman Cloud backups: list → create → watch until ready → connect through a
/// port-forward → count rows → remove, with nothing left behind; secrets never leak. These stay on the double
/// because a port-forward needs a kubelet, which the real API server tests (<see cref="CnpgRealServerTests"/>:
/// acceptance, CEL, failed restores, timeouts, ownership, sweep) do not have.
/// </summary>
[Collection("backups")]
public sealed class CnpgDrillTests(BackupFixtures fx) : IAsyncLifetime
{
    private const string SourceNamespace = CnpgDouble.SourceNamespace;
    private const string DrillNamespace = CnpgDouble.DrillNamespace;

    private CnpgDouble _cnpg = null!;
    private FakeKubernetesServer _server => _cnpg.Server;
    private OperatorSimulator _simulator => _cnpg.Simulator;
    private KubernetesClient _api => _cnpg.Api;

    public async Task InitializeAsync()
    {
        _cnpg = await CnpgDouble.StartAsync(fx);
    }

    public async Task DisposeAsync()
    {
        if (_cnpg is not null) await _cnpg.DisposeAsync();
    }

    private CancellationToken Ct => _cnpg.Ct;

    /// <summary>A production cluster with in-tree Barman Cloud backups to the fixture's s3rver.</summary>
    private JsonObject SourceCluster(string name, string serverName) =>
        CnpgResources.SourceCluster(SourceNamespace, name, F.DestinationPath, fx.S3.Endpoint, serverName);

    private static string NewDrillId() => "cnpg" + Guid.NewGuid().ToString("N")[..8];

    private async Task<(CnpgSourceCluster Source, Backup Backup)> SourceWithBackupAsync(string cluster, string serverName, string backupServer)
    {
        _server.Put(ResourceKind.Cluster, SourceCluster(cluster, serverName));
        await _simulator.PutBackupAsync(SourceNamespace, $"{cluster}-base", cluster, backupServer, Ct);
        var backups = await CnpgCatalog.ListBackupsAsync(_api, SourceNamespace, cluster, Ct);
        var source = await CnpgCatalog.GetSourceAsync(_api, SourceNamespace, cluster, Ct);
        return (source, Assert.Single(backups));
    }

    private Task AssertNothingLeftAsync(CnpgRestore restore) =>
        _simulator.AssertNothingLeftAsync(_api, restore.Namespace, restore.Name, restore.Cluster.DrillId, Ct);

    [Fact]
    public async Task Full_lifecycle_restores_to_the_target_time_connects_through_a_port_forward_and_leaves_nothing()
    {
        var (source, backup) = await SourceWithBackupAsync("shop-db", "gzip", "gzip");
        // Another cluster's backup in the same namespace must not be offered.
        await _simulator.PutBackupAsync(SourceNamespace, "other-base", "other-db", "plain", Ct);
        Assert.Single(await CnpgCatalog.ListBackupsAsync(_api, SourceNamespace, "shop-db", Ct));
        Assert.Equal(fx.BackupIds["gzip"], backup.Id);
        Assert.Equal("gzip", source.ServerName);

        var drillId = NewDrillId();
        var reports = new ConcurrentQueue<DrillProgress>();
        await using var restore = await CnpgRestore.CreateAsync(_api, new RecoveryClusterRequest
        {
            Source = source,
            Backup = backup,
            DrillId = drillId,
            Namespace = DrillNamespace,
            RecoveryTarget = RecoveryTarget.AtTime(fx.TargetTime),
        }, Ct);

        var created = _server.Find(ResourceKind.Cluster, DrillNamespace, restore.Name)!;
        Assert.Equal(drillId, created["spec"]!["inheritedMetadata"]!["labels"]![CnpgNames.DrillIdLabel]!.GetValue<string>());
        Assert.Equal("gzip", created["spec"]!["externalClusters"]![0]!["barmanObjectStore"]!["serverName"]!.GetValue<string>());

        await restore.WaitReadyAsync(TimeSpan.FromMinutes(4), new SyncProgress(reports.Enqueue), Ct);

        Assert.Equal(RestoreClusterPhase.Ready, restore.Cluster.Phase);
        Assert.Equal(RestoreTargetKind.Cnpg, restore.Cluster.Kind);
        Assert.Equal(DrillNamespace, restore.Cluster.Namespace);
        Assert.Equal(drillId, restore.Cluster.DrillId);
        Assert.Same(backup, restore.Cluster.Backup);
        Assert.Contains(reports, r => r.Status == CnpgNames.PhaseSettingUpPrimary);
        Assert.Contains(reports, r => r.Status == CnpgNames.PhaseHealthy);
        // Waited by watching the Cluster by name, not by polling GETs.
        Assert.Contains(_server.Requests, r => r.Method == "GET" && r.Path.EndsWith("/namespaces/drills/clusters", StringComparison.Ordinal)
            && r.Query.Contains("watch=true", StringComparison.Ordinal) && Uri.UnescapeDataString(r.Query).Contains($"metadata.name={restore.Name}", StringComparison.Ordinal));
        // (The simulator, as operator, reads before it writes status; the drill never does.)
        Assert.DoesNotContain(_server.Requests, r => r.Method == "GET" && r.Path.EndsWith($"/clusters/{restore.Name}", StringComparison.Ordinal)
            && r.Authorization != "Bearer operator");
        foreach (var phase in new[] { DrillPhase.Provision, DrillPhase.WalReplay, DrillPhase.Ready })
            Assert.Contains(restore.Cluster.Phases, p => p.Phase == phase && p.Succeeded && p.EndedAt >= p.StartedAt);

        await using (var connection = await restore.ConnectAsync(CnpgConnectRoute.PortForward, Ct))
        {
            Assert.True(connection.IsPortForward);
            Assert.Equal("app", connection.Info.Username);
            Assert.Equal("shop", connection.Info.Database);
            Assert.Equal("127.0.0.1", connection.Info.Host);
            await using var session = await connection.OpenAsync(Ct);
            await using var count = new NpgsqlCommand("select current_user, count(*) from orders", session);
            await using var reader = await count.ExecuteReaderAsync(Ct);
            Assert.True(await reader.ReadAsync(Ct));
            Assert.Equal("app", reader.GetString(0));
            Assert.Equal(F.RowsAtBackup + F.RowsBeforeTarget, reader.GetInt64(1));
        }
        Assert.Equal("app@127.0.0.1", $"{restore.Cluster.Connection!.Username}@{restore.Cluster.Connection.Host}");

        var outcome = await restore.RemoveAsync(Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        Assert.Contains($"Cluster {DrillNamespace}/{restore.Name}", outcome.Removed);
        Assert.Equal(RestoreClusterPhase.Removed, restore.Cluster.Phase);
        await AssertNothingLeftAsync(restore);
        // The source and its backups are untouched.
        Assert.NotNull(_server.Find(ResourceKind.Cluster, SourceNamespace, "shop-db"));
        Assert.NotNull(_server.Find(ResourceKind.Backup, SourceNamespace, "shop-db-base"));

        var again = await restore.RemoveAsync(Ct);
        Assert.True(again.Succeeded);
        Assert.Empty(again.Removed);
    }

    [Fact]
    public async Task The_password_never_appears_in_the_restore_cluster_errors_or_evidence()
    {
        var (source, backup) = await SourceWithBackupAsync("secret-db", "gzip", "gzip");
        await using var restore = await CnpgRestore.CreateAsync(_api, new RecoveryClusterRequest
        {
            Source = source,
            Backup = backup,
            DrillId = NewDrillId(),
            Namespace = DrillNamespace,
            RecoveryTarget = RecoveryTarget.Immediate,
        }, Ct);
        await restore.WaitReadyAsync(TimeSpan.FromMinutes(4), null, Ct);
        var secret = _server.Find(ResourceKind.Secret, DrillNamespace, $"{restore.Name}-app")!;
        var password = Encoding.UTF8.GetString(Convert.FromBase64String(secret["data"]!["password"]!.GetValue<string>()));

        string described;
        RestoreFailedException failure;
        await using (var connection = await restore.ConnectAsync(CnpgConnectRoute.PortForward, Ct))
        {
            await using (var session = await connection.OpenAsync(Ct))
            await using (var count = new NpgsqlCommand("select count(*) from orders", session))
                Assert.Equal((long)F.RowsAtBackup, (long)(await count.ExecuteScalarAsync(Ct))!);
            Assert.DoesNotContain(password, connection.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(password, JsonSerializer.Serialize(connection.Info), StringComparison.Ordinal);

            // A leaky operator message: the password must not travel on into our errors.
            _server.Put(ResourceKind.Event, new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = $"{restore.Name}.leak", ["namespace"] = DrillNamespace },
                ["involvedObject"] = new JsonObject { ["kind"] = "Cluster", ["name"] = restore.Name },
                ["reason"] = "Leaky", ["message"] = $"could not connect with {password}", ["type"] = "Warning",
            });
            described = await restore.DescribeAsync(Ct);
            _server.Update(ResourceKind.Cluster, DrillNamespace, restore.Name, c => c["status"]!["phase"] = "Invalid cluster definition");
            failure = await Assert.ThrowsAsync<RestoreFailedException>(() => restore.WaitReadyAsync(TimeSpan.FromMinutes(1), null, Ct));
        }
        Assert.Contains("Leaky", described, StringComparison.Ordinal);
        Assert.DoesNotContain(password, described, StringComparison.Ordinal);
        Assert.Contains("Invalid cluster definition", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(password, failure.ToString(), StringComparison.Ordinal);

        var outcome = await restore.RemoveAsync(Ct);
        var record = new DrillRecord
        {
            DrillId = restore.Cluster.DrillId,
            ToolVersion = "test",
            Host = "test",
            StartedAt = restore.Cluster.CreatedAt,
            EndedAt = DateTimeOffset.UtcNow,
            TargetKind = RestoreTargetKind.Cnpg,
            Source = restore.Cluster.ToString(),
            RecoveryTarget = restore.Cluster.RecoveryTarget.ToString(),
            FailureMessage = failure.Message + " / " + password,
        };
        record.Phases.AddRange(restore.Cluster.Phases);
        record.Cleanup.Removed.AddRange(outcome.Removed);
        var evidence = DrillRecordJson.Serialize(record);
        Assert.DoesNotContain(password, evidence, StringComparison.Ordinal);
        Assert.DoesNotContain(password, JsonSerializer.Serialize(restore.Cluster), StringComparison.Ordinal);
        Assert.DoesNotContain(password, restore.Cluster.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(password, restore.Cluster.Connection!.ToString(), StringComparison.Ordinal);
        await AssertNothingLeftAsync(restore);
    }

    private sealed class SyncProgress(Action<DrillProgress> onReport) : IProgress<DrillProgress>
    {
        public void Report(DrillProgress value) => onReport(value);
    }
}
