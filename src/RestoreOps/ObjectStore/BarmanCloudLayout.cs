namespace RestoreOps.ObjectStore;

/// <summary>
/// Where Barman Cloud keeps things under a destination path: <c>{prefix}/{server}/base/…</c> for backups and
/// <c>{prefix}/{server}/wals/…</c> for WAL. Shared by the backup catalogue and the WAL archive, which must agree on it
/// and must not depend on each other for it.
/// </summary>
internal static class BarmanCloudLayout
{
    /// <summary>Joins key parts with '/', skipping empty ones (an empty prefix means the bucket's root).</summary>
    internal static string JoinKey(params string[] parts) => string.Join('/', parts.Where(p => p.Length > 0));

    /// <exception cref="ConfigurationException">The name is empty, padded, a dot path, or has a slash: it must be one folder.</exception>
    internal static void ValidateServerName(string serverName)
    {
        if (string.IsNullOrWhiteSpace(serverName) || serverName.Contains('/') || serverName != serverName.Trim() || serverName is "." or "..")
            throw new ConfigurationException(
                $"'{serverName}' is not a Barman server name.",
                "Give the server name as the single folder under the destination path (CNPG: the cluster name, or barmanObjectStore.serverName), without slashes or spaces.");
    }
}
