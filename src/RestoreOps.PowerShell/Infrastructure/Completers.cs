using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using RestoreOps.Automation;

namespace RestoreOps.PowerShell.Infrastructure;

/// <summary>Shared plumbing: the Kubernetes parameters already typed on the command line select the API to ask.</summary>
public abstract class KubernetesCompleter : IArgumentCompleter
{
    /// <inheritdoc />
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete, CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string? Bound(string name) => fakeBoundParameters.Contains(name) ? fakeBoundParameters[name]?.ToString() : null;
        var access = new KubernetesAccess(Bound("Kubeconfig"), Bound("Context"));
        var prefix = (wordToComplete ?? "").Trim('\'', '"');
        // Completion runs on PowerShell's thread with no cancellation of its own; the engine bounds the time.
        var names = Names(access, Bound("Namespace"), Bound("Cluster"), prefix).GetAwaiter().GetResult();
        return names.Select(n => new CompletionResult(n.Any(char.IsWhiteSpace) ? $"'{n}'" : n, n, CompletionResultType.ParameterValue, n));
    }

    /// <summary>The candidate names.</summary>
    protected abstract Task<IReadOnlyList<string>> Names(KubernetesAccess access, string? ns, string? cluster, string prefix);
}

/// <summary>Completes -Namespace with the namespaces the context can list.</summary>
public sealed class NamespaceCompleter : KubernetesCompleter
{
    /// <inheritdoc />
    protected override Task<IReadOnlyList<string>> Names(KubernetesAccess access, string? ns, string? cluster, string prefix) =>
        Completion.NamespacesAsync(access, prefix, CancellationToken.None);
}

/// <summary>Completes -Cluster with the CNPG Clusters of -Namespace.</summary>
public sealed class ClusterCompleter : KubernetesCompleter
{
    /// <inheritdoc />
    protected override Task<IReadOnlyList<string>> Names(KubernetesAccess access, string? ns, string? cluster, string prefix) =>
        Completion.ClustersAsync(access, ns, prefix, CancellationToken.None);
}

/// <summary>Completes a backup -Name with the completed CNPG Backups of -Cluster in -Namespace, newest first.</summary>
public sealed class BackupCompleter : KubernetesCompleter
{
    /// <inheritdoc />
    protected override Task<IReadOnlyList<string>> Names(KubernetesAccess access, string? ns, string? cluster, string prefix) =>
        Completion.BackupsAsync(access, ns, cluster, prefix, CancellationToken.None);
}
