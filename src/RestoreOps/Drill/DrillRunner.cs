using System.Security.Cryptography;
using RestoreOps.Checks;
using RestoreOps.Evidence;
using RestoreOps.Local;
using RestoreOps.Model;

namespace RestoreOps.Drill;

/// <summary>
/// Runs a whole drill: discover, restore, verify, record, and clean up in <c>finally</c>. Every outcome, a
/// failed restore and a cancellation included, ends in a <see cref="DrillRecord"/> rather than an exception,
/// so there is always evidence of what happened.
/// </summary>
/// <example>
/// <code>
/// var record = await DrillRunner.RunAsync(new DrillOptions { DiscoverBackup = ct => catalog.GetLatestAsync(ct) }, progress, ct);
/// Console.WriteLine($"{record.Verdict}: RTO {record.RestoreDuration}");
/// </code>
/// </example>
public static class DrillRunner
{
    /// <summary>The RestoreOps version written into records.</summary>
    public static string ToolVersion { get; } =
        typeof(DrillRunner).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>A new drill id: UTC time plus randomness, usable in paths, Kubernetes names and labels.</summary>
    public static string NewDrillId() =>
        $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant()}";

    /// <summary>Runs the drill. Returns the record in every case; <paramref name="onRestoreCreated"/> sees the restore as soon as it exists.</summary>
    public static async Task<DrillRecord> RunAsync(DrillOptions options, IProgress<DrillProgress>? progress, CancellationToken cancellationToken,
        Action<LocalRestore>? onRestoreCreated = null)
    {
        var record = new DrillRecord
        {
            DrillId = options.DrillId ?? NewDrillId(),
            ToolVersion = ToolVersion,
            Host = Environment.MachineName,
            Environment = DrillEnvironment.Current(options.KubernetesContext),
            StartedAt = DateTimeOffset.UtcNow,
            Purpose = options.Restore.Purpose,
            TargetKind = RestoreTargetKind.Local,
            Source = options.SourceDescription,
            RecoveryTarget = options.RecoveryTarget.ToString(),
        };
        // Registered before anything can fail, so no failure message or writer can carry them.
        Redactor.RegisterSecret(options.Restore.ObjectStore?.SecretAccessKey);
        Redactor.RegisterSecret(options.Restore.ObjectStore?.SessionToken);
        LocalRestore? restore = null;
        try
        {
            var discover = new PhaseTiming { Phase = DrillPhase.Discover, StartedAt = DateTimeOffset.UtcNow };
            record.Phases.Add(discover);
            progress?.Report(new DrillProgress(DrillPhase.Discover, "Finding the backup"));
            Backup backup;
            try
            {
                backup = await options.DiscoverBackup(cancellationToken).ConfigureAwait(false);
                discover.Succeeded = true;
                discover.Detail = $"{backup.Method} backup {backup.Id}";
            }
            finally
            {
                discover.EndedAt = DateTimeOffset.UtcNow;
            }
            record.Source ??= backup.Source;
            record.Backup = BackupSummary.From(backup);
            record.BackupAge = backup.EndTime is { } end ? record.StartedAt - end : null;

            restore = LocalRestore.Create(backup, options.RecoveryTarget, options.Restore, record.DrillId);
            onRestoreCreated?.Invoke(restore);
            try
            {
                await restore.RunAsync(progress, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                RegisterGeneratedPassword(restore);
                record.Phases.AddRange(restore.Cluster.Phases);
                var first = restore.Cluster.Phases.FirstOrDefault();
                var ready = restore.Cluster.Phases.LastOrDefault(p => p.Phase == DrillPhase.Ready && p.Succeeded);
                if (first is not null && ready is not null) record.RestoreDuration = ready.EndedAt - first.StartedAt;
                record.AchievedRecoveryTime = restore.Cluster.AchievedRecoveryTime;
                record.AchievedRecoveryLsn = restore.Cluster.AchievedRecoveryLsn;
            }

            var checks = new PhaseTiming { Phase = DrillPhase.Checks, StartedAt = DateTimeOffset.UtcNow };
            record.Phases.Add(checks);
            try
            {
                var context = new CheckContext(db => restore.AdminConnectionString(db), options.CheckStatementTimeout)
                {
                    RecoveryTarget = options.RecoveryTarget,
                    BackupEndTime = backup.EndTime,
                    EvidenceDirectory = options.EvidenceDirectory,
                    Source = record.Source,
                };
                record.Checks.AddRange(await CheckRunner.RunAsync(options.Checks, context,
                    options.CheckRun ?? new CheckRunOptions { StatementTimeout = options.CheckStatementTimeout }, progress, cancellationToken).ConfigureAwait(false));
                // A recovery-point check measures the data itself; replay may not have reported a commit time.
                if (record.AchievedRecoveryTime is null)
                    foreach (var c in record.Checks)
                        if (RecoveryPointCheck.TryGetAchievedRecoveryPoint(c, out var achieved)) { record.AchievedRecoveryTime = achieved; break; }
                checks.Succeeded = record.Checks.All(c => c.Status is CheckStatus.Passed or CheckStatus.Skipped);
                checks.Detail = $"{record.Checks.Count(c => c.Status == CheckStatus.Passed)} of {record.Checks.Count} passed";
            }
            finally
            {
                checks.EndedAt = DateTimeOffset.UtcNow;
            }

            if (checks.Succeeded)
            {
                record.Verdict = DrillVerdict.Passed;
            }
            else
            {
                var bad = record.Checks.Where(c => c.Status is CheckStatus.Failed or CheckStatus.Error).ToList();
                Fail(record, DrillVerdict.Failed, DrillFailureCategory.Checks, DrillPhase.Checks,
                    $"{bad.Count} check(s) did not pass: " + string.Join("; ", bad.Select(c => c.Message)));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Fail(record, DrillVerdict.Error, DrillFailureCategory.Cancelled, CurrentPhase(record), "The drill was cancelled before it finished; nothing it proved so far counts as a pass.");
        }
        catch (RestoreOpsException e)
        {
            var (verdict, category) = e.Kind switch
            {
                FailureKind.RestoreFailed => (DrillVerdict.Failed, DrillFailureCategory.Restore),
                FailureKind.Configuration => (DrillVerdict.Error, DrillFailureCategory.Configuration),
                _ => (DrillVerdict.Error, DrillFailureCategory.Infrastructure),
            };
            Fail(record, verdict, category, CurrentPhase(record), e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Npgsql.NpgsqlException or TimeoutException)
        {
            Fail(record, DrillVerdict.Error, DrillFailureCategory.Infrastructure, CurrentPhase(record), $"{e.GetType().Name}: {e.Message}");
        }
        finally
        {
            // Before cleanup: a cleanup failure on a drill that met everything else is still an Error, not a Failed.
            ObjectiveEvaluator.Apply(record, options.Objectives);
            if (restore is not null) await CleanUpAsync(record, restore, options, progress).ConfigureAwait(false);
            record.EndedAt = DateTimeOffset.UtcNow;
        }
        return record;
    }

    private static void RegisterGeneratedPassword(LocalRestore restore)
    {
        try
        {
            Redactor.RegisterSecret(restore.ClientConnectionString().Password);
        }
        catch (InvalidOperationException)
        {
            // The instance never started, so its password was never handed to anything that could echo it.
        }
    }

    private static async Task CleanUpAsync(DrillRecord record, LocalRestore restore, DrillOptions options, IProgress<DrillProgress>? progress)
    {
        var timing = new PhaseTiming { Phase = DrillPhase.Cleanup, StartedAt = DateTimeOffset.UtcNow };
        record.Phases.Add(timing);
        if (options.Keep || options.Restore.Purpose == RestorePurpose.Recovery)
        {
            record.Cleanup.Kept = true;
            record.Cleanup.Succeeded = true;
            timing.Succeeded = true;
            timing.Detail = $"kept on request: {restore.Cluster.WorkDirectory}";
            timing.EndedAt = DateTimeOffset.UtcNow;
            return;
        }
        progress?.Report(new DrillProgress(DrillPhase.Cleanup, "Removing the restored instance"));
        // Cleanup must run to the end even when the drill itself was cancelled.
        var outcome = await restore.RemoveAsync().ConfigureAwait(false);
        record.Cleanup.Succeeded = outcome.Succeeded;
        record.Cleanup.Removed.AddRange(outcome.Removed);
        record.Cleanup.Problems.AddRange(outcome.Problems);
        timing.Succeeded = outcome.Succeeded;
        timing.Detail = string.Join("; ", outcome.Succeeded ? outcome.Removed : outcome.Problems);
        timing.EndedAt = DateTimeOffset.UtcNow;
        if (!outcome.Succeeded && record.Verdict == DrillVerdict.Passed)
            Fail(record, DrillVerdict.Error, DrillFailureCategory.Cleanup, DrillPhase.Cleanup,
                "The drill passed but left things behind: " + string.Join("; ", outcome.Problems) + ". Remove them by hand.");
    }

    private static DrillPhase CurrentPhase(DrillRecord record) =>
        record.Phases.LastOrDefault(p => !p.Succeeded)?.Phase ?? record.Phases.LastOrDefault()?.Phase ?? DrillPhase.Discover;

    private static void Fail(DrillRecord record, DrillVerdict verdict, DrillFailureCategory category, DrillPhase phase, string message)
    {
        record.Verdict = verdict;
        record.FailureCategory = category;
        record.FailedPhase = phase;
        record.FailureMessage = Redactor.Redact(message);
    }
}
