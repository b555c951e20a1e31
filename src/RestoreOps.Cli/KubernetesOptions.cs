using System.CommandLine;
using RestoreOps.Automation;

namespace RestoreOps.Cli;

/// <summary>
/// The options that say which CNPG cluster and which Kubernetes API: they mean what they mean to kubectl
/// (<c>--namespace/-n</c>, <c>--context</c>, <c>--kubeconfig</c>; without them KUBECONFIG, ~/.kube/config, then the
/// pod's service account).
/// </summary>
internal sealed class KubernetesOptions
{
    public readonly Option<string?> Cluster = new("--cnpg-cluster") { HelpName = "CLUSTER", Description = "The CloudNativePG Cluster whose backups to use." };
    public readonly Option<string?> Namespace = new("--namespace", "-n") { HelpName = "NAMESPACE", Description = "The source cluster's namespace (default: the context's namespace)." };
    public readonly Option<string?> Kubeconfig = new("--kubeconfig") { HelpName = "FILE", Description = "kubeconfig file(s), ':'-separated like KUBECONFIG (default: KUBECONFIG, ~/.kube/config, in-cluster)." };
    public readonly Option<string?> Context = new("--context") { HelpName = "CONTEXT", Description = "kubeconfig context (default: current-context)." };

    public void AddTo(Command c)
    {
        c.Options.Add(Cluster); c.Options.Add(Namespace); c.Options.Add(Kubeconfig); c.Options.Add(Context);
    }

    // Passed as given: it may be a KUBECONFIG-style list, and this process's directory does not change.
    public KubernetesAccess Access(ParseResult r) => new(r.GetValue(Kubeconfig), r.GetValue(Context));
}
