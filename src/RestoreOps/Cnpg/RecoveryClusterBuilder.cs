using System.Globalization;
using System.Text.Json.Nodes;
using RestoreOps.Model;

namespace RestoreOps.Cnpg;

/// <summary>What to restore, where, and how big.</summary>
internal sealed class RecoveryClusterRequest
{
    /// <summary>The cluster whose backup is restored.</summary>
    public required CnpgSourceCluster Source { get; init; }
    /// <summary>The backup (from <see cref="CnpgBackups"/>).</summary>
    public required Backup Backup { get; init; }
    /// <summary>The drill that owns the new cluster.</summary>
    public required string DrillId { get; init; }
    /// <summary>Namespace to create it in (a drill namespace, not the source's unless allowed).</summary>
    public required string Namespace { get; init; }
    /// <summary>Cluster name; default <c>&lt;source&gt;-drill-&lt;suffix&gt;</c>.</summary>
    public string? Name { get; init; }
    /// <summary>Where replay stops.</summary>
    public RecoveryTarget RecoveryTarget { get; init; } = RecoveryTarget.Latest;
    /// <summary>Drill (expires, removed) or recovery (kept).</summary>
    public RestorePurpose Purpose { get; init; } = RestorePurpose.Drill;
    /// <summary>Lifetime of a drill cluster before a sweep may remove it.</summary>
    public TimeSpan Expiry { get; init; } = RestoreDefaults.Expiry;
    /// <summary>Volume size (default: the source's, else 10Gi).</summary>
    public string? StorageSize { get; init; }
    /// <summary>Storage class (default: the cluster default).</summary>
    public string? StorageClass { get; init; }
    /// <summary>Pod resources, as the Cluster's <c>spec.resources</c>.</summary>
    public JsonObject? Resources { get; init; }
    /// <summary>Create the <c>-superuser</c> secret, for checks that need a superuser (amcheck).</summary>
    public bool EnableSuperuserAccess { get; init; }
    /// <summary>Allow creating it in the source's own namespace.</summary>
    public bool AllowSourceNamespace { get; init; }
    /// <summary>
    /// A Barman Cloud plugin <c>ObjectStore</c> already provisioned in <see cref="Namespace"/> (e.g. with read-only
    /// credentials) to restore through. RestoreOps then copies nothing into the drill namespace. Null: a drill in another
    /// namespace than the source's gets copies of what it needs (see <see cref="CnpgDrillNamespace"/>).
    /// </summary>
    public string? ObjectStoreName { get; init; }
    /// <summary>The instant the object is stamped with (expiry counts from it).</summary>
    public DateTimeOffset Now { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>
/// Builds the temporary CNPG <c>Cluster</c> that restores a backup (shared/cnpg/FACTS.md §b, §e): one
/// instance, recovery from the source's backups, labelled and annotated as RestoreOps' own, and never able to
/// archive WAL or take backups into the production store.
/// </summary>
/// <example>
/// <code>
/// var cluster = RecoveryClusterBuilder.Build(new RecoveryClusterRequest { Source = source, Backup = latest, DrillId = id, Namespace = "drills" });
/// // validated against the CRD and the safety rules; ready to POST
/// </code>
/// </example>
internal static class RecoveryClusterBuilder
{
    private const string Origin = "origin";

    /// <summary>Builds, validates against the CRD schema, and checks the safety rules.</summary>
    public static JsonObject Build(RecoveryClusterRequest r)
    {
        if (r.Namespace == r.Source.Namespace && !r.AllowSourceNamespace)
            throw new ConfigurationException(
                $"The drill would restore into '{r.Namespace}', the source cluster's own namespace.",
                $"Pass a drill namespace ({InputKey.DrillNamespace.Ref()}, e.g. drills), or allow the source namespace explicitly if that is really wanted.");
        var name = r.Name ?? DefaultName(r.Source.Name, r.DrillId);
        var method = CnpgBackups.MethodOf(r.Backup);
        var recovery = new JsonObject();
        var spec = new JsonObject
        {
            ["instances"] = 1,
            ["storage"] = Storage(r),
            ["bootstrap"] = new JsonObject { ["recovery"] = recovery },
        };
        if (r.Source.ImageName is { } image) spec["imageName"] = image;
        if (r.Resources is not null) spec["resources"] = r.Resources.DeepClone();
        if (r.EnableSuperuserAccess) spec["enableSuperuserAccess"] = true;

        var sameNamespace = r.Namespace == r.Source.Namespace;
        switch (method)
        {
            case CnpgBackupMethod.VolumeSnapshot when r.ObjectStoreName is not null:
                throw new ConfigurationException(
                    $"Backup {r.Backup.Name} is a volume snapshot; an ObjectStore ({r.ObjectStoreName}) cannot restore it.",
                    $"Drop {InputKey.ObjectStore.Ref()}, or drill an object-store backup instead.", parameter: InputKey.ObjectStore);
            case CnpgBackupMethod.Plugin or CnpgBackupMethod.BarmanObjectStore when r.ObjectStoreName is { } given:
                // The plugin reads in-tree backups too (same Barman layout; plugin e2e "in-tree for backup and the plugin
                // for restore"), so one provisioned ObjectStore serves both.
                recovery["source"] = Origin;
                spec["externalClusters"] = new JsonArray(PluginSource(given, r.Source.ServerName));
                break;
            case CnpgBackupMethod.Plugin:
                // Plugin backups are restored through an external cluster (backup.name does not work for them),
                // with serverName set: the plugin would otherwise look under the drill cluster's own name.
                var store = r.Source.PluginObjectStore ?? throw new ConfigurationException(
                    $"Backup {r.Backup.Name} was taken by the Barman Cloud plugin, but cluster {r.Source.Namespace}/{r.Source.Name} names no ObjectStore in spec.plugins.",
                    $"Check the source cluster's plugins[].parameters.barmanObjectName, or name an ObjectStore in the drill namespace ({InputKey.ObjectStore.Ref()}).");
                // The plugin resolves barmanObjectName in the Cluster's own namespace: elsewhere it reads the drill's copy.
                recovery["source"] = Origin;
                spec["externalClusters"] = new JsonArray(PluginSource(sameNamespace ? store : CnpgDrillNamespace.CopyName(store, r.DrillId), r.Source.ServerName));
                break;
            case CnpgBackupMethod.BarmanObjectStore when sameNamespace:
                recovery["backup"] = new JsonObject { ["name"] = r.Backup.Name };
                break;
            case CnpgBackupMethod.BarmanObjectStore:
                var objectStore = r.Source.BarmanObjectStore?.DeepClone().AsObject() ?? throw new ConfigurationException(
                    $"Backup {r.Backup.Name} is an in-tree Barman backup, but cluster {r.Source.Namespace}/{r.Source.Name} has no spec.backup.barmanObjectStore to read it from another namespace.",
                    $"Restore into the source namespace, or name an ObjectStore in the drill namespace ({InputKey.ObjectStore.Ref()}).");
                objectStore["serverName"] = r.Source.ServerName;
                // Its credentials are read from Secrets in the Cluster's own namespace: the drill's copies of them.
                CnpgDrillNamespace.RenameSecretReferences(objectStore, r.DrillId);
                recovery["source"] = Origin;
                spec["externalClusters"] = new JsonArray(new JsonObject { ["name"] = Origin, ["barmanObjectStore"] = objectStore });
                break;
            case CnpgBackupMethod.VolumeSnapshot when sameNamespace:
                recovery["backup"] = new JsonObject { ["name"] = r.Backup.Name };
                break;
            case CnpgBackupMethod.VolumeSnapshot:
                throw new ConfigurationException(
                    $"Backup {r.Backup.Name} is a volume snapshot; snapshots can only be restored in their own namespace ({r.Source.Namespace}).",
                    "Restore it with the source namespace allowed, or drill an object-store backup instead.");
        }

        if (RecoveryTargetJson(r, external: recovery["source"] is not null) is { } target) recovery["recoveryTarget"] = target;
        if (r.Source.ApplicationDatabase != "app" || r.Source.ApplicationOwner != "app")
        {
            // Otherwise CNPG creates an empty 'app' database after promotion and the data sits elsewhere.
            recovery["database"] = r.Source.ApplicationDatabase;
            recovery["owner"] = r.Source.ApplicationOwner;
        }

        var cluster = new JsonObject
        {
            ["apiVersion"] = CnpgNames.ApiVersion,
            ["kind"] = "Cluster",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = r.Namespace,
                ["labels"] = new JsonObject
                {
                    [CnpgNames.DrillIdLabel] = r.DrillId,
                    [CnpgNames.ManagedByLabel] = CnpgNames.ManagedByValue,
                    [CnpgNames.SourceClusterLabel] = r.Source.Name,
                    [CnpgNames.SourceNamespaceLabel] = r.Source.Namespace,
                },
                ["annotations"] = new JsonObject
                {
                    [CnpgNames.PurposeAnnotation] = r.Purpose.ToString().ToLowerInvariant(),
                    [CnpgNames.ExpiresAnnotation] = r.Purpose == RestorePurpose.Drill
                        ? (r.Now + r.Expiry).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
                        : "never",
                },
            },
            ["spec"] = spec,
        };

        var problems = CrdSchema.For(CnpgNames.Group, "clusters").Validate(cluster);
        if (problems.Count > 0)
            throw new ConfigurationException($"The recovery Cluster {r.Namespace}/{name} does not match the CNPG Cluster schema: {string.Join("; ", problems)}.",
                "Check the storage size, resources and names given to the drill; the fields named above are wrong.");
        AssertSafe(cluster);
        return cluster;
    }

    /// <summary>
    /// Refuses a Cluster that could write into a production archive or outlive its drill unnoticed: one with
    /// <c>spec.backup</c>, a WAL-archiver plugin, the skip-empty-archive annotation, or without RestoreOps'
    /// ownership labels and expiry.
    /// </summary>
    public static void AssertSafe(JsonObject cluster)
    {
        var problems = new List<string>();
        var spec = cluster["spec"] as JsonObject;
        if (spec?["backup"] is not null) problems.Add("it has spec.backup (it would archive WAL and take backups)");
        if ((spec?["plugins"] as JsonArray ?? []).OfType<JsonObject>().Any(p => p["isWALArchiver"]?.GetValue<bool>() == true))
            problems.Add("it has a WAL-archiver plugin");
        if (cluster["metadata"]?["annotations"]?[CnpgNames.SkipEmptyWalArchiveCheck] is not null)
            problems.Add($"it has the {CnpgNames.SkipEmptyWalArchiveCheck} annotation");
        if (cluster["metadata"]?["labels"]?[CnpgNames.DrillIdLabel] is null || cluster["metadata"]?["labels"]?[CnpgNames.ManagedByLabel]?.GetValue<string>() != CnpgNames.ManagedByValue)
            problems.Add($"it lacks the {CnpgNames.DrillIdLabel} and {CnpgNames.ManagedByLabel}={CnpgNames.ManagedByValue} labels");
        if (cluster["metadata"]?["annotations"]?[CnpgNames.ExpiresAnnotation] is null)
            problems.Add($"it lacks the {CnpgNames.ExpiresAnnotation} annotation");
        if (problems.Count > 0)
            throw new InvalidOperationException($"RestoreOps refuses to create cluster {cluster["metadata"]?["name"]}: {string.Join("; ", problems)}.");
    }

    private static JsonObject Storage(RecoveryClusterRequest r)
    {
        var storage = new JsonObject { ["size"] = r.StorageSize ?? r.Source.StorageSize ?? "10Gi" };
        if (r.StorageClass is not null) storage["storageClass"] = r.StorageClass;
        return storage;
    }

    private static JsonObject PluginSource(string objectStore, string serverName) => new()
    {
        ["name"] = Origin,
        ["plugin"] = new JsonObject
        {
            ["name"] = CnpgNames.BarmanCloudPlugin,
            ["parameters"] = new JsonObject { ["barmanObjectName"] = objectStore, ["serverName"] = serverName },
        },
    };

    private static JsonObject? RecoveryTargetJson(RecoveryClusterRequest r, bool external)
    {
        var t = new JsonObject();
        // backupID pins the exact backup for the object-store routes; backup.name already does for the others.
        if (external) t["backupID"] = r.Backup.Id;
        var target = r.RecoveryTarget;
        switch (target.Kind)
        {
            case RecoveryTargetKind.Immediate: t["targetImmediate"] = true; break;
            case RecoveryTargetKind.Time:
                t["targetTime"] = target.Time!.Value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
                break;
            case RecoveryTargetKind.Lsn: t["targetLSN"] = target.Value; break;
            case RecoveryTargetKind.Xid: t["targetXID"] = target.Value; break;
            case RecoveryTargetKind.Name: t["targetName"] = target.Value; break;
        }
        if (target.Kind is not (RecoveryTargetKind.Latest or RecoveryTargetKind.Immediate) && !target.Inclusive) t["exclusive"] = true;
        return t.Count == 0 ? null : t;
    }

    /// <summary><c>&lt;source&gt;-drill-&lt;last 6 of the drill id&gt;</c>, short enough for the pod, job and service names CNPG derives.</summary>
    public static string DefaultName(string source, string drillId)
    {
        var suffix = new string(drillId.Where(char.IsAsciiLetterOrDigit).ToArray()).ToLowerInvariant();
        suffix = suffix.Length > 6 ? suffix[^6..] : suffix;
        var stem = source.Length > 30 ? source[..30].TrimEnd('-') : source;
        return $"{stem}-drill-{suffix}";
    }
}
