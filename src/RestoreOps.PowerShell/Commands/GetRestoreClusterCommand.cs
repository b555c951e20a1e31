using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Lists restore targets: this session's, local work directories, and CNPG recovery Clusters RestoreOps created.</para>
/// <para type="description">Local targets are found by the marker in their work directory, CNPG ones by the app.kubernetes.io/managed-by=restoreops label. -Orphaned lists what Remove-RestoreCluster -Orphaned would remove.</para>
/// </summary>
/// <example><code>Get-RestoreCluster -AllNamespaces -Orphaned</code></example>
[Cmdlet(VerbsCommon.Get, "RestoreCluster")]
[OutputType(typeof(RestoreCluster))]
public sealed class GetRestoreClusterCommand : KubernetesCmdlet
{
    /// <summary>Only the target with this name.</summary>
    [Parameter(Position = 0)]
    public string? Name { get; set; }

    /// <summary>Only the target of this drill.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? DrillId { get; set; }

    /// <summary>CNPG namespace (default: the context's).</summary>
    [Parameter]
    [ArgumentCompleter(typeof(NamespaceCompleter))]
    public string? Namespace { get; set; }

    /// <summary>CNPG targets in every namespace.</summary>
    [Parameter]
    public SwitchParameter AllNamespaces { get; set; }

    /// <summary>Which kinds to list (default: local, plus CNPG when -Namespace, -AllNamespaces, -Context or -Kubeconfig is given).</summary>
    [Parameter]
    public RestoreTargetKind[]? Kind { get; set; }

    /// <summary>Where local work directories live (default: the temp directory).</summary>
    [Parameter]
    public string? WorkRoot { get; set; }

    /// <summary>Only targets a sweep may remove.</summary>
    [Parameter]
    public SwitchParameter Orphaned { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            var query = new RestoreClusterQuery
            {
                IncludeLocal = Kind?.Contains(RestoreTargetKind.Local) ?? true,
                IncludeCnpg = Kind?.Contains(RestoreTargetKind.Cnpg) ?? (KubernetesRequested || Namespace is not null || AllNamespaces),
                Kubernetes = Access,
                Namespace = Namespace,
                AllNamespaces = AllNamespaces,
                Name = Name,
                DrillId = DrillId,
                WorkRoot = FullPath(WorkRoot),
                OrphanedOnly = Orphaned,
            };
            foreach (var c in Run(ct => Engine.GetAsync(query, ct))) WriteObject(c);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "GetRestoreClusterFailed", (object?)Name ?? DrillId);
        }
    }
}
