using RestoreOps.Automation;
using RestoreOps.Evidence;
using RestoreOps.Model;
using RestoreOps.Processes;

namespace RestoreOps;

public sealed partial class RestoreEngine
{
    /// <summary>
    /// Refuses a request whose inputs cannot work, before anything is created: malformed or unreadable checks, a record
    /// that is already in the evidence folder, a backup of the wrong kind for the target, PostgreSQL binaries named
    /// explicitly that are not there. Front ends that report input errors apart from drill records (the cmdlets: an
    /// ErrorRecord, not a record with verdict Error) call it first; what goes wrong after it passed is the drill's.
    /// </summary>
    /// <exception cref="ConfigurationException">An input cannot work; the message names it and the fix.</exception>
    public async Task ValidateAsync(RestoreRequest request, CheckSpec? checks, string? evidencePath, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        Redactor.UseEngineSet(_secrets);
        var backup = request.Backup ?? throw new ArgumentException("Validation needs RestoreRequest.Backup.", nameof(request));
        RequireRecoveryName(request);
        if (checks is not null) _ = DrillOptionsFor(backup, request.Kind, request.RecoveryTarget, checks, request.EffectiveDrillId);
        if (evidencePath is not null && request.EffectiveDrillId is { } id) EvidenceWriter.EnsureNewRecord(evidencePath, id);
        if (request.Kind == RestoreTargetKind.Local)
        {
            if (backup.SourceKind == BackupSourceKind.CnpgBackup)
                throw new ConfigurationException($"Backup {backup.Name ?? backup.Id} is a CNPG Backup resource; a local restore reads the object store itself.",
                    "Restore it into a CNPG recovery Cluster, or read its Barman catalogue and restore that backup locally.", parameter: InputKey.Local);
            // Only binaries named explicitly are input; a machine without any is the environment's problem, found by the restore.
            if (request.PostgresBinDirectory is { } bin)
                _ = await PostgresBinaries.FindAsync(backup.PostgresMajorVersion, bin, ct).ConfigureAwait(false);
        }
        else if (backup.SourceKind != BackupSourceKind.CnpgBackup)
        {
            throw new ConfigurationException($"Backup {backup.Id} from {backup.Source} is a {backup.SourceKind} backup; only CNPG Backup resources restore into a CNPG recovery Cluster so far.",
                $"Restore it locally ({InputKey.Local.Ref()}), or pick one of the cluster's CNPG Backups ({InputKey.CnpgCluster.Ref()}).");
        }
    }
}
