using System.Text.Json.Nodes;
using RestoreOps.Cnpg;
using RestoreOps.Model;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace RestoreOps.Tests.Cnpg;

/// <summary>The recovery Cluster RestoreOps sends is one CNPG accepts (its CRD schema) and one that can never archive into production.</summary>
public sealed class CnpgRecoveryClusterTests
{
    private static readonly CrdSchema ClusterSchema = CrdSchema.For(CnpgNames.Group, "clusters");

    private static JsonObject Yaml(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        return (JsonObject)CrdSchema.ToJson(stream.Documents[0].RootNode)!;
    }

    // Shipped in the repository (samples/SOURCE.md): a clone with nothing beside it runs this too.
    private static string SharedSamples()
    {
        var samples = Path.Combine(RestoreOps.Tests.Fixtures.RepositoryPaths.Root, "tests", "RestoreOps.Tests", "Cnpg", "samples");
        Assert.True(Directory.Exists(samples), $"the CNPG samples are missing from the repository ({samples})");
        return samples;
    }

    private static readonly CnpgSourceCluster PluginSource = CnpgSourceCluster.From(Yaml("""
        apiVersion: postgresql.cnpg.io/v1
        kind: Cluster
        metadata: { name: app-db, namespace: prod }
        spec:
          instances: 3
          imageName: ghcr.io/cloudnative-pg/postgresql:16.4
          storage: { size: 20Gi }
          plugins:
          - name: barman-cloud.cloudnative-pg.io
            isWALArchiver: true
            parameters: { barmanObjectName: prod-store, serverName: app-db-v2 }
          bootstrap:
            initdb: { database: shop, owner: shop_owner }
        """));

    private static readonly CnpgSourceCluster InTreeSource = CnpgSourceCluster.From(Yaml("""
        apiVersion: postgresql.cnpg.io/v1
        kind: Cluster
        metadata: { name: legacy-db, namespace: prod }
        spec:
          instances: 2
          storage: { size: 5Gi }
          backup:
            barmanObjectStore:
              destinationPath: s3://backups/legacy
              endpointURL: http://minio:9000
              s3Credentials:
                accessKeyId: { name: minio, key: ACCESS_KEY_ID }
                secretAccessKey: { name: minio, key: ACCESS_SECRET_KEY }
              wal: { compression: gzip }
        """));

    private static Backup CnpgBackup(string method, string cluster = "app-db") => CnpgBackups.ToBackup(Yaml($"""
        apiVersion: postgresql.cnpg.io/v1
        kind: Backup
        metadata: {"{"} name: {cluster}-20261121, namespace: prod, creationTimestamp: "2026-11-21T05:00:00Z" {"}"}
        spec: {"{"} cluster: {"{"} name: {cluster} {"}"}, method: {method} {"}"}
        status:
          phase: completed
          method: {method}
          backupId: 20261121T050001
          startedAt: "2026-11-21T05:00:01Z"
          stoppedAt: "2026-11-21T05:02:10Z"
          beginWal: "000000010000000000000004"
          endWal: "000000010000000000000005"
          majorVersion: 16
        """));

    [Fact]
    public void The_upstream_samples_validate_and_broken_copies_are_named()
    {
        foreach (var file in Directory.GetFiles(SharedSamples(), "*cluster*.yaml").Where(f => !f.Contains("store")))
            Assert.Empty(ClusterSchema.Validate(Yaml(File.ReadAllText(file))));

        var sample = Yaml(File.ReadAllText(Path.Combine(SharedSamples(), "cluster-restore-pitr.yaml")));
        var broken = sample.DeepClone().AsObject();
        broken["spec"]!["instancez"] = 3;
        broken["spec"]!["instances"] = "three";
        broken["spec"]!["primaryUpdateStrategy"] = "whenever";
        broken["spec"]!["bootstrap"]!["recovery"]!["backup"]!.AsObject().Remove("name");
        var problems = ClusterSchema.Validate(broken);
        Assert.Contains("spec.instancez: unknown field", problems);
        Assert.Contains("spec.instances: must be an integer", problems);
        Assert.Contains(problems, p => p.StartsWith("spec.primaryUpdateStrategy: 'whenever' is not one of", StringComparison.Ordinal));
        Assert.Contains("spec.bootstrap.recovery.backup.name: required", problems);
    }

    [Fact]
    public void Plugin_backup_restores_through_an_external_cluster_with_the_source_server_name()
    {
        var backup = CnpgBackup("plugin");
        var cluster = RecoveryClusterBuilder.Build(new RecoveryClusterRequest
        {
            Source = PluginSource, Backup = backup, DrillId = "20261121-060000-abc123", Namespace = "drills",
            RecoveryTarget = RecoveryTarget.AtTime(new DateTimeOffset(2026, 11, 21, 5, 30, 0, TimeSpan.Zero)),
            Now = new DateTimeOffset(2026, 11, 21, 6, 0, 0, TimeSpan.Zero),
        });

        Assert.Empty(ClusterSchema.Validate(cluster));
        Assert.Equal("app-db-drill-abc123", cluster["metadata"]!["name"]!.GetValue<string>());
        Assert.Equal("drills", cluster["metadata"]!["namespace"]!.GetValue<string>());
        Assert.Equal("20261121-060000-abc123", cluster["metadata"]!["labels"]![CnpgNames.DrillIdLabel]!.GetValue<string>());
        Assert.Equal("restoreops", cluster["metadata"]!["labels"]![CnpgNames.ManagedByLabel]!.GetValue<string>());
        Assert.Equal("2026-11-21T12:00:00Z", cluster["metadata"]!["annotations"]![CnpgNames.ExpiresAnnotation]!.GetValue<string>());
        var spec = cluster["spec"]!;
        Assert.Equal(1, spec["instances"]!.GetValue<int>());
        Assert.Equal("ghcr.io/cloudnative-pg/postgresql:16.4", spec["imageName"]!.GetValue<string>());
        Assert.Equal("20Gi", spec["storage"]!["size"]!.GetValue<string>());
        Assert.Null(spec["backup"]);
        Assert.Null(spec["plugins"]);
        var recovery = spec["bootstrap"]!["recovery"]!;
        Assert.Equal("origin", recovery["source"]!.GetValue<string>());
        Assert.Equal("shop", recovery["database"]!.GetValue<string>());
        Assert.Equal("shop_owner", recovery["owner"]!.GetValue<string>());
        Assert.Equal("20261121T050001", recovery["recoveryTarget"]!["backupID"]!.GetValue<string>());
        Assert.Equal("2026-11-21T05:30:00.000000Z", recovery["recoveryTarget"]!["targetTime"]!.GetValue<string>());
        var external = spec["externalClusters"]![0]!;
        Assert.Equal("origin", external["name"]!.GetValue<string>());
        Assert.Equal(CnpgNames.BarmanCloudPlugin, external["plugin"]!["name"]!.GetValue<string>());
        // The plugin resolves barmanObjectName in the drill's namespace: the drill's copy of prod-store, named for the drill.
        Assert.Equal("prod-store-20261121-060000-abc123", external["plugin"]!["parameters"]!["barmanObjectName"]!.GetValue<string>());
        Assert.Equal("app-db-v2", external["plugin"]!["parameters"]!["serverName"]!.GetValue<string>());
    }

    [Fact]
    public void In_tree_backup_uses_backup_name_at_home_and_the_object_store_elsewhere()
    {
        var backup = CnpgBackup("barmanObjectStore", "legacy-db");
        var home = RecoveryClusterBuilder.Build(new RecoveryClusterRequest
            { Source = InTreeSource, Backup = backup, DrillId = "d1", Namespace = "prod", AllowSourceNamespace = true });
        Assert.Equal("legacy-db-20261121", home["spec"]!["bootstrap"]!["recovery"]!["backup"]!["name"]!.GetValue<string>());
        Assert.Null(home["spec"]!["bootstrap"]!["recovery"]!["recoveryTarget"]);

        var away = RecoveryClusterBuilder.Build(new RecoveryClusterRequest
            { Source = InTreeSource, Backup = backup, DrillId = "d1", Namespace = "drills", RecoveryTarget = RecoveryTarget.AtLsn("0/5000100") });
        Assert.Empty(ClusterSchema.Validate(away));
        var store = away["spec"]!["externalClusters"]![0]!["barmanObjectStore"]!;
        Assert.Equal("s3://backups/legacy", store["destinationPath"]!.GetValue<string>());
        Assert.Equal("legacy-db", store["serverName"]!.GetValue<string>());
        Assert.Equal("0/5000100", away["spec"]!["bootstrap"]!["recovery"]!["recoveryTarget"]!["targetLSN"]!.GetValue<string>());
        Assert.Null(away["spec"]!["backup"]);
    }

    [Theory]
    [InlineData("immediate", "targetImmediate")]
    [InlineData("xid", "targetXID")]
    [InlineData("name", "targetName")]
    public void Every_recovery_target_kind_maps_to_a_valid_cluster(string kind, string field)
    {
        var target = kind switch { "immediate" => RecoveryTarget.Immediate, "xid" => RecoveryTarget.AtXid(7331), _ => RecoveryTarget.AtRestorePoint("before_migration") };
        var cluster = RecoveryClusterBuilder.Build(new RecoveryClusterRequest
            { Source = PluginSource, Backup = CnpgBackup("plugin"), DrillId = "d2", Namespace = "drills", RecoveryTarget = target });
        Assert.Empty(ClusterSchema.Validate(cluster));
        Assert.NotNull(cluster["spec"]!["bootstrap"]!["recovery"]!["recoveryTarget"]![field]);
    }

    [Fact]
    public void The_source_namespace_and_snapshots_elsewhere_are_refused_with_the_fix()
    {
        var same = Assert.Throws<ConfigurationException>(() => RecoveryClusterBuilder.Build(new RecoveryClusterRequest
            { Source = PluginSource, Backup = CnpgBackup("plugin"), DrillId = "d3", Namespace = "prod" }));
        Assert.Contains("source cluster's own namespace", same.Message);
        Assert.Contains("drill namespace", same.Message);

        var snapshot = Assert.Throws<ConfigurationException>(() => RecoveryClusterBuilder.Build(new RecoveryClusterRequest
            { Source = PluginSource, Backup = CnpgBackup("volumeSnapshot"), DrillId = "d3", Namespace = "drills" }));
        Assert.Contains("volume snapshot", snapshot.Message);
    }

    [Fact]
    public void Unsafe_clusters_are_refused()
    {
        JsonObject Valid() => RecoveryClusterBuilder.Build(new RecoveryClusterRequest
            { Source = PluginSource, Backup = CnpgBackup("plugin"), DrillId = "d4", Namespace = "drills" });

        var withBackup = Valid();
        withBackup["spec"]!["backup"] = new JsonObject { ["barmanObjectStore"] = new JsonObject { ["destinationPath"] = "s3://prod" } };
        Assert.Contains("spec.backup", Assert.Throws<InvalidOperationException>(() => RecoveryClusterBuilder.AssertSafe(withBackup)).Message);

        var archiver = Valid();
        archiver["spec"]!["plugins"] = new JsonArray(new JsonObject { ["name"] = CnpgNames.BarmanCloudPlugin, ["isWALArchiver"] = true });
        Assert.Contains("WAL-archiver", Assert.Throws<InvalidOperationException>(() => RecoveryClusterBuilder.AssertSafe(archiver)).Message);

        var skip = Valid();
        skip["metadata"]!["annotations"]![CnpgNames.SkipEmptyWalArchiveCheck] = "enabled";
        Assert.Contains("skipEmptyWalArchiveCheck", Assert.Throws<InvalidOperationException>(() => RecoveryClusterBuilder.AssertSafe(skip)).Message);

        var unlabelled = Valid();
        unlabelled["metadata"]!["labels"]!.AsObject().Remove(CnpgNames.DrillIdLabel);
        Assert.Contains(CnpgNames.DrillIdLabel, Assert.Throws<InvalidOperationException>(() => RecoveryClusterBuilder.AssertSafe(unlabelled)).Message);
    }

    [Fact]
    public void Newest_completed_backup_of_the_named_cluster_wins()
    {
        JsonObject B(string name, string cluster, string phase, string? stopped, string created) => Yaml($$"""
            apiVersion: postgresql.cnpg.io/v1
            kind: Backup
            metadata: { name: {{name}}, namespace: prod, creationTimestamp: "{{created}}" }
            spec: { cluster: { name: {{cluster}} }, method: plugin }
            status: { phase: {{phase}}, backupId: {{name}}-id{{(stopped is null ? "" : $", stoppedAt: \"{stopped}\"")}} }
            """);
        var all = new[]
        {
            B("old", "app-db", "completed", "2026-11-20T05:00:00Z", "2026-11-20T04:59:00Z"),
            B("newest-failed", "app-db", "failed", null, "2026-11-21T06:00:00Z"),
            B("other-cluster", "billing", "completed", "2026-11-21T07:00:00Z", "2026-11-21T06:59:00Z"),
            B("new", "app-db", "completed", "2026-11-21T05:00:00Z", "2026-11-21T04:59:00Z"),
            B("no-stop-time", "app-db", "completed", null, "2026-11-19T04:00:00Z"),
        };
        var completed = CnpgBackups.Completed(all, "app-db");
        Assert.Equal(["new", "old", "no-stop-time"], completed.Select(b => b.Name));
        Assert.Equal("new-id", completed[0].Id);
        Assert.Equal(BackupSourceKind.CnpgBackup, completed[0].SourceKind);
    }
}
