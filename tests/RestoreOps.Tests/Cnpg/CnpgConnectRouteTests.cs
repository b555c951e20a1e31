using System.Collections.Concurrent;
using RestoreOps.Automation;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Model;
using RestoreOps.Tests.Automation;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Kubernetes;
using Xunit;
using static RestoreOps.Tests.Automation.Facade;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Cnpg;

/// <summary>
/// How checks reach a recovery cluster (issue 13 item 5): inside a pod straight to the <c>-rw</c> Service, from a laptop
/// through a port-forward, Auto deciding by the mounted service-account token. The Service's DNS name is resolved by a
/// test seam to the primary the operator simulator restored (a real PostgreSQL), so the checks really run through the
/// Service route. Written against the in-process API double so it can later point at the real kube-apiserver fixture.
/// </summary>
[Collection("backups")]
public sealed class CnpgConnectRouteTests(BackupFixtures fx) : IAsyncLifetime
{
    private const string SourceNamespace = CnpgDouble.SourceNamespace;
    private const string DrillNamespace = CnpgDouble.DrillNamespace;

    private CnpgDouble _cnpg = null!;
    private FakeKubernetesServer _server => _cnpg.Server;
    private OperatorSimulator _simulator => _cnpg.Simulator;
    private KubernetesAccess _access => _cnpg.Access;

    private readonly string _dir = Directory.CreateTempSubdirectory("restoreops-connect-").FullName;

    public async Task InitializeAsync()
    {
        _cnpg = await CnpgDouble.StartAsync(fx);
        _server.Put(ResourceKind.Cluster, CnpgResources.SourceCluster(SourceNamespace, "shop-db", F.DestinationPath, fx.S3.Endpoint, "gzip"));
        await _simulator.PutBackupAsync(SourceNamespace, "shop-db-base", "shop-db", "gzip", Ct);
    }

    public async Task DisposeAsync()
    {
        if (_cnpg is not null) await _cnpg.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private CancellationToken Ct => _cnpg.Ct;

    private string Token(bool mounted)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N"), "token");
        if (mounted)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, "eyJhbGciOiJSUzI1NiJ9.test");
        }
        return path;
    }

    [Fact]
    public void Auto_means_the_service_exactly_when_a_service_account_token_is_mounted()
    {
        var mounted = Token(mounted: true);
        var absent = Token(mounted: false);

        Assert.Equal(CnpgConnectRoute.Service, CnpgRestore.Choose(CnpgConnectRoute.Auto, mounted));
        Assert.Equal(CnpgConnectRoute.PortForward, CnpgRestore.Choose(CnpgConnectRoute.Auto, absent));
        // Asked for explicitly, the token does not matter.
        Assert.Equal(CnpgConnectRoute.PortForward, CnpgRestore.Choose(CnpgConnectRoute.PortForward, mounted));
        Assert.Equal(CnpgConnectRoute.Service, CnpgRestore.Choose(CnpgConnectRoute.Service, absent));
        Assert.Equal("/var/run/secrets/kubernetes.io/serviceaccount/token", CnpgRestore.ServiceAccountTokenFile);
    }

    [Theory]
    [InlineData(ConnectRoute.Auto, true)]
    [InlineData(ConnectRoute.Service, false)]
    public async Task In_a_pod_the_checks_reach_the_rw_service_with_the_app_secret_and_no_port_forward(ConnectRoute route, bool tokenMounted)
    {
        var backup = Assert.Single(await TestEngine.Shared.GetCnpgBackupsAsync(_access, SourceNamespace, "shop-db", Ct));
        var dialled = new ConcurrentQueue<(string Host, int Port)>();
        await using var engine = new RestoreEngine();
        var created = await engine.NewAsync(new RestoreRequest
        {
            Backup = backup, Namespace = DrillNamespace, Kubernetes = _access, Connect = route,
            ServiceAccountTokenPath = Token(tokenMounted),
            // In-cluster DNS: the Service name resolves to the primary the simulator restored.
            ResolveService = (host, port) =>
            {
                dialled.Enqueue((host, port));
                var endpoint = _simulator.ServiceEndpoints[host];
                return (endpoint.Address.ToString(), endpoint.Port);
            },
        }, Ct);
        var ready = await engine.WaitReadyAsync(created, TimeSpan.FromMinutes(4), _access, null, Ct);

        var record = await engine.CheckAsync(ready, Rows("public.orders", AllRows), _access, null, Ct);

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        var service = $"{created.Name}-rw.{DrillNamespace}.svc";
        Assert.Equal((service, 5432, "app", "shop"), (ready.Connection!.Host, ready.Connection.Port, ready.Connection.Username, ready.Connection.Database));
        Assert.Equal((service, 5432), Assert.Single(dialled));
        Assert.DoesNotContain(_server.Requests, r => r.Path.EndsWith("/portforward", StringComparison.Ordinal));
        var outcome = await engine.RemoveAsync(ready, _access, Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
    }

    [Theory]
    [InlineData(ConnectRoute.Auto, false)]
    [InlineData(ConnectRoute.PortForward, true)]
    public async Task From_a_laptop_the_checks_go_through_a_port_forward(ConnectRoute route, bool tokenMounted)
    {
        var backup = Assert.Single(await TestEngine.Shared.GetCnpgBackupsAsync(_access, SourceNamespace, "shop-db", Ct));
        await using var engine = new RestoreEngine();
        var created = await engine.NewAsync(new RestoreRequest
        {
            Backup = backup, Namespace = DrillNamespace, Kubernetes = _access, Connect = route, ServiceAccountTokenPath = Token(tokenMounted),
            ResolveService = (host, _) => throw new InvalidOperationException($"the Service {host} was dialled instead of a port-forward"),
        }, Ct);
        var ready = await engine.WaitReadyAsync(created, TimeSpan.FromMinutes(4), _access, null, Ct);

        var record = await engine.CheckAsync(ready, Rows("public.orders", AllRows), _access, null, Ct);

        Assert.True(record.Verdict == DrillVerdict.Passed, record.FailureMessage);
        Assert.Equal("127.0.0.1", ready.Connection!.Host);
        Assert.Contains(_server.Requests, r => r.Path.EndsWith($"/namespaces/{DrillNamespace}/pods/{created.Name}-1/portforward", StringComparison.Ordinal));
        var outcome = await engine.RemoveAsync(ready, _access, Ct);
        Assert.True(outcome.Succeeded, string.Join("; ", outcome.Problems));
    }
}
