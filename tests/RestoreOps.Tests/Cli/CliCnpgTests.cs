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
/// The real restoreops process drilling CNPG, as a Kubernetes CronJob would run it: a kubeconfig for the CRD-validating
/// API double, the operator simulator restoring the fixture's real Barman backup, checks through a port-forward. On the
/// in-process double because a passing drill connects through a port-forward, which needs a kubelet; the real API
/// server runs the rest (<see cref="CliCnpgRealServerTests"/>). Also issue 13's options: <c>drill --object-store/--connect</c>
/// and <c>backups create</c>.
/// </summary>
[Collection("backups")]
public sealed class CliCnpgTests(BackupFixtures fx) : IAsyncLifetime
{
    private const string SourceNamespace = "prod";
    private const string DrillNamespace = "drills";
    private const int AllRows = F.RowsAtBackup + F.RowsBeforeTarget + F.RowsAfterTarget;

    private readonly FakeKubernetesServer _server = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("restoreops-cli-cnpg-").FullName;
    private OperatorSimulator _simulator = null!;
    private KubernetesClient _api = null!;
    private string Kubeconfig => Path.Combine(_dir, "kubeconfig");

    public async Task InitializeAsync()
    {
        _simulator = await OperatorSimulator.StartAsync(_server, fx);
        _api = new KubernetesClient(_server.Config("drill-runner", DrillNamespace));
        _server.Put(ResourceKind.Cluster, CnpgResources.SourceCluster(SourceNamespace, "shop-db", F.DestinationPath, fx.S3.Endpoint, "gzip"));
        await _simulator.PutBackupAsync(SourceNamespace, "shop-db-base", "shop-db", "gzip", default);
        await File.WriteAllTextAsync(Kubeconfig, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: {_server.Url.ToString().TrimEnd('/')}
            users:
            - name: drill-runner
              user:
                token: drill-runner
            contexts:
            - name: fake
              context:
                cluster: fake
                user: drill-runner
                namespace: {DrillNamespace}
            current-context: fake
            """);
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        await _simulator.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "RestoreOps.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        // No ambient cluster: only the kubeconfig the test names.
        psi.Environment.Remove("KUBECONFIG");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await p.WaitForExitAsync(guard.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task A_cnpg_drill_through_the_cli_passes_records_and_leaves_nothing_labelled()
    {
        var id = "cli-cnpg-" + Guid.NewGuid().ToString("N")[..8];
        var evidence = Path.Combine(_dir, "evidence");

        var (exit, stdout, stderr) = await RunAsync("drill", "--cnpg-cluster", "shop-db", "-n", SourceNamespace, "--drill-namespace", DrillNamespace,
            "--kubeconfig", Kubeconfig, "--database", "shop", "--expect-rows", $"public.orders={AllRows}", "--drill-id", id,
            "--timeout", "240", "--evidence", evidence, "--json");

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        var record = JsonNode.Parse(stdout)!;
        Assert.Equal("passed", record["verdict"]!.GetValue<string>());
        Assert.Equal("cnpg", record["targetKind"]!.GetValue<string>());
        Assert.Equal(AllRows.ToString(), record["checks"]![0]!["actual"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(evidence, id + ".json")));
        var removed = record["cleanup"]!["removed"]!.AsArray().Select(n => n!.GetValue<string>()).Single(r => r.StartsWith($"Cluster {DrillNamespace}/", StringComparison.Ordinal));
        await _simulator.AssertNothingLeftAsync(_api, DrillNamespace, removed[$"Cluster {DrillNamespace}/".Length..], id, default);
    }

    [Fact]
    public async Task A_cnpg_cluster_that_never_becomes_ready_fails_with_the_diagnosis_and_leaves_nothing_labelled()
    {
        // A Backup whose backup id the store does not hold: the simulated operator's restore fails, as a real one would.
        _server.Put(ResourceKind.Cluster, CnpgResources.SourceCluster(SourceNamespace, "lost-db", F.DestinationPath, fx.S3.Endpoint, "gzip"));
        _server.Put(ResourceKind.Backup, new JsonObject
        {
            ["apiVersion"] = CnpgNames.ApiVersion,
            ["kind"] = "Backup",
            ["metadata"] = new JsonObject { ["name"] = "lost-db-base", ["namespace"] = SourceNamespace },
            ["spec"] = new JsonObject { ["cluster"] = new JsonObject { ["name"] = "lost-db" }, ["method"] = "barmanObjectStore" },
            ["status"] = new JsonObject
            {
                ["phase"] = CnpgNames.BackupCompleted, ["method"] = "barmanObjectStore", ["backupId"] = "20260101T000000",
                ["destinationPath"] = F.DestinationPath, ["endpointURL"] = fx.S3.Endpoint, ["serverName"] = "gzip",
                ["startedAt"] = "2026-01-01T00:00:00Z", ["stoppedAt"] = "2026-01-01T00:01:00Z",
                ["beginWal"] = "000000010000000000000002", ["endWal"] = "000000010000000000000002",
            },
        });
        var id = "cli-lost-" + Guid.NewGuid().ToString("N")[..8];

        var (exit, stdout, stderr) = await RunAsync("drill", "--cnpg-cluster", "lost-db", "-n", SourceNamespace, "--drill-namespace", DrillNamespace,
            "--kubeconfig", Kubeconfig, "--drill-id", id, "--timeout", "120", "--json");

        Assert.True(exit == 1, $"exit {exit}\n{stdout}\n{stderr}");
        var record = JsonNode.Parse(stdout)!;
        Assert.Equal("failed", record["verdict"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(record["failureMessage"]?.GetValue<string>()));
        Assert.Contains("restoreops: drill failed:", stderr);
        var removed = record["cleanup"]!["removed"]!.AsArray().Select(n => n!.GetValue<string>()).Single(r => r.StartsWith($"Cluster {DrillNamespace}/", StringComparison.Ordinal));
        await _simulator.AssertNothingLeftAsync(_api, DrillNamespace, removed[$"Cluster {DrillNamespace}/".Length..], id, default);
    }

    [Fact]
    public async Task Backups_of_a_cnpg_cluster_are_listed_through_the_cli()
    {
        var (exit, stdout, stderr) = await RunAsync("backups", "list", "--cnpg-cluster", "shop-db", "--namespace", SourceNamespace, "--kubeconfig", Kubeconfig, "--json");

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        var backup = Assert.Single(JsonNode.Parse(stdout)!.AsArray());
        Assert.Equal(fx.BackupIds["gzip"], backup!["id"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("--wal-parallelism")]
    [InlineData("--work-dir")]
    public async Task A_local_only_option_with_a_cnpg_drill_exits_2_naming_it(string option)
    {
        var args = new List<string> { "drill", "--cnpg-cluster", "shop-db", "-n", SourceNamespace, "--kubeconfig", Kubeconfig, option };
        args.Add(option == "--work-dir" ? _dir : "4");

        var (exit, _, stderr) = await RunAsync([.. args]);

        Assert.Equal(2, exit);
        Assert.Contains($"{option} applies to local restores", stderr);
    }

    [Fact]
    public async Task Targets_list_and_sweep_run_through_the_cli_and_remove_names_what_is_missing()
    {
        var root = Path.Combine(_dir, "targets");
        Directory.CreateDirectory(root);

        var list = await RunAsync("targets", "list", "--work-dir", root, "--json");
        var sweep = await RunAsync("targets", "sweep", "--work-dir", root, "--json");
        var remove = await RunAsync("targets", "remove", "nothing-here", "--work-dir", root);

        Assert.True(list.Exit == 0, list.Stderr);
        Assert.Empty(JsonNode.Parse(list.Stdout)!.AsArray());
        Assert.True(sweep.Exit == 0, sweep.Stderr);
        Assert.Empty(JsonNode.Parse(sweep.Stdout)!.AsArray());
        Assert.Equal(2, remove.Exit);
        Assert.Contains("No restore target named nothing-here", remove.Stderr);
    }
    [Fact]
    public async Task A_cnpg_recovery_drill_keeps_its_named_cluster_through_a_sweep_and_names_the_service_to_point_at()
    {
        var name = "shop-db-recovered-" + Guid.NewGuid().ToString("N")[..6];

        var (exit, stdout, stderr) = await RunAsync("drill", "--cnpg-cluster", "shop-db", "-n", SourceNamespace, "--drill-namespace", DrillNamespace,
            "--kubeconfig", Kubeconfig, "--database", "shop", "--expect-rows", $"public.orders={AllRows}", "--timeout", "240",
            "--purpose", "recovery", "--name", name);

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains($"Point the application at Service {name}-rw in namespace {DrillNamespace}", stderr);
        Assert.Contains($"restoreops targets remove {name} --cnpg --namespace {DrillNamespace}", stderr);
        Assert.NotNull(await _api.TryGetAsync(ResourceKind.Cluster, DrillNamespace, name, default));

        var sweep = await RunAsync("targets", "sweep", "--cnpg", "--namespace", DrillNamespace, "--kubeconfig", Kubeconfig, "--work-dir", _dir);
        Assert.True(sweep.Exit == 0, sweep.Stderr);
        Assert.NotNull(await _api.TryGetAsync(ResourceKind.Cluster, DrillNamespace, name, default));

        var remove = await RunAsync("targets", "remove", name, "--cnpg", "--namespace", DrillNamespace, "--kubeconfig", Kubeconfig, "--work-dir", _dir);
        Assert.True(remove.Exit == 0, remove.Stderr);
        Assert.Null(await _api.TryGetAsync(ResourceKind.Cluster, DrillNamespace, name, default));
    }

    // ---- issue 13's options: drill --object-store/--connect and backups create ----

    [Fact]
    public async Task A_drill_with_object_store_restores_through_the_provisioned_store_and_copies_nothing()
    {
        _server.Put(ResourceKind.Secret, CnpgResources.Secret(DrillNamespace, "ro-creds", "Opaque",
            new Dictionary<string, string> { ["ACCESS_KEY_ID"] = "reader", ["ACCESS_SECRET_KEY"] = "reader-key" }));
        _server.Put(ResourceKind.ObjectStore, CnpgResources.ObjectStore(DrillNamespace, "readonly-store", F.DestinationPath, fx.S3.Endpoint, "ro-creds"));
        var id = "cli-store-" + Guid.NewGuid().ToString("N")[..8];

        var (exit, stdout, stderr) = await RunAsync("drill", "--cnpg-cluster", "shop-db", "-n", SourceNamespace, "--drill-namespace", DrillNamespace,
            "--object-store", "readonly-store", "--connect", "port-forward", "--kubeconfig", Kubeconfig, "--database", "shop",
            "--expect-rows", $"public.orders={AllRows}", "--drill-id", id, "--timeout", "240", "--json");

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Equal("passed", JsonNode.Parse(stdout)!["verdict"]!.GetValue<string>());
        var post = Assert.Single(_server.ClientRequests, r => r.Method == "POST");
        Assert.EndsWith($"/namespaces/{DrillNamespace}/clusters", post.Path, StringComparison.Ordinal);
        Assert.Contains("\"barmanObjectName\":\"readonly-store\"", post.Body, StringComparison.Ordinal);
        Assert.Contains(_server.ClientRequests, r => r.Path.EndsWith("/portforward", StringComparison.Ordinal));
        Assert.Empty((await _api.ListAsync(ResourceKind.Secret, DrillNamespace, CnpgOwnership.DrillSelector(id), null, default)).Items);
    }

    [Theory]
    [InlineData("--connect", "bogus", "--connect 'bogus' is not a connection route")]
    [InlineData("--object-store", "readonly-store", "--object-store applies to --cnpg-cluster drills")]
    public async Task Cnpg_drill_options_are_refused_where_they_do_not_apply(string option, string value, string message)
    {
        var args = option == "--connect"
            ? new[] { "drill", "--cnpg-cluster", "shop-db", "-n", SourceNamespace, "--drill-namespace", DrillNamespace, "--kubeconfig", Kubeconfig, option, value }
            : ["drill", "--dump", Path.Combine(_dir, "none.dump"), option, value];

        var (exit, stdout, stderr) = await RunAsync(args);

        Assert.True(exit == 2, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.Contains(message, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(_server.ClientRequests, r => r.Method == "POST");
    }

    [Fact]
    public async Task Backups_create_takes_an_in_tree_backup_waits_for_it_and_exits_1_when_it_fails()
    {
        // A run that never creates its Backup must fail the test, not leave it waiting for one.
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var finishing = _simulator.FinishNextBackupAsync(SourceNamespace, "gzip", null, guard.Token);

        var (exit, stdout, stderr) = await RunAsync("backups", "create", "--cnpg-cluster", "shop-db", "--namespace", SourceNamespace,
            "--kubeconfig", Kubeconfig, "--wait", "--timeout", "2m", "--json");

        Assert.True(exit == 0, $"exit {exit}\n{stdout}\n{stderr}");
        var done = await finishing;
        var backup = JsonNode.Parse(stdout)!;
        Assert.Equal(done["metadata"]!["name"]!.GetValue<string>(), backup["name"]!.GetValue<string>());
        Assert.Equal(fx.BackupIds["gzip"], backup["id"]!.GetValue<string>());
        Assert.Equal("barmanObjectStore", backup["method"]!.GetValue<string>());
        Assert.Equal("done", backup["status"]!.GetValue<string>(), ignoreCase: true);
        Assert.Equal("barmanObjectStore", done["spec"]!["method"]!.GetValue<string>());

        // Requested within the same second as the first: the second Backup still gets a name of its own.
        var failing = _simulator.FinishNextBackupAsync(SourceNamespace, "gzip", "no space left on device", guard.Token);
        (exit, stdout, stderr) = await RunAsync("backups", "create", "--cnpg-cluster", "shop-db", "--namespace", SourceNamespace,
            "--kubeconfig", Kubeconfig, "--wait");
        Assert.True(exit == 1, $"exit {exit}\n{stdout}\n{stderr}");
        Assert.NotEqual(done["metadata"]!["name"]!.GetValue<string>(), (await failing)["metadata"]!["name"]!.GetValue<string>());
        Assert.Contains("failed: no space left on device", stderr, StringComparison.Ordinal);

        (exit, _, stderr) = await RunAsync("backups", "create", "--cnpg-cluster", "shop-db", "--namespace", SourceNamespace, "--kubeconfig", Kubeconfig, "--timeout", "5m");
        Assert.Equal(2, exit);
        Assert.Contains("--timeout applies only with --wait", stderr, StringComparison.Ordinal);
        (exit, _, stderr) = await RunAsync("backups", "create", "--cnpg-cluster", "shop-db", "--namespace", SourceNamespace, "--kubeconfig", Kubeconfig, "--method", "plugin");
        Assert.Equal(2, exit);
        Assert.Contains("is not configured for plugin backups", stderr, StringComparison.Ordinal);
        Assert.Contains("--method", stderr, StringComparison.Ordinal);
    }
}
