using RestoreOps.Model;

namespace RestoreOps.Automation;

/// <summary>What to restore, where, and for how long: everything New-RestoreCluster and Invoke-RestoreDrill take.</summary>
/// <example>
/// <code>
/// var cluster = await engine.NewAsync(new RestoreRequest { Backup = latest, Kind = RestoreTargetKind.Local }, ct);
/// </code>
/// </example>
public sealed class RestoreRequest
{
    /// <summary>
    /// The backup to restore (from Get-CnpgBackup, Get-BarmanBackup or Get-LocalBackup). Required to create a target;
    /// a drill may leave it out and name a <see cref="DrillRequest.Source"/> instead.
    /// </summary>
    public Backup? Backup { get; init; }
    /// <summary>A temporary CNPG Cluster or a local ephemeral instance.</summary>
    public RestoreTargetKind Kind { get; init; } = RestoreTargetKind.Cnpg;
    /// <summary>Where replay stops.</summary>
    public RecoveryTarget RecoveryTarget { get; init; } = RecoveryTarget.Latest;
    /// <summary>Drill (expires, always removed) or recovery (kept, never swept).</summary>
    public RestorePurpose Purpose { get; init; } = RestorePurpose.Drill;
    /// <summary>How long a drill target may live before a sweep removes it.</summary>
    public TimeSpan Expiry { get; init; } = RestoreDefaults.Expiry;
    /// <summary>Drill id; generated when null.</summary>
    /// <exception cref="ConfigurationException">Not a safe id (see <see cref="DrillIds"/>): it names files, directories and labels.</exception>
    public string? DrillId { get; init => field = DrillIds.Validate(value); }

    /// <summary>CNPG: the namespace the recovery Cluster is created in (never the source's unless <see cref="AllowSourceNamespace"/>).</summary>
    public string? Namespace { get; init; }
    /// <summary>
    /// The target's name. CNPG: the recovery Cluster's name (default <c>&lt;source&gt;-drill-&lt;id&gt;</c>). Local: the drill id
    /// (the work directory is <c>restoreops-&lt;name&gt;</c>), so it must be a valid drill id. A recovery target needs one.
    /// </summary>
    public string? Name { get; init; }

    /// <summary>The drill id the target gets: a local target's <see cref="Name"/> when given, else <see cref="DrillId"/>.</summary>
    /// <exception cref="ConfigurationException">A local name that is not a valid drill id, or a name and a different drill id.</exception>
    internal string? EffectiveDrillId
    {
        get
        {
            if (Kind != RestoreTargetKind.Local || Name is null) return DrillId;
            var name = DrillIds.Validate(Name, InputKey.RestoreTargetName);
            if (DrillId is not null && DrillId != name)
                throw new ConfigurationException($"A local target's name is its drill id, but {InputKey.RestoreTargetName.Ref()} '{Name}' and {InputKey.DrillId.Ref()} '{DrillId}' differ.",
                    $"Pass only {InputKey.RestoreTargetName.Ref()}.", parameter: InputKey.RestoreTargetName);
            return name;
        }
    }
    /// <summary>CNPG: which API to use.</summary>
    public KubernetesAccess Kubernetes { get; init; } = KubernetesAccess.Default;
    /// <summary>CNPG: data volume size (default: the source's).</summary>
    public string? StorageSize { get; init; }
    /// <summary>CNPG: storage class (default: the cluster's default).</summary>
    public string? StorageClass { get; init; }
    /// <summary>CNPG: allow the drill into the source cluster's own namespace.</summary>
    public bool AllowSourceNamespace { get; init; }
    /// <summary>
    /// CNPG: a Barman Cloud plugin ObjectStore already provisioned in the drill namespace (e.g. with read-only credentials)
    /// to restore through; RestoreOps then copies nothing into the namespace. Null: when the drill namespace is not the
    /// source's, RestoreOps copies the source's ObjectStore (or the in-tree store's Secrets) in for the drill.
    /// </summary>
    public string? ObjectStoreName { get; init; }
    /// <summary>CNPG: how checks reach the recovery cluster (Service in a pod, port-forward from a laptop).</summary>
    public ConnectRoute Connect { get; init; } = ConnectRoute.Auto;

    /// <summary>Local: parent of the work directory (default: the temp directory).</summary>
    public string? WorkRoot { get; init; }
    /// <summary>Local: OS account that runs PostgreSQL when RestoreOps is root.</summary>
    public string? OsUser { get; init; }
    /// <summary>Local: PostgreSQL binaries directory.</summary>
    public string? PostgresBinDirectory { get; init; }
    /// <summary>Local: WAL files fetched at once ahead of replay.</summary>
    public int WalParallelism { get; init; } = RestoreDefaults.WalParallelism;
    /// <summary>Local: WAL segments fetched ahead of the one replay asked for (disk use is bounded by it); 0 for the default.</summary>
    public int WalWindow { get; init; }
    /// <summary>Local: object-store access for Barman Cloud backups (resolved from the environment when null).</summary>
    public ObjectStoreOptions? ObjectStore { get; init; }

    /// <summary>Test seam: the service-account token whose presence makes <see cref="ConnectRoute.Auto"/> choose the Service.</summary>
    internal string? ServiceAccountTokenPath { get; init; }
    /// <summary>Test seam: in-cluster DNS, mapping the Service's host and port to where a test's server listens.</summary>
    internal Func<string, int, (string Host, int Port)>? ResolveService { get; init; }

    /// <summary>Test seam, passed to <see cref="Local.LocalRestoreOptions.WrapWalArchive"/>: holds replay at a known point.</summary>
    internal Func<Wal.IWalArchive, Wal.IWalArchive>? WrapWalArchive { get; init; }

    /// <summary>The local restore's settings: the one place a request becomes them, so a field added here reaches the restore.</summary>
    internal Local.LocalRestoreOptions LocalOptions() => new()
    {
        WorkRoot = WorkRoot,
        OsUser = OsUser,
        PostgresBinDirectory = PostgresBinDirectory,
        WalParallelism = WalParallelism,
        WalWindow = WalWindow,
        Purpose = Purpose,
        Expiry = Expiry,
        ObjectStore = ObjectStore,
        WrapWalArchive = WrapWalArchive,
    };
}
