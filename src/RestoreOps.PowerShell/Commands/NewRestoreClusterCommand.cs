using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Creates a throwaway restore target from a backup: a temporary CNPG Cluster, or a local PostgreSQL with -Local.</para>
/// <para type="description">Returns at once with a RestoreCluster object; the restore runs on (the operator restores a CNPG Cluster, a local restore runs in the background). Pipe it to Wait-ClusterReady.</para>
/// </summary>
/// <example><code>Get-CnpgBackup -Namespace prod -Cluster app-db -Latest | New-RestoreCluster -Namespace drills | Wait-ClusterReady</code></example>
[Cmdlet(VerbsCommon.New, "RestoreCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = CnpgSet)]
[OutputType(typeof(RestoreCluster))]
public sealed class NewRestoreClusterCommand : RestoreTargetCmdlet
{
    /// <summary>CNPG: name of the recovery Cluster (default: &lt;source&gt;-drill-&lt;id&gt;).</summary>
    [Parameter(ParameterSetName = CnpgSet)]
    public string? Name { get; set; }

    /// <summary>Drill id (default: generated from the time and random bytes).</summary>
    [Parameter]
    public string? DrillId { get; set; }

    /// <summary>Drill (default: expires and is swept) or Recovery (kept, never swept: for a real incident).</summary>
    [Parameter]
    public RestorePurpose Purpose { get; set; } = RestorePurpose.Drill;

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            if (!ShouldProcess(TargetDescription(Backup, Name), "Create restore target")) return;
            var request = Request(Backup, Name, DrillId, Purpose);
            // Found now, not by the background restore that only whoever waits would hear from.
            Run(ct => Engine.ValidateAsync(request, null, null, ct));
            var cluster = Run(ct => Engine.NewAsync(request, ct));
            WriteVerbose($"Created {cluster.Kind} restore target {cluster} for drill {cluster.DrillId}; it expires {cluster.ExpiresAt:u}.");
            WriteObject(cluster);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "NewRestoreClusterFailed", Backup);
        }
    }
}
