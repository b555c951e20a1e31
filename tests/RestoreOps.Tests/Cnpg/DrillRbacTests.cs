using System.Text.Json.Nodes;
using RestoreOps.Cli;
using RestoreOps.Cnpg;
using Xunit;
using YamlDotNet.RepresentationModel;

namespace RestoreOps.Tests.Cnpg;

/// <summary>
/// The text users apply is the rule set the real-server test proves (<see cref="CnpgRbacTests"/>): <c>restoreops rbac</c>
/// prints <see cref="DrillRbac.ToYaml"/>, and that YAML parses back into exactly <see cref="DrillRbac.Objects"/>.
/// </summary>
public sealed class DrillRbacTests
{
    internal static IReadOnlyList<JsonObject> ParseYaml(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Select(d => (JsonObject)CrdSchema.ToJson(d.RootNode)!).ToList();
    }

    [Theory]
    [InlineData("prod", "drills", false)]
    [InlineData("prod", "drills", true)]
    [InlineData("shop", "shop", false)]
    public void The_yaml_is_exactly_the_objects(string source, string drill, bool portForward)
    {
        var request = new DrillRbacRequest(source, drill, "restoreops", PortForward: portForward);
        var parsed = ParseYaml(DrillRbac.ToYaml(request));
        var objects = DrillRbac.Objects(request);
        Assert.Equal(objects.Count, parsed.Count);
        for (var i = 0; i < objects.Count; i++)
            Assert.True(JsonNode.DeepEquals(objects[i], parsed[i]), $"document {i}:\n{parsed[i]}\nexpected:\n{objects[i]}");
        // One Role and one binding per namespace; port-forwarding only when asked.
        Assert.Equal(source == drill ? 2 : 4, objects.Count);
        Assert.Equal(portForward, DrillRbac.Rules(request).Any(r => r.Resource == "pods/portforward"));
        Assert.All(objects.Where(o => (string?)o["kind"] == "RoleBinding"), b => Assert.Equal(drill, (string?)b["subjects"]![0]!["namespace"]));
    }

    [Fact]
    public async Task The_cli_prints_the_engines_yaml()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await CliApp.RunAsync(["rbac", "--source-namespace", "prod", "--drill-namespace", "drills", "--service-account", "drill-bot", "--port-forward"], stdout, stderr);
        Assert.Equal(0, code);
        // The engine's YAML, after the one line that regenerates it in the CLI's spelling.
        Assert.Equal("# Regenerate with: restoreops rbac --source-namespace prod --drill-namespace drills --service-account drill-bot --port-forward\n" +
            DrillRbac.ToYaml(new DrillRbacRequest("prod", "drills", "drill-bot", PortForward: true)), stdout.ToString());
        Assert.Equal("", stderr.ToString());
    }

    [Fact]
    public async Task A_bad_namespace_is_a_usage_error_naming_it()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await CliApp.RunAsync(["rbac", "--source-namespace", "Prod_DB", "--drill-namespace", "drills"], stdout, stderr);
        Assert.Equal(2, code);
        Assert.Contains("source namespace 'Prod_DB' is not a valid Kubernetes name", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal("", stdout.ToString());
    }
}
