using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;
using RestoreOps.Automation;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Model;
using RestoreOps.Tests.Automation;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Kubernetes;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Cnpg;

/// <summary>
/// The CNPG drill against a REAL kube-apiserver (CRD structural schema + CEL rules, defaulting, real watches,
/// deletion and errors) with the operator simulator restoring the fixture's real Barman backups: catalogue,
/// acceptance of the recovery Cluster as RestoreOps builds it, wait, diagnosis, ownership refusals, sweep.
/// The session's connection step is a port-forward, which needs a kubelet: these tests connect where the pod would
/// listen (<see cref="OperatorSimulator.Endpoints"/>) with the -app secret read through the API.
/// </summary>
[Collection("backups")]
public sealed class CnpgRealServerTests(BackupFixtures fx, RealApiServerFixture real) : IClassFixture<RealApiServerFixture>, IAsyncLifetime
{
    private const string SourceNamespace = "rs-prod";
    private const string DrillNamespace = "rs-drills";
    /// <summary>No operator acts here: Clusters stay as created.</summary>
    private const string IdleNamespace = "rs-idle";

    private readonly CancellationTokenSource _guard = new(TimeSpan.FromMinutes(6));
    private OperatorSimulator? _simulator;
    private KubernetesClient? _api;
    private KubernetesWriter? _writer;

    private CancellationToken Ct => _guard.Token;
    private OperatorSimulator Simulator => _simulator!;
    private KubernetesClient Api => _api!;

    public async Task InitializeAsync()
    {
        if (RealApiServer.Locate().Missing is not null && !RealApiServer.Required) return;
        var server = real.Server;
        foreach (var ns in new[] { SourceNamespace, DrillNamespace, IdleNamespace })
            await server.EnsureNamespaceAsync(ns, Ct);
        _api = server.Admin();
        _writer = new KubernetesWriter(KubernetesConfig.Load(server.AdminKubeconfig, null));
        _simulator = OperatorSimulator.Start(server, fx);
        _simulator.IgnoredNamespaces[IdleNamespace] = 0;
    }

    public async Task DisposeAsync()
    {
        if (_simulator is not null) await _simulator.DisposeAsync();
        _api?.Dispose();
        _writer?.Dispose();
        _guard.Dispose();
    }

    private static string NewDrillId() => "rs" + Guid.NewGuid().ToString("N")[..8];

    private async Task<(CnpgSourceCluster Source, Backup Backup)> SourceWithBackupAsync(string cluster, string serverName, string backupServer)
    {
        await Api.CreateAsync(ResourceKind.Cluster, SourceNamespace, CnpgResources.SourceCluster(SourceNamespace, cluster, F.DestinationPath, fx.S3.Endpoint, serverName), Ct);
        await Simulator.PutBackupAsync(SourceNamespace, $"{cluster}-base", cluster, backupServer, Ct);
        var backups = await CnpgCatalog.ListBackupsAsync(Api, SourceNamespace, cluster, Ct);
        var source = await CnpgCatalog.GetSourceAsync(Api, SourceNamespace, cluster, Ct);
        return (source, Assert.Single(backups));
    }

    /// <summary>Counts the restored orders as the application user: the credentials from the -app secret, read through the API.</summary>
    internal static async Task<long> CountOrdersAsync(IKubernetesApi api, OperatorSimulator simulator, CnpgRestore restore, CancellationToken ct)
    {
        var secret = await api.GetAsync(ResourceKind.Secret, restore.Namespace, CnpgNames.AppSecret(restore.Name), ct);
        string Field(string key) => Encoding.UTF8.GetString(Convert.FromBase64String(secret["data"]![key]!.GetValue<string>()));
        var endpoint = simulator.Endpoints[$"{restore.Namespace}/{restore.Name}"];
        var connection = new NpgsqlConnectionStringBuilder
        {
            Host = endpoint.Address.ToString(), Port = endpoint.Port, Username = Field("username"), Password = Field("password"),
            Database = Field("dbname"), Pooling = false,
        };
        await using var session = new NpgsqlConnection(connection.ConnectionString);
        await session.OpenAsync(ct);
        await using var count = new NpgsqlCommand("select count(*) from orders", session);
        return (long)(await count.ExecuteScalarAsync(ct))!;
    }

    [RealServerFact]
    public async Task A_drill_in_another_namespace_restores_waits_checks_and_removes_leaving_nothing_labelled()
    {
        var (source, backup) = await SourceWithBackupAsync("shop-db", "gzip", "gzip");
        await Simulator.PutBackupAsync(SourceNamespace, "other-base", "other-db", "plain", Ct);
        Assert.Single(await CnpgCatalog.ListBackupsAsync(Api, SourceNamespace, "shop-db", Ct));
        Assert.Equal(fx.BackupIds["gzip"], backup.Id);

        var drillId = NewDrillId();
        await using var restore = await CnpgRestore.CreateAsync(Api, new RecoveryClusterRequest
        {
            Source = source, Backup = backup, DrillId = drillId, Namespace = DrillNamespace, RecoveryTarget = RecoveryTarget.AtTime(fx.TargetTime),
        }, Ct);
        await restore.WaitReadyAsync(TimeSpan.FromMinutes(4), null, Ct);
        Assert.Equal(RestoreClusterPhase.Ready, restore.Cluster.Phase);

        Assert.Equal(F.RowsAtBackup + F.RowsBeforeTarget, await CountOrdersAsync(Api, Simulator, restore, Ct));

        var outcome = await restore.RemoveAsync(Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        Assert.Contains($"Cluster {DrillNamespace}/{restore.Name}", outcome.Removed);
        // The real server, not the simulator, kept the pod and the PVC's finalizer: they are gone too.
        Assert.Contains($"PersistentVolumeClaim {DrillNamespace}/{restore.Name}-1", outcome.Removed);
        await Simulator.AssertNothingLeftAsync(Api, DrillNamespace, restore.Name, drillId, Ct);
        Assert.NotNull(await Api.TryGetAsync(ResourceKind.Cluster, SourceNamespace, "shop-db", Ct));
        Assert.NotNull(await Api.TryGetAsync(ResourceKind.Backup, SourceNamespace, "shop-db-base", Ct));
    }

    [RealServerFact]
    public async Task The_recovery_cluster_is_accepted_as_built_defaulted_by_the_server_and_cel_rules_apply()
    {
        var request = OfflineRequest(NewDrillId());
        var built = RecoveryClusterBuilder.Build(request);
        await using var restore = await CnpgRestore.CreateAsync(Api, request, Ct);

        var stored = await Api.GetAsync(ResourceKind.Cluster, IdleNamespace, restore.Name, Ct);
        // Nothing RestoreOps sent was pruned or changed (a field unknown to the schema would be dropped silently).
        foreach (var (path, value) in Leaves(built["spec"]!, "spec"))
            Assert.True(JsonNode.DeepEquals(value, At(stored, path)), $"{path}: sent {value?.ToJsonString()}, stored {At(stored, path)?.ToJsonString()}");
        Assert.Equal(request.DrillId, stored["metadata"]!["labels"]![CnpgNames.DrillIdLabel]!.GetValue<string>());
        Assert.Equal(request.DrillId, stored["spec"]!["inheritedMetadata"]!["labels"]![CnpgNames.DrillIdLabel]!.GetValue<string>());
        // The server filled in the CRD's defaults the builder leaves out.
        Assert.Equal("info", stored["spec"]!["logLevel"]!.GetValue<string>());
        Assert.Equal(26, stored["spec"]!["postgresUID"]!.GetValue<int>());
        Assert.Equal("unsupervised", stored["spec"]!["primaryUpdateStrategy"]!.GetValue<string>());
        Assert.False(stored["spec"]!["enableSuperuserAccess"]!.GetValue<bool>());

        // CEL (x-kubernetes-validations), which RestoreOps' own schema check does not evaluate, is the server's.
        var clash = RecoveryClusterBuilder.Build(OfflineRequest(NewDrillId()));
        clash["spec"]!["imageName"] = "ghcr.io/cloudnative-pg/postgresql:15";
        clash["spec"]!["imageCatalogRef"] = new JsonObject { ["apiGroup"] = CnpgNames.Group, ["kind"] = "ImageCatalog", ["name"] = "pg", ["major"] = 15 };
        Assert.Empty(CrdSchema.For(CnpgNames.Group, "clusters").Validate(clash));
        var rejected = await Assert.ThrowsAsync<KubernetesInvalidException>(() => Api.CreateAsync(ResourceKind.Cluster, IdleNamespace, clash, Ct));
        Assert.Contains(rejected.Causes, c => c.Message.Contains("imageName and imageCatalogRef are mutually exclusive", StringComparison.Ordinal));
        Assert.Contains("Fix:", rejected.Message, StringComparison.Ordinal);

        // And the structural schema: a string where an integer belongs.
        var invalid = RecoveryClusterBuilder.Build(OfflineRequest(NewDrillId()));
        invalid["spec"]!["instances"] = "three";
        var typed = await Assert.ThrowsAsync<KubernetesInvalidException>(() => Api.CreateAsync(ResourceKind.Cluster, IdleNamespace, invalid, Ct));
        Assert.Contains(typed.Causes, c => c.Field == "spec.instances");
        Assert.Equal([restore.Name], (await Api.ListAsync(ResourceKind.Cluster, IdleNamespace, null, null, Ct)).Items.Select(i => i["metadata"]!["name"]!.GetValue<string>()));
        Assert.True((await restore.RemoveAsync(Ct)).Succeeded);
    }

    [RealServerFact]
    public async Task A_backup_spec_is_immutable_on_the_server()
    {
        await Simulator.PutBackupAsync(SourceNamespace, "immutable-base", "immutable-db", "gzip", Ct);
        var e = await Assert.ThrowsAsync<KubernetesInvalidException>(() => _writer!.UpdateAsync(ResourceKind.Backup, SourceNamespace, "immutable-base",
            b => b["spec"]!["cluster"]!["name"] = "someone-else", status: false, Ct));
        Assert.Contains(e.Causes, c => c.Message.Contains("BackupSpec is immutable once set", StringComparison.Ordinal));
    }

    [RealServerFact]
    public async Task A_failing_restore_ends_the_wait_with_phase_job_state_and_event()
    {
        // The source names a Barman server that holds no backups: CNPG's "no target backup found".
        var (source, backup) = await SourceWithBackupAsync("ghost-db", "no-such-server", "gzip");
        await using var restore = await CnpgRestore.CreateAsync(Api, new RecoveryClusterRequest
        {
            Source = source, Backup = backup, DrillId = NewDrillId(), Namespace = DrillNamespace,
        }, Ct);

        var e = await Assert.ThrowsAsync<RestoreFailedException>(() => restore.WaitReadyAsync(TimeSpan.FromMinutes(10), null, Ct));

        Assert.Contains("recovery job", e.Message, StringComparison.Ordinal);
        Assert.Contains(CnpgNames.PhaseSettingUpPrimary, e.Message, StringComparison.Ordinal);
        Assert.Contains($"job {restore.Name}-1-full-recovery: active 0, succeeded 0, failed 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("RestoreFailed", e.Message, StringComparison.Ordinal);
        Assert.Contains("no target backup found", e.Message, StringComparison.Ordinal);
        Assert.Equal(FailureKind.RestoreFailed, e.Kind);

        var outcome = await restore.RemoveAsync(Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        await Simulator.AssertNothingLeftAsync(Api, DrillNamespace, restore.Name, restore.Cluster.DrillId, Ct);
    }

    [RealServerFact]
    public async Task A_cluster_that_never_becomes_ready_times_out_with_its_state()
    {
        await using var restore = await CnpgRestore.CreateAsync(Api, OfflineRequest(NewDrillId()), Ct);

        var e = await Assert.ThrowsAsync<RestoreFailedException>(() => restore.WaitReadyAsync(TimeSpan.FromSeconds(3), null, Ct));

        Assert.Contains("did not become ready within", e.Message, StringComparison.Ordinal);
        Assert.Contains("phase: (none yet)", e.Message, StringComparison.Ordinal);
        Assert.Contains("not created", e.Message, StringComparison.Ordinal);
        Assert.Contains("recent events: none", e.Message, StringComparison.Ordinal);
        Assert.True((await restore.RemoveAsync(Ct)).Succeeded);
    }

    [RealServerFact]
    public async Task Remove_refuses_an_unlabelled_cluster_with_the_same_name_and_leaves_other_drills_alone()
    {
        var drillId = NewDrillId();
        await using var restore = await CnpgRestore.CreateAsync(Api, OfflineRequest(drillId), Ct);
        // Someone relabelled the drill's Cluster as their own.
        await _writer!.UpdateAsync(ResourceKind.Cluster, IdleNamespace, restore.Name, c => ((JsonObject)c["metadata"]!).Remove("labels"), status: false, Ct);

        var e = await Assert.ThrowsAsync<ConfigurationException>(() => restore.RemoveAsync(Ct));
        Assert.Contains("refuses to delete", e.Message, StringComparison.Ordinal);
        Assert.NotNull(await Api.TryGetAsync(ResourceKind.Cluster, IdleNamespace, restore.Name, Ct));

        await Api.DeleteAsync(ResourceKind.Cluster, IdleNamespace, restore.Name, DeletePropagation.Background, Ct);
        JsonObject Claim(string name, string drill) => new()
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["labels"] = new JsonObject { [CnpgNames.DrillIdLabel] = drill, [CnpgNames.ManagedByLabel] = CnpgNames.ManagedByValue },
            },
            ["spec"] = new JsonObject
            {
                ["accessModes"] = new JsonArray("ReadWriteOnce"),
                ["resources"] = new JsonObject { ["requests"] = new JsonObject { ["storage"] = "1Gi" } },
            },
        };
        await Api.CreateAsync(ResourceKind.PersistentVolumeClaim, IdleNamespace, Claim($"{restore.Name}-1", drillId), Ct);
        var other = $"other-{drillId}-1";
        await Api.CreateAsync(ResourceKind.PersistentVolumeClaim, IdleNamespace, Claim(other, "someone-else"), Ct);

        var outcome = await restore.RemoveAsync(Ct);

        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        Assert.Equal([$"PersistentVolumeClaim {IdleNamespace}/{restore.Name}-1"], outcome.Removed);
        Assert.NotNull(await Api.TryGetAsync(ResourceKind.PersistentVolumeClaim, IdleNamespace, other, Ct));
        await Api.DeleteAsync(ResourceKind.PersistentVolumeClaim, IdleNamespace, other, DeletePropagation.Background, Ct);
    }

    [RealServerFact]
    public async Task A_sweep_removes_expired_drills_only_never_recoveries_or_foreign_clusters()
    {
        var access = new KubernetesAccess(real.Server.AdminKubeconfig);
        await using var drill = await CnpgRestore.CreateAsync(Api, OfflineRequest(NewDrillId(), RestorePurpose.Drill), Ct);
        await using var recovery = await CnpgRestore.CreateAsync(Api, OfflineRequest(NewDrillId(), RestorePurpose.Recovery), Ct);
        var foreign = RecoveryClusterBuilder.Build(OfflineRequest(NewDrillId()));
        foreign["metadata"] = new JsonObject { ["name"] = "hand-made-" + Guid.NewGuid().ToString("N")[..6] };
        var foreignName = foreign["metadata"]!["name"]!.GetValue<string>();
        await Api.CreateAsync(ResourceKind.Cluster, IdleNamespace, foreign, Ct);
        RestoreClusterQuery Query(DateTimeOffset now) => new()
        {
            IncludeLocal = false, IncludeCnpg = true, Kubernetes = access, Namespace = IdleNamespace, Now = now,
        };

        Assert.DoesNotContain(await TestEngine.Shared.RemoveOrphanedAsync(Query(DateTimeOffset.UtcNow), Ct), r => r.Cluster.Name == drill.Name);
        var results = await TestEngine.Shared.RemoveOrphanedAsync(Query(DateTimeOffset.UtcNow.AddDays(30)), Ct);

        var swept = Assert.Single(results, r => r.Cluster.Name == drill.Name);
        Assert.True(swept.Outcome.Succeeded, string.Join("; ", swept.Outcome.Problems));
        Assert.DoesNotContain(results, r => r.Cluster.Name == recovery.Name || r.Cluster.Name == foreignName);
        Assert.Null(await Api.TryGetAsync(ResourceKind.Cluster, IdleNamespace, drill.Name, Ct));
        Assert.NotNull(await Api.TryGetAsync(ResourceKind.Cluster, IdleNamespace, recovery.Name, Ct));
        Assert.NotNull(await Api.TryGetAsync(ResourceKind.Cluster, IdleNamespace, foreignName, Ct));
        Assert.True((await recovery.RemoveAsync(Ct)).Succeeded);
        await Api.DeleteAsync(ResourceKind.Cluster, IdleNamespace, foreignName, DeletePropagation.Background, Ct);
    }

    /// <summary>A request that needs no object store, in the namespace no operator watches.</summary>
    private static RecoveryClusterRequest OfflineRequest(string drillId, RestorePurpose purpose = RestorePurpose.Drill)
    {
        var backup = CnpgBackups.ToBackup(new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "offline-base", ["namespace"] = SourceNamespace },
            ["spec"] = new JsonObject { ["cluster"] = new JsonObject { ["name"] = "offline-db" }, ["method"] = "barmanObjectStore" },
            ["status"] = new JsonObject { ["phase"] = "completed", ["backupId"] = "20260101T000000", ["destinationPath"] = F.DestinationPath, ["serverName"] = "offline-db" },
        });
        var source = new CnpgSourceCluster("offline-db", SourceNamespace, null, null, "offline-db",
            new JsonObject { ["destinationPath"] = F.DestinationPath }, "app", "app", "1Gi");
        return new RecoveryClusterRequest { Source = source, Backup = backup, DrillId = drillId, Namespace = IdleNamespace, Purpose = purpose };
    }

    private static IEnumerable<(string Path, JsonNode? Value)> Leaves(JsonNode node, string path)
    {
        if (node is JsonObject o)
        {
            foreach (var (key, child) in o)
                foreach (var leaf in child is null ? [(path + "." + key, (JsonNode?)null)] : Leaves(child, path + "." + key))
                    yield return leaf;
        }
        else
            yield return (path, node);
    }

    private static JsonNode? At(JsonNode root, string path)
    {
        JsonNode? node = root;
        foreach (var part in path.Split('.')) node = node?[part];
        return node;
    }
}
