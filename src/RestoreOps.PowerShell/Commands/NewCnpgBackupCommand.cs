using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Takes an on-demand CloudNativePG backup of a cluster, the way the cluster is configured, and returns it as a Backup object.</para>
/// <para type="description">Creates a Backup resource in the cluster's namespace (through its backup plugin, in-tree barmanObjectStore or volume snapshots), labelled as created by RestoreOps; with -Wait it watches it until it completed or failed. This is the one object RestoreOps writes into a source namespace, and only because you ask for it; RestoreOps never changes or deletes it afterwards. The result pipes into New-RestoreCluster and Invoke-RestoreDrill.</para>
/// </summary>
/// <example><code>New-CnpgBackup -Namespace prod -Cluster app-db -Wait | New-RestoreCluster -Namespace drills | Wait-ClusterReady</code></example>
[Cmdlet(VerbsCommon.New, "CnpgBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Backup))]
public sealed class NewCnpgBackupCommand : KubernetesCmdlet
{
    /// <summary>The cluster to back up.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("ClusterName")]
    [ArgumentCompleter(typeof(ClusterCompleter))]
    public string Cluster { get; set; } = null!;

    /// <summary>Its namespace (default: the context's).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NamespaceCompleter))]
    public string? Namespace { get; set; }

    /// <summary>barmanObjectStore, plugin or volumeSnapshot (default: the way the cluster is configured).</summary>
    [Parameter]
    [ValidateSet("barmanObjectStore", "plugin", "volumeSnapshot")]
    public string? Method { get; set; }

    /// <summary>Wait until the backup completed (or failed) before returning it.</summary>
    [Parameter]
    public SwitchParameter Wait { get; set; }

    /// <summary>With -Wait: how long before the backup counts as failed (default 30 minutes).</summary>
    [Parameter]
    [Duration]
    public TimeSpan Timeout { get; set; } = RestoreDefaults.ReadyTimeout;

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var where = $"{Namespace ?? "(context namespace)"}/{Cluster}";
        try
        {
            if (!ShouldProcess($"CNPG cluster {where}", $"Take an on-demand backup ({Method ?? "the cluster's configured method"}): create a Backup resource in its namespace")) return;
            var request = new CnpgBackupRequest { Cluster = Cluster, Namespace = Namespace, Method = Method, Wait = Wait, Timeout = Timeout, Kubernetes = Access };
            var backup = Run($"Backing up {where}", (ct, progress) => Engine.NewCnpgBackupAsync(request, progress, ct));
            WriteVerbose($"Backup {backup.Name} of {backup.Source} ({backup.Method}) is {(backup.Status == BackupStatus.Done ? "completed" : "requested")}.");
            WriteObject(backup);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "NewCnpgBackupFailed", where);
        }
    }
}
