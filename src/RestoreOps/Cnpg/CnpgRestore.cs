using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Npgsql;
using RestoreOps.Evidence;
using RestoreOps.Kubernetes;
using RestoreOps.Model;

namespace RestoreOps.Cnpg;

/// <summary>How <see cref="CnpgRestore.ConnectAsync(CancellationToken)"/> reaches the restored primary.</summary>
/// <example>
/// <code>
/// // a laptop or CI runner outside the cluster, even with a service-account token lying at the usual path:
/// await using var connection = await restore.ConnectAsync(CnpgConnectRoute.PortForward, ct);
/// </code>
/// </example>
internal enum CnpgConnectRoute
{
    /// <summary>
    /// The <c>-rw</c> service when a service-account token is mounted (RestoreOps runs in a pod, e.g. a CronJob), else a
    /// port-forward. The token, not KUBERNETES_SERVICE_HOST: a laptop may carry that variable over from a pod's shell
    /// profile, but it has no mounted token, and the Service's name does not resolve there.
    /// </summary>
    Auto,
    /// <summary>Always the <c>&lt;name&gt;-rw.&lt;namespace&gt;.svc</c> service, port 5432 (needs in-cluster DNS and network).</summary>
    Service,
    /// <summary>Always a port-forward to the primary pod.</summary>
    PortForward,
}

/// <summary>
/// A temporary CloudNativePG recovery cluster: created from a <see cref="RecoveryClusterRequest"/>, waited for by
/// watching its status, connected to through its <c>-app</c> secret, and removed with everything labelled for
/// its drill. Every object it deletes is checked with <see cref="CnpgOwnership.AssertOwned"/> first.
/// </summary>
/// <example>
/// <code>
/// await using var restore = await CnpgRestore.CreateAsync(api, request, ct);
/// await restore.WaitReadyAsync(TimeSpan.FromMinutes(30), progress, ct);
/// await using (var connection = await restore.ConnectAsync(ct))
/// await using (var session = await connection.OpenAsync(ct)) { /* checks */ }
/// var cleanup = await restore.RemoveAsync(ct);
/// </code>
/// </example>
internal sealed class CnpgRestore : IAsyncDisposable
{
    private const int EventsShown = 5;
    private static readonly TimeSpan DiagnosisTimeout = TimeSpan.FromSeconds(30);
    private readonly IKubernetesApi _api;
    private readonly string _selector;
    private readonly List<CnpgConnection> _connections = [];

    private CnpgRestore(IKubernetesApi api, RestoreCluster cluster)
    {
        _api = api;
        Cluster = cluster;
        _selector = CnpgOwnership.DrillSelector(cluster.DrillId);
    }

    /// <summary>The restore target, as the pipeline sees it. Never holds the password.</summary>
    public RestoreCluster Cluster { get; }

    /// <summary>Where Kubernetes mounts a pod's service-account token: its presence means RestoreOps runs inside the cluster.</summary>
    public const string ServiceAccountTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token";

    /// <summary>The token <see cref="CnpgConnectRoute.Auto"/> looks for; a test points it elsewhere.</summary>
    internal string ServiceAccountTokenPath { get; set; } = ServiceAccountTokenFile;

    /// <summary>Test seam standing in for in-cluster DNS: maps the Service's host and port to an address that answers.</summary>
    internal Func<string, int, (string Host, int Port)>? ResolveService { get; set; }

    /// <summary>
    /// The route <paramref name="route"/> means here: Service or PortForward as asked, and for Auto the Service exactly
    /// when a service-account token is mounted at <paramref name="serviceAccountTokenPath"/>.
    /// </summary>
    public static CnpgConnectRoute Choose(CnpgConnectRoute route, string serviceAccountTokenPath = ServiceAccountTokenFile) =>
        route != CnpgConnectRoute.Auto ? route
        : File.Exists(serviceAccountTokenPath) ? CnpgConnectRoute.Service
        : CnpgConnectRoute.PortForward;

    /// <summary>Takes over a recovery Cluster created earlier (another session, a listing), to wait for, connect to or remove it.</summary>
    internal static CnpgRestore Attach(IKubernetesApi api, RestoreCluster cluster) =>
        cluster.Kind == RestoreTargetKind.Cnpg && cluster.Namespace is not null
            ? new CnpgRestore(api, cluster)
            : throw new ArgumentException($"{cluster} is not a CNPG restore target.", nameof(cluster));

    /// <summary>Cluster name.</summary>
    public string Name => Cluster.Name;

    /// <summary>Namespace the cluster lives in.</summary>
    public string Namespace => Cluster.Namespace!;

    /// <summary>
    /// Builds the recovery Cluster (CRD-validated and safety-checked), labels everything CNPG will create for it
    /// through <c>spec.inheritedMetadata</c>, and creates it.
    /// </summary>
    public static async Task<CnpgRestore> CreateAsync(IKubernetesApi api, RecoveryClusterRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(request);
        var started = DateTimeOffset.UtcNow;
        var cluster = RecoveryClusterBuilder.Build(request);
        // inheritedMetadata labels land on the PVCs, pods, secrets, services and jobs CNPG creates, so cleanup
        // and the -Orphaned sweep find them by the drill label even if the operator is gone.
        var labels = new JsonObject
        {
            [CnpgNames.DrillIdLabel] = request.DrillId,
            [CnpgNames.ManagedByLabel] = CnpgNames.ManagedByValue,
        };
        cluster["spec"]!["inheritedMetadata"] = new JsonObject { ["labels"] = labels };
        var problems = CrdSchema.For(CnpgNames.Group, "clusters").Validate(cluster);
        if (problems.Count > 0)
            throw new ConfigurationException($"The recovery Cluster {request.Namespace}/{cluster["metadata"]!["name"]} does not match the CNPG Cluster schema: {string.Join("; ", problems)}.",
                "Check the drill's settings named above; the installed CNPG version may also be older than the schema RestoreOps expects.");
        RecoveryClusterBuilder.AssertSafe(cluster);

        var name = cluster["metadata"]!["name"]!.GetValue<string>();
        var restore = new CnpgRestore(api, new RestoreCluster
        {
            Name = name,
            Namespace = request.Namespace,
            DrillId = request.DrillId,
            Kind = RestoreTargetKind.Cnpg,
            Purpose = request.Purpose,
            Backup = request.Backup,
            RecoveryTarget = request.RecoveryTarget,
            CreatedAt = request.Now,
            ExpiresAt = request.Purpose == RestorePurpose.Drill ? request.Now + request.Expiry : null,
        });
        var provision = new PhaseTiming { Phase = DrillPhase.Provision, StartedAt = started };
        restore.Cluster.Phases.Add(provision);
        IReadOnlyList<JsonObject> copies = [];
        try
        {
            // What the recovery reads in its own namespace comes first, so the operator finds it at its first reconcile.
            copies = await CnpgDrillNamespace.CreateAsync(api, request.Namespace,
                await CnpgDrillNamespace.PlanAsync(api, request, cluster, ct).ConfigureAwait(false), request.DrillId, ct).ConfigureAwait(false);
            await api.CreateAsync(ResourceKind.Cluster, request.Namespace, cluster, ct).ConfigureAwait(false);
        }
        catch (KubernetesConflictException e) when (e.AlreadyExists)
        {
            await CnpgDrillNamespace.RollbackAsync(api, request.Namespace, copies, request.DrillId).ConfigureAwait(false);
            restore.Cluster.Phases.Replace(provision, provision.End(false, null));
            restore.Cluster.Phase = RestoreClusterPhase.Failed;
            throw new ConfigurationException($"A Cluster named {request.Namespace}/{name} already exists, so the drill cannot create its recovery cluster.",
                $"Choose another name ({InputKey.RestoreTargetName.Ref()}), or remove the old drill's target ({InputKey.Orphaned.Ref()} removes it once it expired).", e);
        }
        catch
        {
            await CnpgDrillNamespace.RollbackAsync(api, request.Namespace, copies, request.DrillId).ConfigureAwait(false);
            restore.Cluster.Phases.Replace(provision, provision.End(false, null));
            restore.Cluster.Phase = RestoreClusterPhase.Failed;
            throw;
        }
        restore.Cluster.Phases.Replace(provision, provision.End(true, $"Cluster {request.Namespace}/{name}"
            + string.Concat(copies.Select(c => $", {c["kind"]} {request.Namespace}/{c["metadata"]!["name"]}"))));
        restore.Cluster.Phase = RestoreClusterPhase.Replaying;
        return restore;
    }

    /// <summary>
    /// Watches the Cluster until it is ready: phase "Cluster in healthy state", condition Ready=True and
    /// <c>status.readyInstances == spec.instances</c> (the definitions of CNPG's own e2e tests). Stops early on a
    /// phase CNPG cannot leave by itself or a failed recovery job.
    /// </summary>
    /// <exception cref="RestoreFailedException">Timeout or failure, with phase, conditions, job state and events.</exception>
    public async Task WaitReadyAsync(TimeSpan timeout, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        var replay = new PhaseTiming { Phase = DrillPhase.WalReplay, StartedAt = DateTimeOffset.UtcNow };
        Cluster.Phases.Add(replay);
        PhaseTiming? ready = null;
        using var deadline = new CancellationTokenSource(timeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        var events = Channel.CreateUnbounded<(ResourceKind Kind, WatchEvent Event)>();
        // Two watches into one channel: the Cluster for progress and readiness, the recovery Job because a
        // failed restore shows there first (the Cluster stays in "Setting up primary").
        var job = CnpgNames.FullRecoveryJob(Name);
        var watchers = new[]
        {
            PumpAsync(ResourceKind.Cluster, Name, events.Writer, linked.Token),
            PumpAsync(ResourceKind.Job, job, events.Writer, linked.Token),
        };
        string? lastPhase = null;
        try
        {
            while (true)
            {
                var (kind, change) = await events.Reader.ReadAsync(linked.Token).ConfigureAwait(false);
                if (kind == ResourceKind.Job)
                {
                    if (change.Type != WatchEventType.Deleted && JobFailed(change.Object))
                        throw await FailureAsync($"The recovery job {Namespace}/{job} of cluster {Namespace}/{Name} failed: the backup did not restore.", ct).ConfigureAwait(false);
                    continue;
                }
                if (change.Type == WatchEventType.Deleted)
                    throw await FailureAsync($"Cluster {Namespace}/{Name} was deleted while RestoreOps waited for it to become ready.", ct).ConfigureAwait(false);
                var phase = change.Object["status"]?["phase"]?.GetValue<string>();
                if (phase != lastPhase)
                {
                    lastPhase = phase;
                    progress?.Report(new DrillProgress(DrillPhase.WalReplay, $"Restoring {Namespace}/{Name}", null, phase ?? "waiting for the operator"));
                }
                if (phase is not null && CnpgNames.FailurePhases.Contains(phase))
                    throw await FailureAsync($"Cluster {Namespace}/{Name} entered phase \"{phase}\", which CNPG does not leave on its own.", ct).ConfigureAwait(false);
                if (phase == CnpgNames.PhaseHealthy && ready is null)
                {
                    replay = Cluster.Phases.Replace(replay, replay.End(true, null));
                    ready = new PhaseTiming { Phase = DrillPhase.Ready, StartedAt = replay.EndedAt };
                    Cluster.Phases.Add(ready);
                }
                if (IsReady(change.Object))
                {
                    ready = Cluster.Phases.Replace(ready!, ready!.End(true, null));
                    Cluster.Phase = RestoreClusterPhase.Ready;
                    Cluster.Timeline = (int?)CrdSchema.Number(change.Object["status"]?["timelineID"]);
                    progress?.Report(new DrillProgress(DrillPhase.Ready, $"Restoring {Namespace}/{Name}", 100, "ready"));
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw await FailureAsync($"Cluster {Namespace}/{Name} did not become ready within {timeout.TotalMinutes:0.#} min.", ct).ConfigureAwait(false);
        }
        catch (ChannelClosedException e) when (e.InnerException is { } watchError)
        {
            throw watchError is RestoreOpsException ? watchError : new InfrastructureException(
                $"Watching cluster {Namespace}/{Name} failed: {watchError.Message}", "Check access to the Kubernetes API and retry.", watchError);
        }
        finally
        {
            foreach (var p in Cluster.Phases.Where(p => p.EndedAt == default))
                Cluster.Phases.Replace(p, p.End(p.Succeeded, p.Detail));
            if (Cluster.Phase != RestoreClusterPhase.Ready)
                Cluster.Phase = RestoreClusterPhase.Failed;
            await linked.CancelAsync().ConfigureAwait(false);
            try { await Task.WhenAll(watchers).ConfigureAwait(false); }
            catch (Exception) { /* the watches end by cancellation; their errors reached the channel */ }
        }
    }

    /// <summary>
    /// Describes the cluster's state for a human: phase, reason, conditions, the recovery job and the latest
    /// events of both. Registered secrets are masked.
    /// </summary>
    public async Task<string> DescribeAsync(CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(DiagnosisTimeout);
        var token = bounded.Token;
        var text = new StringBuilder();
        try
        {
            var cluster = await _api.TryGetAsync(ResourceKind.Cluster, Namespace, Name, token).ConfigureAwait(false);
            var status = cluster?["status"];
            text.Append(CultureInfo.InvariantCulture, $"phase: {status?["phase"]?.GetValue<string>() ?? (cluster is null ? "(cluster not found)" : "(none yet)")}");
            if (status?["phaseReason"]?.GetValue<string>() is { Length: > 0 } reason)
                text.Append(CultureInfo.InvariantCulture, $"; phaseReason: {reason}");
            text.Append(CultureInfo.InvariantCulture, $"; readyInstances: {status?["readyInstances"]?.ToJsonString() ?? "0"}/{cluster?["spec"]?["instances"]?.ToJsonString() ?? "?"}");
            var conditions = (status?["conditions"] as JsonArray ?? []).OfType<JsonObject>()
                .Select(c => $"{c["type"]}={c["status"]}{(c["reason"] is { } r ? $" ({r})" : "")}{(c["message"]?.GetValue<string>() is { Length: > 0 } m ? $": {m}" : "")}")
                .ToList();
            text.Append(CultureInfo.InvariantCulture, $"; conditions: {(conditions.Count == 0 ? "none" : string.Join(", ", conditions))}");

            var jobName = CnpgNames.FullRecoveryJob(Name);
            var job = await _api.TryGetAsync(ResourceKind.Job, Namespace, jobName, token).ConfigureAwait(false);
            text.Append(CultureInfo.InvariantCulture, $"\njob {jobName}: ");
            text.Append(job is null ? "not created" : $"active {Count(job, "active")}, succeeded {Count(job, "succeeded")}, failed {Count(job, "failed")}");

            var recent = new List<JsonObject>();
            foreach (var involved in new[] { Name, jobName })
            {
                var list = await _api.ListAsync(ResourceKind.Event, Namespace, null, $"involvedObject.name={involved}", token).ConfigureAwait(false);
                recent.AddRange(list.Items);
            }
            var latest = recent.OrderByDescending(EventTime).Take(EventsShown).ToList();
            text.Append("\nrecent events:");
            if (latest.Count == 0) text.Append(" none");
            foreach (var e in latest)
                text.Append(CultureInfo.InvariantCulture,
                    $"\n  {EventTime(e):yyyy-MM-dd HH:mm:ss}Z {e["type"]} {e["involvedObject"]?["kind"]}/{e["involvedObject"]?["name"]} {e["reason"]}: {e["message"]}");
        }
        catch (Exception e) when (e is KubernetesApiException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n(could not read the full state: {e.Message})");
        }
        return Redactor.Redact(text.ToString())!;
    }

    /// <summary>
    /// Reads the <c>&lt;name&gt;-app</c> secret and opens a route to the primary: the <c>-rw</c> service inside a
    /// cluster (a service-account token is mounted), a port-forward from outside. The password is registered with <see cref="Redactor"/> and never
    /// exposed in a property.
    /// </summary>
    public async Task<CnpgConnection> ConnectAsync(CancellationToken ct) => await ConnectAsync(CnpgConnectRoute.Auto, ct).ConfigureAwait(false);

    /// <inheritdoc cref="ConnectAsync(CancellationToken)"/>
    public async Task<CnpgConnection> ConnectAsync(CnpgConnectRoute route, CancellationToken ct)
    {
        var secretName = CnpgNames.AppSecret(Name);
        var secret = await _api.TryGetAsync(ResourceKind.Secret, Namespace, secretName, ct).ConfigureAwait(false)
            ?? throw new InfrastructureException($"Secret {Namespace}/{secretName} with the application credentials of cluster {Namespace}/{Name} does not exist.",
                "Wait until the cluster is ready (CNPG creates the secret after promotion), and check that RestoreOps may get secrets in the namespace.");
        string Field(string key) => secret["data"]?[key]?.GetValue<string>() is { } b64
            ? Encoding.UTF8.GetString(Convert.FromBase64String(b64))
            : throw new InfrastructureException($"Secret {Namespace}/{secretName} has no '{key}' entry.",
                "The secret was not written by CNPG or was edited; delete the drill and run it again.");
        var password = Field("password");
        Redactor.RegisterSecret(password);
        var username = Field("username");
        var database = Field("dbname");
        var port = int.TryParse(Field("port"), NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : 5432;

        PortForward? forward = null;
        (string Host, int Port)? dial = null;
        string host;
        if (Choose(route, ServiceAccountTokenPath) == CnpgConnectRoute.Service)
        {
            // The fully qualified Service name: a pod's search path reaches <svc>.<ns> too, but .svc cannot be mistaken
            // for an outside host name.
            host = $"{CnpgNames.ReadWriteService(Name)}.{Namespace}.svc";
            dial = ResolveService?.Invoke(host, port);
        }
        else
        {
            var cluster = await _api.TryGetAsync(ResourceKind.Cluster, Namespace, Name, ct).ConfigureAwait(false);
            var primary = cluster?["status"]?["currentPrimary"]?.GetValue<string>() is { Length: > 0 } current ? current : $"{Name}-1";
            forward = await _api.PortForwardAsync(Namespace, primary, 5432, ct).ConfigureAwait(false);
            host = "127.0.0.1";
            port = forward.LocalPort;
        }
        var info = new ConnectionInfo { Host = host, Port = port, Username = username, Database = database };
        Cluster.Connection = info;
        var connection = new CnpgConnection(info, password, forward, dial);
        lock (_connections) _connections.Add(connection);
        return connection;
    }

    /// <summary>
    /// Deletes the Cluster (after checking RestoreOps owns it), then every PVC, secret, pod, service and job
    /// labelled for this drill, and the ObjectStore and Secret copies it brought into the namespace, and waits until
    /// they are gone. Safe to call twice.
    /// </summary>
    /// <param name="ct">Cancels the wait; deletions already sent stay sent.</param>
    /// <exception cref="ConfigurationException">An object named like the drill cluster is not RestoreOps' own: nothing is deleted.</exception>
    public async Task<CleanupOutcome> RemoveAsync(CancellationToken ct) => await RemoveAsync(TimeSpan.FromMinutes(5), ct).ConfigureAwait(false);

    /// <inheritdoc cref="RemoveAsync(CancellationToken)"/>
    public async Task<CleanupOutcome> RemoveAsync(TimeSpan timeout, CancellationToken ct)
    {
        var outcome = new CleanupOutcome();
        var timing = new PhaseTiming { Phase = DrillPhase.Cleanup, StartedAt = DateTimeOffset.UtcNow };
        List<CnpgConnection> connections;
        lock (_connections) { connections = [.. _connections]; _connections.Clear(); }
        foreach (var c in connections)
            await c.DisposeAsync().ConfigureAwait(false);

        var cluster = await _api.TryGetAsync(ResourceKind.Cluster, Namespace, Name, ct).ConfigureAwait(false);
        if (cluster is not null)
        {
            // Throws for a Cluster someone else created under the same name: it must survive.
            CnpgOwnership.AssertOwned(WithKind(cluster, ResourceKind.Cluster), Cluster.DrillId);
            if (await _api.DeleteAsync(ResourceKind.Cluster, Namespace, Name, DeletePropagation.Background, ct).ConfigureAwait(false))
                outcome.Removed.Add($"Cluster {Namespace}/{Name}");
        }
        // What the operator created carries the drill labels through inheritedMetadata. Garbage collection would
        // remove it by ownerReference too; deleting it here does not depend on the operator still running.
        var unreadable = new HashSet<ResourceKind>();
        foreach (var kind in DependentKinds)
        {
            KubernetesList list;
            try
            {
                list = await ListLabelledAsync(_api, kind, Namespace, _selector, ct).ConfigureAwait(false);
            }
            catch (KubernetesForbiddenException e) when (kind == ResourceKind.ObjectStore)
            {
                // A Role written before drills copied ObjectStores: everything else still goes, and the outcome says
                // which rule is missing instead of the whole cleanup failing.
                outcome.Problems.Add(e.Message);
                unreadable.Add(kind);
                continue;
            }
            foreach (var item in list.Items)
            {
                var name = item["metadata"]!["name"]!.GetValue<string>();
                try
                {
                    CnpgOwnership.AssertOwned(WithKind(item, kind), Cluster.DrillId);
                }
                catch (ConfigurationException e)
                {
                    outcome.Problems.Add(e.Message);
                    continue;
                }
                if (await _api.DeleteAsync(kind, Namespace, name, DeletePropagation.Background, ct).ConfigureAwait(false))
                    outcome.Removed.Add($"{kind.Kind} {Namespace}/{name}");
            }
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            foreach (var kind in DependentKinds.Prepend(ResourceKind.Cluster).Except(unreadable))
                await WaitGoneAsync(kind, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            outcome.Problems.Add($"Objects labelled {_selector} were still in namespace {Namespace} after {timeout.TotalMinutes:0.#} min (finalizers?); {InputKey.Orphaned.Ref()} removes them later.");
        }
        Cluster.Phases.Add(timing.End(outcome.Problems.Count == 0, $"{outcome.Removed.Count} objects removed"));
        outcome.Succeeded = outcome.Problems.Count == 0;
        if (outcome.Succeeded) Cluster.Phase = RestoreClusterPhase.Removed;
        return outcome;
    }

    /// <summary>Closes open port-forwards. Does not delete the cluster: call <see cref="RemoveAsync(CancellationToken)"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        List<CnpgConnection> connections;
        lock (_connections) { connections = [.. _connections]; _connections.Clear(); }
        foreach (var c in connections)
            await c.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override string ToString() => Cluster.ToString();

    // ObjectStore and Secret include the copies a drill brought into its namespace (CnpgDrillNamespace).
    private static readonly ResourceKind[] DependentKinds =
        [ResourceKind.Job, ResourceKind.Pod, ResourceKind.Service, ResourceKind.Secret, ResourceKind.PersistentVolumeClaim, ResourceKind.ObjectStore];

    /// <summary>
    /// Lists labelled objects of <paramref name="kind"/>; a cluster without the barman-cloud plugin does not serve
    /// ObjectStores at all, which means there are none to remove.
    /// </summary>
    internal static async Task<KubernetesList> ListLabelledAsync(IKubernetesApi api, ResourceKind kind, string? ns, string selector, CancellationToken ct)
    {
        try
        {
            return await api.ListAsync(kind, ns, selector, null, ct).ConfigureAwait(false);
        }
        catch (KubernetesNotFoundException e) when (e.ResourceTypeMissing && kind == ResourceKind.ObjectStore)
        {
            return new KubernetesList([], "");
        }
    }

    // List then watch from the list's resourceVersion: no deletion can fall between the two.
    private async Task WaitGoneAsync(ResourceKind kind, CancellationToken ct)
    {
        var list = await ListLabelledAsync(_api, kind, Namespace, _selector, ct).ConfigureAwait(false);
        var left = list.Items.Select(i => i["metadata"]!["name"]!.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
        if (left.Count == 0) return;
        await foreach (var change in _api.WatchAsync(kind, Namespace, _selector, null, list.ResourceVersion, ct).ConfigureAwait(false))
        {
            if (change.Name is not { } name) continue;
            if (change.Type == WatchEventType.Deleted) left.Remove(name);
            else if (change.Type is WatchEventType.Added or WatchEventType.Modified) left.Add(name);
            if (left.Count == 0) return;
        }
    }

    private async Task PumpAsync(ResourceKind kind, string name, ChannelWriter<(ResourceKind, WatchEvent)> writer, CancellationToken ct)
    {
        try
        {
            await foreach (var change in _api.WatchAsync(kind, Namespace, null, $"metadata.name={name}", null, ct).ConfigureAwait(false))
                await writer.WriteAsync((kind, change), ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
    }

    private async Task<RestoreFailedException> FailureAsync(string what, CancellationToken ct)
    {
        Cluster.Phase = RestoreClusterPhase.Failed;
        var state = await DescribeAsync(ct).ConfigureAwait(false);
        return new RestoreFailedException(Redactor.Redact(what)!,
            $"Read the events and the logs of job {CnpgNames.FullRecoveryJob(Name)} (kubectl logs -n {Namespace} job/{CnpgNames.FullRecoveryJob(Name)}); check that the backup, its WAL and the recovery target exist in the object store.",
            details: state);
    }

    /// <summary>Healthy, the Ready condition True, and every instance ready: the definitions of CNPG's own e2e tests.</summary>
    internal static bool IsReady(JsonObject cluster)
    {
        var status = cluster["status"];
        if (status?["phase"]?.GetValue<string>() != CnpgNames.PhaseHealthy) return false;
        var readyCondition = (status["conditions"] as JsonArray ?? []).OfType<JsonObject>()
            .Any(c => c["type"]?.GetValue<string>() == CnpgNames.ConditionReady && c["status"]?.GetValue<string>() == "True");
        var want = CrdSchema.Number(cluster["spec"]?["instances"]) ?? 1;
        return readyCondition && CrdSchema.Number(status["readyInstances"]) == want;
    }

    // A Job has failed for good once its Failed condition is True (backoffLimit exhausted); single pod failures retry.
    private static bool JobFailed(JsonObject job) =>
        (job["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>()
            .Any(c => c["type"]?.GetValue<string>() == "Failed" && c["status"]?.GetValue<string>() == "True");

    private static string Count(JsonObject job, string key) => (CrdSchema.Number(job["status"]?[key]) ?? 0).ToString(CultureInfo.InvariantCulture);

    private static DateTimeOffset EventTime(JsonObject e)
    {
        foreach (var key in new[] { "lastTimestamp", "eventTime", "firstTimestamp" })
            if (e[key]?.GetValue<string>() is { Length: > 0 } s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t))
                return t;
        return e["metadata"]?["creationTimestamp"]?.GetValue<string>() is { } c && DateTimeOffset.TryParse(c, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var ct)
            ? ct : DateTimeOffset.MinValue;
    }

    // List items come without kind; AssertOwned names the kind in its refusal.
    private static JsonObject WithKind(JsonObject item, ResourceKind kind)
    {
        item["kind"] ??= kind.Kind;
        return item;
    }
}

/// <summary>
/// An open route to a restored CNPG primary, with the application user's credentials. The password stays in a
/// private field; <see cref="Info"/> and <see cref="ToString"/> never show it.
/// </summary>
/// <example>
/// <code>
/// await using var connection = await restore.ConnectAsync(ct);
/// await using var session = await connection.OpenAsync(ct);
/// Console.WriteLine(connection);   // app@127.0.0.1:41234/shop
/// </code>
/// </example>
internal sealed class CnpgConnection : IAsyncDisposable
{
    private readonly string _password;
    private readonly PortForward? _forward;
    private readonly (string Host, int Port)? _dial;

    internal CnpgConnection(ConnectionInfo info, string password, PortForward? forward, (string Host, int Port)? dial = null)
    {
        Info = info;
        _password = password;
        _forward = forward;
        _dial = dial;
    }

    /// <summary>Host, port, user and database. No password.</summary>
    public ConnectionInfo Info { get; }

    /// <summary>True when the route is a port-forward from this machine.</summary>
    public bool IsPortForward => _forward is not null;

    /// <summary>Npgsql settings with the password, for opening sessions. Never log or serialise the result.</summary>
    public NpgsqlConnectionStringBuilder ConnectionString(string? database = null) => new()
    {
        Host = _dial?.Host ?? Info.Host,
        Port = _dial?.Port ?? Info.Port,
        Username = Info.Username,
        Password = _password,
        Database = database ?? Info.Database,
        // A port-forward ends with this object; pooled sessions would outlive it.
        Pooling = false,
        Timeout = 30,
    };

    /// <summary>Opens a session as the application user, in the application database.</summary>
    public Task<NpgsqlConnection> OpenAsync(CancellationToken ct) => OpenAsync(null, ct);

    /// <summary>Opens a session as the application user in <paramref name="database"/> (null: the application database).</summary>
    public async Task<NpgsqlConnection> OpenAsync(string? database, CancellationToken ct)
    {
        var connection = new NpgsqlConnection(ConnectionString(database).ConnectionString);
        try
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            return connection;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new InfrastructureException($"Could not open a session as {Info} on the restored cluster: {Redactor.Redact(e.Message)}",
                "Check that the cluster is ready and that the -app secret matches the role (CNPG sets its password after promotion).", e);
        }
    }

    /// <inheritdoc />
    public override string ToString() => _forward is null ? Info.ToString() : $"{Info} (via {_forward})";

    /// <summary>Closes the port-forward, if any.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_forward is not null)
            await _forward.DisposeAsync().ConfigureAwait(false);
    }
}
