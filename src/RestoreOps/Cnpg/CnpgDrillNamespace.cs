using System.Text;
using System.Text.Json.Nodes;
using RestoreOps.Evidence;
using RestoreOps.Kubernetes;

namespace RestoreOps.Cnpg;

/// <summary>
/// The drill namespace made whole: a recovery Cluster reads its backups through objects in its OWN namespace (the
/// barman-cloud plugin resolves <c>barmanObjectName</c> there, and in-tree <c>barmanObjectStore</c> credentials are
/// Secrets there). When the drill namespace is not the source's, RestoreOps brings in copies: for the plugin, the
/// source's ObjectStore (spec only, renamed for the drill) and the Secrets it references; for in-tree, the referenced
/// Secrets. Each copy carries the recovery Cluster's ownership labels and expiry, so it is removed with the drill and
/// found by the sweep. Nothing is ever written to the source namespace, and nothing RestoreOps does not own is
/// overwritten.
/// </summary>
/// <example>
/// <code>
/// // what RecoveryClusterBuilder points the recovery Cluster at, for ObjectStore "store" and drill "20260101-000000-ab12cd":
/// CnpgDrillNamespace.CopyName("store", "20260101-000000-ab12cd");   // store-20260101-000000-ab12cd
/// </code>
/// </example>
internal static class CnpgDrillNamespace
{
    private const int MaxNameLength = 253;

    /// <summary>
    /// The name of a drill's copy of <paramref name="original"/>: the original name and the drill id, so two drills in one
    /// namespace never share (or delete) each other's copies.
    /// </summary>
    public static string CopyName(string original, string drillId)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(drillId);
        // Drill ids may hold capitals, '_' and '.'; object names are DNS subdomains.
        var suffix = new StringBuilder(drillId.Length);
        foreach (var c in drillId.ToLowerInvariant()) suffix.Append(char.IsAsciiLetterOrDigit(c) ? c : '-');
        var tail = suffix.ToString().Trim('-');
        var stem = original.Length + tail.Length + 1 > MaxNameLength ? original[..(MaxNameLength - tail.Length - 1)].TrimEnd('-', '.') : original;
        return $"{stem}-{tail}";
    }

    /// <summary>
    /// The Secret selectors (<c>{name, key}</c>) of a Barman object store configuration (the in-tree
    /// <c>barmanObjectStore</c>, or an ObjectStore's <c>spec.configuration</c>), with the path each sits at.
    /// </summary>
    internal static IReadOnlyList<(string Path, JsonObject Selector)> SecretReferences(JsonObject? configuration)
    {
        var found = new List<(string, JsonObject)>();
        if (configuration is null) return found;
        if (configuration["endpointCA"] is JsonObject ca) found.Add(("endpointCA", ca));
        // The SecretKeySelector fields of BarmanCredentials (barman-cloud pkg/api/config.go); the flags beside them are not references.
        string[][] credentials =
        [
            ["s3Credentials", "accessKeyId", "secretAccessKey", "region", "sessionToken"],
            ["azureCredentials", "connectionString", "storageAccount", "storageKey", "storageSasToken"],
            ["googleCredentials", "applicationCredentials"],
        ];
        foreach (var group in credentials)
        {
            if (configuration[group[0]] is not JsonObject creds) continue;
            foreach (var field in group.Skip(1))
                if (creds[field] is JsonObject selector) found.Add(($"{group[0]}.{field}", selector));
        }
        return found;
    }

    /// <summary>Points the Secret selectors of <paramref name="configuration"/> at the drill's copies (in place).</summary>
    internal static void RenameSecretReferences(JsonObject configuration, string drillId)
    {
        foreach (var (_, selector) in SecretReferences(configuration))
            if (selector["name"]?.GetValue<string>() is { } name) selector["name"] = CopyName(name, drillId);
    }

    /// <summary>
    /// The copies the recovery Cluster <paramref name="cluster"/> (built from <paramref name="r"/>) needs in its namespace,
    /// read from the source namespace; none when it restores in the source's namespace or through
    /// <see cref="RecoveryClusterRequest.ObjectStoreName"/>, which must then exist.
    /// </summary>
    /// <exception cref="ConfigurationException">The named ObjectStore, the source's ObjectStore or a referenced Secret (key) does not exist.</exception>
    internal static async Task<IReadOnlyList<JsonObject>> PlanAsync(IKubernetesApi api, RecoveryClusterRequest r, JsonObject cluster, CancellationToken ct)
    {
        if (r.ObjectStoreName is { } given)
        {
            if (await api.TryGetAsync(ResourceKind.ObjectStore, r.Namespace, given, ct).ConfigureAwait(false) is null)
                throw new ConfigurationException(
                    $"ObjectStore {r.Namespace}/{given} does not exist, so the recovery Cluster could not read the backups through it.",
                    $"Create it in namespace {r.Namespace} (the source's ObjectStore, ideally with read-only credentials), or drop {InputKey.ObjectStore.Ref()} and RestoreOps copies the source's ObjectStore for the drill.",
                    parameter: InputKey.ObjectStore);
            return [];
        }
        if (r.Namespace == r.Source.Namespace) return [];

        var copies = new List<JsonObject>();
        JsonObject? storeCopy = null;
        var secrets = new List<(string What, JsonObject Selector, bool Optional)>();
        var recoveryCluster = cluster["metadata"]!["name"]!.GetValue<string>();
        switch (CnpgBackups.MethodOf(r.Backup))
        {
            case CnpgBackupMethod.Plugin:
                var storeName = r.Source.PluginObjectStore!;
                var what = $"ObjectStore {r.Source.Namespace}/{storeName}";
                var store = await api.TryGetAsync(ResourceKind.ObjectStore, r.Source.Namespace, storeName, ct).ConfigureAwait(false)
                    ?? throw new ConfigurationException(
                        $"{what}, which cluster {r.Source.Namespace}/{r.Source.Name} names in plugins[].parameters.barmanObjectName, does not exist, so the drill has nothing to copy into namespace {r.Namespace}.",
                        $"Check the source cluster's barmanObjectName, or provision an ObjectStore in {r.Namespace} and pass {InputKey.ObjectStore.Ref()}.");
                var spec = store["spec"]?.DeepClone() as JsonObject ?? new JsonObject();
                // A copy must never prune the production backups: retention belongs to the store the source archives to.
                spec.Remove("retentionPolicy");
                foreach (var (path, selector) in SecretReferences(spec["configuration"] as JsonObject))
                    secrets.Add(($"{what} (spec.configuration.{path})", selector, false));
                foreach (var env in (spec["instanceSidecarConfiguration"]?["env"] as JsonArray ?? []).OfType<JsonObject>())
                {
                    if (env["valueFrom"]?["configMapKeyRef"] is not null)
                        throw new ConfigurationException(
                            $"{what} sets sidecar variable {env["name"]} from a ConfigMap, which RestoreOps does not copy into namespace {r.Namespace}.",
                            $"Provision an ObjectStore in {r.Namespace} yourself and pass {InputKey.ObjectStore.Ref()}.");
                    if (env["valueFrom"]?["secretKeyRef"] is JsonObject secretRef)
                        secrets.Add(($"{what} (sidecar variable {env["name"]})", secretRef, secretRef["optional"]?.GetValue<bool>() == true));
                }
                storeCopy = Labelled(ResourceKind.ObjectStore, CopyName(storeName, r.DrillId), r.Namespace, cluster, recoveryCluster, $"{r.Source.Namespace}/{storeName}");
                storeCopy["spec"] = spec;
                break;
            case CnpgBackupMethod.BarmanObjectStore:
                foreach (var (path, selector) in SecretReferences(r.Source.BarmanObjectStore))
                    secrets.Add(($"cluster {r.Source.Namespace}/{r.Source.Name} (spec.backup.barmanObjectStore.{path})", selector.DeepClone().AsObject(), false));
                break;
            case CnpgBackupMethod.VolumeSnapshot:
                return [];
        }

        foreach (var group in secrets.GroupBy(s => s.Selector["name"]?.GetValue<string>() ?? "", StringComparer.Ordinal))
        {
            var source = await api.TryGetAsync(ResourceKind.Secret, r.Source.Namespace, group.Key, ct).ConfigureAwait(false)
                ?? throw new ConfigurationException(
                    $"Secret {r.Source.Namespace}/{group.Key}, which {group.First().What} reads, does not exist, so the drill cannot copy it into namespace {r.Namespace}.",
                    $"Check the name in the source's configuration, or provision an ObjectStore with its credentials in {r.Namespace} and pass {InputKey.ObjectStore.Ref()}.");
            var data = new JsonObject();
            foreach (var (what, selector, optional) in group)
            {
                var key = selector["key"]?.GetValue<string>() ?? "";
                if (data.ContainsKey(key)) continue;
                if (source["data"]?[key]?.GetValue<string>() is not { } value)
                {
                    if (optional) continue;
                    throw new ConfigurationException(
                        $"Secret {r.Source.Namespace}/{group.Key} has no key '{key}', which {what} reads.",
                        $"Check the key in the source's configuration, or provision an ObjectStore in {r.Namespace} and pass {InputKey.ObjectStore.Ref()}.");
                }
                RegisterSecret(value);
                data[key] = value;
            }
            var secret = Labelled(ResourceKind.Secret, CopyName(group.Key, r.DrillId), r.Namespace, cluster, recoveryCluster, $"{r.Source.Namespace}/{group.Key}");
            // Opaque whatever the original's type: only the referenced keys are copied, and a typed Secret (kubernetes.io/tls)
            // missing its other keys would be rejected.
            secret["type"] = "Opaque";
            secret["data"] = data;
            copies.Add(secret);
            if (storeCopy?["spec"] is JsonObject storeSpec) RenameInStore(storeSpec, group.Key, r.DrillId);
        }

        if (storeCopy is not null)
        {
            var problems = CrdSchema.For(ResourceKind.ObjectStore.Group, ResourceKind.ObjectStore.Plural).Validate(storeCopy);
            if (problems.Count > 0)
                throw new ConfigurationException(
                    $"The drill's copy of ObjectStore {r.Source.Namespace}/{r.Source.PluginObjectStore} does not match the ObjectStore schema: {string.Join("; ", problems)}.",
                    $"Provision an ObjectStore in {r.Namespace} yourself and pass {InputKey.ObjectStore.Ref()}.");
            // Last: the store never points at Secrets that are not there yet.
            copies.Add(storeCopy);
        }
        return copies;
    }

    /// <summary>
    /// Creates <paramref name="copies"/> in <paramref name="ns"/>. An object of the same name that drill
    /// <paramref name="drillId"/> owns already is kept as it is; any other is refused before anything is created. Returns
    /// what it created, for <see cref="RollbackAsync"/>.
    /// </summary>
    /// <exception cref="ConfigurationException">A copy's name is taken by an object RestoreOps does not own (or another drill does).</exception>
    internal static async Task<IReadOnlyList<JsonObject>> CreateAsync(IKubernetesApi api, string ns, IReadOnlyList<JsonObject> copies, string drillId, CancellationToken ct)
    {
        var wanted = new List<JsonObject>();
        // Checked first: a refusal must leave nothing half-made behind.
        foreach (var copy in copies)
        {
            var kind = KindOf(copy);
            var existing = await api.TryGetAsync(kind, ns, NameOf(copy), ct).ConfigureAwait(false);
            if (existing is null) wanted.Add(copy);
            else AssertOurs(existing, copy, kind, ns, drillId);
        }
        var created = new List<JsonObject>();
        try
        {
            foreach (var copy in wanted)
            {
                var kind = KindOf(copy);
                try
                {
                    await api.CreateAsync(kind, ns, copy, ct).ConfigureAwait(false);
                    created.Add(copy);
                }
                catch (KubernetesConflictException e) when (e.AlreadyExists)
                {
                    // Someone created it between the check and now.
                    var existing = await api.TryGetAsync(kind, ns, NameOf(copy), ct).ConfigureAwait(false);
                    if (existing is null) throw;
                    AssertOurs(existing, copy, kind, ns, drillId);
                }
            }
        }
        catch
        {
            await RollbackAsync(api, ns, created, drillId).ConfigureAwait(false);
            throw;
        }
        return created;
    }

    /// <summary>
    /// Deletes copies a failed creation made (each checked as this drill's own first). Runs after cancellation too, within
    /// a bound of its own; what it cannot delete stays labelled with its expiry for the sweep.
    /// </summary>
    internal static async Task RollbackAsync(IKubernetesApi api, string ns, IReadOnlyList<JsonObject> created, string drillId)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var copy in created.Reverse())
        {
            var kind = KindOf(copy);
            try
            {
                if (await api.TryGetAsync(kind, ns, NameOf(copy), bound.Token).ConfigureAwait(false) is not { } current) continue;
                current["kind"] ??= kind.Kind;
                CnpgOwnership.AssertOwned(current, drillId);
                await api.DeleteAsync(kind, ns, NameOf(copy), DeletePropagation.Background, bound.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RestoreOpsException or OperationCanceledException)
            {
                // The error that made the creation fail is the one to report; the sweep takes what stays.
            }
        }
    }

    private static void AssertOurs(JsonObject existing, JsonObject copy, ResourceKind kind, string ns, string drillId)
    {
        var labels = existing["metadata"]?["labels"];
        var owner = labels?[CnpgNames.ManagedByLabel]?.GetValue<string>() == CnpgNames.ManagedByValue ? labels[CnpgNames.DrillIdLabel]?.GetValue<string>() : null;
        if (owner == drillId) return;
        var from = copy["metadata"]?["annotations"]?[CnpgNames.CopiedFromAnnotation]?.GetValue<string>();
        var whose = owner is null
            ? $"is not RestoreOps' own (it lacks {CnpgNames.ManagedByLabel}={CnpgNames.ManagedByValue} and {CnpgNames.DrillIdLabel}={drillId})"
            : $"belongs to drill {owner}";
        throw new ConfigurationException(
            $"{kind.Kind} {ns}/{NameOf(copy)} already exists and {whose}, so RestoreOps will not overwrite it with the drill's copy of {from}.",
            $"Delete or rename {ns}/{NameOf(copy)} if it is a leftover, or run the drill with another id ({InputKey.DrillId.Ref()}); or provision an ObjectStore in {ns} yourself and pass {InputKey.ObjectStore.Ref()}, and RestoreOps copies nothing.",
            parameter: InputKey.ObjectStore);
    }

    private static void RenameInStore(JsonObject storeSpec, string secret, string drillId)
    {
        var selectors = SecretReferences(storeSpec["configuration"] as JsonObject).Select(s => s.Selector)
            .Concat((storeSpec["instanceSidecarConfiguration"]?["env"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(e => e["valueFrom"]?["secretKeyRef"]).OfType<JsonObject>());
        foreach (var selector in selectors)
            if (selector["name"]?.GetValue<string>() == secret) selector["name"] = CopyName(secret, drillId);
    }

    // The recovery Cluster's own labels and annotations: the same ownership, drill id and expiry, so removal and sweep
    // treat the copies exactly as the Cluster.
    private static JsonObject Labelled(ResourceKind kind, string name, string ns, JsonObject cluster, string recoveryCluster, string copiedFrom)
    {
        var annotations = cluster["metadata"]!["annotations"]!.DeepClone().AsObject();
        annotations[CnpgNames.RecoveryClusterAnnotation] = recoveryCluster;
        annotations[CnpgNames.CopiedFromAnnotation] = copiedFrom;
        return new JsonObject
        {
            ["apiVersion"] = kind.ApiVersion,
            ["kind"] = kind.Kind,
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = ns,
                ["labels"] = cluster["metadata"]!["labels"]!.DeepClone(),
                ["annotations"] = annotations,
            },
        };
    }

    private static void RegisterSecret(string base64)
    {
        // Both forms can surface: the encoded one in a request body, the decoded one wherever a tool prints it.
        Redactor.RegisterSecret(base64);
        try { Redactor.RegisterSecret(Encoding.UTF8.GetString(Convert.FromBase64String(base64))); }
        catch (FormatException) { }
    }

    private static ResourceKind KindOf(JsonObject copy) =>
        copy["kind"]?.GetValue<string>() == ResourceKind.ObjectStore.Kind ? ResourceKind.ObjectStore : ResourceKind.Secret;

    private static string NameOf(JsonObject copy) => copy["metadata"]!["name"]!.GetValue<string>();
}
