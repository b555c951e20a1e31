using System.Text.Json.Nodes;
using RestoreOps.Checks;
using RestoreOps.Cli;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Tests.Fixtures;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace RestoreOps.Tests.Kubernetes;

/// <summary>
/// deploy/: the committed RBAC is what <c>restoreops rbac</c> prints for the base's namespaces; the CronJob's command
/// lines parse as the CLI's; its checks load; and every manifest of the base and of the example overlay (kustomize is
/// not installed: resources and JSON 6902 patches are applied here as kustomize would) is accepted by the real API
/// server in a server-side dry run with strict field validation.
/// </summary>
[Collection(RealApiServerCollection.Name)]
public sealed class DeployManifestTests(RealApiServerFixture fixture)
{
    private static readonly string Deploy = Path.Combine(RepositoryPaths.Root, "deploy");
    private static readonly string Base = Path.Combine(Deploy, "base");
    private static readonly string Overlay = Path.Combine(Deploy, "overlays", "example");

    private static IReadOnlyList<JsonObject> LoadYaml(string path)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(File.ReadAllText(path)));
        return stream.Documents.Select(d => CrdSchema.ToJson(d.RootNode)).OfType<JsonObject>().ToList();
    }

    private static JsonObject Kustomization(string dir) => LoadYaml(Path.Combine(dir, "kustomization.yaml")).Single();

    /// <summary>The objects a kustomization renders: its resources (files or folders), then its images and JSON 6902 patches.</summary>
    internal static List<JsonObject> Render(string dir)
    {
        var k = Kustomization(dir);
        var objects = new List<JsonObject>();
        foreach (var resource in (k["resources"] as JsonArray ?? []).Select(r => (string)r!))
        {
            var path = Path.GetFullPath(Path.Combine(dir, resource));
            objects.AddRange(Directory.Exists(path) ? Render(path) : LoadYaml(path));
        }
        foreach (var image in (k["images"] as JsonArray ?? []).OfType<JsonObject>())
            foreach (var container in objects.SelectMany(Containers).Where(c => ((string)c["image"]!).Split(':')[0] == (string)image["name"]!))
                container["image"] = $"{(string)image["name"]!}:{(string)image["newTag"]!}";
        foreach (var patch in (k["patches"] as JsonArray ?? []).OfType<JsonObject>())
        {
            var target = (JsonObject)patch["target"]!;
            var matches = objects.Where(o => (string?)o["kind"] == (string?)target["kind"] && (string?)o["metadata"]?["name"] == (string?)target["name"]).ToList();
            Assert.True(matches.Count == 1, $"patch {patch["path"]} of {dir} matches {matches.Count} objects");
            var ops = new YamlStream();
            ops.Load(new StringReader(File.ReadAllText(Path.Combine(dir, (string)patch["path"]!))));
            foreach (var op in ((JsonArray)CrdSchema.ToJson(ops.Documents[0].RootNode)!).OfType<JsonObject>())
                ApplyJsonPatch(matches[0], op);
        }
        return objects;
    }

    private static IEnumerable<JsonObject> Containers(JsonObject o) =>
        o["spec"]?["jobTemplate"]?["spec"]?["template"]?["spec"] is JsonObject pod
            ? (pod["containers"] as JsonArray ?? []).Concat(pod["initContainers"] as JsonArray ?? []).OfType<JsonObject>()
            : [];

    private static void ApplyJsonPatch(JsonObject target, JsonObject op)
    {
        var parts = ((string)op["path"]!).Split('/').Skip(1).Select(p => p.Replace("~1", "/").Replace("~0", "~")).ToList();
        JsonNode parent = target;
        foreach (var part in parts[..^1])
            parent = (parent is JsonArray a ? a[int.Parse(part)] : parent[part]) ?? throw new InvalidOperationException($"patch path {op["path"]} does not exist");
        var last = parts[^1];
        var value = op["value"]?.DeepClone();
        switch ((string)op["op"]!)
        {
            case "add" when parent is JsonArray array:
                if (last == "-") array.Add(value); else array.Insert(int.Parse(last), value);
                break;
            case "replace" when parent is JsonArray array:
                Assert.True(int.Parse(last) < array.Count, $"patch path {op["path"]} does not exist");
                array[int.Parse(last)] = value;
                break;
            case "add":
                parent[last] = value;
                break;
            case "replace":
                Assert.True(((JsonObject)parent).ContainsKey(last), $"patch path {op["path"]} does not exist");
                parent[last] = value;
                break;
            case "remove" when parent is JsonArray array:
                array.RemoveAt(int.Parse(last));
                break;
            case "remove":
                ((JsonObject)parent).Remove(last);
                break;
            default:
                throw new InvalidOperationException($"unsupported patch op {op["op"]}");
        }
    }

    [Fact]
    public async Task The_committed_rbac_is_what_restoreops_rbac_prints_for_the_base()
    {
        // The base names its generating command; the namespaces it uses must be the ones the other manifests use.
        var line = File.ReadAllLines(Path.Combine(Base, "kustomization.yaml")).Single(l => l.Contains("restoreops rbac", StringComparison.Ordinal));
        var args = line[(line.IndexOf("restoreops rbac", StringComparison.Ordinal) + "restoreops ".Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        using var stdout = new StringWriter();
        Assert.Equal(0, await CliApp.RunAsync(args, stdout, new StringWriter()));
        Assert.Equal(stdout.ToString(), File.ReadAllText(Path.Combine(Base, "rbac.yaml")));

        string Arg(string name) => args[Array.IndexOf(args, name) + 1];
        var objects = Render(Base);
        var account = Assert.Single(objects, o => (string?)o["kind"] == "ServiceAccount");
        Assert.Equal((Arg("--service-account"), Arg("--drill-namespace")), ((string)account["metadata"]!["name"]!, (string)account["metadata"]!["namespace"]!));
        var cronJob = Assert.Single(objects, o => (string?)o["kind"] == "CronJob");
        Assert.Equal(Arg("--drill-namespace"), (string)cronJob["metadata"]!["namespace"]!);
        Assert.Equal(Arg("--service-account"), (string)cronJob["spec"]!["jobTemplate"]!["spec"]!["template"]!["spec"]!["serviceAccountName"]!);
        var drillArgs = Containers(cronJob).Single(c => (string?)c["name"] == "drill")["args"]!.AsArray().Select(a => (string)a!).ToList();
        Assert.Equal(Arg("--source-namespace"), drillArgs[drillArgs.IndexOf("--namespace") + 1]);
        Assert.Equal(Arg("--drill-namespace"), drillArgs[drillArgs.IndexOf("--drill-namespace") + 1]);
    }

    [Theory]
    [InlineData("base")]
    [InlineData("overlays/example")]
    public void The_cronjob_runs_command_lines_the_cli_accepts_with_its_checks_and_secrets(string kustomization)
    {
        var objects = Render(Path.Combine(Deploy, kustomization));
        var cronJob = Assert.Single(objects, o => (string?)o["kind"] == "CronJob");
        Assert.Equal("Forbid", (string?)cronJob["spec"]!["concurrencyPolicy"]);
        var job = cronJob["spec"]!["jobTemplate"]!["spec"]!;
        Assert.Equal(0L, (long)job["backoffLimit"]!);
        Assert.True((long)job["activeDeadlineSeconds"]! > 90 * 60, "the job deadline must leave the drill's --timeout and its cleanup time");
        foreach (var container in Containers(cronJob))
        {
            var args = container["args"]!.AsArray().Select(a => (string)a!).ToArray();
            var parse = CliApp.BuildRoot(new StringWriter(), new StringWriter()).Parse(args);
            Assert.True(parse.Errors.Count == 0, $"{kustomization} {container["name"]}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
            // Every variable the command line names is set from the Secret.
            var env = (container["env"] as JsonArray ?? []).OfType<JsonObject>().ToDictionary(e => (string)e["name"]!, e => e);
            foreach (var option in new[] { "--heartbeat-url-env", "--sign-key-env" })
                if (Array.IndexOf(args, option) is var i and >= 0)
                    Assert.Equal("restoreops-drill", (string?)env[args[i + 1]]["valueFrom"]!["secretKeyRef"]!["name"]);
        }
        // The checks file the drill reads is the ConfigMap's key, and it is a valid check file.
        var checks = Assert.Single(objects, o => (string?)o["kind"] == "ConfigMap");
        var file = Path.Combine(Path.GetTempPath(), $"restoreops-deploy-checks-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, (string)checks["data"]!["checks.yaml"]!);
        try
        {
            Assert.NotEmpty(CheckFile.Load(file).Checks);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [RealServerTheory]
    [InlineData("base")]
    [InlineData("overlays/example")]
    public async Task Every_manifest_is_accepted_by_the_real_api_server_in_a_dry_run(string kustomization)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var server = fixture.Server;
        using var writer = new KubernetesWriter(KubernetesConfig.Load(server.AdminKubeconfig, null));
        var objects = Render(Path.Combine(Deploy, kustomization));
        Assert.Equal(["ConfigMap", "CronJob", "NetworkPolicy", "PersistentVolumeClaim", "Role", "RoleBinding", "ServiceAccount"],
            objects.Select(o => (string)o["kind"]!).Distinct().Order(StringComparer.Ordinal));
        foreach (var ns in objects.Select(o => (string)o["metadata"]!["namespace"]!).Distinct())
            await server.EnsureNamespaceAsync(ns, timeout.Token);
        foreach (var obj in objects)
        {
            var (group, version) = ((string)obj["apiVersion"]!).Split('/') is [var g, var v] ? (g, v) : ("", (string)obj["apiVersion"]!);
            var kind = (string)obj["kind"]!;
            var plural = kind.ToLowerInvariant() switch { "networkpolicy" => "networkpolicies", var k => k + "s" };
            var resource = new ResourceKind(group, version, plural, kind);
            var ns = (string)obj["metadata"]!["namespace"]!;
            // Strict: an unknown or misspelt field is a rejection, not something the server silently drops.
            var accepted = await writer.SendAsync(HttpMethod.Post, resource.CollectionPath(ns) + "?dryRun=All&fieldValidation=Strict", obj,
                new KubernetesRequest("create", resource, ns, (string)obj["metadata"]!["name"]!), timeout.Token);
            Assert.Equal(kind, (string?)accepted!["kind"]);
        }
        // A dry run stores nothing.
        using var admin = server.Admin();
        Assert.Null(await admin.TryGetAsync(new ResourceKind("batch", "v1", "cronjobs", "CronJob"), "drills", "restoreops-drill", timeout.Token));
    }
}
