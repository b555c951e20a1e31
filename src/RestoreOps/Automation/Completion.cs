using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;

namespace RestoreOps.Automation;

/// <summary>
/// Names for tab completion: namespaces, CNPG clusters and their completed backups. Bounded in time and silent on
/// failure, because a completion that hangs or throws is worse than none.
/// </summary>
/// <example><code>var names = await Completion.ClustersAsync(KubernetesAccess.Default, "prod", "app", ct);</code></example>
public static class Completion
{
    /// <summary>How long one completion may take.</summary>
    public static TimeSpan Budget { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Namespaces starting with <paramref name="prefix"/>.</summary>
    public static Task<IReadOnlyList<string>> NamespacesAsync(KubernetesAccess access, string prefix, CancellationToken ct) =>
        NamesAsync(access, ResourceKind.Namespace, null, prefix, ct);

    /// <summary>CNPG Clusters in <paramref name="ns"/> (null: the context's) starting with <paramref name="prefix"/>.</summary>
    public static Task<IReadOnlyList<string>> ClustersAsync(KubernetesAccess access, string? ns, string prefix, CancellationToken ct) =>
        NamesAsync(access, ResourceKind.Cluster, ns, prefix, ct);

    /// <summary>Completed CNPG Backups in <paramref name="ns"/> (of <paramref name="cluster"/> when given), newest first.</summary>
    public static async Task<IReadOnlyList<string>> BackupsAsync(KubernetesAccess access, string? ns, string? cluster, string prefix, CancellationToken ct)
    {
        IKubernetesApi? api = null;
        try
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bounded.CancelAfter(Budget);
            api = access.Connect();
            var backups = await CnpgCatalog.ListBackupsAsync(api, ns, cluster, bounded.Token).ConfigureAwait(false);
            return backups.Select(b => b.Name).OfType<string>().Where(n => n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)).ToList();
        }
        catch (Exception e) when (e is RestoreOpsException or OperationCanceledException or IOException or HttpRequestException)
        {
            return [];
        }
        finally
        {
            (api as IDisposable)?.Dispose();
        }
    }

    private static async Task<IReadOnlyList<string>> NamesAsync(KubernetesAccess access, ResourceKind kind, string? ns, string prefix, CancellationToken ct)
    {
        IKubernetesApi? api = null;
        try
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bounded.CancelAfter(Budget);
            api = access.Connect();
            var list = await api.ListAsync(kind, ns, null, null, bounded.Token).ConfigureAwait(false);
            return list.Items.Select(i => i["metadata"]?["name"]?.GetValue<string>()).OfType<string>()
                .Where(n => n.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is RestoreOpsException or OperationCanceledException or IOException or HttpRequestException)
        {
            return [];
        }
        finally
        {
            (api as IDisposable)?.Dispose();
        }
    }
}
