using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Gets the completed CloudNativePG Backups of a cluster, newest first.</para>
/// <para type="description">Reads the Backup resources in a namespace and returns the completed ones as Backup objects that New-RestoreCluster and Invoke-RestoreDrill take from the pipeline.</para>
/// </summary>
/// <example><code>Get-CnpgBackup -Namespace prod -Cluster app-db -Latest | New-RestoreCluster -Namespace drills</code></example>
[Cmdlet(VerbsCommon.Get, "CnpgBackup")]
[OutputType(typeof(Backup))]
public sealed class GetCnpgBackupCommand : KubernetesCmdlet
{
    /// <summary>The source cluster; all clusters in the namespace when omitted.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("ClusterName")]
    [ArgumentCompleter(typeof(ClusterCompleter))]
    public string? Cluster { get; set; }

    /// <summary>Namespace of the source cluster (default: the context's).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(NamespaceCompleter))]
    public string? Namespace { get; set; }

    /// <summary>Only the Backup resource with this name.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(BackupCompleter))]
    public string? Name { get; set; }

    /// <summary>Only the newest completed backup.</summary>
    [Parameter]
    public SwitchParameter Latest { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var where = $"{Namespace ?? "(context namespace)"}{(Cluster is null ? "" : "/" + Cluster)}";
        try
        {
            var backups = Run(ct => Engine.GetCnpgBackupsAsync(Access, Namespace, Cluster, ct))
                .Where(b => Name is null || b.Name == Name).ToList();
            if (backups.Count == 0)
            {
                WriteError(ErrorRecords.NotFound(
                    $"No completed CNPG backup{(Name is null ? "" : $" named {Name}")} of {where}.",
                    "Check -Namespace and -Cluster (kubectl get backups.postgresql.cnpg.io -n <namespace>), or take a backup first.",
                    "NoCnpgBackup", where));
                return;
            }
            foreach (var b in Latest ? backups.Take(1) : backups) WriteObject(b);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "GetCnpgBackupFailed", where);
        }
    }
}
