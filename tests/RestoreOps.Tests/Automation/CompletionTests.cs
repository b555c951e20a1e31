using System.Text.Json.Nodes;
using RestoreOps.Automation;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Tests.Cnpg;
using RestoreOps.Tests.Kubernetes;
using Xunit;

namespace RestoreOps.Tests.Automation;

/// <summary>What the argument completers offer for -Namespace, -Cluster and a backup's -Name, from the API.</summary>
public sealed class CompletionTests : IAsyncLifetime
{
    private readonly FakeKubernetesServer _server = new();
    private KubernetesAccess _access = null!;

    public Task InitializeAsync()
    {
        _access = new KubernetesAccess { ApiFactory = () => new KubernetesClient(_server.Config("completer", "prod")) };
        foreach (var ns in new[] { "prod", "production-eu", "drills" })
            _server.Put(ResourceKind.Namespace, new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = ns } });
        foreach (var name in new[] { "app-db", "audit-db", "billing" })
            _server.Put(ResourceKind.Cluster, CnpgResources.SourceCluster("prod", name, "s3://backups/pg", "http://minio:9000"));
        _server.Put(ResourceKind.Backup, Backup("app-db-old", "app-db", "completed", "2026-11-20T05:00:00Z"));
        _server.Put(ResourceKind.Backup, Backup("app-db-new", "app-db", "completed", "2026-11-21T05:00:00Z"));
        _server.Put(ResourceKind.Backup, Backup("app-db-running", "app-db", "running", null));
        _server.Put(ResourceKind.Backup, Backup("billing-1", "billing", "completed", "2026-11-21T06:00:00Z"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private static JsonObject Backup(string name, string cluster, string phase, string? stoppedAt) => new()
    {
        ["apiVersion"] = CnpgNames.ApiVersion,
        ["kind"] = "Backup",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "prod", ["creationTimestamp"] = "2026-11-19T00:00:00Z" },
        ["spec"] = new JsonObject { ["cluster"] = new JsonObject { ["name"] = cluster }, ["method"] = "barmanObjectStore" },
        ["status"] = new JsonObject { ["phase"] = phase, ["stoppedAt"] = stoppedAt },
    };

    [Fact]
    public async Task Namespaces_and_clusters_complete_by_prefix()
    {
        Assert.Equal(["prod", "production-eu"], await Completion.NamespacesAsync(_access, "pro", CancellationToken.None));
        Assert.Equal(["app-db", "audit-db"], await Completion.ClustersAsync(_access, "prod", "a", CancellationToken.None));
        Assert.Empty(await Completion.ClustersAsync(_access, "drills", "", CancellationToken.None));
    }

    [Fact]
    public async Task Backups_complete_with_the_completed_ones_of_the_cluster_newest_first()
    {
        Assert.Equal(["app-db-new", "app-db-old"], await Completion.BackupsAsync(_access, "prod", "app-db", "app", CancellationToken.None));
        Assert.Equal(["billing-1", "app-db-new", "app-db-old"], await Completion.BackupsAsync(_access, "prod", null, "", CancellationToken.None));
    }

    [Fact]
    public async Task An_API_that_refuses_the_credentials_completes_nothing_instead_of_throwing()
    {
        var refused = new KubernetesAccess { ApiFactory = () => new KubernetesClient(_server.Config("expired-token", "prod")) };
        _server.Authenticate = header => header == "Bearer completer";

        Assert.Empty(await Completion.NamespacesAsync(refused, "", CancellationToken.None));
        Assert.Empty(await Completion.BackupsAsync(refused, "prod", "app-db", "", CancellationToken.None));
    }
}
