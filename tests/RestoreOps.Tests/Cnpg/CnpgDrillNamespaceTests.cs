using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RestoreOps.Automation;
using RestoreOps.Tests.Automation;
using RestoreOps.Cnpg;
using RestoreOps.Evidence;
using RestoreOps.Kubernetes;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Kubernetes;
using Xunit;
using static RestoreOps.Tests.Automation.Facade;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Cnpg;

/// <summary>
/// The drill namespace made whole (issue 13 item 2): the README's CNPG pipeline (New → Wait → Check → Remove) with the
/// drill namespace different from the source's, through the engine. The operator simulator reads what a real operator
/// reads — the ObjectStore and the credential Secrets in the recovery Cluster's OWN namespace — and restores the
/// fixture's real Barman backup, so a drill without the copies fails. Written against the in-process API double so it
/// can later point at the real kube-apiserver fixture.
/// </summary>
[Collection("backups")]
public sealed class CnpgDrillNamespaceTests(BackupFixtures fx) : IAsyncLifetime
{
    private const string SourceNamespace = CnpgDouble.SourceNamespace;
    private const string DrillNamespace = CnpgDouble.DrillNamespace;

    private CnpgDouble _cnpg = null!;
    private FakeKubernetesServer _server => _cnpg.Server;
    private OperatorSimulator _simulator => _cnpg.Simulator;
    private KubernetesClient _api => _cnpg.Api;
    private KubernetesAccess _access => _cnpg.Access;
    private const string Store = "store";

    private readonly string _accessKey = "ro-access-" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _secretKey = "ro-secret-" + Guid.NewGuid().ToString("N");

    public async Task InitializeAsync()
    {
        _cnpg = await CnpgDouble.StartAsync(fx);
    }

    public async Task DisposeAsync()
    {
        if (_cnpg is not null) await _cnpg.DisposeAsync();
    }

    private CancellationToken Ct => _cnpg.Ct;

    private static JsonObject Secret(string ns, string name, string type, Dictionary<string, string> data) => CnpgResources.Secret(ns, name, type, data);

    private static JsonObject Selector(string name, string key) => new() { ["name"] = name, ["key"] = key };

    /// <summary>
    /// prod as a plugin user has it: Cluster shop-db archiving through ObjectStore "store", whose credentials and CA sit in
    /// two Secrets (the CA one a TLS Secret with more keys than the store reads), and a completed plugin Backup.
    /// </summary>
    private async Task<Backup> PluginSourceAsync()
    {
        _server.Put(ResourceKind.Cluster, CnpgResources.PluginSourceCluster(SourceNamespace, "shop-db", Store, "gzip"));
        _server.Put(ResourceKind.ObjectStore, CnpgResources.ObjectStore(SourceNamespace, Store, F.DestinationPath, fx.S3.Endpoint, "store-creds", "store-ca"));
        _server.Put(ResourceKind.Secret, Secret(SourceNamespace, "store-creds", "Opaque",
            new() { ["ACCESS_KEY_ID"] = _accessKey, ["ACCESS_SECRET_KEY"] = _secretKey, ["UNRELATED"] = "not-for-drills" }));
        _server.Put(ResourceKind.Secret, Secret(SourceNamespace, "store-ca", "kubernetes.io/tls",
            new() { ["ca.crt"] = "-----CA-----", ["tls.crt"] = "-----CERT-----", ["tls.key"] = "-----KEY-----" }));
        await _simulator.PutBackupAsync(SourceNamespace, "shop-db-base", "shop-db", "gzip", Ct);
        // What the plugin writes: method plugin, and no destinationPath/serverName in the status.
        _server.Update(ResourceKind.Backup, SourceNamespace, "shop-db-base", b =>
        {
            b["spec"]!["method"] = "plugin";
            b["spec"]!["pluginConfiguration"] = new JsonObject { ["name"] = CnpgNames.BarmanCloudPlugin };
            var status = b["status"]!.AsObject();
            status["method"] = "plugin";
            status.Remove("destinationPath");
            status.Remove("serverName");
            status.Remove("endpointURL");
        });
        var backup = Assert.Single(await TestEngine.Shared.GetCnpgBackupsAsync(_access, SourceNamespace, "shop-db", Ct));
        Assert.Equal("plugin", backup.Method);
        return backup;
    }

    /// <summary>prod as an in-tree user has it: spec.backup.barmanObjectStore reading Secret s3-creds, and a completed Backup.</summary>
    private async Task<Backup> InTreeSourceAsync()
    {
        _server.Put(ResourceKind.Cluster, CnpgResources.SourceCluster(SourceNamespace, "shop-db", F.DestinationPath, fx.S3.Endpoint, "gzip"));
        _server.Put(ResourceKind.Secret, Secret(SourceNamespace, OperatorSimulator.CredentialsSecret, "Opaque",
            new() { ["ACCESS_KEY_ID"] = _accessKey, ["ACCESS_SECRET_KEY"] = _secretKey }));
        await _simulator.PutBackupAsync(SourceNamespace, "shop-db-base", "shop-db", "gzip", Ct);
        return Assert.Single(await TestEngine.Shared.GetCnpgBackupsAsync(_access, SourceNamespace, "shop-db", Ct));
    }

    /// <summary>Every object in the source namespace, whole (resourceVersion included): "unchanged" means byte for byte.</summary>
    private async Task<Dictionary<string, string>> SourceNamespaceStateAsync()
    {
        var state = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var kind in ResourceKind.WellKnown.Where(k => k.Namespaced))
            foreach (var item in (await _api.ListAsync(kind, SourceNamespace, null, null, Ct)).Items)
                state[$"{kind.Kind}/{item["metadata"]!["name"]}"] = item.ToJsonString();
        Assert.NotEmpty(state);
        return state;
    }

    private async Task AssertSourceNamespaceUntouchedAsync(Dictionary<string, string> before)
    {
        Assert.Equal(before, await SourceNamespaceStateAsync());
        var writes = _server.ClientRequests.Where(r => r.Method != "GET" && r.Path.Contains($"/namespaces/{SourceNamespace}/", StringComparison.Ordinal)).ToList();
        Assert.True(writes.Count == 0, "requests that write into the source namespace: " + string.Join(", ", writes));
    }

    private async Task<List<JsonObject>> LabelledAsync(ResourceKind kind, string drillId) =>
        (await _api.ListAsync(kind, IKubernetesApi.AllNamespaces, CnpgOwnership.DrillSelector(drillId), null, Ct)).Items.ToList();

    private static string Decode(JsonNode? node) => Encoding.UTF8.GetString(Convert.FromBase64String(node!.GetValue<string>()));

    private static void AssertOwnedLike(JsonObject copy, JsonObject cluster, string copiedFrom)
    {
        var labels = copy["metadata"]!["labels"]!.AsObject();
        var clusterLabels = cluster["metadata"]!["labels"]!.AsObject();
        foreach (var key in new[] { CnpgNames.DrillIdLabel, CnpgNames.ManagedByLabel, CnpgNames.SourceClusterLabel, CnpgNames.SourceNamespaceLabel })
            Assert.Equal(clusterLabels[key]!.GetValue<string>(), labels[key]!.GetValue<string>());
        var annotations = copy["metadata"]!["annotations"]!;
        foreach (var key in new[] { CnpgNames.ExpiresAnnotation, CnpgNames.PurposeAnnotation })
            Assert.Equal(cluster["metadata"]!["annotations"]![key]!.GetValue<string>(), annotations[key]!.GetValue<string>());
        Assert.Equal(cluster["metadata"]!["name"]!.GetValue<string>(), annotations[CnpgNames.RecoveryClusterAnnotation]!.GetValue<string>());
        Assert.Equal(copiedFrom, annotations[CnpgNames.CopiedFromAnnotation]!.GetValue<string>());
        Assert.Equal(DrillNamespace, copy["metadata"]!["namespace"]!.GetValue<string>());
    }

    [Fact]
    public async Task Plugin_pipeline_into_another_namespace_restores_through_copies_that_go_with_the_drill()
    {
        var backup = await PluginSourceAsync();
        var before = await SourceNamespaceStateAsync();
        await using var engine = new RestoreEngine();

        var created = await engine.NewAsync(new RestoreRequest { Backup = backup, Namespace = DrillNamespace, Kubernetes = _access }, Ct);

        // While the drill runs: the copies exist in the drill namespace, labelled and expiring like the Cluster.
        var cluster = _server.Find(ResourceKind.Cluster, DrillNamespace, created.Name)!;
        var storeCopy = _server.Find(ResourceKind.ObjectStore, DrillNamespace, CnpgDrillNamespace.CopyName(Store, created.DrillId))!;
        Assert.NotNull(storeCopy);
        AssertOwnedLike(storeCopy, cluster, $"{SourceNamespace}/{Store}");
        var plugin = cluster["spec"]!["externalClusters"]![0]!["plugin"]!["parameters"]!;
        Assert.Equal(storeCopy["metadata"]!["name"]!.GetValue<string>(), plugin["barmanObjectName"]!.GetValue<string>());
        Assert.Equal("gzip", plugin["serverName"]!.GetValue<string>());
        var configuration = storeCopy["spec"]!["configuration"]!;
        Assert.Equal(F.DestinationPath, configuration["destinationPath"]!.GetValue<string>());
        // A copy never prunes production backups.
        Assert.Null(storeCopy["spec"]!["retentionPolicy"]);
        Assert.Null(storeCopy["status"]);

        var credsCopy = CnpgDrillNamespace.CopyName("store-creds", created.DrillId);
        var caCopy = CnpgDrillNamespace.CopyName("store-ca", created.DrillId);
        Assert.Equal(credsCopy, configuration["s3Credentials"]!["accessKeyId"]!["name"]!.GetValue<string>());
        Assert.Equal(credsCopy, configuration["s3Credentials"]!["secretAccessKey"]!["name"]!.GetValue<string>());
        Assert.Equal(caCopy, configuration["endpointCA"]!["name"]!.GetValue<string>());
        var creds = _server.Find(ResourceKind.Secret, DrillNamespace, credsCopy)!;
        AssertOwnedLike(creds, cluster, $"{SourceNamespace}/store-creds");
        // Only the keys the store reads travel.
        Assert.Equal(["ACCESS_KEY_ID", "ACCESS_SECRET_KEY"], creds["data"]!.AsObject().Select(kv => kv.Key).Order(StringComparer.Ordinal));
        Assert.Equal(_secretKey, Decode(creds["data"]!["ACCESS_SECRET_KEY"]));
        var ca = _server.Find(ResourceKind.Secret, DrillNamespace, caCopy)!;
        AssertOwnedLike(ca, cluster, $"{SourceNamespace}/store-ca");
        Assert.Equal(("Opaque", "-----CA-----"), (ca["type"]!.GetValue<string>(), Decode(ca["data"]!["ca.crt"])));
        Assert.Single(ca["data"]!.AsObject());

        var ready = await engine.WaitReadyAsync(created, TimeSpan.FromMinutes(4), _access, null, Ct);
        var record = await engine.CheckAsync(ready, Rows("public.orders", AllRows), _access, null, Ct);
        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);

        // The secret's values are the engine's secrets now: masked wherever they might be printed, absent from the record.
        Assert.Equal($"key {Redactor.Mask} and {Redactor.Mask}", engine.Redact($"key {_secretKey} and {_accessKey}"));
        Assert.DoesNotContain(_secretKey, DrillRecordJson.Serialize(record), StringComparison.Ordinal);
        Assert.DoesNotContain(_secretKey, JsonSerializer.Serialize(ready), StringComparison.Ordinal);

        var outcome = await engine.RemoveAsync(ready, _access, Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        Assert.Contains($"ObjectStore {DrillNamespace}/{storeCopy["metadata"]!["name"]}", outcome.Removed);
        Assert.Contains($"Secret {DrillNamespace}/{credsCopy}", outcome.Removed);
        Assert.Contains($"Secret {DrillNamespace}/{caCopy}", outcome.Removed);
        await _simulator.AssertNothingLeftAsync(_api, DrillNamespace, created.Name, created.DrillId, Ct);
        await AssertSourceNamespaceUntouchedAsync(before);
    }

    [Fact]
    public async Task In_tree_pipeline_into_another_namespace_copies_the_credentials_secret_and_removes_it()
    {
        var backup = await InTreeSourceAsync();
        var before = await SourceNamespaceStateAsync();
        await using var engine = new RestoreEngine();

        var created = await engine.NewAsync(new RestoreRequest { Backup = backup, Namespace = DrillNamespace, Kubernetes = _access }, Ct);

        var cluster = _server.Find(ResourceKind.Cluster, DrillNamespace, created.Name)!;
        var copyName = CnpgDrillNamespace.CopyName(OperatorSimulator.CredentialsSecret, created.DrillId);
        var store = cluster["spec"]!["externalClusters"]![0]!["barmanObjectStore"]!;
        Assert.Equal(copyName, store["s3Credentials"]!["accessKeyId"]!["name"]!.GetValue<string>());
        Assert.Equal(copyName, store["s3Credentials"]!["secretAccessKey"]!["name"]!.GetValue<string>());
        var copy = _server.Find(ResourceKind.Secret, DrillNamespace, copyName)!;
        AssertOwnedLike(copy, cluster, $"{SourceNamespace}/{OperatorSimulator.CredentialsSecret}");
        Assert.Equal(_accessKey, Decode(copy["data"]!["ACCESS_KEY_ID"]));
        Assert.Empty(await LabelledAsync(ResourceKind.ObjectStore, created.DrillId));

        var ready = await engine.WaitReadyAsync(created, TimeSpan.FromMinutes(4), _access, null, Ct);
        var record = await engine.CheckAsync(ready, Rows("public.orders", AllRows), _access, null, Ct);
        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Equal(Redactor.Mask, engine.Redact(_secretKey));

        var outcome = await engine.RemoveAsync(ready, _access, Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        Assert.Contains($"Secret {DrillNamespace}/{copyName}", outcome.Removed);
        await _simulator.AssertNothingLeftAsync(_api, DrillNamespace, created.Name, created.DrillId, Ct);
        await AssertSourceNamespaceUntouchedAsync(before);
    }

    [Fact]
    public async Task A_sweep_finds_and_removes_expired_copies_whose_cluster_is_gone()
    {
        var backup = await PluginSourceAsync();
        await using var engine = new RestoreEngine();
        var created = await engine.NewAsync(new RestoreRequest { Backup = backup, Namespace = DrillNamespace, Kubernetes = _access, Expiry = TimeSpan.FromHours(1) }, Ct);
        // The drill's Cluster went (deleted by hand, a removal cut short), its copies stayed.
        _server.Remove(ResourceKind.Cluster, DrillNamespace, created.Name);
        await _simulator.RemovedAsync(DrillNamespace, created.Name).WaitAsync(Ct);
        Assert.Equal(3, (await LabelledAsync(ResourceKind.Secret, created.DrillId)).Count + (await LabelledAsync(ResourceKind.ObjectStore, created.DrillId)).Count);
        // Someone else's objects in the namespace, one with RestoreOps' label but no drill: never taken.
        _server.Put(ResourceKind.Secret, Secret(DrillNamespace, "team-secret", "Opaque", new() { ["k"] = "value" }));
        var stranger = Secret(DrillNamespace, "labelled-no-drill", "Opaque", new() { ["k"] = "value" });
        stranger["metadata"]!["labels"] = new JsonObject { [CnpgNames.ManagedByLabel] = CnpgNames.ManagedByValue };
        _server.Put(ResourceKind.Secret, stranger);

        // Another process sweeps (it never saw this drill).
        await using var sweeper = new RestoreEngine();
        RestoreClusterQuery Query(DateTimeOffset now) => new() { IncludeLocal = false, IncludeCnpg = true, Kubernetes = _access, Namespace = DrillNamespace, Now = now };

        var listed = Assert.Single(await sweeper.GetAsync(Query(DateTimeOffset.UtcNow), Ct));
        Assert.Equal((created.Name, created.DrillId, DrillNamespace, RestoreClusterPhase.Failed), (listed.Name, listed.DrillId, listed.Namespace, listed.Phase));
        Assert.Equal(created.ExpiresAt!.Value, listed.ExpiresAt!.Value, TimeSpan.FromSeconds(1));
        Assert.Empty(await sweeper.RemoveOrphanedAsync(Query(DateTimeOffset.UtcNow), Ct));
        Assert.Equal(3, (await LabelledAsync(ResourceKind.Secret, created.DrillId)).Count + (await LabelledAsync(ResourceKind.ObjectStore, created.DrillId)).Count);

        var result = Assert.Single(await sweeper.RemoveOrphanedAsync(Query(DateTimeOffset.UtcNow.AddHours(2)), Ct));
        Assert.True(result.Outcome.Succeeded, string.Join("; ", result.Outcome.Problems));
        Assert.Equal(created.Name, result.Cluster.Name);
        Assert.Contains($"ObjectStore {DrillNamespace}/{CnpgDrillNamespace.CopyName(Store, created.DrillId)}", result.Outcome.Removed);
        await _simulator.AssertNothingLeftAsync(_api, DrillNamespace, created.Name, created.DrillId, Ct);
        Assert.NotNull(_server.Find(ResourceKind.Secret, DrillNamespace, "team-secret"));
        Assert.NotNull(_server.Find(ResourceKind.Secret, DrillNamespace, "labelled-no-drill"));
    }

    [Fact]
    public async Task A_copy_that_would_overwrite_an_object_RestoreOps_does_not_own_is_refused_and_nothing_is_created()
    {
        var backup = await PluginSourceAsync();
        var before = await SourceNamespaceStateAsync();
        var drillId = NewId("taken");
        var name = CnpgDrillNamespace.CopyName(Store, drillId);
        var theirs = _server.Put(ResourceKind.ObjectStore, new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = DrillNamespace },
            ["spec"] = new JsonObject { ["configuration"] = new JsonObject { ["destinationPath"] = "s3://someone-else/" } },
        });
        await using var engine = new RestoreEngine();

        var e = await Assert.ThrowsAsync<ConfigurationException>(() =>
            engine.NewAsync(new RestoreRequest { Backup = backup, Namespace = DrillNamespace, Kubernetes = _access, DrillId = drillId }, Ct));

        Assert.Contains($"ObjectStore {DrillNamespace}/{name} already exists and is not RestoreOps' own", e.Message, StringComparison.Ordinal);
        Assert.Contains("will not overwrite", e.Message, StringComparison.Ordinal);
        Assert.Contains("the drill namespace's ObjectStore", e.Fix, StringComparison.Ordinal);
        Assert.Equal(theirs.ToJsonString(), _server.Find(ResourceKind.ObjectStore, DrillNamespace, name)!.ToJsonString());
        Assert.Empty(await LabelledAsync(ResourceKind.Secret, drillId));
        Assert.Empty(await LabelledAsync(ResourceKind.Cluster, drillId));
        Assert.DoesNotContain(_server.ClientRequests, r => r.Method == "POST");
        await AssertSourceNamespaceUntouchedAsync(before);
    }

    [Fact]
    public async Task Copies_are_taken_back_when_the_recovery_cluster_cannot_be_created()
    {
        var backup = await PluginSourceAsync();
        var drillId = NewId("rollback");
        // The name the drill asks for is taken by a Cluster nobody at RestoreOps made.
        _server.Put(ResourceKind.Cluster, new JsonObject
        {
            ["apiVersion"] = CnpgNames.ApiVersion,
            ["kind"] = "Cluster",
            ["metadata"] = new JsonObject { ["name"] = "hand-made", ["namespace"] = DrillNamespace },
            ["spec"] = new JsonObject { ["instances"] = 1, ["storage"] = new JsonObject { ["size"] = "1Gi" } },
        });
        await using var engine = new RestoreEngine();

        var e = await Assert.ThrowsAsync<ConfigurationException>(() =>
            engine.NewAsync(new RestoreRequest { Backup = backup, Namespace = DrillNamespace, Kubernetes = _access, DrillId = drillId, Name = "hand-made" }, Ct));

        Assert.Contains("already exists", e.Message, StringComparison.Ordinal);
        // They were made (three POSTs before the Cluster's) and deleted again.
        Assert.Equal(3, _server.ClientRequests.Count(r => r.Method == "POST" && !r.Path.EndsWith("/clusters", StringComparison.Ordinal)));
        Assert.Empty(await LabelledAsync(ResourceKind.Secret, drillId));
        Assert.Empty(await LabelledAsync(ResourceKind.ObjectStore, drillId));
    }

    [Fact]
    public async Task ObjectStore_option_restores_through_the_provisioned_store_and_copies_nothing()
    {
        var backup = await PluginSourceAsync();
        var before = await SourceNamespaceStateAsync();
        // Provisioned by the platform team in the drill namespace, with its own (read-only) credentials.
        _server.Put(ResourceKind.Secret, Secret(DrillNamespace, "readonly-creds", "Opaque", new() { ["ID"] = "reader", ["KEY"] = "reader-key" }));
        var provisioned = _server.Put(ResourceKind.ObjectStore, new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "readonly-store", ["namespace"] = DrillNamespace },
            ["spec"] = new JsonObject
            {
                ["configuration"] = new JsonObject
                {
                    ["destinationPath"] = F.DestinationPath,
                    ["endpointURL"] = fx.S3.Endpoint,
                    ["s3Credentials"] = new JsonObject { ["accessKeyId"] = Selector("readonly-creds", "ID"), ["secretAccessKey"] = Selector("readonly-creds", "KEY") },
                },
            },
        });
        await using var engine = new RestoreEngine();

        var missing = await Assert.ThrowsAsync<ConfigurationException>(() =>
            engine.NewAsync(new RestoreRequest { Backup = backup, Namespace = DrillNamespace, Kubernetes = _access, ObjectStoreName = "no-such-store" }, Ct));
        Assert.Contains($"ObjectStore {DrillNamespace}/no-such-store does not exist", missing.Message, StringComparison.Ordinal);
        Assert.Contains($"Create it in namespace {DrillNamespace}", missing.Fix, StringComparison.Ordinal);
        Assert.Equal(InputKey.ObjectStore, missing.Parameter);
        Assert.DoesNotContain(_server.ClientRequests, r => r.Method == "POST");

        var created = await engine.NewAsync(new RestoreRequest { Backup = backup, Namespace = DrillNamespace, Kubernetes = _access, ObjectStoreName = "readonly-store" }, Ct);
        var cluster = _server.Find(ResourceKind.Cluster, DrillNamespace, created.Name)!;
        Assert.Equal("readonly-store", cluster["spec"]!["externalClusters"]![0]!["plugin"]!["parameters"]!["barmanObjectName"]!.GetValue<string>());
        var ready = await engine.WaitReadyAsync(created, TimeSpan.FromMinutes(4), _access, null, Ct);
        var record = await engine.CheckAsync(ready, Rows("public.orders", AllRows), _access, null, Ct);
        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        var outcome = await engine.RemoveAsync(ready, _access, Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        await _simulator.AssertNothingLeftAsync(_api, DrillNamespace, created.Name, created.DrillId, Ct);

        // The only object RestoreOps wrote is the Cluster; the provisioned store and its Secret are as they were.
        Assert.Equal([$"/apis/{CnpgNames.Group}/v1/namespaces/{DrillNamespace}/clusters"], _server.ClientRequests.Where(r => r.Method == "POST").Select(r => r.Path));
        Assert.Equal(provisioned.ToJsonString(), _server.Find(ResourceKind.ObjectStore, DrillNamespace, "readonly-store")!.ToJsonString());
        Assert.NotNull(_server.Find(ResourceKind.Secret, DrillNamespace, "readonly-creds"));
        await AssertSourceNamespaceUntouchedAsync(before);
    }

    [Fact]
    public async Task A_role_without_objectstores_still_removes_the_rest_and_names_the_missing_rule()
    {
        // No operator: CRD validation only, and a Role written before drills copied ObjectStores.
        await using var server = new FakeKubernetesServer();
        OperatorSimulator.ValidateWithCrds(server);
        server.Deny("list", ResourceKind.ObjectStore, DrillNamespace);
        using var api = new KubernetesClient(server.Config("t", DrillNamespace));
        var source = new CnpgSourceCluster("offline-db", SourceNamespace, null, null, "offline-db", new JsonObject { ["destinationPath"] = F.DestinationPath }, "app", "app", "1Gi");
        var backup = CnpgBackups.ToBackup(new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "offline-base", ["namespace"] = SourceNamespace },
            ["spec"] = new JsonObject { ["cluster"] = new JsonObject { ["name"] = "offline-db" }, ["method"] = "barmanObjectStore" },
            ["status"] = new JsonObject { ["phase"] = "completed", ["backupId"] = "20260101T000000" },
        });
        await using var restore = await CnpgRestore.CreateAsync(api, new RecoveryClusterRequest { Source = source, Backup = backup, DrillId = NewId("norole"), Namespace = DrillNamespace }, Ct);

        var outcome = await restore.RemoveAsync(Ct);

        Assert.False(outcome.Succeeded);
        Assert.Contains(outcome.Problems, p => p.Contains("objectstores.barmancloud.cnpg.io", StringComparison.Ordinal));
        Assert.Contains($"Cluster {DrillNamespace}/{restore.Name}", outcome.Removed);
        Assert.Null(server.Find(ResourceKind.Cluster, DrillNamespace, restore.Name));
    }

    [Fact]
    public void Builder_points_every_route_at_the_drill_namespace()
    {
        var source = new CnpgSourceCluster("legacy-db", SourceNamespace, null, null, "legacy-db",
            new JsonObject
            {
                ["destinationPath"] = "s3://backups/legacy",
                ["s3Credentials"] = new JsonObject { ["accessKeyId"] = Selector("creds", "ID"), ["secretAccessKey"] = Selector("creds", "KEY"), ["inheritFromIAMRole"] = false },
                ["endpointCA"] = Selector("ca", "ca.crt"),
            }, "app", "app", "1Gi");
        var backup = CnpgBackups.ToBackup(new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "legacy-base", ["namespace"] = SourceNamespace },
            ["spec"] = new JsonObject { ["cluster"] = new JsonObject { ["name"] = "legacy-db" }, ["method"] = "barmanObjectStore" },
            ["status"] = new JsonObject { ["phase"] = "completed", ["backupId"] = "20261121T050001" },
        });

        var away = RecoveryClusterBuilder.Build(new RecoveryClusterRequest { Source = source, Backup = backup, DrillId = "Nightly_2026.11", Namespace = DrillNamespace });
        var store = away["spec"]!["externalClusters"]![0]!["barmanObjectStore"]!;
        Assert.Equal("creds-nightly-2026-11", store["s3Credentials"]!["accessKeyId"]!["name"]!.GetValue<string>());
        Assert.Equal("ca-nightly-2026-11", store["endpointCA"]!["name"]!.GetValue<string>());
        // The source's own definition is not touched by the renaming.
        Assert.Equal("creds", source.BarmanObjectStore!["s3Credentials"]!["accessKeyId"]!["name"]!.GetValue<string>());

        // An in-tree backup restores through a provisioned ObjectStore too (same Barman layout), with its backup pinned.
        var provisioned = RecoveryClusterBuilder.Build(new RecoveryClusterRequest { Source = source, Backup = backup, DrillId = "d1", Namespace = DrillNamespace, ObjectStoreName = "ro" });
        var plugin = provisioned["spec"]!["externalClusters"]![0]!["plugin"]!["parameters"]!;
        Assert.Equal(("ro", "legacy-db"), (plugin["barmanObjectName"]!.GetValue<string>(), plugin["serverName"]!.GetValue<string>()));
        Assert.Equal("20261121T050001", provisioned["spec"]!["bootstrap"]!["recovery"]!["recoveryTarget"]!["backupID"]!.GetValue<string>());

        var snapshot = CnpgBackups.ToBackup(new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "snap", ["namespace"] = SourceNamespace },
            ["spec"] = new JsonObject { ["cluster"] = new JsonObject { ["name"] = "legacy-db" }, ["method"] = "volumeSnapshot" },
            ["status"] = new JsonObject { ["phase"] = "completed" },
        });
        var e = Assert.Throws<ConfigurationException>(() => RecoveryClusterBuilder.Build(new RecoveryClusterRequest
            { Source = source, Backup = snapshot, DrillId = "d1", Namespace = SourceNamespace, AllowSourceNamespace = true, ObjectStoreName = "ro" }));
        Assert.Equal(InputKey.ObjectStore, e.Parameter);
    }
}
