using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Stops and deletes restore targets RestoreOps created; -Orphaned sweeps expired drill targets.</para>
/// <para type="description">Deletes a CNPG recovery Cluster with every object labelled for its drill, or stops a local instance and deletes its work directory. Refuses anything RestoreOps did not create. -Orphaned removes drill targets past their expiry (local ones too, even when the process that made them was killed); recovery targets are never swept.</para>
/// </summary>
/// <example><code>Remove-RestoreCluster -Orphaned -AllNamespaces -Confirm:$false</code></example>
[Cmdlet(VerbsCommon.Remove, "RestoreCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High, DefaultParameterSetName = ObjectSet)]
[OutputType(typeof(RestoreCluster))]
public sealed class RemoveRestoreClusterCommand : KubernetesCmdlet
{
    private const string ObjectSet = "Object";
    private const string NameSet = "Name";
    private const string OrphanedSet = "Orphaned";

    /// <summary>The restore target, from New-RestoreCluster, Wait-ClusterReady or Get-RestoreCluster.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = ObjectSet)]
    [Alias("Cluster")]
    public RestoreCluster InputObject { get; set; } = null!;

    /// <summary>Name of the restore target.</summary>
    [Parameter(Mandatory = true, ParameterSetName = NameSet)]
    public string Name { get; set; } = null!;

    /// <summary>Sweep: every drill target past its expiry; recovery targets are never swept.</summary>
    [Parameter(Mandatory = true, ParameterSetName = OrphanedSet)]
    public SwitchParameter Orphaned { get; set; }

    /// <summary>CNPG namespace (default: the context's).</summary>
    [Parameter(ParameterSetName = NameSet)]
    [Parameter(ParameterSetName = OrphanedSet)]
    [ArgumentCompleter(typeof(NamespaceCompleter))]
    public string? Namespace { get; set; }

    /// <summary>Sweep CNPG targets in every namespace.</summary>
    [Parameter(ParameterSetName = OrphanedSet)]
    public SwitchParameter AllNamespaces { get; set; }

    /// <summary>Which kinds to look at (default: local, plus CNPG when -Namespace, -AllNamespaces, -Context or -Kubeconfig is given).</summary>
    [Parameter(ParameterSetName = NameSet)]
    [Parameter(ParameterSetName = OrphanedSet)]
    public RestoreTargetKind[]? Kind { get; set; }

    /// <summary>Where local work directories live (default: the temp directory).</summary>
    [Parameter(ParameterSetName = NameSet)]
    [Parameter(ParameterSetName = OrphanedSet)]
    public string? WorkRoot { get; set; }

    /// <summary>Remove without asking (same as -Confirm:$false).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Output each removed target (phase Removed).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        IReadOnlyList<RestoreCluster> targets;
        try
        {
            targets = ParameterSetName == ObjectSet ? [InputObject] : Run(ct => Engine.GetAsync(Query(), ct));
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "RemoveRestoreClusterFailed", (object?)Name ?? "orphaned targets");
            return;
        }
        if (ParameterSetName == NameSet && targets.Count == 0)
        {
            WriteError(ErrorRecords.NotFound($"No restore target named {Name}.", "List them with Get-RestoreCluster.", "RestoreClusterNotFound", Name));
            return;
        }
        foreach (var cluster in targets) Remove(cluster);
    }

    private void Remove(RestoreCluster cluster)
    {
        var what = cluster.Kind == RestoreTargetKind.Local
            ? $"local restore target {cluster.Name} ({cluster.WorkDirectory})"
            : $"CNPG Cluster {cluster} and every object labelled for drill {cluster.DrillId}";
        if (cluster.Purpose == RestorePurpose.Recovery) what += " — a RECOVERY target, kept on purpose";
        if (!Proceed(what, "Stop and delete")) return;
        try
        {
            var started = DateTimeOffset.UtcNow;
            var outcome = Run(ct => Engine.RemoveAsync(cluster, Access, ct));
            Engine.RecordStep(cluster, "remove", ParameterSetName == ObjectSet ? $"Remove-RestoreCluster -Name {CommandText.Value(cluster.Name)}{(cluster.Namespace is { } ns ? $" -Namespace {CommandText.Value(ns)}" : "")} -Force" : CommandLine(),
                started, outcome.Succeeded, outcome.ToString());
            foreach (var removed in outcome.Removed) WriteVerbose($"removed {removed}");
            if (!outcome.Succeeded)
            {
                WriteError(new ErrorRecord(new InvalidOperationException($"{cluster} was not removed completely: {string.Join("; ", outcome.Problems)}."),
                    "RemoveRestoreClusterIncomplete", ErrorCategory.ResourceBusy, cluster)
                {
                    ErrorDetails = new ErrorDetails($"{cluster} was not removed completely: {string.Join("; ", outcome.Problems)}.")
                    { RecommendedAction = "Run Remove-RestoreCluster again; if it stays, remove what is named above by hand." },
                });
                return;
            }
            if (PassThru) WriteObject(cluster);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "RemoveRestoreClusterFailed", cluster);
        }
    }

    private RestoreClusterQuery Query()
    {
        var cnpg = Kind?.Contains(RestoreTargetKind.Cnpg) ?? (KubernetesRequested || Namespace is not null || AllNamespaces);
        return new RestoreClusterQuery
        {
            IncludeLocal = Kind?.Contains(RestoreTargetKind.Local) ?? true,
            IncludeCnpg = cnpg,
            Kubernetes = Access,
            Namespace = Namespace,
            AllNamespaces = AllNamespaces,
            Name = ParameterSetName == NameSet ? Name : null,
            WorkRoot = FullPath(WorkRoot),
            OrphanedOnly = Orphaned,
        };
    }

    /// <summary>
    /// -Force skips the prompt without touching the caller's $ConfirmPreference (a binary cmdlet's session state is the
    /// caller's scope); -WhatIf still only reports and an explicit -Confirm still asks.
    /// </summary>
    private bool Proceed(string target, string action) =>
        (Force && !MyInvocation.BoundParameters.ContainsKey("WhatIf") && !MyInvocation.BoundParameters.ContainsKey("Confirm")) || ShouldProcess(target, action);
}
