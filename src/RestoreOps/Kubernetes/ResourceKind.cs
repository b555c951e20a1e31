namespace RestoreOps.Kubernetes;

/// <summary>
/// Which Kubernetes resource type a request is about: enough to build its URL and to name it in an RBAC rule.
/// </summary>
/// <example>
/// <code>
/// var cluster = await api.GetAsync(ResourceKind.Cluster, "drills", "pg-restore", ct);
/// var custom = new ResourceKind("barmancloud.cnpg.io", "v1", "objectstores", "ObjectStore", Namespaced: true);
/// </code>
/// </example>
/// <param name="Group">API group; empty for the core group (pods, secrets…).</param>
/// <param name="Version">API version within the group, e.g. <c>v1</c>.</param>
/// <param name="Plural">The resource name used in URLs and Role rules, e.g. <c>clusters</c>.</param>
/// <param name="Kind">The object's <c>kind</c> field, e.g. <c>Cluster</c>.</param>
/// <param name="Namespaced">Whether objects live in a namespace (Role) or at cluster scope (ClusterRole).</param>
internal sealed record ResourceKind(string Group, string Version, string Plural, string Kind, bool Namespaced = true)
{
    /// <summary>CloudNativePG <c>Cluster</c>.</summary>
    public static readonly ResourceKind Cluster = new("postgresql.cnpg.io", "v1", "clusters", "Cluster");
    /// <summary>CloudNativePG <c>Backup</c>.</summary>
    public static readonly ResourceKind Backup = new("postgresql.cnpg.io", "v1", "backups", "Backup");
    /// <summary>CloudNativePG <c>ScheduledBackup</c>.</summary>
    public static readonly ResourceKind ScheduledBackup = new("postgresql.cnpg.io", "v1", "scheduledbackups", "ScheduledBackup");
    /// <summary>Barman Cloud plugin <c>ObjectStore</c> (where a plugin cluster's backups live).</summary>
    public static readonly ResourceKind ObjectStore = new("barmancloud.cnpg.io", "v1", "objectstores", "ObjectStore");
    /// <summary>Core <c>Pod</c>.</summary>
    public static readonly ResourceKind Pod = new("", "v1", "pods", "Pod");
    /// <summary>Core <c>Secret</c>.</summary>
    public static readonly ResourceKind Secret = new("", "v1", "secrets", "Secret");
    /// <summary>Core <c>Service</c>.</summary>
    public static readonly ResourceKind Service = new("", "v1", "services", "Service");
    /// <summary>Core <c>PersistentVolumeClaim</c>.</summary>
    public static readonly ResourceKind PersistentVolumeClaim = new("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim");
    /// <summary>Core <c>Event</c>.</summary>
    public static readonly ResourceKind Event = new("", "v1", "events", "Event");
    /// <summary>batch/v1 <c>Job</c>.</summary>
    public static readonly ResourceKind Job = new("batch", "v1", "jobs", "Job");
    /// <summary>Core <c>Namespace</c> (cluster-scoped).</summary>
    public static readonly ResourceKind Namespace = new("", "v1", "namespaces", "Namespace", Namespaced: false);

    /// <summary>The types above, so a URL can be mapped back to a kind.</summary>
    public static IReadOnlyList<ResourceKind> WellKnown { get; } =
        [Cluster, Backup, ScheduledBackup, ObjectStore, Pod, Secret, Service, PersistentVolumeClaim, Event, Job, Namespace];

    /// <summary><c>apiVersion</c> as written in objects: <c>v1</c> or <c>group/v1</c>.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    /// <summary>The name kubectl and RBAC messages use: <c>clusters.postgresql.cnpg.io</c>, or <c>pods</c> for the core group.</summary>
    public string QualifiedName => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    /// <summary>URL path of the collection, e.g. <c>/apis/postgresql.cnpg.io/v1/namespaces/drills/clusters</c>.</summary>
    /// <param name="ns">Namespace, or null for every namespace / a cluster-scoped kind.</param>
    public string CollectionPath(string? ns)
    {
        var root = Group.Length == 0 ? $"/api/{Version}" : $"/apis/{Group}/{Version}";
        return Namespaced && ns is not null
            ? $"{root}/namespaces/{Uri.EscapeDataString(ns)}/{Plural}"
            : $"{root}/{Plural}";
    }

    /// <summary>URL path of one object.</summary>
    public string ObjectPath(string? ns, string name) => $"{CollectionPath(ns)}/{Uri.EscapeDataString(name)}";

    /// <inheritdoc />
    public override string ToString() => QualifiedName;
}
