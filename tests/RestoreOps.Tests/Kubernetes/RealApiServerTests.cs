using System.Text.Json.Nodes;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using Xunit;
using Xunit.Abstractions;

namespace RestoreOps.Tests.Kubernetes;

/// <summary>
/// The fixture itself: the admin kubeconfig is cluster-admin over a verified TLS connection, the CNPG CRDs are
/// served, a token user without bindings gets the server's own 403 (which our error names as a Role rule), and
/// watches deliver what another client writes.
/// </summary>
[Collection(RealApiServerCollection.Name)]
public sealed class RealApiServerTests(RealApiServerFixture fixture, ITestOutputHelper output)
{
    private readonly CancellationTokenSource _guard = new(TimeSpan.FromMinutes(2));
    private CancellationToken Ct => _guard.Token;

    [RealServerFact]
    public async Task Admin_reaches_the_server_with_the_cnpg_crds_served()
    {
        var server = fixture.Server;
        output.WriteLine($"real API server at {server.Url}, started in {server.StartupTime.TotalSeconds:0.0} s");
        using var admin = server.Admin();
        var crds = await admin.ListAsync(RealApiServer.Crd, null, null, null, Ct);
        Assert.Equal(["backups.postgresql.cnpg.io", "clusters.postgresql.cnpg.io", "objectstores.barmancloud.cnpg.io"],
            crds.Items.Select(c => c["metadata"]!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        await server.EnsureNamespaceAsync("fixture-smoke", Ct);
        Assert.Empty((await admin.ListAsync(ResourceKind.Cluster, "fixture-smoke", null, null, Ct)).Items);
        Assert.Empty((await admin.ListAsync(new ResourceKind("barmancloud.cnpg.io", "v1", "objectstores", "ObjectStore"), "fixture-smoke", null, null, Ct)).Items);
    }

    [RealServerFact]
    public async Task A_token_user_without_bindings_gets_a_403_that_names_the_role_rule()
    {
        var user = fixture.Server.NewTokenUser("fixture-smoke");
        await fixture.Server.EnsureNamespaceAsync("fixture-smoke", Ct);
        using var api = user.Client();
        var e = await Assert.ThrowsAsync<KubernetesForbiddenException>(() => api.ListAsync(ResourceKind.Backup, "fixture-smoke", null, null, Ct));
        Assert.Equal(user.Name, e.User);
        Assert.Contains("Kubernetes denied \"list\" on backups.postgresql.cnpg.io in namespace \"fixture-smoke\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("apiGroups: [\"postgresql.cnpg.io\"], resources: [\"backups\"], verbs: [\"list\"]", e.Message, StringComparison.Ordinal);
        Assert.Contains("Role in namespace \"fixture-smoke\"", e.Message, StringComparison.Ordinal);
    }

    [RealServerFact]
    public async Task A_watch_sees_an_update_written_by_another_client()
    {
        await fixture.Server.EnsureNamespaceAsync("fixture-smoke", Ct);
        using var admin = fixture.Server.Admin();
        using var writer = new KubernetesWriter(KubernetesConfig.Load(fixture.Server.AdminKubeconfig, null));
        var secret = await admin.CreateAsync(ResourceKind.Secret, "fixture-smoke", new JsonObject
        {
            ["metadata"] = new JsonObject { ["generateName"] = "w-" },
        }, Ct);
        var name = secret["metadata"]!["name"]!.GetValue<string>();
        var list = await admin.ListAsync(ResourceKind.Secret, "fixture-smoke", null, $"metadata.name={name}", Ct);
        var update = writer.UpdateAsync(ResourceKind.Secret, "fixture-smoke", name, s => s["stringData"] = new JsonObject { ["k"] = "v" }, status: false, Ct);
        await foreach (var change in admin.WatchAsync(ResourceKind.Secret, "fixture-smoke", null, $"metadata.name={name}", list.ResourceVersion, Ct))
            if (change.Type == WatchEventType.Modified && change.Object["data"]?["k"] is not null)
                break;
        await update;
        Assert.True(await admin.DeleteAsync(ResourceKind.Secret, "fixture-smoke", name, DeletePropagation.Background, Ct));
    }
}
