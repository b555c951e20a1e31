using System.Collections;
using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.ObjectStore;

namespace RestoreOps.PowerShell.Infrastructure;

/// <summary>The parameters that say where and how a backup is restored, shared by New-RestoreCluster and Invoke-RestoreDrill.</summary>
public abstract class RestoreTargetCmdlet : KubernetesCmdlet
{
    /// <summary>The parameter set of local targets.</summary>
    protected const string LocalSet = "Local";
    /// <summary>The parameter set of CNPG targets.</summary>
    protected const string CnpgSet = "Cnpg";

    /// <summary>The backup to restore.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    public Backup Backup { get; set; } = null!;

    /// <summary>Restore into an ephemeral PostgreSQL on this machine instead of a CNPG Cluster.</summary>
    [Parameter(Mandatory = true, ParameterSetName = LocalSet)]
    public SwitchParameter Local { get; set; }

    /// <summary>CNPG: namespace of the recovery Cluster (default: the context's). Never the source's unless -AllowSourceNamespace.</summary>
    [Parameter(ParameterSetName = CnpgSet)]
    [ArgumentCompleter(typeof(NamespaceCompleter))]
    public string? Namespace { get; set; }

    /// <summary>CNPG: data volume size of the recovery Cluster (default: the source's).</summary>
    [Parameter(ParameterSetName = CnpgSet)]
    public string? StorageSize { get; set; }

    /// <summary>CNPG: storage class (default: the cluster's default).</summary>
    [Parameter(ParameterSetName = CnpgSet)]
    public string? StorageClass { get; set; }

    /// <summary>CNPG: allow the drill into the source cluster's own namespace.</summary>
    [Parameter(ParameterSetName = CnpgSet)]
    public SwitchParameter AllowSourceNamespace { get; set; }

    /// <summary>
    /// CNPG: a Barman Cloud plugin ObjectStore already provisioned in -Namespace (e.g. with read-only credentials) to restore
    /// through; RestoreOps then copies nothing into the namespace. Default: copies of the source's ObjectStore or Secrets.
    /// </summary>
    [Parameter(ParameterSetName = CnpgSet)]
    public string? ObjectStore { get; set; }

    /// <summary>CNPG: how checks reach the recovery cluster: Auto (Service inside a pod, else port-forward), Service, PortForward.</summary>
    [Parameter(ParameterSetName = CnpgSet)]
    public ConnectRoute Connect { get; set; } = ConnectRoute.Auto;

    /// <summary>Local: parent folder of the restore's work directory (default: the temp directory).</summary>
    [Parameter(ParameterSetName = LocalSet)]
    public string? WorkRoot { get; set; }

    /// <summary>Local: folder of the PostgreSQL binaries (default: PG_BIN, PATH, /usr/lib/postgresql/&lt;major&gt;/bin).</summary>
    [Parameter(ParameterSetName = LocalSet)]
    public string? PostgresBinDirectory { get; set; }

    /// <summary>Local: OS account that runs PostgreSQL when RestoreOps runs as root (default postgres).</summary>
    [Parameter(ParameterSetName = LocalSet)]
    public string? OsUser { get; set; }

    /// <summary>Local: S3 endpoint for Barman Cloud backups (default: the backup's, then AWS_ENDPOINT_URL_S3).</summary>
    [Parameter(ParameterSetName = LocalSet)]
    public string? EndpointUrl { get; set; }

    /// <summary>Local: object store region.</summary>
    [Parameter(ParameterSetName = LocalSet)]
    public string? Region { get; set; }

    /// <summary>Local: object store access key (user name) and secret key (password); default: the AWS environment and credential chain.</summary>
    [Parameter(ParameterSetName = LocalSet)]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <summary>Stop replay at this time (UTC when no offset is given). Also taken from a piped object's TargetTime (New-RestoreDemoBackup's).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public DateTimeOffset? TargetTime { get; set; }

    /// <summary>Stop replay at this WAL location, e.g. 0/7000060.</summary>
    [Parameter]
    public string? TargetLsn { get; set; }

    /// <summary>Stop replay at this transaction id.</summary>
    [Parameter]
    public ulong? TargetXid { get; set; }

    /// <summary>Stop replay at this named restore point.</summary>
    [Parameter]
    public string? TargetName { get; set; }

    /// <summary>Stop as soon as the backup is consistent.</summary>
    [Parameter]
    public SwitchParameter TargetImmediate { get; set; }

    /// <summary>Stop just before the target instead of just after it.</summary>
    [Parameter]
    public SwitchParameter TargetExclusive { get; set; }

    /// <summary>How long a drill target may live before Remove-RestoreCluster -Orphaned removes it (default 6 hours).</summary>
    [Parameter]
    [Duration]
    public TimeSpan Expiry { get; set; } = RestoreDefaults.Expiry;

    /// <summary>The recovery target the Target* parameters name (latest when none).</summary>
    protected RecoveryTarget RecoveryTarget()
    {
        var given = new List<string>();
        if (TargetTime is not null) given.Add("-TargetTime");
        if (TargetLsn is not null) given.Add("-TargetLsn");
        if (TargetXid is not null) given.Add("-TargetXid");
        if (TargetName is not null) given.Add("-TargetName");
        if (TargetImmediate) given.Add("-TargetImmediate");
        if (given.Count > 1)
            throw new ConfigurationException($"{string.Join(" and ", given)} name different recovery targets; a restore stops at one.", "Pass only one of them.");
        var inclusive = !TargetExclusive;
        return TargetTime is { } t ? Model.RecoveryTarget.AtTime(t, inclusive)
            : TargetLsn is { } lsn ? Model.RecoveryTarget.AtLsn(lsn, inclusive)
            : TargetXid is { } xid ? Model.RecoveryTarget.AtXid(xid, inclusive)
            : TargetName is { } name ? Model.RecoveryTarget.AtRestorePoint(name)
            : TargetImmediate ? Model.RecoveryTarget.Immediate
            : Model.RecoveryTarget.Latest;
    }

    /// <summary>The engine's request for <paramref name="backup"/> from these parameters.</summary>
    protected RestoreRequest Request(Backup backup, string? name, string? drillId, RestorePurpose purpose) => new()
    {
        Backup = backup,
        Kind = Local ? RestoreTargetKind.Local : RestoreTargetKind.Cnpg,
        RecoveryTarget = RecoveryTarget(),
        Purpose = purpose,
        Expiry = Expiry,
        DrillId = drillId,
        Namespace = Namespace,
        Name = name,
        Kubernetes = Access,
        StorageSize = StorageSize,
        StorageClass = StorageClass,
        AllowSourceNamespace = AllowSourceNamespace,
        ObjectStoreName = ObjectStore,
        Connect = Connect,
        WorkRoot = FullPath(WorkRoot),
        PostgresBinDirectory = FullPath(PostgresBinDirectory),
        OsUser = OsUser,
        ObjectStore = Local ? ObjectStoreFrom(EndpointUrl, Region, Credential) : null,
    };

    /// <summary>A description of the target for ShouldProcess.</summary>
    protected string TargetDescription(Backup backup, string? name) =>
        Local ? $"a local PostgreSQL restored from backup {backup.Id} of {backup.Source}"
              : $"CNPG Cluster {(Namespace ?? "(context namespace)")}/{name ?? "(generated name)"} restored from backup {backup.Id} of {backup.Source}";
}

/// <summary>Turns check parameters into the engine's <see cref="CheckSpec"/>: PowerShell values unwrapped, paths resolved.</summary>
internal static class CheckParameters
{
    public static CheckSpec Spec(KubernetesCmdlet cmdlet, string? path, Hashtable[]? checks, string? database, TimeSpan? maxBackupAge, TimeSpan? maxDataAge,
        TimeSpan? maxRestoreTime, string? previousEvidence) => new()
    {
        Path = cmdlet.FullPath(path),
        Checks = (checks ?? []).Select(h => (IDictionary)Unwrap(h)!).ToList(),
        Settings = database is null ? null : new Hashtable { ["database"] = database },
        Objectives = new DrillObjectives { MaxBackupAge = maxBackupAge, MaxDataAge = maxDataAge, MaxRestoreTime = maxRestoreTime },
        EvidenceDirectory = cmdlet.FullPath(previousEvidence),
    };

    /// <summary>Values from a PowerShell hashtable may be PSObject-wrapped; the engine reads plain .NET values.</summary>
    public static object? Unwrap(object? value) => value switch
    {
        PSObject ps => Unwrap(ps.BaseObject),
        IDictionary d => d.Keys.Cast<object>().Aggregate(new Hashtable(StringComparer.OrdinalIgnoreCase), (h, k) => { h[Unwrap(k)!.ToString()!] = Unwrap(d[k]); return h; }),
        string s => s,
        IEnumerable e => e.Cast<object?>().Select(Unwrap).ToList(),
        _ => value,
    };
}
