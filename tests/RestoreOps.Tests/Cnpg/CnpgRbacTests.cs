using System.Net.Sockets;
using System.Text.Json.Nodes;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Kubernetes;
using Xunit;
using Xunit.Abstractions;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Cnpg;

/// <summary>
/// Least privilege, proven on the real API server: a token user bound to exactly the Roles <see cref="DrillRbac"/>
/// generates runs a CNPG drill (the simulator as operator) and the diagnosis of a failing one; then, for each rule,
/// the same runs without that rule stop at a 403 whose message names the rule to add.
/// </summary>
[Collection("backups")]
public sealed class CnpgRbacTests(BackupFixtures fx, RealApiServerFixture real, ITestOutputHelper output) : IClassFixture<RealApiServerFixture>, IAsyncLifetime
{
    private const string SourceNamespace = "rbac-prod";
    private const string DrillNamespace = "rbac-drills";

    /// <summary>
    /// Rules this test's drill cannot miss: its source backs up in-tree (barmanObjectStore), so its credential Secrets are
    /// copied (and that rule is proven) but no ObjectStore is read or copied. A plugin-sourced drill would prove these two.
    /// </summary>
    private static readonly HashSet<(string Namespace, string Resource)> NotYetExercised =
    [
        (SourceNamespace, "objectstores"), (DrillNamespace, "objectstores"),
    ];

    private readonly CancellationTokenSource _guard = new(TimeSpan.FromMinutes(12));
    private OperatorSimulator? _simulator;
    private KubernetesClient? _admin;
    private KubernetesWriter? _writer;
    private CancellationToken Ct => _guard.Token;

    public async Task InitializeAsync()
    {
        if (RealApiServer.Locate().Missing is not null && !RealApiServer.Required) return;
        var server = real.Server;
        await server.EnsureNamespaceAsync(SourceNamespace, Ct);
        await server.EnsureNamespaceAsync(DrillNamespace, Ct);
        _admin = server.Admin();
        _writer = new KubernetesWriter(KubernetesConfig.Load(server.AdminKubeconfig, null));
        _simulator = OperatorSimulator.Start(server, fx);
        foreach (var (cluster, serverName) in new[] { ("shop-db", "gzip"), ("ghost-db", "no-such-server") })
            if (await _admin.TryGetAsync(ResourceKind.Cluster, SourceNamespace, cluster, Ct) is null)
            {
                await _admin.CreateAsync(ResourceKind.Cluster, SourceNamespace, CnpgResources.SourceCluster(SourceNamespace, cluster, F.DestinationPath, fx.S3.Endpoint, serverName), Ct);
                await _simulator.PutBackupAsync(SourceNamespace, $"{cluster}-base", cluster, "gzip", Ct);
            }
    }

    public async Task DisposeAsync()
    {
        if (_simulator is not null) await _simulator.DisposeAsync();
        _admin?.Dispose();
        _writer?.Dispose();
        _guard.Dispose();
    }

    private static DrillRbacRequest Request(bool portForward) => new(SourceNamespace, DrillNamespace, "restoreops", PortForward: portForward);

    [RealServerFact]
    public async Task Exactly_the_generated_rules_run_a_drill_and_each_missing_rule_is_a_403_that_names_it()
    {
        var request = Request(portForward: true);
        var rules = DrillRbac.Rules(request);

        var allowed = await BindAsync(request, rules);
        using (var api = allowed.Client())
        {
            var failure = await RunAsync(api, request.PortForward);
            Assert.True(failure is null, $"the generated rules did not suffice: {failure}");
        }

        foreach (var missing in rules.Where(r => !NotYetExercised.Contains((r.Namespace, r.Resource))))
        {
            var user = await BindAsync(request, rules.Where(r => r != missing));
            using var api = user.Client();
            var failure = await RunAsync(api, request.PortForward);
            output.WriteLine($"without {missing.Namespace}/{missing.Resource}: {failure}");
            Assert.True(failure is not null, $"a drill without the rule for {missing.Resource} in {missing.Namespace} did not fail: the rule is not needed");
            var (group, resource) = (missing.ApiGroup, missing.Resource);
            Assert.Contains($"apiGroups: [\"{group}\"], resources: [\"{resource}\"], verbs: [\"", failure, StringComparison.Ordinal);
            Assert.Contains($"Role in namespace \"{missing.Namespace}\"", failure, StringComparison.Ordinal);
            Assert.Contains(missing.Verbs, v => failure.Contains($"verbs: [\"{v}\"]", StringComparison.Ordinal));
            Assert.Contains(user.Name, failure, StringComparison.Ordinal);
        }
    }

    [RealServerFact]
    public async Task Without_port_forward_no_pod_may_be_read_or_forwarded()
    {
        var rules = DrillRbac.Rules(Request(portForward: false));
        Assert.DoesNotContain(rules, r => r.Resource == "pods/portforward");
        Assert.DoesNotContain(rules, r => r.Resource == "pods" && r.Verbs.Contains("get"));
        var user = await BindAsync(Request(portForward: false), rules);
        using var api = user.Client();
        var failure = await RunAsync(api, portForward: false);
        Assert.True(failure is null, $"the generated rules without port-forward did not suffice: {failure}");
    }

    private Task<TokenUser> BindAsync(DrillRbacRequest request, IEnumerable<RbacRule> rules) =>
        RbacBinding.BindAsync(real.Server, _admin!, _writer!, request, rules, DrillNamespace, Ct);

    /// <summary>
    /// What a drill does with the API, as <paramref name="api"/>'s user: catalogue, source, recovery Cluster, wait,
    /// credentials (and the port-forward route), removal; then a failing restore's diagnosis. Returns the first
    /// refusal (exception or diagnosis text), or null when everything was allowed. Cleans up as admin.
    /// </summary>
    private async Task<string?> RunAsync(KubernetesClient api, bool portForward)
    {
        var drillId = "rbac" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var backups = await CnpgCatalog.ListBackupsAsync(api, SourceNamespace, "shop-db", Ct);
            var source = await CnpgCatalog.GetSourceAsync(api, SourceNamespace, "shop-db", Ct);
            await using var restore = await CnpgRestore.CreateAsync(api, new RecoveryClusterRequest
            {
                Source = source, Backup = Assert.Single(backups), DrillId = drillId, Namespace = DrillNamespace, RecoveryTarget = RecoveryTarget.Immediate,
            }, Ct);
            await restore.WaitReadyAsync(TimeSpan.FromMinutes(4), null, Ct);
            // The engine's own read of the -app secret (the in-cluster route: no kubelet here to forward to).
            await using (await restore.ConnectAsync(CnpgConnectRoute.Service, Ct)) { }
            Assert.Equal(F.RowsAtBackup, await CnpgRealServerTests.CountOrdersAsync(api, _simulator!, restore, Ct));
            if (portForward)
            {
                await using (await restore.ConnectAsync(CnpgConnectRoute.PortForward, Ct)) { }
                if (await PortForwardRefusalAsync(api, restore) is { } refused) return refused;
            }
            var outcome = await restore.RemoveAsync(Ct);
            Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));

            // A failing restore: its diagnosis reads the recovery Job and the events.
            var ghost = await CnpgCatalog.GetSourceAsync(api, SourceNamespace, "ghost-db", Ct);
            var ghostBackup = Assert.Single(await CnpgCatalog.ListBackupsAsync(api, SourceNamespace, "ghost-db", Ct));
            await using var failing = await CnpgRestore.CreateAsync(api, new RecoveryClusterRequest
            {
                Source = ghost, Backup = ghostBackup, DrillId = drillId, Namespace = DrillNamespace, Name = $"ghost-{drillId}",
            }, Ct);
            var failed = await Assert.ThrowsAsync<RestoreFailedException>(() => failing.WaitReadyAsync(TimeSpan.FromMinutes(4), null, Ct));
            if (failed.Message.Contains("could not read the full state", StringComparison.Ordinal)) return failed.Message;
            Assert.Contains("no target backup found", failed.Message, StringComparison.Ordinal);
            Assert.Contains("active 0, succeeded 0, failed 1", failed.Message, StringComparison.Ordinal);
            var removed = await failing.RemoveAsync(Ct);
            Assert.True(removed.Succeeded, string.Join("; ", removed.Problems));
            return null;
        }
        catch (KubernetesForbiddenException e)
        {
            return e.Message;
        }
        finally
        {
            await CleanUpAsync(drillId);
        }
    }

    /// <summary>
    /// The API server authorizes a port-forward before it looks for the pod's kubelet: with the rule the forward fails
    /// for want of a node, without it with a 403. Null when allowed.
    /// </summary>
    private async Task<string?> PortForwardRefusalAsync(KubernetesClient api, CnpgRestore restore)
    {
        await using var forward = await api.PortForwardAsync(restore.Namespace, $"{restore.Name}-1", 5432, Ct);
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(forward.LocalEndPoint, Ct);
            var buffer = new byte[16];
            try
            {
                while (await client.GetStream().ReadAsync(buffer, Ct) > 0) { }
            }
            catch (IOException)
            {
            }
        }
        var error = forward.LastError;
        Assert.NotNull(error);
        output.WriteLine($"port-forward with no kubelet: {error.Message}");
        return error is KubernetesForbiddenException ? error.Message : null;
    }

    private async Task CleanUpAsync(string drillId)
    {
        var clusters = await _admin!.ListAsync(ResourceKind.Cluster, DrillNamespace, CnpgOwnership.DrillSelector(drillId), null, Ct);
        var names = clusters.Items.Select(c => c["metadata"]!["name"]!.GetValue<string>()).ToList();
        // Objects of a cluster already deleted are found by the drill label all the same.
        if (names.Count == 0) names.Add("gone-" + drillId);
        foreach (var name in names)
        {
            var cluster = CnpgRestoreClusters.ToRestoreCluster(new JsonObject
            {
                ["metadata"] = new JsonObject
                {
                    ["name"] = name, ["namespace"] = DrillNamespace,
                    ["labels"] = new JsonObject { [CnpgNames.DrillIdLabel] = drillId },
                },
            });
            var outcome = await CnpgRestore.Attach(_admin, cluster).RemoveAsync(Ct);
            Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
        }
    }
}
