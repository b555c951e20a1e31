using RestoreOps.Backups;
using RestoreOps.Checks;
using RestoreOps.Cnpg;
using RestoreOps.Model;

namespace RestoreOps.Automation;

/// <summary>
/// Which backup a drill restores, when the drill itself is to find it: its Discover phase runs the query, so a
/// catalogue that cannot be read or a backup that does not exist ends in a drill record (timed, with the reason), as
/// any other failure does. Front ends that found the backup already pass it in <see cref="RestoreRequest.Backup"/>.
/// </summary>
/// <example>
/// <code>
/// var run = await engine.RunDrillAsync(new DrillRequest
/// {
///     Source = BackupQuery.Barman("s3://backups/pg", "app-db"),
///     Restore = new RestoreRequest { Kind = RestoreTargetKind.Local },
/// }, progress, ct);
/// </code>
/// </example>
public abstract class BackupQuery
{
    private protected BackupQuery()
    {
    }

    /// <summary>The source in the user's words, for the record before the backup is found.</summary>
    public abstract string Description { get; }

    /// <summary>The newest usable backup of a Barman Cloud server, or the one named by <paramref name="backupId"/> (id or name).</summary>
    /// <param name="destinationPath">The Barman destination path, <c>s3://bucket/path</c>.</param>
    /// <param name="serverName">The Barman server name (CNPG: the cluster's name unless overridden).</param>
    /// <param name="backupId">A backup id or name; null for the newest usable one.</param>
    /// <param name="objectStore">Endpoint and credentials; null resolves them from the environment.</param>
    public static BackupQuery Barman(string destinationPath, string serverName, string? backupId = null, ObjectStoreOptions? objectStore = null) =>
        new BarmanQuery(destinationPath, serverName, backupId, objectStore);

    /// <summary>A local backup: a <c>pg_dump -Fc</c> file, or a <c>pg_basebackup -Ft</c> directory with its WAL archive.</summary>
    public static BackupQuery Local(string path, string? walDirectory = null) => new LocalQuery(path, walDirectory);

    /// <summary>A CNPG cluster's newest completed <c>Backup</c>, or the one named <paramref name="backupName"/>.</summary>
    public static BackupQuery Cnpg(KubernetesAccess access, string? ns, string cluster, string? backupName = null) =>
        new CnpgQuery(access, ns, cluster, backupName);

    /// <summary>
    /// The embedded demo: a sample database built here, backed up, written to on both sides of a point in time. A drill
    /// of it restores to that point (unless the request names another target) and runs the demo's checks (unless it names others).
    /// </summary>
    public static BackupQuery Demo() => new DemoQuery();

    internal abstract Task<FoundBackup> FindAsync(RestoreRequest restore, IProgress<DrillProgress>? progress, CancellationToken ct);

    private sealed class BarmanQuery(string destinationPath, string serverName, string? backupId, ObjectStoreOptions? objectStore) : BackupQuery
    {
        public override string Description => $"{destinationPath.TrimEnd('/')}/{serverName}";

        internal override async Task<FoundBackup> FindAsync(RestoreRequest restore, IProgress<DrillProgress>? progress, CancellationToken ct)
        {
            var options = (objectStore ?? restore.ObjectStore ?? new ObjectStoreOptions()).Resolve();
            Evidence.Redactor.RegisterSecrets(options);
            using var catalog = BarmanCloudCatalog.Create(destinationPath, serverName, options);
            // A backup that is not DONE (a damaged backup.info among them) fails the drill with its reason.
            if (backupId is not null) return new FoundBackup(await catalog.GetAsync(backupId, ct).ConfigureAwait(false));
            if (restore.RecoveryTarget.Kind is RecoveryTargetKind.Latest or RecoveryTargetKind.Immediate)
                return new FoundBackup(await catalog.GetLatestAsync(ct).ConfigureAwait(false));
            var usable = await catalog.ListAsync(includeUnusable: false, ct).ConfigureAwait(false);
            // None usable: the catalogue's own error says why (no backups at all, or only failed ones).
            if (usable.Count == 0) await catalog.GetLatestAsync(ct).ConfigureAwait(false);
            var (backup, reason) = BackupSelection.ForTarget(usable, restore.RecoveryTarget, catalog.Source);
            progress?.Report(new DrillProgress(DrillPhase.Discover, $"Restoring {reason}"));
            return new FoundBackup(backup) { Reason = reason };
        }
    }

    private sealed class LocalQuery(string path, string? walDirectory) : BackupQuery
    {
        public override string Description => path;

        internal override async Task<FoundBackup> FindAsync(RestoreRequest restore, IProgress<DrillProgress>? progress, CancellationToken ct)
        {
            if (File.Exists(path)) return new FoundBackup(await LocalBackupCatalog.ReadDumpAsync(path, ct, restore.PostgresBinDirectory).ConfigureAwait(false));
            if (Directory.Exists(path)) return new FoundBackup(await LocalBackupCatalog.ReadBaseBackupAsync(path, walDirectory, ct).ConfigureAwait(false));
            throw new ConfigurationException($"The backup path '{path}' does not exist.",
                $"Pass a pg_dump -Fc file or a pg_basebackup -Ft directory (with {InputKey.WalArchive.Ref()} for its WAL archive).");
        }
    }

    private sealed class CnpgQuery(KubernetesAccess access, string? ns, string cluster, string? backupName) : BackupQuery
    {
        public override string Description => $"{ns ?? "(context namespace)"}/{cluster}";

        internal override async Task<FoundBackup> FindAsync(RestoreRequest restore, IProgress<DrillProgress>? progress, CancellationToken ct)
        {
            var backups = await access.UseAsync(api => CnpgCatalog.ListBackupsAsync(api, ns, cluster, ct)).ConfigureAwait(false);
            if (backupName is not null)
                return new FoundBackup(backups.FirstOrDefault(b => b.Name == backupName || b.Id == backupName) ?? throw new ConfigurationException(
                    $"CNPG cluster {Description} has no completed Backup named {backupName}.",
                    $"List its backups and pass one of their names to {InputKey.BackupName.Ref()}.", parameter: InputKey.BackupName));
            if (backups.Count == 0)
                throw new ConfigurationException($"CNPG cluster {Description} has no completed Backup.",
                    $"Take one (kubectl cnpg backup, or a ScheduledBackup), or check {InputKey.Namespace.Ref()} and {InputKey.CnpgCluster.Ref()}.");
            if (restore.RecoveryTarget.Kind is RecoveryTargetKind.Latest or RecoveryTargetKind.Immediate) return new FoundBackup(backups[0]);
            // The choice is made here and passed to the recovery Cluster by name, so the record says which backup was restored.
            var (backup, reason) = BackupSelection.ForTarget(backups, restore.RecoveryTarget, $"CNPG cluster {Description}");
            progress?.Report(new DrillProgress(DrillPhase.Discover, $"Restoring {reason}"));
            return new FoundBackup(backup) { Reason = reason };
        }
    }

    private sealed class DemoQuery : BackupQuery
    {
        public override string Description => "demo";

        internal override async Task<FoundBackup> FindAsync(RestoreRequest restore, IProgress<DrillProgress>? progress, CancellationToken ct)
        {
            var demo = await DemoSource.CreateAsync(restore.LocalOptions(), progress, ct).ConfigureAwait(false);
            return new FoundBackup(demo.Backup, demo.RecoveryTarget, demo.Checks, demo);
        }
    }
}

/// <summary>What a query found: the backup, and for the demo what a drill of it proves by default and what to delete after.</summary>
internal sealed record FoundBackup(Backup Backup, RecoveryTarget? DefaultTarget = null, CheckSuite? DefaultChecks = null, IAsyncDisposable? Owned = null)
{
    /// <summary>Why this backup, when it was chosen for a recovery target rather than named or simply the newest.</summary>
    public string? Reason { get; init; }
}
