using System.Globalization;
using System.Text.Json.Nodes;
using RestoreOps.Kubernetes;
using RestoreOps.Model;

namespace RestoreOps.Cnpg;

/// <summary>
/// An on-demand CNPG <c>Backup</c>, as a runbook takes one before a drill (what <c>kubectl cnpg backup</c> does): created
/// the way the cluster is configured — through its backup plugin, or in-tree <c>barmanObjectStore</c>, or volume
/// snapshots — labelled as created by RestoreOps, and followed by watching until it completed or failed. This is the
/// one object RestoreOps writes into a source namespace, and only because the user asked for it; RestoreOps never
/// modifies or deletes it afterwards.
/// </summary>
/// <example>
/// <code>
/// var resource = await CnpgOnDemandBackup.CreateAsync(api, "prod", "app-db", method: null, ct);
/// var done = await CnpgOnDemandBackup.WaitAsync(api, resource, TimeSpan.FromMinutes(30), progress, ct);
/// var backup = CnpgBackups.ToBackup(done);   // pipes into a restore
/// </code>
/// </example>
internal static class CnpgOnDemandBackup
{
    /// <summary>Label naming the tool that created an object it does not manage afterwards (Kubernetes' recommended labels).</summary>
    public const string CreatedByLabel = "app.kubernetes.io/created-by";

    /// <summary>The methods a Backup's <c>spec.method</c> takes (CNPG api/v1 backup_types.go).</summary>
    public static IReadOnlyList<string> Methods { get; } = ["plugin", "barmanObjectStore", "volumeSnapshot"];

    private const string Failed = "failed";
    private const string InvalidDefinition = "invalid backup definition";

    /// <summary>
    /// The Backup resource for <paramref name="cluster"/> (a Cluster resource): <paramref name="method"/>, or when null the
    /// cluster's own — its WAL-archiving plugin, else in-tree barmanObjectStore, else volume snapshots.
    /// </summary>
    /// <exception cref="ConfigurationException">The method is unknown, or the cluster is not configured for it.</exception>
    public static JsonObject Build(JsonObject cluster, string? method, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var name = cluster["metadata"]!["name"]!.GetValue<string>();
        var ns = cluster["metadata"]!["namespace"]?.GetValue<string>() ?? "default";
        var spec = cluster["spec"];
        var plugins = (spec?["plugins"] as JsonArray ?? []).OfType<JsonObject>().Where(p => p["enabled"]?.GetValue<bool>() != false).ToList();
        // The plugin that archives WAL is the one that takes the backups; the barman-cloud plugin otherwise.
        var plugin = plugins.FirstOrDefault(p => p["isWALArchiver"]?.GetValue<bool>() == true)
            ?? plugins.FirstOrDefault(p => p["name"]?.GetValue<string>() == CnpgNames.BarmanCloudPlugin);
        var configured = new Dictionary<string, bool>(StringComparer.Ordinal)
        {
            ["plugin"] = plugin is not null,
            ["barmanObjectStore"] = spec?["backup"]?["barmanObjectStore"] is JsonObject,
            ["volumeSnapshot"] = spec?["backup"]?["volumeSnapshot"] is JsonObject,
        };
        var where = $"cluster {ns}/{name}";
        if (method is not null && !Methods.Contains(method, StringComparer.Ordinal))
            throw new ConfigurationException($"'{method}' is not a CNPG backup method.",
                $"Pass {InputKey.BackupMethod.Ref()} {string.Join(", ", Methods)}, or leave it out to back up the way {where} is configured.", parameter: InputKey.BackupMethod);
        // Methods is in order of preference: the plugin (CNPG's future), then the deprecated in-tree store, then snapshots.
        var chosen = method ?? Methods.FirstOrDefault(m => configured[m])
            ?? throw new ConfigurationException(
                $"{where} has no backup configuration (no backup plugin in spec.plugins, no spec.backup.barmanObjectStore or volumeSnapshot), so it cannot take a backup.",
                "Configure backups on the cluster first (the Barman Cloud plugin and an ObjectStore), then take one.");
        if (!configured[chosen])
        {
            var available = Methods.Where(m => configured[m]).ToList();
            throw new ConfigurationException(
                $"{where} is not configured for {chosen} backups ({Describe(chosen)} is missing).",
                available.Count == 0
                    ? "Configure backups on the cluster first (the Barman Cloud plugin and an ObjectStore), then take one."
                    : $"Leave out {InputKey.BackupMethod.Ref()} to back up the way it is configured ({string.Join(", ", available)}).",
                parameter: InputKey.BackupMethod);
        }

        var backupSpec = new JsonObject { ["cluster"] = new JsonObject { ["name"] = name }, ["method"] = chosen };
        if (chosen == "plugin") backupSpec["pluginConfiguration"] = new JsonObject { ["name"] = plugin!["name"]!.GetValue<string>() };
        var backup = new JsonObject
        {
            ["apiVersion"] = CnpgNames.ApiVersion,
            ["kind"] = "Backup",
            ["metadata"] = new JsonObject
            {
                // kubectl cnpg backup's naming, so people find it where they expect it.
                ["name"] = $"{name}-{now.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)}",
                ["namespace"] = ns,
                ["labels"] = new JsonObject
                {
                    [CnpgNames.ClusterLabel] = name,
                    // Not managed-by: RestoreOps made it but never removes it, and its sweep must never take a backup.
                    [CreatedByLabel] = CnpgNames.ManagedByValue,
                },
            },
            ["spec"] = backupSpec,
        };
        var problems = CrdSchema.For(CnpgNames.Group, "backups").Validate(backup);
        if (problems.Count > 0)
            throw new ConfigurationException($"The Backup for {where} does not match the CNPG Backup schema: {string.Join("; ", problems)}.",
                "Check the cluster's name and backup configuration.");
        return backup;
    }

    /// <summary>Reads <paramref name="cluster"/> in <paramref name="ns"/> and creates its on-demand Backup; returns it as stored.</summary>
    public static async Task<JsonObject> CreateAsync(IKubernetesApi api, string ns, string cluster, string? method, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(api);
        var resource = await api.TryGetAsync(ResourceKind.Cluster, ns, cluster, ct).ConfigureAwait(false)
            ?? throw new ConfigurationException($"CNPG cluster {ns}/{cluster} does not exist.",
                $"Check {InputKey.Namespace.Ref()} and {InputKey.CnpgCluster.Ref()} (kubectl get clusters.postgresql.cnpg.io -n {ns}).", parameter: InputKey.CnpgCluster);
        var backup = Build(resource, method, DateTimeOffset.UtcNow);
        var name = backup["metadata"]!["name"]!.GetValue<string>();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await api.CreateAsync(ResourceKind.Backup, ns, backup, ct).ConfigureAwait(false);
            }
            catch (KubernetesConflictException e) when (e.AlreadyExists)
            {
                // Another backup of the cluster was requested in the same second (a retried job, two runbooks).
                if (attempt == 3)
                    throw new ConfigurationException($"Backup {ns}/{name} and its alternatives already exist: backups of {cluster} are being requested very fast.",
                        "Wait for those backups, or request this one again.", e);
                backup["metadata"]!["name"] = $"{name}-{Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(2)).ToLowerInvariant()}";
            }
        }
    }

    /// <summary>
    /// Watches <paramref name="backup"/> (as <see cref="CreateAsync"/> returned it) from its creation on until its phase is
    /// <c>completed</c>, and returns it then.
    /// </summary>
    /// <exception cref="RestoreFailedException">It failed, was deleted, or did not complete within <paramref name="timeout"/>.</exception>
    public static async Task<JsonObject> WaitAsync(IKubernetesApi api, JsonObject backup, TimeSpan timeout, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(backup);
        var ns = backup["metadata"]!["namespace"]!.GetValue<string>();
        var name = backup["metadata"]!["name"]!.GetValue<string>();
        var what = $"Backup {ns}/{name}";
        const string Fix = "Read why in its status and events (kubectl describe backups.postgresql.cnpg.io -n {0} {1}) and the cluster's (kubectl cnpg status); check that WAL archiving works.";
        string? phase = backup["status"]?["phase"]?.GetValue<string>();
        using var deadline = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        try
        {
            // From the creation's resourceVersion: a change that lands before the watch opens is replayed, not missed.
            await foreach (var change in api.WatchAsync(ResourceKind.Backup, ns, null, $"metadata.name={name}",
                               backup["metadata"]?["resourceVersion"]?.GetValue<string>(), linked.Token).ConfigureAwait(false))
            {
                if (change.Type == WatchEventType.Bookmark) continue;
                if (change.Type == WatchEventType.Deleted)
                    throw new RestoreFailedException($"{what} was deleted while RestoreOps waited for it to complete.", string.Format(CultureInfo.InvariantCulture, Fix, ns, name));
                var now = change.Object["status"]?["phase"]?.GetValue<string>();
                if (now != phase)
                {
                    phase = now;
                    progress?.Report(new DrillProgress(DrillPhase.Discover, $"Backing up {ns}/{change.Object["spec"]?["cluster"]?["name"]}", null, phase ?? "waiting for the operator"));
                }
                if (phase == CnpgNames.BackupCompleted) return change.Object;
                if (phase is Failed or InvalidDefinition)
                    throw new RestoreFailedException(
                        $"{what} {(phase == Failed ? "failed" : "was refused as an invalid backup definition")}: {change.Object["status"]?["error"]?.GetValue<string>() ?? "the operator gave no reason"}.",
                        string.Format(CultureInfo.InvariantCulture, Fix, ns, name));
            }
            throw new InfrastructureException($"The watch on {what} ended before it completed.", "Check access to the Kubernetes API and retry.");
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new RestoreFailedException(
                $"{what} did not complete within {InputDuration.Format(timeout)}; its phase: {phase ?? "none yet (no operator has picked it up)"}.",
                $"Wait longer ({InputKey.Timeout.Ref()}) for a big database, or " + string.Format(CultureInfo.InvariantCulture, Fix, ns, name));
        }
    }

    private static string Describe(string method) => method switch
    {
        "plugin" => "a backup plugin in spec.plugins",
        "barmanObjectStore" => "spec.backup.barmanObjectStore",
        _ => "spec.backup.volumeSnapshot",
    };
}
