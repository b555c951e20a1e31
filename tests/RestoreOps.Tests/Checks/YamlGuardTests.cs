using System.Text;
using RestoreOps.Checks;
using RestoreOps.Kubernetes;
using RestoreOps.Tests.Kubernetes;
using Xunit;

namespace RestoreOps.Tests.Checks;

/// <summary>The kubeconfig is YAML from the user too: aliases are legal there, so they are bounded by what they expand to.</summary>
public sealed class YamlGuardTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private KubernetesConfig Load(string path) =>
        KubernetesConfig.Load(path, null, name => name == "HOME" ? _dir.Path : null, new ManualTime(DateTimeOffset.UtcNow));

    private const string Kubeconfig = """
        current-context: drills
        clusters:
        - name: one
          cluster: &cluster { server: "https://one.example:6443", insecure-skip-tls-verify: true }
        users:
        - name: alice
          user: { token: t }
        contexts:
        - name: drills
          context: { cluster: one, user: alice }
        - name: other
          context: *cluster
        """;

    [Fact]
    public void A_kubeconfig_with_an_ordinary_alias_still_loads()
    {
        var config = Load(_dir.File("config", Kubeconfig));
        Assert.Equal(new Uri("https://one.example:6443"), config.Context.Server);
    }

    [Fact]
    public void A_kubeconfig_alias_bomb_is_refused_before_it_is_expanded()
    {
        // Nine levels of nine aliases: 387 million values once expanded.
        var yaml = new StringBuilder(Kubeconfig + "\nl0: &l0 [x]\n");
        for (var level = 1; level <= 9; level++)
            yaml.Append($"l{level}: &l{level} [{string.Join(", ", Enumerable.Repeat($"*l{level - 1}", 9))}]\n");
        var path = _dir.File("bomb", yaml.ToString());
        var e = Assert.Throws<ConfigurationException>(() => Load(path));
        Assert.StartsWith($"The kubeconfig \"{path}\" line ", e.Message);
        Assert.Contains("expands to more than 1,000,000 values once its aliases (*name) are resolved", e.Message);
    }

    [Fact]
    public void A_deeply_nested_kubeconfig_is_refused()
    {
        var path = _dir.File("deep", "clusters: " + new string('[', 100_000) + new string(']', 100_000));
        var e = Assert.Throws<ConfigurationException>(() => Load(path));
        Assert.Contains("a kubeconfig nests more than 64 levels", e.Message);
    }
}
