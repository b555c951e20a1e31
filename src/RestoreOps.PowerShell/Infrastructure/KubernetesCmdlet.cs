using System.Management.Automation;
using RestoreOps.Automation;

namespace RestoreOps.PowerShell.Infrastructure;

/// <summary>The Kubernetes parameters every RestoreOps command shares, spelled the same everywhere.</summary>
public abstract class KubernetesCmdlet : RestoreOpsCmdlet
{
    /// <summary>kubeconfig context (default: current-context).</summary>
    [Parameter]
    public string? Context { get; set; }

    /// <summary>kubeconfig file(s) (default: KUBECONFIG, ~/.kube/config, then the in-cluster service account).</summary>
    [Parameter]
    public string? Kubeconfig { get; set; }

    /// <summary>The API these parameters select.</summary>
    protected KubernetesAccess Access => new(FullPath(Kubeconfig), Context);

    /// <summary>True when the user named any Kubernetes parameter (the command then works on CNPG as well).</summary>
    protected bool KubernetesRequested => MyInvocation.BoundParameters.ContainsKey(nameof(Context)) || MyInvocation.BoundParameters.ContainsKey(nameof(Kubeconfig));
}
