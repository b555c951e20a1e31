using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Waits until a restore target accepts sessions, showing its progress.</para>
/// <para type="description">Watches a CNPG recovery Cluster (no polling) or follows a local restore until it is ready, and passes the RestoreCluster on. Ctrl+C stops the wait, not the restore: remove the target with Remove-RestoreCluster.</para>
/// </summary>
/// <example><code>$cluster | Wait-ClusterReady -Timeout 00:30:00 | Invoke-RestoreCheck -Path ./checks.yaml</code></example>
[Cmdlet(VerbsLifecycle.Wait, "ClusterReady", DefaultParameterSetName = ObjectSet)]
[OutputType(typeof(RestoreCluster))]
public sealed class WaitClusterReadyCommand : KubernetesCmdlet
{
    private const string ObjectSet = "Object";
    private const string NameSet = "Name";

    /// <summary>The restore target, from New-RestoreCluster or Get-RestoreCluster.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = ObjectSet)]
    [Alias("Cluster")]
    public RestoreCluster InputObject { get; set; } = null!;

    /// <summary>Name of a restore target RestoreOps created: a CNPG recovery Cluster, or a local target of this session.</summary>
    [Parameter(Mandatory = true, ParameterSetName = NameSet)]
    public string Name { get; set; } = null!;

    /// <summary>Its namespace (default: the context's).</summary>
    [Parameter(ParameterSetName = NameSet)]
    [ArgumentCompleter(typeof(NamespaceCompleter))]
    public string? Namespace { get; set; }

    /// <summary>How long to wait before the restore counts as failed (default 30 minutes).</summary>
    [Parameter]
    public TimeSpan Timeout { get; set; } = RestoreDefaults.ReadyTimeout;

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        object target = ParameterSetName == NameSet ? $"{Namespace}/{Name}" : InputObject;
        try
        {
            var cluster = ParameterSetName == NameSet ? FindByName() : InputObject;
            if (cluster is null) return;
            target = cluster;
            var ready = Run($"Waiting for {cluster}", (ct, progress) => Engine.WaitReadyAsync(cluster, Timeout, Access, progress, ct));
            WriteObject(ready);
        }
        catch (OperationCanceledException) when (Cancellation.IsCancellationRequested)
        {
            WriteWarning($"Stopped waiting for {target}; the restore goes on. Remove it with Remove-RestoreCluster when it is no longer needed.");
            throw new PipelineStoppedException();
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "WaitClusterReadyFailed", target);
        }
    }

    private RestoreCluster? FindByName()
    {
        var found = Run(ct => Engine.GetAsync(new RestoreClusterQuery
        {
            IncludeCnpg = true, IncludeLocal = true, Kubernetes = Access, Namespace = Namespace, Name = Name,
        }, ct));
        if (found.Count > 0) return found[0];
        WriteError(ErrorRecords.NotFound($"No restore target named {Name}{(Namespace is null ? "" : $" in namespace {Namespace}")}.",
            "List them with Get-RestoreCluster (add -AllNamespaces for CNPG).", "RestoreClusterNotFound", Name));
        return null;
    }
}
