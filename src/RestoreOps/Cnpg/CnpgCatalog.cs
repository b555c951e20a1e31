using RestoreOps.Kubernetes;
using RestoreOps.Model;

namespace RestoreOps.Cnpg;

/// <summary>
/// Reads what a drill starts from out of Kubernetes: the completed <c>Backup</c> resources of a cluster, and
/// the source <c>Cluster</c>'s backup configuration.
/// </summary>
/// <example>
/// <code>
/// var backups = await CnpgCatalog.ListBackupsAsync(api, "prod", "shop-db", ct);   // newest first
/// var source = await CnpgCatalog.GetSourceAsync(api, "prod", "shop-db", ct);
/// </code>
/// </example>
internal static class CnpgCatalog
{
    /// <summary>
    /// The completed backups of cluster <paramref name="cluster"/> (null: of every cluster) in <paramref name="ns"/>
    /// (null: the context's namespace), newest first.
    /// </summary>
    public static async Task<IReadOnlyList<Backup>> ListBackupsAsync(IKubernetesApi api, string? ns, string? cluster, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(api);
        var list = await api.ListAsync(ResourceKind.Backup, ns, null, null, ct).ConfigureAwait(false);
        if (cluster is not null) return CnpgBackups.Completed(list.Items, cluster);
        return list.Items.Select(b => b["spec"]?["cluster"]?["name"]?.GetValue<string>()).OfType<string>().Distinct(StringComparer.Ordinal)
            .SelectMany(c => CnpgBackups.Completed(list.Items, c))
            .OrderByDescending(b => b.EndTime ?? DateTimeOffset.MinValue).ThenByDescending(b => b.Id, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The source cluster's backup configuration (object store or plugin, server name, application database).</summary>
    public static async Task<CnpgSourceCluster> GetSourceAsync(IKubernetesApi api, string ns, string cluster, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(api);
        var resource = await api.GetAsync(ResourceKind.Cluster, ns, cluster, ct).ConfigureAwait(false);
        return CnpgSourceCluster.From(resource);
    }
}
