using System.Globalization;
using System.Text.Json.Nodes;
using RestoreOps.Automation;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Model;
using RestoreOps.Tests.Cnpg;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Kubernetes;
using Xunit;
using static RestoreOps.Tests.Automation.Facade;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Automation;

/// <summary>
/// The facade on CNPG targets: the fake API server enforces the CNPG CRD schemas and the operator simulator
/// restores the fixture's real Barman backup, so checks run against real data through a port-forward. On the
/// in-process double because a port-forward needs a kubelet, which the real API server tests do not have
/// (<see cref="RestoreOps.Tests.Cnpg.CnpgRealServerTests"/> cover the rest there).
/// </summary>
[Collection("backups")]
public sealed class CnpgSessionTests(BackupFixtures fx) : IAsyncLifetime
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
        _server.Put(ResourceKind.Cluster, SourceCluster("shop-db", "gzip"));
        await _simulator.PutBackupAsync(SourceNamespace, "shop-db-base", "shop-db", "gzip", Ct);
    }

    public async Task DisposeAsync()
    {
        if (_cnpg is not null) await _cnpg.DisposeAsync();
    }

    private CancellationToken Ct => _cnpg.Ct;

    /// <summary>A production cluster with in-tree Barman Cloud backups to the fixture's s3rver.</summary>
    private JsonObject SourceCluster(string name, string serverName) =>
        CnpgResources.SourceCluster(SourceNamespace, name, F.DestinationPath, fx.S3.Endpoint, serverName);

    /// <summary>Another RestoreOps session's target: created by the engine itself, its backup one the simulator cannot find (fails at once).</summary>
    private static RecoveryClusterRequest OtherSession(string drillId, RestorePurpose purpose, TimeSpan expiry)
    {
        var backup = CnpgBackups.ToBackup(new JsonObject
        {
            ["metadata"] = new JsonObject { ["name"] = "offline-base", ["namespace"] = SourceNamespace },
            ["spec"] = new JsonObject { ["cluster"] = new JsonObject { ["name"] = "offline-db" }, ["method"] = "barmanObjectStore" },
            ["status"] = new JsonObject { ["phase"] = "completed", ["backupId"] = "20260101T000000", ["destinationPath"] = F.DestinationPath, ["serverName"] = "offline-db" },
        });
        var source = new CnpgSourceCluster("offline-db", SourceNamespace, null, null, "offline-db",
            new JsonObject { ["destinationPath"] = F.DestinationPath }, "app", "app", "1Gi");
        return new RecoveryClusterRequest { Source = source, Backup = backup, DrillId = drillId, Namespace = DrillNamespace, Purpose = purpose, Expiry = expiry };
    }

    private Task AssertNothingLeftAsync(string ns, string name, string drillId) =>
        _simulator.AssertNothingLeftAsync(_api, ns, name, drillId, Ct);

    private RestoreClusterQuery Query(DateTimeOffset? now = null, bool orphanedOnly = false) => new()
    {
        IncludeLocal = false,
        IncludeCnpg = true,
        Kubernetes = _access,
        Namespace = DrillNamespace,
        OrphanedOnly = orphanedOnly,
        Now = now,
    };

    [Fact]
    public async Task New_wait_check_list_and_sweep_a_recovery_cluster()
    {
        var backups = await TestEngine.Shared.GetCnpgBackupsAsync(_access, SourceNamespace, null, Ct);
        var backup = Assert.Single(backups);
        Assert.Equal((fx.BackupIds["gzip"], "shop-db-base", "prod/shop-db", BackupSourceKind.CnpgBackup), (backup.Id, backup.Name, backup.Source, backup.SourceKind));
        Assert.Equal(backup.Id, Assert.Single(await TestEngine.Shared.GetCnpgBackupsAsync(_access, SourceNamespace, "shop-db", Ct)).Id);

        var created = await TestEngine.Shared.NewAsync(new RestoreRequest { Backup = backup, Kind = RestoreTargetKind.Cnpg, Namespace = DrillNamespace, Kubernetes = _access }, Ct);

        Assert.Equal((RestoreTargetKind.Cnpg, DrillNamespace), (created.Kind, created.Namespace));
        Assert.NotEqual(RestoreClusterPhase.Ready, created.Phase);
        Assert.Contains(TestEngine.Shared.Tracked, c => ReferenceEquals(c, created));
        // The server validated it against the CRD on create (422 otherwise); it also says whose it is.
        var resource = _server.Find(ResourceKind.Cluster, DrillNamespace, created.Name)!;
        Assert.Empty(CrdSchema.For(CnpgNames.Group, "clusters").Validate(resource));
        Assert.Equal(created.DrillId, resource["metadata"]!["labels"]![CnpgNames.DrillIdLabel]!.GetValue<string>());
        Assert.Equal(CnpgNames.ManagedByValue, resource["metadata"]!["labels"]![CnpgNames.ManagedByLabel]!.GetValue<string>());

        var ready = await TestEngine.Shared.WaitReadyAsync(created, TimeSpan.FromMinutes(4), _access, null, Ct);
        Assert.Same(created, ready);
        Assert.Equal(RestoreClusterPhase.Ready, ready.Phase);

        var record = await TestEngine.Shared.CheckAsync(ready, Rows("public.orders", AllRows), _access, null, Ct);

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Equal(RestoreTargetKind.Cnpg, record.TargetKind);
        Assert.Equal(AllRows.ToString(), Assert.Single(record.Checks).Actual);
        foreach (var phase in new[] { DrillPhase.Provision, DrillPhase.WalReplay, DrillPhase.Ready, DrillPhase.Checks })
            Assert.Contains(record.Phases, p => p.Phase == phase && p.Succeeded);
        Assert.True(record.Cleanup.Kept);
        Assert.Contains(_server.Requests, r => r.Path.EndsWith($"/namespaces/{DrillNamespace}/pods/{created.Name}-1/portforward", StringComparison.Ordinal));
        Assert.Equal("app@127.0.0.1", $"{ready.Connection!.Username}@{ready.Connection.Host}");

        // Another session's drill, a recovery target, and a Cluster RestoreOps did not create, in the same namespace.
        var otherId = NewId("other");
        await using var other = await CnpgRestore.CreateAsync(_api, OtherSession(otherId, RestorePurpose.Drill, TimeSpan.FromHours(2)), Ct);
        await using var recovery = await CnpgRestore.CreateAsync(_api, OtherSession(NewId("recovery"), RestorePurpose.Recovery, TimeSpan.FromHours(2)), Ct);
        _server.Put(ResourceKind.Cluster, new JsonObject
        {
            ["apiVersion"] = CnpgNames.ApiVersion,
            ["kind"] = "Cluster",
            ["metadata"] = new JsonObject { ["name"] = "hand-made", ["namespace"] = DrillNamespace },
            ["spec"] = new JsonObject { ["instances"] = 1, ["storage"] = new JsonObject { ["size"] = "1Gi" } },
        });

        var listed = await TestEngine.Shared.GetAsync(Query(), Ct);

        Assert.Equal(new[] { created.Name, other.Name, recovery.Name }.Order(StringComparer.Ordinal), listed.Select(c => c.Name).Order(StringComparer.Ordinal));
        var mine = Assert.Single(listed, c => c.Name == created.Name);
        Assert.Equal(created.DrillId, mine.DrillId);
        Assert.Equal(ExpiresAnnotation(resource), mine.ExpiresAt!.Value, TimeSpan.FromSeconds(1));
        // Not this session's: everything comes from the resource's labels and annotations.
        var theirs = Assert.Single(listed, c => c.Name == other.Name);
        Assert.DoesNotContain(TestEngine.Shared.Tracked, c => c.Name == other.Name);
        Assert.Equal((otherId, DrillNamespace, RestorePurpose.Drill, "prod/offline-db"), (theirs.DrillId, theirs.Namespace, theirs.Purpose, theirs.Backup.Source));
        Assert.Equal(ExpiresAnnotation(_server.Find(ResourceKind.Cluster, DrillNamespace, other.Name)!), theirs.ExpiresAt);
        Assert.Equal(other.Cluster.ExpiresAt!.Value, theirs.ExpiresAt!.Value, TimeSpan.FromSeconds(1));
        Assert.NotEqual(RestoreClusterPhase.Ready, theirs.Phase);
        var kept = Assert.Single(listed, c => c.Name == recovery.Name);
        Assert.Equal((RestorePurpose.Recovery, (DateTimeOffset?)null), (kept.Purpose, kept.ExpiresAt));

        Assert.Empty(await TestEngine.Shared.GetAsync(Query(DateTimeOffset.UtcNow, orphanedOnly: true), Ct));
        var far = DateTimeOffset.UtcNow.AddDays(30);
        Assert.Equal(new[] { created.Name, other.Name }.Order(StringComparer.Ordinal),
            (await TestEngine.Shared.GetAsync(Query(far, orphanedOnly: true), Ct)).Select(c => c.Name).Order(StringComparer.Ordinal));

        var results = await TestEngine.Shared.RemoveOrphanedAsync(Query(far), Ct);

        Assert.Equal(new[] { created.Name, other.Name }.Order(StringComparer.Ordinal), results.Select(r => r.Cluster.Name).Order(StringComparer.Ordinal));
        Assert.All(results, r => Assert.True(r.Outcome.Succeeded, $"{r.Cluster}: {string.Join("; ", r.Outcome.Problems)}"));
        Assert.Contains($"Cluster {DrillNamespace}/{created.Name}", Assert.Single(results, r => r.Cluster.Name == created.Name).Outcome.Removed);
        await AssertNothingLeftAsync(DrillNamespace, created.Name, created.DrillId);
        await AssertNothingLeftAsync(DrillNamespace, other.Name, otherId);
        Assert.Equal(RestoreClusterPhase.Removed, created.Phase);
        Assert.DoesNotContain(TestEngine.Shared.Tracked, c => ReferenceEquals(c, created) || c.Name == created.Name);
        Assert.NotNull(_server.Find(ResourceKind.Cluster, DrillNamespace, recovery.Name));
        Assert.NotNull(_server.Find(ResourceKind.Cluster, DrillNamespace, "hand-made"));
        Assert.NotNull(_server.Find(ResourceKind.Cluster, SourceNamespace, "shop-db"));
        Assert.NotNull(_server.Find(ResourceKind.Backup, SourceNamespace, "shop-db-base"));

        // The recovery target goes only when asked for by name, as Remove-RestoreCluster does.
        var removed = await TestEngine.Shared.RemoveAsync(kept, _access, Ct);
        Assert.True(removed.Succeeded, string.Join("; ", removed.Problems));
        await AssertNothingLeftAsync(DrillNamespace, recovery.Name, kept.DrillId);
        Assert.NotNull(_server.Find(ResourceKind.Cluster, DrillNamespace, "hand-made"));
        Assert.DoesNotContain(TestEngine.Shared.Tracked, c => c.Name == recovery.Name);
    }

    [Fact]
    public async Task A_whole_cnpg_drill_passes_and_removes_everything()
    {
        var backup = Assert.Single(await TestEngine.Shared.GetCnpgBackupsAsync(_access, SourceNamespace, "shop-db", Ct));
        var id = NewId("cnpgrun");

        var run = await TestEngine.Shared.RunDrillAsync(new DrillRequest
        {
            Restore = new RestoreRequest { Backup = backup, Kind = RestoreTargetKind.Cnpg, Namespace = DrillNamespace, Kubernetes = _access, DrillId = id },
            Checks = Rows("public.orders", AllRows),
            ReadyTimeout = TimeSpan.FromMinutes(4),
        }, null, Ct);

        var record = run.Record;
        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Equal(RestoreTargetKind.Cnpg, record.TargetKind);
        Assert.Equal(id, record.DrillId);
        Assert.Equal(fx.BackupIds["gzip"], record.Backup!.Id);
        Assert.Equal(AllRows.ToString(), Assert.Single(record.Checks).Actual);
        foreach (var phase in new[] { DrillPhase.Discover, DrillPhase.Provision, DrillPhase.WalReplay, DrillPhase.Ready, DrillPhase.Checks, DrillPhase.Cleanup })
            Assert.Contains(record.Phases, p => p.Phase == phase && p.Succeeded);
        Assert.NotNull(record.RestoreDuration);
        Assert.True(record.Cleanup.Succeeded, string.Join("; ", record.Cleanup.Problems));
        Assert.False(record.Cleanup.Kept);
        var cluster = Assert.Single(record.Cleanup.Removed, r => r.StartsWith($"Cluster {DrillNamespace}/", StringComparison.Ordinal))[$"Cluster {DrillNamespace}/".Length..];
        await AssertNothingLeftAsync(DrillNamespace, cluster, id);
        Assert.DoesNotContain(TestEngine.Shared.Tracked, c => c.DrillId == id);
    }

    private static DateTimeOffset ExpiresAnnotation(JsonObject cluster) =>
        DateTimeOffset.Parse(cluster["metadata"]!["annotations"]![CnpgNames.ExpiresAnnotation]!.GetValue<string>(), CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
