using RestoreOps.Kubernetes;

namespace RestoreOps.Automation;

/// <summary>
/// Which Kubernetes API to talk to, in the words every front end uses: a kubeconfig path and a context name, both
/// optional. Null for both means kubectl's rules: <c>KUBECONFIG</c>, <c>~/.kube/config</c>, then the in-cluster
/// service account.
/// </summary>
/// <param name="Kubeconfig">kubeconfig file(s), separated like <c>KUBECONFIG</c>; null for the defaults.</param>
/// <param name="Context">Context name; null for <c>current-context</c>.</param>
/// <example><code>var access = new KubernetesAccess(Context: "prod-eu");</code></example>
public sealed record KubernetesAccess(string? Kubeconfig = null, string? Context = null)
{
    /// <summary>The defaults: kubectl's lookup order.</summary>
    public static KubernetesAccess Default { get; } = new();

    internal KubernetesConfig Resolve() => KubernetesConfig.Resolve(Kubeconfig, Context);

    /// <summary>The context's name, for records.</summary>
    public string ContextName() => ApiFactory is null ? Resolve().Context.ContextName : "test";

    /// <summary>Test seam: the API to use instead of resolving a kubeconfig.</summary>
    internal Func<IKubernetesApi>? ApiFactory { get; init; }

    internal IKubernetesApi Connect() => ApiFactory?.Invoke() ?? new KubernetesClient(Resolve());

    /// <summary>Runs <paramref name="work"/> with a client of its own, released when it ends.</summary>
    internal async Task<T> UseAsync<T>(Func<IKubernetesApi, Task<T>> work)
    {
        var api = Connect();
        try
        {
            return await work(api).ConfigureAwait(false);
        }
        finally
        {
            (api as IDisposable)?.Dispose();
        }
    }
}
