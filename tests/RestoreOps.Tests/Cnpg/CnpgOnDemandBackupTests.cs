using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using RestoreOps.Automation;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Kubernetes;
using Xunit;
using static RestoreOps.Tests.Automation.Facade;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Cnpg;

/// <summary>
/// On-demand backups (issue 13 item 6), as a runbook takes one before a drill: created the way the cluster is configured,
/// labelled as RestoreOps', followed by watch until the operator simulator completes it with the status of the fixture's
/// real Barman backup, and piped into a drill that restores it. Written against the in-process API double so it can later
/// point at the real kube-apiserver fixture.
/// </summary>
[Collection("backups")]
public sealed class CnpgOnDemandBackupTests(BackupFixtures fx) : IAsyncLifetime
{
    private const string SourceNamespace = CnpgDouble.SourceNamespace;
    private const string DrillNamespace = CnpgDouble.DrillNamespace;

    private CnpgDouble _cnpg = null!;
    private FakeKubernetesServer _server => _cnpg.Server;
    private OperatorSimulator _simulator => _cnpg.Simulator;
    private KubernetesClient _api => _cnpg.Api;
    private KubernetesAccess _access => _cnpg.Access;

    public async Task InitializeAsync()
    {
        _cnpg = await CnpgDouble.StartAsync(fx);
    }

    public async Task DisposeAsync()
    {
        if (_cnpg is not null) await _cnpg.DisposeAsync();
    }

    private CancellationToken Ct => _cnpg.Ct;

    private void PluginSource()
    {
        _server.Put(ResourceKind.Cluster, CnpgResources.PluginSourceCluster(SourceNamespace, "shop-db", "store", "gzip"));
        _server.Put(ResourceKind.ObjectStore, CnpgResources.ObjectStore(SourceNamespace, "store", F.DestinationPath, fx.S3.Endpoint, "store-creds"));
        _server.Put(ResourceKind.Secret, CnpgResources.Secret(SourceNamespace, "store-creds", "Opaque",
            new Dictionary<string, string> { ["ACCESS_KEY_ID"] = "reader", ["ACCESS_SECRET_KEY"] = "reader-secret" }));
    }

    private JsonObject BackupResource(string name) => _server.Find(ResourceKind.Backup, SourceNamespace, name)!;

    [Fact]
    public async Task A_plugin_cluster_is_backed_up_through_its_plugin_and_the_backup_restores_in_a_drill()
    {
        PluginSource();
        var finishing = _simulator.FinishNextBackupAsync(SourceNamespace, "gzip", null, Ct);
        var reports = new ConcurrentQueue<DrillProgress>();
        await using var engine = new RestoreEngine();

        var backup = await engine.NewCnpgBackupAsync(new CnpgBackupRequest { Namespace = SourceNamespace, Cluster = "shop-db", Wait = true, Kubernetes = _access },
            new Progress(reports.Enqueue), Ct);

        var resource = await finishing;
        var name = resource["metadata"]!["name"]!.GetValue<string>();
        Assert.Matches("^shop-db-[0-9]{14}$", name);
        var stored = BackupResource(name);
        Assert.Equal("plugin", stored["spec"]!["method"]!.GetValue<string>());
        Assert.Equal(CnpgNames.BarmanCloudPlugin, stored["spec"]!["pluginConfiguration"]!["name"]!.GetValue<string>());
        Assert.Equal("shop-db", stored["spec"]!["cluster"]!["name"]!.GetValue<string>());
        Assert.Equal("shop-db", stored["metadata"]!["labels"]![CnpgNames.ClusterLabel]!.GetValue<string>());
        Assert.Equal(CnpgNames.ManagedByValue, stored["metadata"]!["labels"]![CnpgOnDemandBackup.CreatedByLabel]!.GetValue<string>());
        // Not RestoreOps-managed: no sweep may ever take a backup.
        Assert.Null(stored["metadata"]!["labels"]![CnpgNames.ManagedByLabel]);

        Assert.Equal((name, fx.BackupIds["gzip"], BackupStatus.Done, "plugin", $"{SourceNamespace}/shop-db", BackupSourceKind.CnpgBackup),
            (backup.Name, backup.Id, backup.Status, backup.Method, backup.Source, backup.SourceKind));
        Assert.Contains(reports, r => r.Status == "running");
        Assert.Contains(reports, r => r.Status == CnpgNames.BackupCompleted);
        // Waited by watching that one Backup.
        Assert.Contains(_server.Requests, r => r.Method == "GET" && r.Path.EndsWith($"/namespaces/{SourceNamespace}/backups", StringComparison.Ordinal)
            && r.Query.Contains("watch=true", StringComparison.Ordinal) && Uri.UnescapeDataString(r.Query).Contains($"metadata.name={name}", StringComparison.Ordinal));

        // The Backup object pipes into a restore (New-CnpgBackup -Wait | New-RestoreCluster -Namespace drills).
        var created = await engine.NewAsync(new RestoreRequest { Backup = backup, Namespace = DrillNamespace, Kubernetes = _access }, Ct);
        var ready = await engine.WaitReadyAsync(created, TimeSpan.FromMinutes(4), _access, null, Ct);
        var record = await engine.CheckAsync(ready, Rows("public.orders", AllRows), _access, null, Ct);
        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.True((await engine.RemoveAsync(ready, _access, Ct)).Succeeded);
        await _simulator.AssertNothingLeftAsync(_api, DrillNamespace, created.Name, created.DrillId, Ct);
        Assert.NotNull(BackupResource(name));
    }

    [Fact]
    public async Task An_in_tree_cluster_gets_a_barmanObjectStore_backup_and_a_failed_one_says_why()
    {
        _server.Put(ResourceKind.Cluster, CnpgResources.SourceCluster(SourceNamespace, "shop-db", F.DestinationPath, fx.S3.Endpoint, "gzip"));
        await using var engine = new RestoreEngine();

        // Without -Wait: back at once, with the Backup as created.
        var requested = await engine.NewCnpgBackupAsync(new CnpgBackupRequest { Namespace = SourceNamespace, Cluster = "shop-db", Kubernetes = _access }, null, Ct);
        Assert.Equal((BackupStatus.Unknown, "barmanObjectStore"), (requested.Status, requested.Method));
        var stored = BackupResource(requested.Name!);
        Assert.Equal("barmanObjectStore", stored["spec"]!["method"]!.GetValue<string>());
        Assert.Null(stored["spec"]!["pluginConfiguration"]);
        Assert.Null(stored["status"]);
        _server.Remove(ResourceKind.Backup, SourceNamespace, requested.Name!);

        var failing = _simulator.FinishNextBackupAsync(SourceNamespace, "gzip", "WAL archive check failed for server shop-db", Ct);
        var e = await Assert.ThrowsAsync<RestoreFailedException>(() => engine.NewCnpgBackupAsync(
            new CnpgBackupRequest { Namespace = SourceNamespace, Cluster = "shop-db", Wait = true, Kubernetes = _access }, null, Ct));
        var failed = await failing;
        Assert.Contains($"Backup {SourceNamespace}/{failed["metadata"]!["name"]} failed: WAL archive check failed for server shop-db", e.Message, StringComparison.Ordinal);
        Assert.Contains("kubectl describe backups.postgresql.cnpg.io", e.Fix, StringComparison.Ordinal);
        Assert.Equal(FailureKind.RestoreFailed, e.Kind);
    }

    [Fact]
    public async Task A_backup_no_operator_takes_fails_at_the_timeout_with_its_phase()
    {
        _server.Put(ResourceKind.Cluster, CnpgResources.SourceCluster(SourceNamespace, "shop-db", F.DestinationPath, fx.S3.Endpoint, "gzip"));
        await using var engine = new RestoreEngine();

        var e = await Assert.ThrowsAsync<RestoreFailedException>(() => engine.NewCnpgBackupAsync(
            new CnpgBackupRequest { Namespace = SourceNamespace, Cluster = "shop-db", Wait = true, Timeout = TimeSpan.FromSeconds(2), Kubernetes = _access }, null, Ct));

        Assert.Contains("did not complete within 2s", e.Message, StringComparison.Ordinal);
        Assert.Contains("none yet (no operator has picked it up)", e.Message, StringComparison.Ordinal);
        var missing = await Assert.ThrowsAsync<ConfigurationException>(() => engine.NewCnpgBackupAsync(
            new CnpgBackupRequest { Namespace = SourceNamespace, Cluster = "no-such-db", Kubernetes = _access }, null, Ct));
        Assert.Contains("CNPG cluster prod/no-such-db does not exist", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_backup_requested_in_the_same_second_as_another_gets_a_name_of_its_own()
    {
        _server.Put(ResourceKind.Cluster, CnpgResources.SourceCluster(SourceNamespace, "shop-db", F.DestinationPath, fx.S3.Endpoint, "gzip"));
        // Someone took backups of this cluster in each of the next seconds, under kubectl cnpg's names.
        var start = DateTimeOffset.UtcNow;
        var taken = Enumerable.Range(-1, 60).Select(i => $"shop-db-{start.AddSeconds(i).UtcDateTime:yyyyMMddHHmmss}").ToHashSet(StringComparer.Ordinal);
        foreach (var name in taken)
            _server.Put(ResourceKind.Backup, new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = SourceNamespace },
                ["spec"] = new JsonObject { ["cluster"] = new JsonObject { ["name"] = "shop-db" } },
            });
        await using var engine = new RestoreEngine();

        var backup = await engine.NewCnpgBackupAsync(new CnpgBackupRequest { Namespace = SourceNamespace, Cluster = "shop-db", Kubernetes = _access }, null, Ct);

        Assert.Matches("^shop-db-[0-9]{14}-[0-9a-f]{4}$", backup.Name);
        Assert.Contains(backup.Name![..^5], taken);
        Assert.NotNull(BackupResource(backup.Name));
    }

    [Fact]
    public void The_method_follows_the_cluster_and_a_method_it_is_not_configured_for_is_refused()
    {
        var now = new DateTimeOffset(2026, 12, 2, 7, 0, 0, TimeSpan.Zero);
        var plugin = CnpgResources.PluginSourceCluster(SourceNamespace, "app-db", "store", "app-db");
        var both = CnpgResources.SourceCluster(SourceNamespace, "both-db", "s3://b/p", "http://s3");
        both["spec"]!["plugins"] = plugin["spec"]!["plugins"]!.DeepClone();
        var snapshots = CnpgResources.SourceCluster(SourceNamespace, "snap-db", "s3://b/p", "http://s3");
        snapshots["spec"]!["backup"] = new JsonObject { ["volumeSnapshot"] = new JsonObject { ["className"] = "csi" } };
        var none = CnpgResources.SourceCluster(SourceNamespace, "bare-db", "s3://b/p", "http://s3");
        none["spec"]!.AsObject().Remove("backup");
        var schema = CrdSchema.For(CnpgNames.Group, "backups");

        var built = CnpgOnDemandBackup.Build(plugin, null, now);
        Assert.Equal(("app-db-20261202070000", "plugin"), (built["metadata"]!["name"]!.GetValue<string>(), built["spec"]!["method"]!.GetValue<string>()));
        Assert.Empty(schema.Validate(built));
        // The plugin is preferred when a cluster has both; the in-tree store when asked for.
        Assert.Equal("plugin", CnpgOnDemandBackup.Build(both, null, now)["spec"]!["method"]!.GetValue<string>());
        var inTree = CnpgOnDemandBackup.Build(both, "barmanObjectStore", now);
        Assert.Equal("barmanObjectStore", inTree["spec"]!["method"]!.GetValue<string>());
        Assert.Empty(schema.Validate(inTree));
        Assert.Equal("volumeSnapshot", CnpgOnDemandBackup.Build(snapshots, null, now)["spec"]!["method"]!.GetValue<string>());

        var wrong = Assert.Throws<ConfigurationException>(() => CnpgOnDemandBackup.Build(plugin, "volumeSnapshot", now));
        Assert.Contains("cluster prod/app-db is not configured for volumeSnapshot backups (spec.backup.volumeSnapshot is missing)", wrong.Message, StringComparison.Ordinal);
        Assert.Contains("(plugin)", wrong.Fix, StringComparison.Ordinal);
        Assert.Equal(InputKey.BackupMethod, wrong.Parameter);
        var unknown = Assert.Throws<ConfigurationException>(() => CnpgOnDemandBackup.Build(plugin, "pg_dump", now));
        Assert.Contains("'pg_dump' is not a CNPG backup method", unknown.Message, StringComparison.Ordinal);
        var bare = Assert.Throws<ConfigurationException>(() => CnpgOnDemandBackup.Build(none, null, now));
        Assert.Contains("has no backup configuration", bare.Message, StringComparison.Ordinal);
    }

    private sealed class Progress(Action<DrillProgress> onReport) : IProgress<DrillProgress>
    {
        public void Report(DrillProgress value) => onReport(value);
    }
}
