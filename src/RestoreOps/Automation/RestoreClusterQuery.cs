using RestoreOps.Model;

namespace RestoreOps.Automation;

/// <summary>Which restore targets <see cref="RestoreEngine.GetAsync"/> lists.</summary>
public sealed class RestoreClusterQuery
{
    /// <summary>Local targets: this process's, and any marked work directory under <see cref="WorkRoot"/>.</summary>
    public bool IncludeLocal { get; init; } = true;
    /// <summary>Where local work directories live (default: the temp directory).</summary>
    public string? WorkRoot { get; init; }
    /// <summary>CNPG recovery Clusters labelled as RestoreOps' own.</summary>
    public bool IncludeCnpg { get; init; }
    /// <summary>Which API to ask for CNPG targets.</summary>
    public KubernetesAccess Kubernetes { get; init; } = KubernetesAccess.Default;
    /// <summary>CNPG namespace; null: the context's namespace.</summary>
    public string? Namespace { get; init; }
    /// <summary>CNPG: every namespace.</summary>
    public bool AllNamespaces { get; init; }
    /// <summary>Only this drill's target.</summary>
    public string? DrillId { get; init; }
    /// <summary>Only targets with this name.</summary>
    public string? Name { get; init; }
    /// <summary>Only what a sweep may remove: drill targets (never recovery ones) past their expiry.</summary>
    public bool OrphanedOnly { get; init; }
    /// <summary>The instant expiry is judged at (default: now).</summary>
    public DateTimeOffset? Now { get; init; }
}

/// <summary>One target a removal dealt with, and how it went.</summary>
/// <param name="Cluster">The target.</param>
/// <param name="Outcome">What was removed, and what is left.</param>
public sealed record RemovalResult(RestoreCluster Cluster, CleanupOutcome Outcome);
