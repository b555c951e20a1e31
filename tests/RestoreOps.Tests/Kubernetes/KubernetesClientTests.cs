using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using RestoreOps.Kubernetes;
using Xunit;

namespace RestoreOps.Tests.Kubernetes;

public sealed class KubernetesClientTests : IAsyncLifetime
{
    private const string Token = "sekret-bearer-token-value";
    private readonly FakeKubernetesServer _server = new();
    private KubernetesClient _api = null!;
    private static CancellationToken Ct => CancellationToken.None;

    public Task InitializeAsync()
    {
        _api = new KubernetesClient(_server.Config(Token, ns: "drills"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        await _server.DisposeAsync();
    }

    private static JsonObject Cluster(string name, int instances = 1, string drill = "d1") => new()
    {
        ["metadata"] = new JsonObject
        {
            ["name"] = name,
            ["labels"] = new JsonObject { ["restoreops.io/drill-id"] = drill, ["app.kubernetes.io/managed-by"] = "restoreops" },
        },
        ["spec"] = new JsonObject { ["instances"] = instances },
    };

    [Fact]
    public async Task Create_get_delete_with_propagation()
    {
        var created = await _api.CreateAsync(ResourceKind.Cluster, null, Cluster("pg-restore"), Ct);
        Assert.Equal("drills", (string?)created["metadata"]!["namespace"]);
        Assert.False(string.IsNullOrEmpty((string?)created["metadata"]!["resourceVersion"]));
        var post = _server.Requests.Last();
        Assert.Equal(("POST", "/apis/postgresql.cnpg.io/v1/namespaces/drills/clusters"), (post.Method, post.Path));
        var sent = JsonNode.Parse(post.Body!)!;
        Assert.Equal("postgresql.cnpg.io/v1", (string?)sent["apiVersion"]);
        Assert.Equal("Cluster", (string?)sent["kind"]);

        var read = await _api.GetAsync(ResourceKind.Cluster, "drills", "pg-restore", Ct);
        Assert.Equal((string?)created["metadata"]!["uid"], (string?)read["metadata"]!["uid"]);

        Assert.True(await _api.DeleteAsync(ResourceKind.Cluster, "drills", "pg-restore", DeletePropagation.Foreground, Ct));
        Assert.Equal("Foreground", (string?)JsonNode.Parse(_server.Requests.Last().Body!)!["propagationPolicy"]);
        Assert.Null(await _api.TryGetAsync(ResourceKind.Cluster, "drills", "pg-restore", Ct));
        Assert.False(await _api.DeleteAsync(ResourceKind.Cluster, "drills", "pg-restore", DeletePropagation.Background, Ct));
    }

    [Fact]
    public async Task Cluster_scoped_kinds_ignore_the_namespace()
    {
        _server.Put(ResourceKind.Namespace, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "drills" } });
        var ns = await _api.GetAsync(ResourceKind.Namespace, "ignored", "drills", Ct);
        Assert.Equal("Namespace", (string?)ns["kind"]);
        Assert.Equal("/api/v1/namespaces/drills", _server.Requests.Last().Path);
    }

    [Fact]
    public async Task List_follows_continue_pages_and_applies_selectors()
    {
        for (var i = 0; i < 7; i++)
            _server.Put(ResourceKind.Pod, new JsonObject
            {
                ["metadata"] = new JsonObject
                {
                    ["name"] = $"pod-{i}",
                    ["namespace"] = "drills",
                    ["labels"] = new JsonObject { ["cnpg.io/cluster"] = i % 2 == 0 ? "pg-restore" : "other" },
                },
                ["status"] = new JsonObject { ["phase"] = i == 4 ? "Pending" : "Running" },
            });
        _server.Put(ResourceKind.Pod, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "elsewhere", ["namespace"] = "prod" } });

        using var paged = new KubernetesClient(_server.Config(Token, "drills")) { PageSize = 3 };
        var all = await paged.ListAsync(ResourceKind.Pod, "drills", null, null, Ct);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"pod-{i}"), all.Items.Select(p => (string?)p["metadata"]!["name"]));
        Assert.All(all.Items, p => Assert.Equal("Pod", (string?)p["kind"]));
        Assert.False(string.IsNullOrEmpty(all.ResourceVersion));
        var lists = _server.Requests.Where(r => r.Method == "GET").ToList();
        Assert.Equal(3, lists.Count);
        Assert.All(lists, r => Assert.Contains("limit=3", r.Query));
        Assert.Equal(2, lists.Count(r => r.Query.Contains("continue=")));

        var selected = await paged.ListAsync(ResourceKind.Pod, "drills", "cnpg.io/cluster=pg-restore", "status.phase=Running", Ct);
        Assert.Equal(["pod-0", "pod-2", "pod-6"], selected.Items.Select(p => (string?)p["metadata"]!["name"]));
        var negated = await paged.ListAsync(ResourceKind.Pod, "drills", "cnpg.io/cluster!=pg-restore", "metadata.name!=pod-1", Ct);
        Assert.Equal(["pod-3", "pod-5"], negated.Items.Select(p => (string?)p["metadata"]!["name"]));

        var everywhere = await paged.ListAsync(ResourceKind.Pod, IKubernetesApi.AllNamespaces, null, "metadata.name=elsewhere", Ct);
        Assert.Equal("prod", (string?)Assert.Single(everywhere.Items)["metadata"]!["namespace"]);
        Assert.Equal("/api/v1/pods", _server.Requests.Last().Path);
    }

    [Fact]
    public async Task An_expired_continue_token_falls_back_to_one_full_list()
    {
        for (var i = 0; i < 5; i++)
            _server.Put(ResourceKind.Pod, new JsonObject { ["metadata"] = new JsonObject { ["name"] = $"pod-{i}", ["namespace"] = "drills" } });
        var pages = 0;
        _server.AfterList = () =>
        {
            if (++pages == 1)
                _server.ExpireHistory(() => _server.Put(ResourceKind.Pod, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "pod-5", ["namespace"] = "drills" } }));
        };
        using var paged = new KubernetesClient(_server.Config(Token, "drills")) { PageSize = 2 };
        var list = await paged.ListAsync(ResourceKind.Pod, "drills", null, null, Ct);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"pod-{i}"), list.Items.Select(p => (string?)p["metadata"]!["name"]));
        var queries = _server.Requests.Where(r => r.Method == "GET").Select(r => r.Query).ToList();
        Assert.Equal(3, queries.Count);
        Assert.DoesNotContain("limit", queries[2]);
    }

    [Fact]
    public async Task Forbidden_names_verb_resource_namespace_user_and_the_role_rule()
    {
        _server.Deny("create", ResourceKind.Cluster, "drills");
        var e = await Assert.ThrowsAsync<KubernetesForbiddenException>(() => _api.CreateAsync(ResourceKind.Cluster, "drills", Cluster("pg-restore"), Ct));
        Assert.Equal(
            "Kubernetes denied \"create\" on clusters.postgresql.cnpg.io in namespace \"drills\" for user \"system:serviceaccount:ci:restoreops\". " +
            "Fix: grant it with a Role rule: apiGroups: [\"postgresql.cnpg.io\"], resources: [\"clusters\"], verbs: [\"create\"] " +
            "(Role in namespace \"drills\", bound to that identity).",
            e.Message);
        Assert.Equal(FailureKind.Infrastructure, e.Kind);
        Assert.Equal(403, e.StatusCode);
        Assert.Equal("system:serviceaccount:ci:restoreops", e.User);
        Assert.DoesNotContain(Token, e.ToString());

        _server.Deny("list", ResourceKind.Namespace);
        var cluster = await Assert.ThrowsAsync<KubernetesForbiddenException>(() => _api.ListAsync(ResourceKind.Namespace, null, null, null, Ct));
        Assert.Contains("Kubernetes denied \"list\" on namespaces at cluster scope", cluster.Message);
        Assert.Contains("ClusterRole rule: apiGroups: [\"\"], resources: [\"namespaces\"], verbs: [\"list\"]", cluster.Message);
    }

    [Fact]
    public async Task Unauthorized_says_to_refresh_the_credentials_without_showing_them()
    {
        _server.Authenticate = header => header == "Bearer something-else";
        var e = await Assert.ThrowsAsync<KubernetesForbiddenException>(() => _api.GetAsync(ResourceKind.Pod, "drills", "pg-1", Ct));
        Assert.Equal(401, e.StatusCode);
        Assert.Contains("rejected the credentials of kubeconfig user \"tester\"", e.Message);
        Assert.Contains("401 Unauthorized", e.Message);
        Assert.DoesNotContain(Token, e.ToString());
    }

    [Fact]
    public async Task Not_found_names_kind_namespace_and_name_and_a_missing_CRD_differently()
    {
        var e = await Assert.ThrowsAsync<KubernetesNotFoundException>(() => _api.GetAsync(ResourceKind.Backup, "drills", "nightly", Ct));
        Assert.StartsWith("backups.postgresql.cnpg.io \"nightly\" was not found in namespace \"drills\" (context \"explicit\").", e.Message);
        Assert.Equal(FailureKind.Configuration, e.Kind);
        Assert.False(e.ResourceTypeMissing);

        _server.UnservedGroups.TryAdd("postgresql.cnpg.io", 0);
        var crd = await Assert.ThrowsAsync<KubernetesNotFoundException>(() => _api.TryGetAsync(ResourceKind.Cluster, "drills", "pg", Ct));
        Assert.True(crd.ResourceTypeMissing);
        Assert.Contains("does not serve clusters.postgresql.cnpg.io", crd.Message);
        Assert.Contains("install the operator", crd.Message);
    }

    [Fact]
    public async Task Already_exists_is_a_conflict_that_says_so()
    {
        await _api.CreateAsync(ResourceKind.Cluster, "drills", Cluster("pg-restore"), Ct);
        var e = await Assert.ThrowsAsync<KubernetesConflictException>(() => _api.CreateAsync(ResourceKind.Cluster, "drills", Cluster("pg-restore"), Ct));
        Assert.True(e.AlreadyExists);
        Assert.Equal(409, e.StatusCode);
        Assert.StartsWith("clusters.postgresql.cnpg.io \"pg-restore\" already exists in namespace \"drills\". Fix: delete", e.Message);
    }

    [Fact]
    public async Task Invalid_lists_the_server_field_causes_as_a_configuration_error()
    {
        _server.Validate = (kind, obj) => kind == ResourceKind.Cluster && (int?)obj["spec"]?["instances"] < 1
            ? ["spec.instances: Invalid value: 0: spec.instances in body should be greater than or equal to 1", "spec.storage: Required value"]
            : [];
        await _api.CreateAsync(ResourceKind.Cluster, "drills", Cluster("ok", instances: 1), Ct);
        var e = await Assert.ThrowsAsync<KubernetesInvalidException>(() => _api.CreateAsync(ResourceKind.Cluster, "drills", Cluster("bad", instances: 0), Ct));
        Assert.Equal(FailureKind.Configuration, e.Kind);
        Assert.Equal(["spec.instances", "spec.storage"], e.Causes.Select(c => c.Field));
        Assert.Contains("Kubernetes rejected clusters.postgresql.cnpg.io \"bad\" in namespace \"drills\" as invalid: " +
                        "spec.instances: Invalid value: 0: spec.instances in body should be greater than or equal to 1; spec.storage: Required value.", e.Message);
    }

    [Fact]
    public async Task A_server_that_does_not_answer_times_out_with_the_server_url()
    {
        _server.HangRequests();
        var config = _server.Config(Token, "drills");
        config.Timeout = TimeSpan.FromMilliseconds(300);
        using var api = new KubernetesClient(config);
        var e = await Assert.ThrowsAsync<KubernetesUnavailableException>(() => api.GetAsync(ResourceKind.Pod, "drills", "pg-1", Ct));
        Assert.True(e.IsTimeout);
        Assert.Contains($"The Kubernetes API at {_server.Url} did not answer within 0.3 s while trying to get pods \"pg-1\" in namespace \"drills\".", e.Message);
        Assert.Contains("VPN", e.Message);
        _server.ReleaseRequests();
    }

    [Fact]
    public async Task Connection_refused_names_the_server_and_what_to_check()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        using var api = new KubernetesClient(KubernetesConfig.ForServer(new Uri($"http://127.0.0.1:{port}"), Token));
        var e = await Assert.ThrowsAsync<KubernetesUnavailableException>(() => api.ListAsync(ResourceKind.Cluster, "drills", null, null, Ct));
        Assert.Contains($"The Kubernetes API at http://127.0.0.1:{port}/ refused the connection while trying to list clusters.postgresql.cnpg.io in namespace \"drills\".", e.Message);
        Assert.Contains("check the server URL", e.Message);
        Assert.Equal(FailureKind.Infrastructure, e.Kind);
    }

    [Fact]
    public void Context_and_config_never_show_the_token()
    {
        var config = _server.Config(Token, "drills");
        Assert.DoesNotContain(Token, config.ToString());
        Assert.DoesNotContain(Token, _api.Context.ToString());
    }
}
