using RestoreOps.Automation;
using RestoreOps.Kubernetes;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Kubernetes;

namespace RestoreOps.Tests.Cnpg;

/// <summary>
/// What the CNPG tests on the in-process API double start from: the CRD-validating double, the operator simulator
/// restoring the fixture's real Barman backups, a drill runner's client and access in the drill namespace, and a guard
/// that ends a hung test.
/// </summary>
internal sealed class CnpgDouble : IAsyncDisposable
{
    public const string SourceNamespace = "prod";
    public const string DrillNamespace = "drills";

    private readonly CancellationTokenSource _guard = new(TimeSpan.FromMinutes(6));

    private CnpgDouble(OperatorSimulator simulator, FakeKubernetesServer server)
    {
        Server = server;
        Simulator = simulator;
        Api = new KubernetesClient(server.Config("drill-runner", DrillNamespace));
        // What -Kubeconfig … would resolve to, without a kubeconfig: a client for the double, one per use.
        Access = new KubernetesAccess { ApiFactory = () => new KubernetesClient(server.Config("drill-runner", DrillNamespace)) };
    }

    public FakeKubernetesServer Server { get; }
    public OperatorSimulator Simulator { get; }
    public KubernetesClient Api { get; }
    public KubernetesAccess Access { get; }
    public CancellationToken Ct => _guard.Token;

    public static async Task<CnpgDouble> StartAsync(BackupFixtures fx)
    {
        var server = new FakeKubernetesServer();
        try
        {
            return new CnpgDouble(await OperatorSimulator.StartAsync(server, fx), server);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Api.Dispose();
        await Simulator.DisposeAsync();
        await Server.DisposeAsync();
        _guard.Dispose();
    }
}
