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
/// The CNPG drill lifecycle against the fake API server and the operator simulator, which restores the
/// fixture's REAL Barman Cloud backups: list → create → watch until ready → connect through a port-forward →
/// count rows → remove, with nothing left behind; CRD rejection, failed restores, foreign objects and secrets.
/// </summary>
[Collection("backups")]
public sealed class CnpgDrillTests(BackupFixtures fx) : IAsyncLifetime
{
    private const string SourceNamespace = "prod";
    private const string DrillNamespace = "drills";

    private readonly FakeKubernetesServer _server = new();
    private readonly CancellationTokenSource _guard = new(TimeSpan.FromMinutes(6));
    private OperatorSimulator _simulator = null!;
    private KubernetesClient _api = null!;

    public async Task InitializeAsync()
    {
        _simulator = await OperatorSimulator.StartAsync(_server, fx);
        _api = new KubernetesClient(_server.Config("drill-runner", DrillNamespace));
    }

    public async Task DisposeAsync()
    {
        _api?.Dispose();
        if (_simulator is not null) await _simulator.DisposeAsync();
        await _server.DisposeAsync();
        _guard.Dispose();
    }

    private CancellationToken Ct => _guard.Token;

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
        Assert.DoesNotContain(_server.Requests, r => r.Method == "GET" && r.Path.EndsWith($"/clusters/{restore.Name}", StringComparison.Ordinal));
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
    public async Task A_cluster_the_crd_rejects_is_a_clear_error_before_anything_runs()
    {
        var (source, backup) = await SourceWithBackupAsync("crd-db", "gzip", "gzip");
        var request = new RecoveryClusterRequest
        {
            Source = source,
            Backup = backup,
            DrillId = NewDrillId(),
            Namespace = DrillNamespace,
            Resources = new JsonObject { ["limits"] = "lots" },
        };

        var e = await Assert.ThrowsAsync<ConfigurationException>(() => CnpgRestore.CreateAsync(_api, request, Ct));
        Assert.Contains("spec.resources.limits", e.Message, StringComparison.Ordinal);
        Assert.Contains("Fix:", e.Message, StringComparison.Ordinal);
        Assert.Empty((await _api.ListAsync(ResourceKind.Cluster, DrillNamespace, null, null, Ct)).Items);
        Assert.Empty((await _api.ListAsync(ResourceKind.Job, DrillNamespace, null, null, Ct)).Items);
        Assert.Empty(_simulator.Restores);

        // The fake API server enforces the same CRD schema (422 with causes) for anything that bypasses the builder.
        var invalid = RecoveryClusterBuilder.Build(new RecoveryClusterRequest { Source = source, Backup = backup, DrillId = request.DrillId, Namespace = DrillNamespace });
        invalid["spec"]!["instances"] = "three";
        var rejected = await Assert.ThrowsAsync<KubernetesInvalidException>(() => _api.CreateAsync(ResourceKind.Cluster, DrillNamespace, invalid, Ct));
        Assert.Contains(rejected.Causes, c => c.Field == "spec.instances");
        Assert.Empty((await _api.ListAsync(ResourceKind.Cluster, DrillNamespace, null, null, Ct)).Items);
    }

    [Fact]
    public async Task A_failing_restore_ends_the_wait_with_phase_job_state_and_event()
    {
        // The source names a Barman server that holds no backups: CNPG's "no target backup found".
        var (source, backup) = await SourceWithBackupAsync("ghost-db", "no-such-server", "gzip");
        await using var restore = await CnpgRestore.CreateAsync(_api, new RecoveryClusterRequest
        {
            Source = source,
            Backup = backup,
            DrillId = NewDrillId(),
            Namespace = DrillNamespace,
        }, Ct);

        var timeout = TimeSpan.FromMinutes(2);
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<RestoreFailedException>(() => restore.WaitReadyAsync(timeout, null, Ct));
        clock.Stop();

        Assert.True(clock.Elapsed < timeout, $"the wait ran into its timeout ({clock.Elapsed}) instead of seeing the failed job");
        Assert.Contains(CnpgNames.PhaseSettingUpPrimary, e.Message, StringComparison.Ordinal);
        Assert.Contains($"job {restore.Name}-1-full-recovery: active 0, succeeded 0, failed 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("RestoreFailed", e.Message, StringComparison.Ordinal);
        Assert.Contains("no target backup found", e.Message, StringComparison.Ordinal);
        Assert.Contains("no-such-server", e.Message, StringComparison.Ordinal);
        Assert.Equal(FailureKind.RestoreFailed, e.Kind);
        Assert.Equal(RestoreClusterPhase.Failed, restore.Cluster.Phase);
        Assert.Contains(restore.Cluster.Phases, p => p.Phase == DrillPhase.WalReplay && !p.Succeeded);

        var outcome = await restore.RemoveAsync(Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        await AssertNothingLeftAsync(restore);
    }

    [Fact]
    public async Task A_wait_that_times_out_reports_the_phase_instead_of_hanging()
    {
        // No operator reaction at all: a fresh server with CRD validation only.
        await using var server = new FakeKubernetesServer();
        OperatorSimulator.ValidateWithCrds(server);
        using var api = new KubernetesClient(server.Config("t", DrillNamespace));
        await using var restore = await CnpgRestore.CreateAsync(api, OfflineRequest(NewDrillId()), Ct);

        var e = await Assert.ThrowsAsync<RestoreFailedException>(() => restore.WaitReadyAsync(TimeSpan.FromSeconds(2), null, Ct));
        Assert.Contains("did not become ready within", e.Message, StringComparison.Ordinal);
        Assert.Contains("phase: (none yet)", e.Message, StringComparison.Ordinal);
        Assert.Contains("not created", e.Message, StringComparison.Ordinal);
        Assert.True((await restore.RemoveAsync(Ct)).Succeeded);
    }

    [Fact]
    public async Task Remove_refuses_an_unlabelled_object_with_the_same_name()
    {
        await using var server = new FakeKubernetesServer();
        OperatorSimulator.ValidateWithCrds(server);
        using var api = new KubernetesClient(server.Config("t", DrillNamespace));
        var drillId = NewDrillId();
        await using var restore = await CnpgRestore.CreateAsync(api, OfflineRequest(drillId), Ct);

        // Someone replaced the drill's Cluster with their own under the same name, and owns an -app secret too.
        var foreign = server.Find(ResourceKind.Cluster, DrillNamespace, restore.Name)!;
        ((JsonObject)foreign["metadata"]!).Remove("labels");
        server.Put(ResourceKind.Cluster, foreign);
        server.Put(ResourceKind.Secret, new JsonObject { ["metadata"] = new JsonObject { ["name"] = $"{restore.Name}-app", ["namespace"] = DrillNamespace } });

        var e = await Assert.ThrowsAsync<ConfigurationException>(() => restore.RemoveAsync(Ct));
        Assert.Contains("refuses to delete", e.Message, StringComparison.Ordinal);
        Assert.Contains(restore.Name, e.Message, StringComparison.Ordinal);
        Assert.NotNull(server.Find(ResourceKind.Cluster, DrillNamespace, restore.Name));
        Assert.NotNull(server.Find(ResourceKind.Secret, DrillNamespace, $"{restore.Name}-app"));
        Assert.DoesNotContain(server.Requests, r => r.Method == "DELETE");

        // With the foreign Cluster gone, an object of another drill is still left alone, and ours go.
        server.Remove(ResourceKind.Cluster, DrillNamespace, restore.Name);
        var ours = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = $"{restore.Name}-1", ["namespace"] = DrillNamespace,
                ["labels"] = new JsonObject { [CnpgNames.DrillIdLabel] = drillId, [CnpgNames.ManagedByLabel] = CnpgNames.ManagedByValue },
            },
        };
        server.Put(ResourceKind.PersistentVolumeClaim, ours);
        var other = ours.DeepClone().AsObject();
        other["metadata"]!["name"] = "other-drill-1";
        other["metadata"]!["labels"]![CnpgNames.DrillIdLabel] = "someone-else";
        server.Put(ResourceKind.PersistentVolumeClaim, other);
        var outcome = await restore.RemoveAsync(Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        Assert.Equal([$"PersistentVolumeClaim {DrillNamespace}/{restore.Name}-1"], outcome.Removed);
        Assert.NotNull(server.Find(ResourceKind.PersistentVolumeClaim, DrillNamespace, "other-drill-1"));
        Assert.NotNull(server.Find(ResourceKind.Secret, DrillNamespace, $"{restore.Name}-app"));
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

    /// <summary>A request that needs no object store: for tests where no operator restores anything.</summary>
    private static RecoveryClusterRequest OfflineRequest(string drillId)
    {
        var backup = CnpgBackups.ToBackup(new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "offline-base", ["namespace"] = SourceNamespace },
            ["spec"] = new JsonObject { ["cluster"] = new JsonObject { ["name"] = "offline-db" }, ["method"] = "barmanObjectStore" },
            ["status"] = new JsonObject { ["phase"] = "completed", ["backupId"] = "20260101T000000", ["destinationPath"] = F.DestinationPath, ["serverName"] = "offline-db" },
        });
        var source = new CnpgSourceCluster("offline-db", SourceNamespace, null, null, "offline-db",
            new JsonObject { ["destinationPath"] = F.DestinationPath }, "app", "app", "1Gi");
        return new RecoveryClusterRequest { Source = source, Backup = backup, DrillId = drillId, Namespace = DrillNamespace };
    }

    private sealed class SyncProgress(Action<DrillProgress> onReport) : IProgress<DrillProgress>
    {
        public void Report(DrillProgress value) => onReport(value);
    }
}
