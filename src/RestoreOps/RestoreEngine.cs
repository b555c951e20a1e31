using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using RestoreOps.Backups;
using RestoreOps.Checks;
using RestoreOps.Cnpg;
using RestoreOps.Automation;
using RestoreOps.Evidence;
using RestoreOps.Kubernetes;
using RestoreOps.Local;
using RestoreOps.Model;

namespace RestoreOps;

/// <summary>
/// The engine's entry points for front ends that work stage by stage (the PowerShell cmdlets): find backups,
/// create a restore target, wait for it, check it, remove it, list and sweep targets, or run a whole drill. It
/// tracks the targets this process created, so each stage finds the live restore behind a
/// <see cref="RestoreCluster"/> that the previous stage returned. Its signatures use only BCL and
/// <c>RestoreOps.Model</c> types (and this namespace's), so a host that loads the engine in its own
/// AssemblyLoadContext never sees Npgsql, AWSSDK or YamlDotNet.
/// </summary>
/// <example>
/// <code>
/// await using var engine = new RestoreEngine();
/// var backup = (await engine.GetBarmanBackupsAsync("s3://backups/pg", "app-db", null, false, ct))[0];
/// var cluster = await engine.NewAsync(new RestoreRequest { Backup = backup, Kind = RestoreTargetKind.Local }, ct);
/// await engine.WaitReadyAsync(cluster, TimeSpan.FromMinutes(30), null, progress, ct);
/// var record = await engine.CheckAsync(cluster, new CheckSpec { Path = "checks.yaml" }, null, progress, ct);
/// await engine.RemoveAsync(cluster, null, ct);
/// </code>
/// </example>
public sealed partial class RestoreEngine : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, IRestoreHandle> Handles = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _secrets = Redactor.NewEngineSet();
    private readonly EventHandler _onProcessExit;
    private int _disposed;

    /// <summary>
    /// Creates an engine. Each front end makes one (a PowerShell module import, a CLI process, a test) and disposes it:
    /// disposing removes the local drill targets it still runs, and so does the host's exit if it never gets to.
    /// </summary>
    public RestoreEngine() : this(InputSpelling.Neutral)
    {
    }

    /// <summary>Creates an engine whose records name inputs as <paramref name="spelling"/>'s front end spells them.</summary>
    public RestoreEngine(InputSpelling spelling)
    {
        Spelling = spelling;
        // A scheduled pwsh job that ends without removing its local targets must not leave postgres running.
        _onProcessExit = (_, _) =>
        {
            RemoveLocalDrillTargetsAsync().GetAwaiter().GetResult();
            RemoveDemoBackups();
        };
        AppDomain.CurrentDomain.ProcessExit += _onProcessExit;
    }

    /// <summary>
    /// Removes the local drill targets this engine still runs (recovery targets and CNPG targets stay: the first are
    /// kept on purpose, the second expire and are swept), releases its API clients, and forgets its secrets.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        AppDomain.CurrentDomain.ProcessExit -= _onProcessExit;
        await RemoveLocalDrillTargetsAsync().ConfigureAwait(false);
        RemoveDemoBackups();
        foreach (var handle in Handles.Values) (handle as IDisposable)?.Dispose();
        Handles.Clear();
        _secrets.Clear();
    }

    /// <summary>Whose spelling the records this engine writes name inputs in (<c>--region</c>, <c>-Region</c>).</summary>
    public InputSpelling Spelling { get; }

    /// <summary>The text with this engine's secrets (and every well-known secret shape) masked.</summary>
    public string? Redact(string? text) => Redactor.Redact(text, _secrets);

    /// <summary>Targets this process created and has not removed.</summary>
    public IReadOnlyList<RestoreCluster> Tracked => Handles.Values.Select(h => h.Cluster).OrderBy(c => c.CreatedAt).ToList();

    private static string Key(RestoreCluster c) => $"{c.Kind}/{c.Namespace}/{c.Name}";

    // ---- backups ------------------------------------------------------------------------------------------

    /// <summary>Completed CNPG <c>Backup</c>s in <paramref name="ns"/> (of <paramref name="cluster"/>, or of every cluster), newest first.</summary>
    public async Task<IReadOnlyList<Backup>> GetCnpgBackupsAsync(KubernetesAccess access, string? ns, string? cluster, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(access);
        return await access.UseAsync(api => CnpgCatalog.ListBackupsAsync(api, ns, cluster, ct)).ConfigureAwait(false);
    }

    /// <summary>The backups of a Barman Cloud server in object storage, newest first; unusable ones (failed, unfinished) only when asked.</summary>
    public async Task<IReadOnlyList<Backup>> GetBarmanBackupsAsync(string destinationPath, string serverName, ObjectStoreOptions? objectStore, bool includeUnusable, CancellationToken ct)
    {
        Redactor.UseEngineSet(_secrets);
        var options = (objectStore ?? new ObjectStoreOptions()).Resolve();
        Redactor.RegisterSecrets(options);
        using var catalog = BarmanCloudCatalog.Create(destinationPath, serverName, options);
        return await catalog.ListAsync(includeUnusable, ct).ConfigureAwait(false);
    }

    /// <summary>A local backup: a <c>pg_dump -Fc</c> file, or a <c>pg_basebackup -Ft</c> directory with its WAL archive.</summary>
    public async Task<Backup> GetLocalBackupAsync(string path, string? walDirectory, CancellationToken ct)
    {
        Redactor.UseEngineSet(_secrets);
        // Found now, not by the restore that would replay from it.
        if (walDirectory is not null && !Directory.Exists(walDirectory))
            throw new ConfigurationException($"The WAL archive directory '{walDirectory}' does not exist.",
                $"Pass the directory your archive_command copies WAL into ({InputKey.WalArchive.Ref()}), or leave it out to restore only what the backup holds.",
                parameter: InputKey.WalArchive);
        if (File.Exists(path)) return await LocalBackupCatalog.ReadDumpAsync(path, ct).ConfigureAwait(false);
        if (Directory.Exists(path)) return await LocalBackupCatalog.ReadBaseBackupAsync(path, walDirectory, ct).ConfigureAwait(false);
        throw new ConfigurationException($"The backup path '{path}' does not exist.",
            $"Pass a pg_dump -Fc file or a pg_basebackup -Ft directory (with {InputKey.WalArchive.Ref()} for its WAL archive).");
    }

    // ---- targets ------------------------------------------------------------------------------------------

    /// <summary>
    /// Creates a restore target and returns it at once: a CNPG recovery Cluster (the operator restores it), or a local
    /// instance whose restore runs in the background. <see cref="WaitReadyAsync"/> waits for either.
    /// </summary>
    public async Task<RestoreCluster> NewAsync(RestoreRequest request, CancellationToken ct)
    {
        Redactor.UseEngineSet(_secrets);
        var backup = request.Backup ?? throw new ArgumentException("A restore target needs RestoreRequest.Backup.", nameof(request));
        RequireRecoveryName(request);
        var handle = await StartAsync(request, backup, request.RecoveryTarget, request.EffectiveDrillId ?? DrillRunner.NewDrillId(), CancellationToken.None, ct).ConfigureAwait(false);
        Handles[Key(handle.Cluster)] = handle;
        // The runbook starts where the backup was found: whoever repeats it must restore the same one.
        if (backup.Discovery is { } found) handle.Cluster.AppendStep(found);
        return handle.Cluster;
    }

    /// <summary>Waits until <paramref name="cluster"/> accepts sessions; returns it (phase Ready). Cancelling stops the wait, not the restore.</summary>
    /// <exception cref="RestoreFailedException">The restore failed or did not finish in time; the target stays for inspection until removed.</exception>
    public async Task<RestoreCluster> WaitReadyAsync(RestoreCluster cluster, TimeSpan timeout, KubernetesAccess? access, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        Redactor.UseEngineSet(_secrets);
        var handle = Resolve(cluster, access);
        if (handle.Cluster.Phase == RestoreClusterPhase.Ready) return handle.Cluster;
        await handle.WaitReadyAsync(timeout, progress, ct).ConfigureAwait(false);
        return handle.Cluster;
    }

    /// <summary>
    /// Runs checks against a ready target and returns the drill record so far: the restore's phases and timings, the
    /// check results, the objectives and a verdict. The target stays (the record says so) until it is removed.
    /// </summary>
    /// <exception cref="ConfigurationException">The target is not ready, or the checks are malformed.</exception>
    public async Task<DrillRecord> CheckAsync(RestoreCluster cluster, CheckSpec spec, KubernetesAccess? access, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        Redactor.UseEngineSet(_secrets);
        ArgumentNullException.ThrowIfNull(spec);
        var handle = Resolve(cluster, access);
        cluster = handle.Cluster;
        if (cluster.Phase != RestoreClusterPhase.Ready)
            throw new ConfigurationException($"Restore target {cluster} is {cluster.Phase}, not Ready, so it cannot be checked yet.",
                "Pipe it through Wait-ClusterReady first (New-RestoreCluster | Wait-ClusterReady | Invoke-RestoreCheck).");
        var options = DrillOptionsFor(cluster.Backup, cluster.Kind, cluster.RecoveryTarget, spec, defaultDatabase: cluster.Connection?.Database);
        var backup = cluster.Backup;
        var record = new DrillRecord
        {
            DrillId = cluster.DrillId,
            ToolVersion = DrillRunner.ToolVersion,
            Host = Environment.MachineName,
            Environment = DrillEnvironment.Current(cluster.Kind == RestoreTargetKind.Cnpg ? SafeContextName(access) : null),
            StartedAt = cluster.CreatedAt,
            Purpose = cluster.Purpose,
            TargetKind = cluster.Kind,
            Source = backup.Source,
            Backup = BackupSummary.From(backup),
            BackupAge = backup.EndTime is { } end ? cluster.CreatedAt - end : null,
            RecoveryTarget = cluster.RecoveryTarget.ToString(),
            Owner = options.Owner,
        };
        DrillRunner.ApplyRestore(record, cluster);
        try
        {
            var checks = await DrillRunner.RunChecksAsync(record, handle, backup, options, progress, ct).ConfigureAwait(false);
            DrillRunner.SetVerdict(record, checks);
        }
        catch (Exception e) when (DrillRunner.IsDrillFailure(e))
        {
            DrillRunner.FailFrom(record, e, cancelled: false, Spelling);
        }
        ObjectiveEvaluator.Apply(record, spec.Objectives, Spelling);
        // The stages after this one decide the target's fate; the record says it was still there when it was written.
        record.Cleanup.Kept = true;
        record.Cleanup.Succeeded = true;
        record.EndedAt = DateTimeOffset.UtcNow;
        return record;
    }

    /// <summary>
    /// Removes a target: stops it and deletes everything labelled or marked for its drill, refusing anything
    /// RestoreOps did not create. Safe to call twice.
    /// </summary>
    public async Task<CleanupOutcome> RemoveAsync(RestoreCluster cluster, KubernetesAccess? access, CancellationToken ct)
    {
        Redactor.UseEngineSet(_secrets);
        ArgumentNullException.ThrowIfNull(cluster);
        // Safe to call twice: a removed local target is neither tracked nor on disk, which Resolve would report as an
        // error ("not running in this session"). With its work directory gone there is nothing left to remove.
        if (cluster.Kind == RestoreTargetKind.Local && !Handles.ContainsKey(Key(cluster)) && cluster.WorkDirectory is { } work && !Directory.Exists(work))
            return new CleanupOutcome { Succeeded = true };
        var handle = Resolve(cluster, access);
        var outcome = await handle.RemoveAsync(ct).ConfigureAwait(false);
        if (outcome.Succeeded)
        {
            Handles.TryRemove(Key(handle.Cluster), out _);
            // A target found on disk is resolved into a fresh object; the caller's (the pipeline's) must say Removed too.
            cluster.Phase = RestoreClusterPhase.Removed;
        }
        return outcome;
    }

    /// <summary>Lists restore targets: this process's, marked local work directories, and labelled CNPG Clusters.</summary>
    public async Task<IReadOnlyList<RestoreCluster>> GetAsync(RestoreClusterQuery query, CancellationToken ct)
    {
        Redactor.UseEngineSet(_secrets);
        var found = await FindAsync(query, ct).ConfigureAwait(false);
        ReleaseUntracked(found);
        return found.Select(h => h.Cluster).ToList();
    }

    /// <summary>Listed CNPG clusters of other sessions each got an API client; nothing keeps those handles.</summary>
    private void ReleaseUntracked(IEnumerable<IRestoreHandle> handles)
    {
        var tracked = Handles.Values.ToHashSet();
        foreach (var h in handles)
            if (!tracked.Contains(h)) (h as IDisposable)?.Dispose();
    }

    /// <summary>Removes every target a sweep may take (see <see cref="RestoreClusterQuery.OrphanedOnly"/>; the query is narrowed to it).</summary>
    public async Task<IReadOnlyList<RemovalResult>> RemoveOrphanedAsync(RestoreClusterQuery query, CancellationToken ct)
    {
        Redactor.UseEngineSet(_secrets);
        var orphans = await FindAsync(new RestoreClusterQuery
        {
            IncludeLocal = query.IncludeLocal, WorkRoot = query.WorkRoot, IncludeCnpg = query.IncludeCnpg, Kubernetes = query.Kubernetes,
            Namespace = query.Namespace, AllNamespaces = query.AllNamespaces, DrillId = query.DrillId, Name = query.Name,
            OrphanedOnly = true, Now = query.Now,
        }, ct).ConfigureAwait(false);
        // Half-built claims of killed processes hold no server and no data; they have no marker of their own name to list them by.
        if (query.IncludeLocal) LocalTargets.SweepAbandonedClaims(query.WorkRoot ?? Path.GetTempPath());
        var results = new List<RemovalResult>();
        foreach (var handle in orphans)
        {
            CleanupOutcome outcome;
            try
            {
                outcome = await handle.RemoveAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RestoreOpsException or IOException or UnauthorizedAccessException)
            {
                outcome = new CleanupOutcome();
                outcome.Problems.Add(FailureText.Of(e, Spelling));
            }
            // A swept target this process tracked (an expired CNPG drill of this session) is gone: Tracked must not list it.
            if (outcome.Succeeded) Handles.TryRemove(Key(handle.Cluster), out _);
            results.Add(new RemovalResult(handle.Cluster, outcome));
        }
        ReleaseUntracked(orphans);
        return results;
    }

    /// <summary>
    /// Runs a whole drill: restore, wait, check, remove in <c>finally</c> (unless kept), then write the evidence and
    /// ping the heartbeat. Always returns a record; cancelling still removes the target.
    /// </summary>
    public async Task<DrillRun> RunDrillAsync(DrillRequest request, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        Redactor.UseEngineSet(_secrets);
        var r = request.Restore;
        RequireRecoveryName(r);
        var query = r.Backup is null
            ? request.Source ?? throw new ArgumentException("A drill needs RestoreRequest.Backup or DrillRequest.Source.", nameof(request))
            : null;
        // Found before a restore is spent on it: the drill could not record its evidence.
        if (request.EvidencePath is { } evidencePath && r.EffectiveDrillId is { } id) EvidenceWriter.EnsureNewRecord(evidencePath, id);
        var readyTimeout = request.ReadyTimeout ?? RestoreDefaults.ReadyTimeout;
        var context = r.Kind == RestoreTargetKind.Cnpg ? SafeContextName(r.Kubernetes) : null;
        DrillOptions Plan(Backup backup, RecoveryTarget? demoTarget = null, CheckSuite? demoChecks = null) =>
            DrillOptionsFor(backup, r.Kind, demoTarget is not null && r.RecoveryTarget.Kind == RecoveryTargetKind.Latest ? demoTarget : r.RecoveryTarget,
                request.Checks, r.EffectiveDrillId, request.KeepOnFailure, readyTimeout, context, r.Purpose, defaultChecks: demoChecks) with { Keep = request.Keep };

        // A malformed check file or objective is the caller's to fix before anything runs, whatever the backup turns out to be.
        var options = r.Backup is { } given ? Plan(given) : Plan(PlaceholderBackup(r.Kind)) with { SourceDescription = query!.Description };
        var owned = new List<IAsyncDisposable>();
        string? reason = null;
        var target = r.RecoveryTarget;
        RestoreCluster? last = null;
        DrillRecord record;
        try
        {
            if (query is not null)
            {
                options = options with
                {
                    DiscoverBackup = async token =>
                    {
                        var found = await query.FindAsync(r, progress, token).ConfigureAwait(false);
                        if (found.Owned is { } o) owned.Add(o);
                        reason = found.Reason;
                        return found.Backup;
                    },
                    DiscoveryNote = () => reason,
                    AfterDiscovery = backup =>
                    {
                        var planned = Plan(backup, owned.Count > 0 ? DemoTargetOf(backup) : null, owned.OfType<DemoSource>().FirstOrDefault()?.Checks);
                        target = planned.RecoveryTarget;
                        // The backup names its source as its catalogue spells it; the query's words served only until it was found.
                        return planned with { SourceDescription = null };
                    },
                };
            }
            record = await DrillRunner.RunAsync(options, r.Kind, async (backup, drillId, token) =>
            {
                var handle = await StartAsync(r, backup, target, drillId, token, token).ConfigureAwait(false);
                last = handle.Cluster;
                return handle;
            }, progress, ct).ConfigureAwait(false);
        }
        finally
        {
            foreach (var o in owned) await o.DisposeAsync().ConfigureAwait(false);
        }
        ApplyRunbook(record, request, options.Owner);
        return await DeliverAsync(record, request, record.Cleanup.Kept ? last : null).ConfigureAwait(false);

        RecoveryTarget? DemoTargetOf(Backup backup) => owned.OfType<DemoSource>().FirstOrDefault(d => ReferenceEquals(d.Backup, backup))?.RecoveryTarget;
    }

    /// <summary>Stands in for a backup not found yet, so a drill's checks and objectives are validated before it starts.</summary>
    private static Backup PlaceholderBackup(RestoreTargetKind kind) => new()
    {
        Id = "pending",
        SourceKind = kind == RestoreTargetKind.Cnpg ? BackupSourceKind.CnpgBackup : BackupSourceKind.BarmanCloud,
        Source = "pending",
        Method = "pending",
        Location = new BackupLocation(),
    };

    /// <summary>The record goes out: evidence files, metrics to a Pushgateway, and the heartbeat of a pass that was recorded.</summary>
    private async Task<DrillRun> DeliverAsync(DrillRecord record, DrillRequest request, RestoreCluster? kept)
    {
        var files = new List<string>();
        var warnings = new List<string>();
        var recorded = true;
        if (request.EvidencePath is { } dir)
        {
            try
            {
                var paths = await EvidenceWriter.WriteAllAsync(record, dir, new EvidenceOptions { SigningKey = request.SigningKey, TextfileCollectorPath = request.TextfileCollectorPath }, CancellationToken.None).ConfigureAwait(false);
                files.AddRange(paths.All);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or RestoreOpsException)
            {
                warnings.Add($"The evidence was not written to {dir}: {FailureText.Of(e, Spelling)}");
                recorded = false;
            }
        }
        if (request.PushgatewayUrl is { } gateway)
        {
            var history = request.EvidencePath is { } d && Directory.Exists(d) ? DrillHistory.Load(d).ForSource(record.Source) : [];
            var pushed = await Pushgateway.PushAsync(record, EvidenceWriter.LastSuccess(record, history), new PushgatewayOptions { Url = gateway }, CancellationToken.None).ConfigureAwait(false);
            if (!pushed.Sent) warnings.Add(pushed.Message);
        }
        // A pass without its record proves nothing later: the missing ping raises the alarm the missing record needs.
        if (request.HeartbeatUrl is not null && !recorded && record.Verdict == DrillVerdict.Passed)
            warnings.Add("No heartbeat sent: the drill passed but its evidence was not written.");
        else if (request.HeartbeatUrl is { } url)
        {
            var ping = await Heartbeat.SendAsync(record, new HeartbeatOptions { Url = url }, CancellationToken.None).ConfigureAwait(false);
            if (record.Verdict == DrillVerdict.Passed && !ping.Sent) warnings.Add(ping.Message);
        }
        return new DrillRun(record, files, warnings, kept) { Recorded = recorded };
    }

    /// <summary>
    /// Lists the destructive transactions (TRUNCATE, DROP, DELETE or UPDATE of many rows) committed in a window of the
    /// archived WAL, newest first, each with the recovery target that restores to just before it. Only the window's
    /// segments are fetched; nothing returned contains row data.
    /// </summary>
    public Task<IReadOnlyList<RecoveryPoint>> FindRecoveryPointsAsync(RecoveryPointQuery query, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(query);
        Redactor.UseEngineSet(_secrets);
        return RecoveryPointSearch.FindAsync(query, progress, ct);
    }

    /// <summary>Removes the local drill targets this process still tracks (module unload, process exit).</summary>
    public async Task<IReadOnlyList<RemovalResult>> RemoveLocalDrillTargetsAsync()
    {
        Redactor.UseEngineSet(_secrets);
        var results = new List<RemovalResult>();
        foreach (var (key, handle) in Handles.ToArray())
        {
            if (handle.Cluster.Kind != RestoreTargetKind.Local || handle.Cluster.Purpose != RestorePurpose.Drill) continue;
            CleanupOutcome outcome;
            try
            {
                outcome = await handle.RemoveAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RestoreOpsException or IOException or UnauthorizedAccessException)
            {
                outcome = new CleanupOutcome();
                outcome.Problems.Add(FailureText.Of(e, Spelling));
            }
            if (outcome.Succeeded) Handles.TryRemove(key, out _);
            results.Add(new RemovalResult(handle.Cluster, outcome));
        }
        return results;
    }

    /// <summary>
    /// Takes an on-demand backup of a CNPG cluster the way it is configured (plugin, in-tree barmanObjectStore or volume
    /// snapshot), labelled as created by RestoreOps, and with <see cref="CnpgBackupRequest.Wait"/> waits by watching until
    /// it completed. The one object RestoreOps writes into a source namespace, and only on this explicit request; it
    /// never modifies or deletes it afterwards. The returned Backup pipes into <see cref="NewAsync"/>.
    /// </summary>
    /// <exception cref="RestoreFailedException">Waiting: the backup failed, was deleted, or did not complete in time.</exception>
    public async Task<Backup> NewCnpgBackupAsync(CnpgBackupRequest request, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        Redactor.UseEngineSet(_secrets);
        ArgumentNullException.ThrowIfNull(request);
        var api = request.Kubernetes.Connect();
        try
        {
            var created = await CnpgOnDemandBackup.CreateAsync(api, request.Namespace ?? api.Context.Namespace, request.Cluster, request.Method, ct).ConfigureAwait(false);
            var done = request.Wait ? await CnpgOnDemandBackup.WaitAsync(api, created, request.Timeout, progress, ct).ConfigureAwait(false) : created;
            return CnpgBackups.ToBackup(done);
        }
        finally
        {
            (api as IDisposable)?.Dispose();
        }
    }

    // ---- internals ----------------------------------------------------------------------------------------

    private static string? SafeContextName(KubernetesAccess? access)
    {
        try { return (access ?? KubernetesAccess.Default).ContextName(); }
        catch (RestoreOpsException) { return null; }
    }

    private DrillOptions DrillOptionsFor(Backup backup, RestoreTargetKind kind, RecoveryTarget target, CheckSpec spec, string? drillId = null,
        bool keepOnFailure = false, TimeSpan? readyTimeout = null, string? context = null, RestorePurpose purpose = RestorePurpose.Drill,
        string? defaultDatabase = null, CheckSuite? defaultChecks = null)
    {
        var database = defaultDatabase ?? DefaultDatabase(backup, kind);
        var checks = new List<RestoreCheck>();
        CheckRunOptions? run = null;
        string? owner = null;
        if (spec.Path is { } path)
        {
            var suite = CheckFile.Load(path);
            owner = suite.Owner;
            checks.AddRange(suite.Checks);
            run = suite.RunOptions;
        }
        if (spec.Checks.Count > 0)
        {
            // Inline checks without a database run in the restored application database, as the default check does.
            var settings = new System.Collections.Hashtable(StringComparer.OrdinalIgnoreCase) { ["database"] = database };
            if (spec.Settings is not null) foreach (System.Collections.DictionaryEntry e in spec.Settings) settings[e.Key] = e.Value;
            var suite = CheckSuite.FromDictionaries(spec.Checks, settings);
            checks.AddRange(suite.Checks);
            run ??= suite.RunOptions;
        }
        if (checks.Count == 0 && defaultChecks is not null)
        {
            checks.AddRange(defaultChecks.Checks);
            run = defaultChecks.RunOptions;
        }
        if (checks.Count == 0) checks.Add(new ConnectivityCheck(database, TimeSpan.FromSeconds(30)));
        var names = checks.GroupBy(c => c.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (names.Count > 0)
            throw new ConfigurationException($"Check name(s) {string.Join(", ", names)} appear in both the check file and the inline checks.",
                "Give the inline checks their own 'name'.");
        return new DrillOptions
        {
            Owner = owner,
            DiscoverBackup = _ => Task.FromResult(backup),
            RecoveryTarget = target,
            Checks = checks,
            CheckRun = run,
            CheckStatementTimeout = spec.StatementTimeout,
            EvidenceDirectory = spec.EvidenceDirectory,
            Objectives = spec.Objectives,
            DrillId = drillId,
            KeepOnFailure = keepOnFailure,
            ReadyTimeout = readyTimeout,
            KubernetesContext = context,
            Restore = new LocalRestoreOptions { Purpose = purpose },
            Spelling = Spelling,
        };
    }

    /// <summary>The database a default check connects to: a dump's own, CNPG's application database, else postgres.</summary>
    private static string DefaultDatabase(Backup backup, RestoreTargetKind kind) =>
        backup.SourceKind == BackupSourceKind.LocalDump && backup.Name is { } db ? db
        : kind == RestoreTargetKind.Cnpg ? "app"
        : "postgres";

    private async Task<IRestoreHandle> StartAsync(RestoreRequest request, Backup backup, RecoveryTarget target, string drillId, CancellationToken runToken, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Kind == RestoreTargetKind.Local)
        {
            // Said before anything starts: the background restore would only report it to whoever waits.
            if (backup.SourceKind == BackupSourceKind.CnpgBackup)
                throw new ConfigurationException($"Backup {backup.Name ?? backup.Id} is a CNPG Backup resource; a local restore reads the object store itself.",
                    backup.Location.DestinationPath is { } path
                        ? $"Read it from its Barman catalogue ({InputKey.DestinationPath.Ref()} {path} {InputKey.ServerName.Ref()} {backup.Location.ServerName ?? "<server name>"} {InputKey.BackupId.Ref()} {backup.Id}) and restore that backup locally, or restore this one into a CNPG recovery Cluster."
                        : "Restore it into a CNPG recovery Cluster, or read its Barman catalogue and restore that backup locally.",
                    parameter: InputKey.Local);
            Redactor.RegisterSecrets(request.ObjectStore);
            var restore = LocalRestore.Create(backup, target, request.LocalOptions(), drillId);
            // Targets are tracked by name: a second one under a tracked name would replace the first in the table (whose
            // postmaster then outlives every removal) and share its work directory, which its own removal would delete.
            if (Handles.ContainsKey(Key(restore.Cluster)))
                throw new ConfigurationException($"Restore target {restore.Cluster.Name} already exists in this session (drill id {drillId}).",
                    "Use a new drill id, or remove that target first (Remove-RestoreCluster / restoreops targets remove).");
            return LocalHandle.Start(restore, runToken);
        }

        if (backup.SourceKind != BackupSourceKind.CnpgBackup)
            throw new ConfigurationException($"Backup {backup.Id} from {backup.Source} is a {backup.SourceKind} backup; only CNPG Backup resources restore into a CNPG recovery Cluster so far.",
                $"Restore it locally ({InputKey.Local.Ref()}), or pick one of the cluster's CNPG Backups ({InputKey.CnpgCluster.Ref()}).");
        var slash = backup.Source.IndexOf('/', StringComparison.Ordinal);
        var (sourceNs, sourceCluster) = slash > 0 ? (backup.Source[..slash], backup.Source[(slash + 1)..]) : throw new ConfigurationException(
            $"Backup {backup.Id} does not name its cluster as namespace/cluster (source '{backup.Source}').", "Get the backup again with Get-CnpgBackup.");
        var api = request.Kubernetes.Connect();
        try
        {
            var source = await CnpgCatalog.GetSourceAsync(api, sourceNs, sourceCluster, ct).ConfigureAwait(false);
            var restore = await CnpgRestore.CreateAsync(api, new RecoveryClusterRequest
            {
                Source = source,
                Backup = backup,
                DrillId = drillId,
                Namespace = request.Namespace ?? api.Context.Namespace,
                Name = request.Name,
                RecoveryTarget = target,
                Purpose = request.Purpose,
                Expiry = request.Expiry,
                StorageSize = request.StorageSize,
                StorageClass = request.StorageClass,
                AllowSourceNamespace = request.AllowSourceNamespace,
                ObjectStoreName = request.ObjectStoreName,
            }, ct).ConfigureAwait(false);
            if (request.ServiceAccountTokenPath is { } token) restore.ServiceAccountTokenPath = token;
            restore.ResolveService = request.ResolveService;
            return new CnpgHandle(restore, api, request.Connect switch
            {
                ConnectRoute.Service => CnpgConnectRoute.Service,
                ConnectRoute.PortForward => CnpgConnectRoute.PortForward,
                _ => CnpgConnectRoute.Auto,
            });
        }
        catch
        {
            (api as IDisposable)?.Dispose();
            throw;
        }
    }

    /// <summary>The live handle behind a pipeline object: tracked, attached through the API, or found on disk.</summary>
    private IRestoreHandle Resolve(RestoreCluster cluster, KubernetesAccess? access)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        if (Handles.TryGetValue(Key(cluster), out var tracked)) return tracked;
        if (cluster.Kind == RestoreTargetKind.Cnpg)
        {
            var api = (access ?? KubernetesAccess.Default).Connect();
            return Handles.GetOrAdd(Key(cluster), new CnpgHandle(CnpgRestore.Attach(api, cluster), api));
        }
        var root = Path.GetDirectoryName(cluster.WorkDirectory ?? "") is { Length: > 0 } parent ? parent : Path.GetTempPath();
        var found = LocalTargets.Scan(root).FirstOrDefault(f => f.Cluster.Name == cluster.Name)
            ?? throw new ConfigurationException($"Local restore target {cluster.Name} is not running in this session and has no work directory under {root}.",
                $"It was removed already, or lives under another {InputKey.WorkRoot.Ref()}; list the restore targets to see what exists.");
        return new FoundLocalHandle(found);
    }

    private static (string? Namespace, string? DrillId) DrillOf(JsonObject item) =>
        (item["metadata"]?["namespace"]?.GetValue<string>(), item["metadata"]?["labels"]?[CnpgNames.DrillIdLabel]?.GetValue<string>());

    private async Task<IReadOnlyList<IRestoreHandle>> FindAsync(RestoreClusterQuery query, CancellationToken ct)
    {
        var now = query.Now ?? DateTimeOffset.UtcNow;
        var result = new List<IRestoreHandle>();
        bool Wanted(RestoreCluster c) => (query.DrillId is null || c.DrillId == query.DrillId) && (query.Name is null || c.Name == query.Name);

        if (query.IncludeLocal)
        {
            var tracked = Handles.Values.Where(h => h.Cluster.Kind == RestoreTargetKind.Local).ToList();
            // This process's own targets are never orphans: it is alive and still owns them.
            if (!query.OrphanedOnly) result.AddRange(tracked.Where(h => Wanted(h.Cluster)));
            var trackedNames = tracked.Select(h => h.Cluster.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var found in LocalTargets.Scan(query.WorkRoot ?? Path.GetTempPath()))
            {
                if (trackedNames.Contains(found.Cluster.Name) || !Wanted(found.Cluster)) continue;
                // Expiry alone decides, as for CNPG: a target kept on purpose (--keep, -KeepOnFailure) outlives the process that made it.
                var orphan = found.Cluster.Purpose == RestorePurpose.Drill && found.Cluster.ExpiresAt <= now;
                if (query.OrphanedOnly && !orphan) continue;
                result.Add(new FoundLocalHandle(found));
            }
        }

        if (query.IncludeCnpg)
        {
            var api = query.Kubernetes.Connect();
            try
            {
                var ns = query.AllNamespaces ? IKubernetesApi.AllNamespaces : query.Namespace;
                var list = await api.ListAsync(ResourceKind.Cluster, ns, CnpgOwnership.AnySelector, null, ct).ConfigureAwait(false);
                foreach (var item in list.Items)
                {
                    if (query.OrphanedOnly && !CnpgOwnership.IsExpiredDrillObject(item, now)) continue;
                    var cluster = CnpgRestoreClusters.ToRestoreCluster(item);
                    if (!Wanted(cluster)) continue;
                    if (Handles.TryGetValue(Key(cluster), out var known)) { result.Add(known); continue; }
                    var own = query.Kubernetes.Connect();
                    result.Add(new CnpgHandle(CnpgRestore.Attach(own, cluster), own));
                }
                // A drill's ObjectStore and Secret copies (and what CNPG made) can outlive its Cluster: a run killed between
                // creating them and the Cluster, or a removal cut short. They are listed, and swept once expired.
                var withCluster = list.Items.Select(DrillOf).ToHashSet();
                var leftovers = new List<JsonObject>();
                foreach (var kind in new[] { ResourceKind.ObjectStore, ResourceKind.Secret })
                    foreach (var item in (await CnpgRestore.ListLabelledAsync(api, kind, ns, CnpgOwnership.AnySelector, ct).ConfigureAwait(false)).Items)
                    {
                        item["kind"] ??= kind.Kind;
                        leftovers.Add(item);
                    }
                foreach (var group in leftovers.Where(i => DrillOf(i).DrillId is not null).GroupBy(DrillOf))
                {
                    if (withCluster.Contains(group.Key)) continue;
                    if (query.OrphanedOnly && !group.Any(i => CnpgOwnership.IsExpiredDrillObject(i, now))) continue;
                    var cluster = CnpgRestoreClusters.Leftovers(group.ToList());
                    if (!Wanted(cluster)) continue;
                    if (Handles.TryGetValue(Key(cluster), out var known)) { result.Add(known); continue; }
                    var own = query.Kubernetes.Connect();
                    result.Add(new CnpgHandle(CnpgRestore.Attach(own, cluster), own));
                }
            }
            finally
            {
                (api as IDisposable)?.Dispose();
            }
        }
        return result;
    }

    /// <summary>The Roles and RoleBindings (YAML) a CNPG drill's service account needs, and nothing more (<see cref="DrillRbac"/>).</summary>
    /// <param name="sourceNamespace">Namespace of the source Cluster and its Backups.</param>
    /// <param name="drillNamespace">Namespace of the recovery Clusters.</param>
    /// <param name="serviceAccount">The drill's service account.</param>
    /// <param name="serviceAccountNamespace">Its namespace; null: the drill namespace.</param>
    /// <param name="portForward">Also allow port-forwards to the recovery pods.</param>
    public string GetDrillRbac(string sourceNamespace, string drillNamespace, string serviceAccount, string? serviceAccountNamespace, bool portForward) =>
        DrillRbac.ToYaml(new DrillRbacRequest(sourceNamespace, drillNamespace, serviceAccount, serviceAccountNamespace, portForward));

    /// <summary>The same Roles and RoleBindings as <see cref="GetDrillRbac"/>, as JSON objects (for <c>--json</c> and tools that build manifests).</summary>
    public IReadOnlyList<System.Text.Json.Nodes.JsonObject> GetDrillRbacObjects(string sourceNamespace, string drillNamespace, string serviceAccount, string? serviceAccountNamespace, bool portForward) =>
        DrillRbac.Objects(new DrillRbacRequest(sourceNamespace, drillNamespace, serviceAccount, serviceAccountNamespace, portForward));
}
