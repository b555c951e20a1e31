using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;
using RestoreOps.Backups;
using RestoreOps.Cnpg;
using RestoreOps.Kubernetes;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Kubernetes;

namespace RestoreOps.Tests.Cnpg;

/// <summary>
/// A stand-in for the CloudNativePG operator, talking to the API server only through its HTTP API (list/watch,
/// create, delete, and <c>.status</c> through the status subresource), so it plays the operator against the real
/// kube-apiserver (<see cref="RealApiServer"/>) and the in-process <see cref="FakeKubernetesServer"/> alike. On the
/// fake, every created Cluster is also checked against the real CRD schema (422 with causes). A recovery Cluster
/// is brought up the way CNPG does it (FACTS.md §b–§d) — "Setting up primary", a <c>-1-full-recovery</c> Job, the backup resolved from the
/// external cluster or the Backup object, a REAL restore of the fixture's Barman backup, the owner's password
/// from a generated <c>-app</c> secret, pod/PVC/service, then "Cluster in healthy state". A failed restore leaves
/// the Job failed, the phase at "Setting up primary" with a reason, and a RestoreFailed Event.
/// Deleting the Cluster stops the restore and removes what was created for it (as ownerReferences would). It also
/// plays the pvc-protection controller: a deleted PVC loses its <c>kubernetes.io/pvc-protection</c> finalizer.
/// Only the fake can port-forward (the real server has no kubelet): there the pod's port maps to the restore.
/// </summary>
/// <example>
/// <code>
/// await using var server = new FakeKubernetesServer();
/// await using var simulator = await OperatorSimulator.StartAsync(server, fixtures);
/// // create a recovery Cluster through the engine; the simulator makes it healthy
/// </code>
/// </example>
internal sealed class OperatorSimulator : IAsyncDisposable
{
    private static readonly CrdSchema ClusterSchema = CrdSchema.For(CnpgNames.Group, "clusters");
    private static readonly CrdSchema BackupSchema = CrdSchema.For(CnpgNames.Group, "backups");
    private static readonly CrdSchema ObjectStoreSchema = CrdSchema.For(ResourceKind.ObjectStore.Group, ResourceKind.ObjectStore.Plural);

    private const string PvcProtection = "kubernetes.io/pvc-protection";

    private readonly FakeKubernetesServer? _fake;
    private readonly BackupFixtures _fx;
    private readonly KubernetesClient _api;
    private readonly KubernetesWriter _writer;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, Reconcile> _clusters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _removed = new(StringComparer.Ordinal);
    private Task _loop = Task.CompletedTask;
    private Task _pvcLoop = Task.CompletedTask;

    private OperatorSimulator(KubernetesConfig config, BackupFixtures fx, FakeKubernetesServer? fake)
    {
        _fake = fake;
        _fx = fx;
        _api = new KubernetesClient(config);
        _writer = new KubernetesWriter(config);
    }

    /// <summary>Every LocalRestore the simulator ran, for <c>Leftovers.AssertNone</c>.</summary>
    public ConcurrentQueue<LocalRestore> Restores { get; } = new();

    /// <summary>
    /// Where each ready recovery cluster ("ns/name") really listens: the local restore. What a pod IP would be; tests
    /// against the real server (no kubelet, so no port-forward) connect here with the credentials of the -app secret.
    /// </summary>
    public ConcurrentDictionary<string, IPEndPoint> Endpoints { get; } = new(StringComparer.Ordinal);

    /// <summary>Namespaces no operator watches: Clusters there are left as created (for waits that must time out).</summary>
    public ConcurrentDictionary<string, byte> IgnoredNamespaces { get; } = new(StringComparer.Ordinal);

    /// <summary>ObjectStore name → destination path, for plugin (<c>barman-cloud.cloudnative-pg.io</c>) sources.</summary>
    public ConcurrentDictionary<string, string> ObjectStores { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// In-cluster DNS as a pod would see it: <c>&lt;service&gt;.&lt;namespace&gt;.svc</c> → the restored primary's
    /// address, for connections through the <c>-rw</c> Service instead of a port-forward.
    /// </summary>
    public ConcurrentDictionary<string, IPEndPoint> ServiceEndpoints { get; } = new(StringComparer.Ordinal);

    /// <summary>The Secret the source clusters of <see cref="CnpgResources.SourceCluster"/> read their object-store credentials from.</summary>
    public const string CredentialsSecret = "s3-creds";

    /// <summary>Installs CRD validation on <paramref name="server"/> only (no reconciliation).</summary>
    public static void ValidateWithCrds(FakeKubernetesServer server) =>
        server.Validate = (kind, obj) => kind == ResourceKind.Cluster ? ClusterSchema.Validate(obj)
            : kind == ResourceKind.Backup ? BackupSchema.Validate(obj)
            : kind == ResourceKind.ObjectStore ? ObjectStoreSchema.Validate(obj)
            : [];

    /// <summary>Validates with the CRDs and starts watching Clusters in every namespace of the in-process double.</summary>
    public static async Task<OperatorSimulator> StartAsync(FakeKubernetesServer server, BackupFixtures fx)
    {
        ValidateWithCrds(server);
        var simulator = new OperatorSimulator(server.Config("operator", "cnpg-system"), fx, server);
        var watching = server.WaitForWatchersAsync(server.ActiveWatchers + 1);
        simulator.Start();
        // The watch lists first, so no Cluster can be missed; waiting here only keeps test timing simple.
        await Task.WhenAny(watching, simulator._loop);
        return simulator;
    }

    /// <summary>Plays the operator against the real API server, as its cluster-admin (the operator's own rights are wider than a drill's).</summary>
    public static OperatorSimulator Start(RealApiServer server, BackupFixtures fx)
    {
        var simulator = new OperatorSimulator(KubernetesConfig.Load(server.AdminKubeconfig, null), fx, null);
        // The watch lists before it watches, so Clusters created before it is open are still seen.
        simulator.Start();
        return simulator;
    }

    private void Start()
    {
        _loop = Task.Run(WatchAsync);
        _pvcLoop = Task.Run(ReleasePvcsAsync);
    }

    /// <summary>Completes when the simulator has finished removing cluster <paramref name="ns"/>/<paramref name="name"/> after its deletion.</summary>
    public Task RemovedAsync(string ns, string name) => _removed.GetOrAdd($"{ns}/{name}", _ => NewSignal()).Task;

    /// <summary>Every kind of object a drill leaves when something goes wrong: the Cluster and what CNPG makes for it.</summary>
    private static readonly ResourceKind[] DrillKinds =
        [ResourceKind.Cluster, ResourceKind.Job, ResourceKind.Pod, ResourceKind.Service, ResourceKind.Secret, ResourceKind.PersistentVolumeClaim, ResourceKind.ObjectStore];

    /// <summary>
    /// Asserts that a removed drill cluster is gone everywhere: the simulator finished removing it, no object labelled
    /// for the drill is left in any namespace, and every local restore behind it left nothing on disk or running.
    /// </summary>
    public async Task AssertNothingLeftAsync(IKubernetesApi api, string ns, string name, string drillId, CancellationToken ct)
    {
        await RemovedAsync(ns, name).WaitAsync(ct);
        foreach (var kind in DrillKinds)
        {
            var left = await api.ListAsync(kind, IKubernetesApi.AllNamespaces, CnpgOwnership.DrillSelector(drillId), null, ct);
            Xunit.Assert.True(left.Items.Count == 0, $"{kind.Kind} left behind: {string.Join(", ", left.Items.Select(i => i["metadata"]!["name"]))}");
        }
        Xunit.Assert.Null(await _api.TryGetAsync(ResourceKind.Cluster, ns, name, ct));
        foreach (var local in Restores)
            Restore.Leftovers.AssertNone(local);
    }

    /// <summary>Puts a completed in-tree Backup resource for one of the fixture's real Barman backups.</summary>
    public async Task<JsonObject> PutBackupAsync(string ns, string name, string cluster, string serverName, CancellationToken ct)
    {
        using var catalog = BarmanCloudCatalog.Create(BackupFixtures.DestinationPath, serverName, _fx.S3.Options);
        var backup = await catalog.GetLatestAsync(ct);
        static string Time(DateTimeOffset? t) => t!.Value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var status = new JsonObject
            {
                ["phase"] = CnpgNames.BackupCompleted,
                ["method"] = "barmanObjectStore",
                ["backupId"] = backup.Id,
                ["backupName"] = backup.Name,
                ["destinationPath"] = BackupFixtures.DestinationPath,
                ["endpointURL"] = _fx.S3.Endpoint,
                ["serverName"] = serverName,
                ["startedAt"] = Time(backup.BeginTime),
                ["stoppedAt"] = Time(backup.EndTime),
                ["beginWal"] = backup.BeginWal,
                ["endWal"] = backup.EndWal,
                ["beginLSN"] = backup.BeginLsn,
                ["endLSN"] = backup.EndLsn,
        };
        var resource = new JsonObject
        {
            ["apiVersion"] = CnpgNames.ApiVersion,
            ["kind"] = "Backup",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = new JsonObject { ["cluster"] = new JsonObject { ["name"] = cluster }, ["method"] = "barmanObjectStore" },
            ["status"] = status,
        };
        var problems = BackupSchema.Validate(resource);
        if (problems.Count > 0) throw new InvalidOperationException("test Backup does not match the CRD: " + string.Join("; ", problems));
        // A namespace whose cluster took backups holds the credentials it took them with (a test may have put its own).
        if (await _api.TryGetAsync(ResourceKind.Secret, ns, CredentialsSecret, ct) is null)
            await _api.CreateAsync(ResourceKind.Secret, ns, new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Secret",
                ["metadata"] = new JsonObject { ["name"] = CredentialsSecret, ["namespace"] = ns },
                ["type"] = "Opaque",
                ["data"] = new JsonObject { ["ACCESS_KEY_ID"] = B64(S3rverServer.AccessKey), ["ACCESS_SECRET_KEY"] = B64(S3rverServer.Secret) },
            }, ct);
        // As the operator does it: the object first, its status through the status subresource.
        resource.Remove("status");
        await _api.CreateAsync(ResourceKind.Backup, ns, resource, ct);
        return await _writer.UpdateAsync(ResourceKind.Backup, ns, name, b => b["status"] = status.DeepClone(), status: true, ct);
    }

    /// <summary>
    /// Plays CNPG's backup controller for the next Backup that appears in <paramref name="ns"/> without a phase (an
    /// on-demand one): "running", then "completed" with the status of the fixture's real latest backup of
    /// <paramref name="serverName"/> (as the method fills it: no destinationPath for the plugin), or "failed" with
    /// <paramref name="error"/>. Watches from the current list on, so a Backup created before the watch opens is seen too.
    /// </summary>
    public async Task<JsonObject> FinishNextBackupAsync(string ns, string serverName, string? error, CancellationToken ct)
    {
        while (true)
        {
            try
            {
                return await FinishNextBackupOnceAsync(ns, serverName, error, ct);
            }
            catch (KubernetesUnavailableException e) when (e.IsTimeout && !ct.IsCancellationRequested)
            {
                // The in-process double sends a watch's headers with its first event, so a quiet watch (the backup's
                // creator still starting, e.g. a CLI process on a loaded machine) times out the client's wait for them:
                // watch again, from a fresh list that shows a Backup created meanwhile.
            }
        }
    }

    private async Task<JsonObject> FinishNextBackupOnceAsync(string ns, string serverName, string? error, CancellationToken ct)
    {
        await foreach (var change in _api.WatchAsync(ResourceKind.Backup, ns, null, null, null, ct))
        {
            if (change.Type is not (WatchEventType.Added or WatchEventType.Modified) || change.Object["status"]?["phase"] is not null) continue;
            var name = change.Name!;
            var method = change.Object["spec"]?["method"]?.GetValue<string>() ?? "barmanObjectStore";
            await UpdateStatusAsync(ResourceKind.Backup, ns, name, new JsonObject { ["phase"] = "running", ["method"] = method }, ct);
            if (error is not null)
                return await _writer.UpdateAsync(ResourceKind.Backup, ns, name,
                    b => b["status"] = new JsonObject { ["phase"] = "failed", ["method"] = method, ["error"] = error }, status: true, ct);
            using var catalog = BarmanCloudCatalog.Create(BackupFixtures.DestinationPath, serverName, _fx.S3.Options);
            var latest = await catalog.GetLatestAsync(ct);
            static string Time(DateTimeOffset? t) => t!.Value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            var status = new JsonObject
            {
                ["phase"] = CnpgNames.BackupCompleted, ["method"] = method, ["backupId"] = latest.Id, ["backupName"] = latest.Name,
                ["startedAt"] = Time(latest.BeginTime), ["stoppedAt"] = Time(latest.EndTime), ["beginWal"] = latest.BeginWal, ["endWal"] = latest.EndWal,
            };
            if (method == "barmanObjectStore")
            {
                status["destinationPath"] = BackupFixtures.DestinationPath;
                status["endpointURL"] = _fx.S3.Endpoint;
                status["serverName"] = serverName;
            }
            return await _writer.UpdateAsync(ResourceKind.Backup, ns, name, b => b["status"] = status, status: true, ct);
        }
        throw new OperationCanceledException(ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await _loop; } catch (Exception) { }
        foreach (var key in _clusters.Keys.ToList())
            await TearDownAsync(key);
        try { await _pvcLoop; } catch (Exception) { }
        _api.Dispose();
        _writer.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task WatchAsync()
    {
        try
        {
            await foreach (var change in _api.WatchAsync(ResourceKind.Cluster, IKubernetesApi.AllNamespaces, null, null, null, _stop.Token))
            {
                var key = $"{change.Namespace}/{change.Name}";
                var uid = change.Object["metadata"]?["uid"]?.ToString() ?? "";
                if (change.Type == WatchEventType.Deleted)
                {
                    // Tear down off the watch loop: a stopping restore must not delay other clusters' events.
                    _ = Task.Run(() => TearDownAsync(key));
                }
                else if (change.Type == WatchEventType.Added && !_clusters.ContainsKey(key)
                         && change.Object["spec"]?["bootstrap"]?["recovery"] is not null && !IgnoredNamespaces.ContainsKey(change.Namespace ?? ""))
                {
                    // Only recovery Clusters are brought up: a test's source cluster already "runs".
                    var reconcile = new Reconcile(uid, CancellationTokenSource.CreateLinkedTokenSource(_stop.Token));
                    if (_clusters.TryAdd(key, reconcile))
                        reconcile.Task = Task.Run(() => BringUpAsync(change.Object, reconcile));
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task TearDownAsync(string key)
    {
        var signal = _removed.GetOrAdd(key, _ => NewSignal());
        if (!_clusters.TryRemove(key, out var reconcile))
        {
            signal.TrySetResult();
            return;
        }
        await reconcile.Stop.CancelAsync();
        try { await reconcile.Task; } catch (Exception) { }
        if (reconcile.Restore is { } restore)
            await restore.RemoveAsync();
        // What garbage collection would remove through the ownerReferences; done when it is really gone.
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        foreach (var (kind, ns, name) in reconcile.Created)
        {
            try
            {
                await _api.DeleteAsync(kind, ns, name, DeletePropagation.Background, limit.Token);
                await WaitGoneAsync(kind, ns, name, limit.Token);
            }
            catch (Exception e) when (e is KubernetesApiException or OperationCanceledException)
            {
            }
            if (kind == ResourceKind.Pod) _fake?.UnmapPortForward(ns, name);
            if (kind == ResourceKind.Service) ServiceEndpoints.TryRemove($"{name}.{ns}.svc", out _);
        }
        reconcile.Stop.Dispose();
        signal.TrySetResult();
    }

    private async Task WaitGoneAsync(ResourceKind kind, string ns, string name, CancellationToken ct)
    {
        var list = await _api.ListAsync(kind, ns, null, $"metadata.name={name}", ct);
        if (list.Items.Count == 0) return;
        await foreach (var change in _api.WatchAsync(kind, ns, null, $"metadata.name={name}", list.ResourceVersion, ct))
            if (change.Type == WatchEventType.Deleted) return;
    }

    // The pvc-protection controller's part: without a controller-manager a deleted PVC would keep its finalizer forever.
    private async Task ReleasePvcsAsync()
    {
        try
        {
            await foreach (var change in _api.WatchAsync(ResourceKind.PersistentVolumeClaim, IKubernetesApi.AllNamespaces, null, null, null, _stop.Token))
            {
                var meta = change.Object["metadata"];
                if (change.Type == WatchEventType.Deleted || meta?["deletionTimestamp"] is null
                    || !(meta["finalizers"] as JsonArray ?? []).Any(f => (string?)f == PvcProtection))
                    continue;
                try
                {
                    await _writer.UpdateAsync(ResourceKind.PersistentVolumeClaim, change.Namespace!, change.Name!, pvc =>
                    {
                        var finalizers = pvc["metadata"]!["finalizers"] as JsonArray ?? [];
                        foreach (var f in finalizers.Where(f => (string?)f == PvcProtection).ToList()) finalizers.Remove(f);
                    }, status: false, _stop.Token);
                }
                catch (KubernetesNotFoundException)
                {
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task BringUpAsync(JsonObject cluster, Reconcile reconcile)
    {
        var ct = reconcile.Stop.Token;
        var ns = cluster["metadata"]!["namespace"]!.GetValue<string>();
        var name = cluster["metadata"]!["name"]!.GetValue<string>();
        var labels = (cluster["spec"]?["inheritedMetadata"]?["labels"] as JsonObject)?.DeepClone().AsObject() ?? new JsonObject();
        labels[CnpgNames.ClusterLabel] = name;
        var jobName = CnpgNames.FullRecoveryJob(name);
        var owner = new Owner(name, reconcile.Uid);
        try
        {
            await UpdateClusterAsync(ns, name, status =>
            {
                status["phase"] = CnpgNames.PhaseSettingUpPrimary;
                status["phaseReason"] = "Creating primary instance " + name + "-1";
                status["instances"] = 1;
                status["readyInstances"] = 0;
                status["conditions"] = new JsonArray(Condition("Ready", "False", "ClusterIsNotReady", "Cluster Is Not Ready"));
            }, ct);
            var job = Object(owner, ns, jobName, labels, "Job", "batch/v1", extraLabels: new() { ["cnpg.io/jobRole"] = "full-recovery" });
            job["spec"] = new JsonObject
            {
                ["backoffLimit"] = 0,
                ["template"] = new JsonObject
                {
                    ["spec"] = new JsonObject { ["restartPolicy"] = "Never", ["containers"] = new JsonArray(Container("full-recovery")) },
                },
            };
            await CreateAsync(reconcile, ResourceKind.Job, job, new JsonObject { ["active"] = 1 }, ct);

            var recovery = cluster["spec"]?["bootstrap"]?["recovery"] as JsonObject
                ?? throw new InvalidOperationException($"cluster {ns}/{name} has no spec.bootstrap.recovery: the simulator only restores");
            var backup = await ResolveBackupAsync(cluster, recovery, ns, ct);
            var target = MapTarget(recovery["recoveryTarget"] as JsonObject);
            var drillId = labels[CnpgNames.DrillIdLabel]?.GetValue<string>() ?? name;
            var restore = LocalRestore.Create(backup, target, _fx.RestoreOptions(), $"cnpg-{drillId}");
            reconcile.Restore = restore;
            Restores.Enqueue(restore);
            await restore.RunAsync(null, ct);

            // After promotion CNPG sets the owner's password from the (generated) app secret (FACTS.md §d).
            var database = recovery["database"]?.GetValue<string>() ?? "app";
            var role = recovery["owner"]?.GetValue<string>() ?? database;
            var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)).Replace('/', 'x').Replace('+', 'y').TrimEnd('=');
            await using (var admin = new NpgsqlConnection(restore.AdminConnectionString("postgres").ConnectionString))
            {
                await admin.OpenAsync(ct);
                await using var alter = new NpgsqlCommand($"alter role {Quote(role)} with login password '{password}'; alter database {Quote(database)} owner to {Quote(role)}", admin);
                await alter.ExecuteNonQueryAsync(ct);
            }

            var secretLabels = new Dictionary<string, string> { ["cnpg.io/userType"] = "app", ["cnpg.io/reload"] = "true" };
            var secret = Object(owner, ns, CnpgNames.AppSecret(name), labels, "Secret", "v1", secretLabels);
            secret["type"] = "kubernetes.io/basic-auth";
            secret["data"] = new JsonObject
            {
                ["username"] = B64(role),
                ["user"] = B64(role),
                ["password"] = B64(password),
                ["dbname"] = B64(database),
                ["host"] = B64(CnpgNames.ReadWriteService(name)),
                ["port"] = B64("5432"),
            };
            await CreateAsync(reconcile, ResourceKind.Secret, secret, null, ct);
            var pod = $"{name}-1";
            var pvc = Object(owner, ns, pod, labels, "PersistentVolumeClaim", "v1");
            pvc["spec"] = new JsonObject
            {
                ["accessModes"] = new JsonArray("ReadWriteOnce"),
                ["resources"] = new JsonObject { ["requests"] = new JsonObject { ["storage"] = "1Gi" } },
            };
            await CreateAsync(reconcile, ResourceKind.PersistentVolumeClaim, pvc, new JsonObject { ["phase"] = "Bound" }, ct);
            // Only the in-process double forwards ports (to the local restore); the real server has no kubelet.
            _fake?.MapPortForward(ns, pod, new IPEndPoint(IPAddress.Loopback, restore.Instance!.Port));
            Endpoints[$"{ns}/{name}"] = new IPEndPoint(IPAddress.Loopback, restore.Instance!.Port);
            var podObject = Object(owner, ns, pod, labels, "Pod", "v1", new() { ["cnpg.io/instanceName"] = pod, ["cnpg.io/instanceRole"] = "primary" });
            podObject["spec"] = new JsonObject { ["containers"] = new JsonArray(Container("postgres")) };
            await CreateAsync(reconcile, ResourceKind.Pod, podObject, new JsonObject { ["phase"] = "Running" }, ct);
            var service = Object(owner, ns, CnpgNames.ReadWriteService(name), labels, "Service", "v1");
            service["spec"] = new JsonObject
            {
                ["selector"] = new JsonObject { [CnpgNames.ClusterLabel] = name, ["cnpg.io/instanceRole"] = "primary" },
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "postgres", ["port"] = 5432, ["targetPort"] = 5432 }),
            };
            await CreateAsync(reconcile, ResourceKind.Service, service, null, ct);
            ServiceEndpoints[$"{CnpgNames.ReadWriteService(name)}.{ns}.svc"] = new IPEndPoint(IPAddress.Loopback, restore.Instance!.Port);
            await UpdateStatusAsync(ResourceKind.Job, ns, jobName, new JsonObject
            {
                ["succeeded"] = 1,
                ["conditions"] = new JsonArray(Condition("Complete", "True", null, null)),
            }, ct);
            await UpdateClusterAsync(ns, name, status =>
            {
                status["phase"] = CnpgNames.PhaseHealthy;
                status.Remove("phaseReason");
                status["readyInstances"] = 1;
                status["currentPrimary"] = pod;
                status["targetPrimary"] = pod;
                status["timelineID"] = restore.Cluster.Timeline ?? 1;
                status["writeService"] = CnpgNames.ReadWriteService(name);
                status["conditions"] = new JsonArray(Condition("Ready", "True", "ClusterIsReady", "Cluster is Ready"));
            }, ct);
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            // The Cluster was deleted (or the test ended): TearDownAsync takes over.
        }
        catch (KubernetesNotFoundException)
        {
            // The Cluster vanished between two steps.
        }
        catch (Exception e)
        {
            var message = "Error while restoring a backup: " + e.Message;
            // The Event first: a client reacting to the failed Job must already find it.
            await _api.CreateAsync(ResourceKind.Event, ns, new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Event",
                ["metadata"] = new JsonObject { ["name"] = $"{name}.{Guid.NewGuid():N}"[..Math.Min(name.Length + 17, 63)], ["namespace"] = ns },
                ["involvedObject"] = new JsonObject { ["kind"] = "Cluster", ["apiVersion"] = CnpgNames.ApiVersion, ["name"] = name, ["namespace"] = ns },
                ["reason"] = "RestoreFailed",
                ["message"] = message,
                ["type"] = "Warning",
                ["lastTimestamp"] = DateTimeOffset.UtcNow.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                ["source"] = new JsonObject { ["component"] = "cloudnative-pg" },
            }, CancellationToken.None);
            try
            {
                await UpdateClusterAsync(ns, name, status => status["phaseReason"] = message, CancellationToken.None);
                await UpdateStatusAsync(ResourceKind.Job, ns, jobName, new JsonObject
                {
                    ["failed"] = 1,
                    ["conditions"] = new JsonArray(Condition("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit")),
                }, CancellationToken.None);
            }
            catch (KubernetesNotFoundException)
            {
            }
        }
    }

    private async Task<Backup> ResolveBackupAsync(JsonObject cluster, JsonObject recovery, string ns, CancellationToken ct)
    {
        string destination, serverName;
        string? backupId = recovery["recoveryTarget"]?["backupID"]?.GetValue<string>();
        if (recovery["backup"]?["name"]?.GetValue<string>() is { } backupName)
        {
            // backup.name: everything comes from the Backup object's status (restore.go loadBackupFromReference).
            var resource = await _api.TryGetAsync(ResourceKind.Backup, ns, backupName, ct)
                ?? throw new InvalidOperationException($"Backup {ns}/{backupName} referenced by spec.bootstrap.recovery.backup.name does not exist");
            var status = resource["status"];
            if (status?["phase"]?.GetValue<string>() != CnpgNames.BackupCompleted)
                throw new InvalidOperationException($"Backup {ns}/{backupName} is not completed");
            destination = status["destinationPath"]!.GetValue<string>();
            serverName = status["serverName"]!.GetValue<string>();
            backupId = status["backupId"]!.GetValue<string>();
        }
        else
        {
            var source = recovery["source"]?.GetValue<string>() ?? throw new InvalidOperationException("recovery has neither backup.name nor source");
            var external = (cluster["spec"]?["externalClusters"] as JsonArray ?? []).OfType<JsonObject>()
                .FirstOrDefault(e => e["name"]?.GetValue<string>() == source)
                ?? throw new InvalidOperationException($"externalClusters has no entry named {source}");
            if (external["barmanObjectStore"] is JsonObject store)
            {
                destination = store["destinationPath"]!.GetValue<string>();
                serverName = store["serverName"]?.GetValue<string>() ?? source;
                await RequireSecretsAsync(ns, store, "externalClusters[].barmanObjectStore", ct);
            }
            else if (external["plugin"] is JsonObject plugin && plugin["name"]?.GetValue<string>() == CnpgNames.BarmanCloudPlugin)
            {
                var objectStore = plugin["parameters"]?["barmanObjectName"]?.GetValue<string>() ?? "";
                // The plugin resolves barmanObjectName in the Cluster's own namespace.
                if (await _api.TryGetAsync(ResourceKind.ObjectStore, ns, objectStore, ct) is { } resource)
                {
                    var configuration = resource["spec"]?["configuration"] as JsonObject;
                    destination = configuration?["destinationPath"]?.GetValue<string>() ?? throw new InvalidOperationException($"ObjectStore {ns}/{objectStore} has no destinationPath");
                    await RequireSecretsAsync(ns, configuration, $"ObjectStore {ns}/{objectStore}", ct);
                }
                else destination = ObjectStores.TryGetValue(objectStore, out var d) ? d
                    : throw new InvalidOperationException($"ObjectStore {ns}/{objectStore} does not exist");
                // The plugin's default is the new cluster's own name (FACTS.md §b gotcha).
                serverName = plugin["parameters"]?["serverName"]?.GetValue<string>() ?? cluster["metadata"]!["name"]!.GetValue<string>();
            }
            else
                throw new InvalidOperationException($"externalClusters[{source}] has no barmanObjectStore or barman-cloud plugin");
        }
        using var catalog = BarmanCloudCatalog.Create(destination, serverName, _fx.S3.Options);
        var backups = await catalog.ListAsync(includeUnusable: false, ct);
        var targetTime = recovery["recoveryTarget"]?["targetTime"]?.GetValue<string>() is { } tt
            ? DateTimeOffset.Parse(tt, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal) : (DateTimeOffset?)null;
        var chosen = backupId is not null ? backups.FirstOrDefault(b => b.Id == backupId)
            : targetTime is { } t ? backups.Where(b => b.EndTime <= t).MaxBy(b => b.EndTime)
            : backups.MaxBy(b => b.EndTime);
        return chosen ?? throw new InvalidOperationException(
            $"no target backup found (destinationPath {destination}, serverName {serverName}{(backupId is null ? "" : $", backupID {backupId}")})");
    }

    /// <summary>The restore job reads the object store's credentials from Secrets in its own namespace: a missing one fails it.</summary>
    private async Task RequireSecretsAsync(string ns, JsonObject? configuration, string what, CancellationToken ct)
    {
        foreach (var (path, selector) in CnpgDrillNamespace.SecretReferences(configuration))
        {
            var name = selector["name"]?.GetValue<string>();
            var key = selector["key"]?.GetValue<string>() ?? "";
            var secret = name is null ? null : await _api.TryGetAsync(ResourceKind.Secret, ns, name, ct);
            if (secret?["data"]?[key] is null)
                throw new InvalidOperationException($"secret \"{name}\" (key {key}) named by {what} {path} not found in namespace {ns}");
        }
    }

    private static RecoveryTarget MapTarget(JsonObject? t)
    {
        if (t is null) return RecoveryTarget.Latest;
        var inclusive = t["exclusive"]?.GetValue<bool>() != true;
        if (t["targetTime"]?.GetValue<string>() is { } time)
            return RecoveryTarget.AtTime(DateTimeOffset.Parse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal), inclusive);
        if (t["targetLSN"]?.GetValue<string>() is { } lsn) return RecoveryTarget.AtLsn(lsn, inclusive);
        if (t["targetXID"]?.GetValue<string>() is { } xid) return RecoveryTarget.AtXid(ulong.Parse(xid, CultureInfo.InvariantCulture), inclusive);
        if (t["targetName"]?.GetValue<string>() is { } point) return RecoveryTarget.AtRestorePoint(point);
        if (t["targetImmediate"]?.GetValue<bool>() == true) return RecoveryTarget.Immediate;
        return RecoveryTarget.Latest;
    }

    private Task UpdateClusterAsync(string ns, string name, Action<JsonObject> change, CancellationToken ct) =>
        _writer.UpdateAsync(ResourceKind.Cluster, ns, name, o =>
        {
            var status = o["status"] as JsonObject ?? new JsonObject();
            o["status"] = status;
            change(status);
        }, status: true, ct);

    private Task UpdateStatusAsync(ResourceKind kind, string ns, string name, JsonObject status, CancellationToken ct) =>
        _writer.UpdateAsync(kind, ns, name, o => o["status"] = status.DeepClone(), status: true, ct);

    /// <summary>Creates the object, then (as controllers do) writes its status through the status subresource.</summary>
    private async Task CreateAsync(Reconcile reconcile, ResourceKind kind, JsonObject obj, JsonObject? status, CancellationToken ct)
    {
        var meta = obj["metadata"]!;
        var (ns, name) = (meta["namespace"]!.GetValue<string>(), meta["name"]!.GetValue<string>());
        reconcile.Created.Add((kind, ns, name));
        await _api.CreateAsync(kind, ns, obj, ct);
        if (status is not null) await UpdateStatusAsync(kind, ns, name, status, ct);
    }

    private static JsonObject Container(string name) => new()
    {
        ["name"] = name,
        ["image"] = "ghcr.io/cloudnative-pg/postgresql:15",
    };

    private sealed record Owner(string Name, string Uid);

    private static JsonObject Object(Owner owner, string ns, string name, JsonObject labels, string kind, string apiVersion,
        Dictionary<string, string>? extraLabels = null)
    {
        var all = labels.DeepClone().AsObject();
        foreach (var (k, v) in extraLabels ?? []) all[k] = v;
        var obj = new JsonObject
        {
            ["apiVersion"] = apiVersion,
            ["kind"] = kind,
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = ns,
                ["labels"] = all,
                ["ownerReferences"] = new JsonArray(new JsonObject
                {
                    ["apiVersion"] = CnpgNames.ApiVersion, ["kind"] = "Cluster", ["name"] = owner.Name, ["uid"] = owner.Uid, ["controller"] = true,
                }),
            },
        };
        return obj;
    }

    private static JsonObject Condition(string type, string status, string? reason, string? message)
    {
        var c = new JsonObject
        {
            ["type"] = type,
            ["status"] = status,
            ["lastTransitionTime"] = DateTimeOffset.UtcNow.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        };
        if (reason is not null) c["reason"] = reason;
        if (message is not null) c["message"] = message;
        return c;
    }

    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private sealed class Reconcile(string uid, CancellationTokenSource stop)
    {
        public string Uid { get; } = uid;
        public CancellationTokenSource Stop { get; } = stop;
        public Task Task { get; set; } = Task.CompletedTask;
        public LocalRestore? Restore { get; set; }
        public ConcurrentBag<(ResourceKind Kind, string Namespace, string Name)> Created { get; } = new();
    }
}
