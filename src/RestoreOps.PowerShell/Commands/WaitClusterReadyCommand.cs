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
    [Duration]
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
            WriteVerbose($"Waiting up to {Timeout} for {cluster.Kind} restore target {cluster} (phase {cluster.Phase}).");
            var started = DateTimeOffset.UtcNow;
            RestoreCluster ready;
            try
            {
                ready = Run($"Waiting for {cluster}", (ct, progress) => Engine.WaitReadyAsync(cluster, Timeout, Access, progress, ct));
            }
            catch (RestoreOpsException e)
            {
                Engine.RecordStep(cluster, "wait", CommandLine(), started, false, e.Message);
                throw;
            }
            Engine.RecordStep(ready, "wait", CommandLine(), started, true, $"{ready.Phase}; connect with {ready.Connection?.ToString() ?? "-"}");
            WriteVerbose($"{ready} is {ready.Phase} after {(DateTimeOffset.UtcNow - started).TotalSeconds:0.0} s; connect with {ready.Connection?.ToString() ?? "(no connection yet)"}.");
            WriteObject(ready);
        }
        // Ctrl+C ends the wait either way: the engine's task is cancelled, or a progress write finds the pipeline stopping.
        catch (Exception e) when ((e is OperationCanceledException or PipelineStoppedException) && Cancellation.IsCancellationRequested)
        {
            // After Ctrl+C PowerShell discards every write of the cmdlet (WriteWarning throws PipelineStoppedException):
            // the host's own UI is the only way left to tell the user the restore did not stop with the wait.
            Host.UI.WriteWarningLine($"Stopped waiting for {target}; the restore goes on. Wait for it again with Wait-ClusterReady, or remove it with Remove-RestoreCluster when it is no longer needed.");
            throw new PipelineStoppedException();
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "WaitClusterReadyFailed", target);
        }
    }

    private RestoreCluster? FindByName()
    {
        // Local targets first: they need no Kubernetes, so a machine without a kubeconfig can still wait by name.
        var found = Namespace is null ? Run(ct => Engine.GetAsync(new RestoreClusterQuery { IncludeLocal = true, Name = Name }, ct)) : [];
        if (found.Count == 0)
        {
            try
            {
                found = Run(ct => Engine.GetAsync(new RestoreClusterQuery { IncludeCnpg = true, Kubernetes = Access, Namespace = Namespace, Name = Name }, ct));
            }
            catch (ConfigurationException e) when (!KubernetesRequested && Namespace is null)
            {
                // No Kubernetes configured and nothing local by that name: the name is what is wrong, not the kubeconfig.
                WriteVerbose($"CNPG targets not searched: {e.Message}");
            }
        }
        if (found.Count > 0) return found[0];
        WriteError(ErrorRecords.NotFound($"No restore target named {Name}{(Namespace is null ? "" : $" in namespace {Namespace}")}.",
            "List them with Get-RestoreCluster (add -AllNamespaces for CNPG).", "RestoreClusterNotFound", Name));
        return null;
    }
}
