using System.Management.Automation;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Gets the least-privilege Roles and RoleBindings (YAML) a CNPG drill's service account needs.</para>
/// <para type="description">One Role per namespace: list and get Backups and get the source Cluster, its ObjectStore and Secrets in the source namespace; create, wait for, diagnose and remove the recovery Cluster and what CNPG makes for it in the drill namespace; pods/portforward only with -PortForward. Each rule carries the reason it is there. Touches no cluster: pipe the text to kubectl apply -f -.</para>
/// </summary>
/// <example><code>Get-RestoreOpsRbac -SourceNamespace prod -DrillNamespace drills -ServiceAccount restoreops | kubectl apply -f -</code></example>
[Cmdlet(VerbsCommon.Get, "RestoreOpsRbac")]
[OutputType(typeof(string))]
public sealed class GetRestoreOpsRbacCommand : RestoreOpsCmdlet
{
    /// <summary>Namespace of the source CNPG Cluster and its Backups.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public string SourceNamespace { get; set; } = null!;

    /// <summary>Namespace the recovery Clusters are created in.</summary>
    [Parameter(Mandatory = true, Position = 1)]
    public string DrillNamespace { get; set; } = null!;

    /// <summary>The drill's service account (default restoreops).</summary>
    [Parameter]
    public string ServiceAccount { get; set; } = "restoreops";

    /// <summary>Namespace of the service account (default: the drill namespace).</summary>
    [Parameter]
    public string? ServiceAccountNamespace { get; set; }

    /// <summary>Also allow port-forwards to the recovery cluster's pods (drills run from outside the cluster).</summary>
    [Parameter]
    public SwitchParameter PortForward { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            var regenerate = $"Get-RestoreOpsRbac -SourceNamespace {SourceNamespace} -DrillNamespace {DrillNamespace} -ServiceAccount {ServiceAccount}" +
                (ServiceAccountNamespace is { } sa ? $" -ServiceAccountNamespace {sa}" : "") + (PortForward ? " -PortForward" : "");
            WriteObject($"# Regenerate with: {regenerate}\n" + Engine.GetDrillRbac(SourceNamespace, DrillNamespace, ServiceAccount, ServiceAccountNamespace, PortForward));
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "GetRestoreOpsRbacFailed", $"{SourceNamespace} -> {DrillNamespace}");
        }
    }
}
