using System.Diagnostics;
using System.Text.Json.Nodes;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Tests.Cnpg;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Kubernetes;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Cli;

/// <summary>
/// The real restoreops process against the real API server, as the CronJob runs it: a kubeconfig whose token user
/// holds exactly the generated drill Roles, the operator simulator playing CNPG. A drill that passes needs a route to
/// the restored primary, which the real server cannot give (no kubelet to port-forward to, no cluster DNS): that case
/// stays on the API double (<see cref="CliCnpgTests"/>); the catalogue, the failure, the diagnosis and the cleanup are here.
/// </summary>
[Collection("backups")]
public sealed class CliCnpgRealServerTests(BackupFixtures fx, RealApiServerFixture real) : IClassFixture<RealApiServerFixture>, IAsyncLifetime
{
    private const string SourceNamespace = "cli-prod";
    private const string DrillNamespace = "cli-drills";

    private readonly CancellationTokenSource _guard = new(TimeSpan.FromMinutes(6));
    private OperatorSimulator? _simulator;
    private KubernetesClient? _admin;
    private KubernetesWriter? _writer;
    private TokenUser? _user;
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
        var request = new DrillRbacRequest(SourceNamespace, DrillNamespace, "restoreops");
        _user = await RbacBinding.BindAsync(server, _admin, _writer, request, DrillRbac.Rules(request), DrillNamespace, Ct);
    }

    public async Task DisposeAsync()
    {
        if (_simulator is not null) await _simulator.DisposeAsync();
        _admin?.Dispose();
        _writer?.Dispose();
        _guard.Dispose();
    }

    private async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "RestoreOps.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--kubeconfig");
        psi.ArgumentList.Add(_user!.Kubeconfig);
        psi.Environment.Remove("KUBECONFIG");
        psi.Environment.Remove("KUBERNETES_SERVICE_HOST");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync(Ct);
        return (p.ExitCode, await stdout, await stderr);
    }

    [RealServerFact]
    public async Task A_drill_whose_restore_fails_exits_1_with_the_diagnosis_and_leaves_nothing_labelled()
    {
        // The source names a Barman server that holds no backups: the simulated operator's restore fails as CNPG's would.
        await _admin!.CreateAsync(ResourceKind.Cluster, SourceNamespace, CnpgResources.SourceCluster(SourceNamespace, "lost-db", F.DestinationPath, fx.S3.Endpoint, "no-such-server"), Ct);
        await _simulator!.PutBackupAsync(SourceNamespace, "lost-db-base", "lost-db", "gzip", Ct);
        var id = "cli-lost-" + Guid.NewGuid().ToString("N")[..8];

        var (exit, stdout, stderr) = await RunAsync("drill", "--cnpg-cluster", "lost-db", "-n", SourceNamespace, "--drill-namespace", DrillNamespace,
            "--drill-id", id, "--timeout", "120", "--json");

        Assert.True(exit == 1, $"exit {exit}\n{stdout}\n{stderr}");
        var record = JsonNode.Parse(stdout)!;
        Assert.Equal("failed", record["verdict"]!.GetValue<string>());
        var failure = record["failureMessage"]!.GetValue<string>();
        Assert.Contains("no target backup found", failure, StringComparison.Ordinal);
        Assert.Contains("failed 1", failure, StringComparison.Ordinal);
        Assert.Contains("RestoreFailed", failure, StringComparison.Ordinal);
        Assert.Contains("restoreops: drill failed:", stderr, StringComparison.Ordinal);
        var removed = record["cleanup"]!["removed"]!.AsArray().Select(n => n!.GetValue<string>()).Single(r => r.StartsWith($"Cluster {DrillNamespace}/", StringComparison.Ordinal));
        await _simulator.AssertNothingLeftAsync(_admin, DrillNamespace, removed[$"Cluster {DrillNamespace}/".Length..], id, Ct);
    }

    [RealServerFact]
    public async Task Backups_are_listed_and_a_sweep_runs_with_only_the_generated_rules()
    {
        if (await _admin!.TryGetAsync(ResourceKind.Cluster, SourceNamespace, "list-db", Ct) is null)
        {
            await _admin.CreateAsync(ResourceKind.Cluster, SourceNamespace, CnpgResources.SourceCluster(SourceNamespace, "list-db", F.DestinationPath, fx.S3.Endpoint, "gzip"), Ct);
            await _simulator!.PutBackupAsync(SourceNamespace, "list-db-base", "list-db", "gzip", Ct);
        }

        var (exit, stdout, stderr) = await RunAsync("backups", "list", "--cnpg-cluster", "list-db", "--namespace", SourceNamespace, "--json");
        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Equal(fx.BackupIds["gzip"], Assert.Single(JsonNode.Parse(stdout)!.AsArray())!["id"]!.GetValue<string>());

        var sweep = await RunAsync("targets", "sweep", "--cnpg", "--namespace", DrillNamespace, "--json");
        Assert.True(sweep.Exit == 0, $"exit {sweep.Exit}\n{sweep.Stdout}\n{sweep.Stderr}");
    }
}
