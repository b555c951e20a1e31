using System.Text.Json.Nodes;

namespace RestoreOps.Kubernetes;

/// <summary>
/// Everything RestoreOps asks of a Kubernetes API server. <see cref="KubernetesClient"/> is the real one;
/// tests use it against the in-process fake server, so stages never know the difference.
/// </summary>
/// <remarks>
/// Namespace arguments: null means the context's default namespace (as kubectl does);
/// <see cref="AllNamespaces"/> lists or watches across every namespace. Cluster-scoped kinds ignore it.
/// </remarks>
/// <example>
/// <code>
/// using var api = new KubernetesClient(KubernetesConfig.Load(contextName: "prod"));
/// var clusters = await api.ListAsync(ResourceKind.Cluster, "drills", "restoreops.io/drill-id=abc", null, ct);
/// await foreach (var e in api.WatchAsync(ResourceKind.Cluster, "drills", null, "metadata.name=pg-restore", clusters.ResourceVersion, ct))
///     if (e.Object["status"]?["phase"]?.GetValue&lt;string&gt;() == "Cluster in healthy state") break;
/// </code>
/// </example>
internal interface IKubernetesApi
{
    /// <summary>Pass as namespace to list or watch every namespace.</summary>
    public const string AllNamespaces = "*";

    /// <summary>Where requests go and as whom (never the credentials themselves).</summary>
    KubernetesContext Context { get; }

    /// <summary>Reads one object.</summary>
    /// <exception cref="KubernetesNotFoundException">It does not exist.</exception>
    Task<JsonObject> GetAsync(ResourceKind kind, string? ns, string name, CancellationToken ct);

    /// <summary>Reads one object, or null when it does not exist.</summary>
    Task<JsonObject?> TryGetAsync(ResourceKind kind, string? ns, string name, CancellationToken ct);

    /// <summary>Lists objects, following <c>continue</c> pages until the end.</summary>
    /// <param name="kind">Resource type.</param>
    /// <param name="ns">Namespace; null for the context's, <see cref="AllNamespaces"/> for all.</param>
    /// <param name="labelSelector">e.g. <c>app.kubernetes.io/managed-by=restoreops,tier!=prod</c>; null for all.</param>
    /// <param name="fieldSelector">e.g. <c>metadata.name=pg-restore</c>; null for all.</param>
    /// <param name="ct">Cancels the request.</param>
    Task<KubernetesList> ListAsync(ResourceKind kind, string? ns, string? labelSelector, string? fieldSelector, CancellationToken ct);

    /// <summary>Creates an object and returns it as stored (with uid, resourceVersion, defaults).</summary>
    /// <remarks><c>apiVersion</c>, <c>kind</c> and <c>metadata.namespace</c> are filled in when missing.</remarks>
    Task<JsonObject> CreateAsync(ResourceKind kind, string? ns, JsonObject obj, CancellationToken ct);

    /// <summary>Deletes an object. Returns false when it was already gone, so cleanup can be repeated.</summary>
    Task<bool> DeleteAsync(ResourceKind kind, string? ns, string name, DeletePropagation propagation, CancellationToken ct);

    /// <summary>
    /// Streams changes from <paramref name="resourceVersion"/> on (null: the current objects as ADDED, then changes),
    /// with bookmarks. When the server's history has moved past that version (410 Gone) the stream re-lists and
    /// yields the re-listed state as events (<see cref="WatchEvent.FromRelist"/>), so no state is missed. Runs until cancelled.
    /// </summary>
    IAsyncEnumerable<WatchEvent> WatchAsync(ResourceKind kind, string? ns, string? labelSelector, string? fieldSelector, string? resourceVersion, CancellationToken ct);

    /// <summary>
    /// Opens a loopback TCP listener whose connections reach <paramref name="port"/> of the pod, each over its own
    /// WebSocket (<c>v4.channel.k8s.io</c>). Dispose it to stop forwarding.
    /// </summary>
    Task<PortForward> PortForwardAsync(string? ns, string pod, int port, CancellationToken ct);
}

/// <summary>Result of a list: the items and the collection's resourceVersion, to start a watch from.</summary>
/// <param name="Items">Objects, with <c>apiVersion</c> and <c>kind</c> filled in.</param>
/// <param name="ResourceVersion">The list's resourceVersion.</param>
/// <example><code>var list = await api.ListAsync(ResourceKind.Pod, "drills", "cnpg.io/cluster=pg-restore", null, ct);</code></example>
internal sealed record KubernetesList(IReadOnlyList<JsonObject> Items, string ResourceVersion);

/// <summary>What a delete does with dependents (pods of a Job, PVCs owned by a Cluster…).</summary>
/// <example><code>await api.DeleteAsync(ResourceKind.Cluster, "drills", "pg-restore", DeletePropagation.Foreground, ct);</code></example>
internal enum DeletePropagation
{
    /// <summary>Delete returns at once; the garbage collector removes dependents afterwards.</summary>
    Background,
    /// <summary>The object stays (with a deletionTimestamp) until its dependents are gone.</summary>
    Foreground,
    /// <summary>Dependents are left behind, ownerless.</summary>
    Orphan,
}

/// <summary>Type of a watch event.</summary>
/// <example><code>if (e.Type is WatchEventType.Bookmark) continue;</code></example>
internal enum WatchEventType
{
    /// <summary>The object appeared (or was present when the watch started).</summary>
    Added,
    /// <summary>The object changed.</summary>
    Modified,
    /// <summary>The object was deleted; <see cref="WatchEvent.Object"/> is its last state.</summary>
    Deleted,
    /// <summary>No change: only a newer resourceVersion to resume from.</summary>
    Bookmark,
}

/// <summary>One change seen by a watch.</summary>
/// <param name="Type">What happened.</param>
/// <param name="Object">The object (for a bookmark, only <c>metadata.resourceVersion</c>).</param>
/// <param name="FromRelist">True when synthesised from a re-list after 410 Gone rather than sent by the server.</param>
/// <example><code>if (e.Type == WatchEventType.Deleted) Console.WriteLine(e.Name);</code></example>
internal sealed record WatchEvent(WatchEventType Type, JsonObject Object, bool FromRelist = false)
{
    /// <summary><c>metadata.name</c>.</summary>
    public string? Name => Object["metadata"]?["name"]?.GetValue<string>();
    /// <summary><c>metadata.namespace</c>.</summary>
    public string? Namespace => Object["metadata"]?["namespace"]?.GetValue<string>();
    /// <summary><c>metadata.resourceVersion</c>.</summary>
    public string? ResourceVersion => Object["metadata"]?["resourceVersion"]?.GetValue<string>();
}

/// <summary>The kubeconfig context (or in-cluster identity) a client talks through. Holds no secrets.</summary>
/// <param name="Server">API server URL.</param>
/// <param name="ContextName">Context name, or <c>in-cluster</c>.</param>
/// <param name="Namespace">Default namespace.</param>
/// <param name="UserName">kubeconfig user entry, or the service account when in-cluster.</param>
/// <param name="ClusterName">kubeconfig cluster entry.</param>
/// <example><code>Console.WriteLine($"{api.Context.ContextName} → {api.Context.Server} ({api.Context.Namespace})");</code></example>
internal sealed record KubernetesContext(Uri Server, string ContextName, string Namespace, string UserName, string ClusterName);
