namespace RestoreOps.Cnpg;

/// <summary>CNPG's status strings, labels and names in one place (from api/v1 *_types.go; see shared/cnpg/FACTS.md).</summary>
internal static class CnpgNames
{
    /// <summary>API group of Cluster and Backup.</summary>
    public const string Group = "postgresql.cnpg.io";
    /// <summary>API version.</summary>
    public const string ApiVersion = "postgresql.cnpg.io/v1";
    /// <summary>Backup phase of a finished backup.</summary>
    public const string BackupCompleted = "completed";
    /// <summary>Cluster phase when everything is up.</summary>
    public const string PhaseHealthy = "Cluster in healthy state";
    /// <summary>Cluster phase while the first instance is bootstrapped (the recovery job runs here).</summary>
    public const string PhaseSettingUpPrimary = "Setting up primary";
    /// <summary>Condition type set True when the cluster is ready.</summary>
    public const string ConditionReady = "Ready";
    /// <summary>
    /// Phases from which CNPG does not recover on its own (cluster_types.go): a drill waiting for "healthy" stops
    /// at once instead of running into its timeout.
    /// </summary>
    public static IReadOnlySet<string> FailurePhases { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "Cluster cannot proceed to reconciliation due to an unknown plugin being required",
        "Cluster cannot proceed to reconciliation due to an error while interacting with plugins",
        "Cluster has incomplete or invalid image catalog",
        "Cluster is unrecoverable and needs manual intervention",
        "Cluster cannot execute instance online upgrade due to missing architecture binary",
        "Unable to create required cluster objects",
        "Invalid cluster definition",
    };

    /// <summary>The Barman Cloud plugin's name.</summary>
    public const string BarmanCloudPlugin = "barman-cloud.cloudnative-pg.io";
    /// <summary>Annotation that disables the empty-archive check: RestoreOps never sets it.</summary>
    public const string SkipEmptyWalArchiveCheck = "cnpg.io/skipEmptyWalArchiveCheck";
    /// <summary>Label CNPG puts on a cluster's pods and PVCs.</summary>
    public const string ClusterLabel = "cnpg.io/cluster";

    /// <summary>Label carrying the drill id on everything RestoreOps creates.</summary>
    public const string DrillIdLabel = "restoreops.io/drill-id";
    /// <summary>Standard managed-by label.</summary>
    public const string ManagedByLabel = "app.kubernetes.io/managed-by";
    /// <summary>Its value on RestoreOps' objects.</summary>
    public const string ManagedByValue = "restoreops";
    /// <summary>Annotation with the instant after which a sweep may delete the object.</summary>
    public const string ExpiresAnnotation = "restoreops.io/expires-at";
    /// <summary>Annotation saying drill (removed) or recovery (kept).</summary>
    public const string PurposeAnnotation = "restoreops.io/purpose";
    /// <summary>Labels naming the source cluster, for sweeps and history.</summary>
    public const string SourceClusterLabel = "restoreops.io/source-cluster";
    /// <summary>Label naming the source namespace.</summary>
    public const string SourceNamespaceLabel = "restoreops.io/source-namespace";

    /// <summary>
    /// Annotation on the ObjectStore and Secret copies a drill brings into its namespace: the recovery Cluster they serve,
    /// so a sweep can name the leftovers of a drill whose Cluster is already gone.
    /// </summary>
    public const string RecoveryClusterAnnotation = "restoreops.io/recovery-cluster";
    /// <summary>Annotation on a copy naming what it was copied from (<c>namespace/name</c>), for the people who find it.</summary>
    public const string CopiedFromAnnotation = "restoreops.io/copied-from";

    /// <summary>The app-user secret CNPG generates for a cluster.</summary>
    public static string AppSecret(string cluster) => $"{cluster}-app";
    /// <summary>The read-write service of a cluster.</summary>
    public static string ReadWriteService(string cluster) => $"{cluster}-rw";
    /// <summary>The job that bootstraps the first instance from a backup.</summary>
    public static string FullRecoveryJob(string cluster) => $"{cluster}-1-full-recovery";
}
