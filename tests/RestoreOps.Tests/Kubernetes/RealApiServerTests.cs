using System.Net.Sockets;
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

    [RealServerFact]
    public async Task A_port_forward_is_authorized_as_get_and_a_refusal_names_that_verb()
    {
        const string ns = "fixture-forward";
        var server = fixture.Server;
        await server.EnsureNamespaceAsync(ns, Ct);
        using var admin = server.Admin();
        using var writer = new KubernetesWriter(KubernetesConfig.Load(server.AdminKubeconfig, null));
        if (await admin.TryGetAsync(ResourceKind.Pod, ns, "pg-1", Ct) is null)
        {
            await admin.CreateAsync(ResourceKind.Pod, ns, new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = "pg-1" },
                ["spec"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "postgres", ["image"] = "postgres:15" }) },
            }, Ct);
            await writer.UpdateAsync(ResourceKind.Pod, ns, "pg-1", p => p["status"] = new JsonObject { ["phase"] = "Running" }, status: true, Ct);
        }

        async Task<Exception?> ForwardAs(string verb)
        {
            var user = server.NewTokenUser(ns);
            var role = new ResourceKind("rbac.authorization.k8s.io", "v1", "roles", "Role");
            var binding = new ResourceKind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding");
            await admin.CreateAsync(role, ns, new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = user.Name },
                ["rules"] = new JsonArray(
                    new JsonObject { ["apiGroups"] = new JsonArray(""), ["resources"] = new JsonArray("pods"), ["verbs"] = new JsonArray("get") },
                    new JsonObject { ["apiGroups"] = new JsonArray(""), ["resources"] = new JsonArray("pods/portforward"), ["verbs"] = new JsonArray(verb) }),
            }, Ct);
            await admin.CreateAsync(binding, ns, new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = user.Name },
                ["roleRef"] = new JsonObject { ["apiGroup"] = "rbac.authorization.k8s.io", ["kind"] = "Role", ["name"] = user.Name },
                ["subjects"] = new JsonArray(new JsonObject { ["kind"] = "User", ["apiGroup"] = "rbac.authorization.k8s.io", ["name"] = user.Name }),
            }, Ct);
            using var api = user.Client();
            // The authorizer's cache catches up with the new binding; the pod get is granted by the same Role.
            while (await api.TryGetAsync(ResourceKind.Pod, ns, "pg-1", Ct).ContinueWith(t => t.IsFaulted, Ct)) await Task.Delay(50, Ct);
            await using var forward = await api.PortForwardAsync(ns, "pg-1", 5432, Ct);
            using var client = new TcpClient();
            await client.ConnectAsync(forward.LocalEndPoint, Ct);
            try { while (await client.GetStream().ReadAsync(new byte[16], Ct) > 0) { } } catch (IOException) { }
            return forward.LastError;
        }

        // With "get" the server lets the upgrade through and only then finds no kubelet (the pod has no node).
        var allowed = await ForwardAs("get");
        Assert.IsNotType<KubernetesForbiddenException>(allowed);
        Assert.NotNull(allowed);
        var refused = Assert.IsType<KubernetesForbiddenException>(await ForwardAs("create"));
        Assert.Contains("resources: [\"pods/portforward\"], verbs: [\"get\"]", refused.Message, StringComparison.Ordinal);
    }
}
