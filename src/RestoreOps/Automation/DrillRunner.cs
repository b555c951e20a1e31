using System.Security.Cryptography;
using RestoreOps.Automation;
using RestoreOps.Checks;
using RestoreOps.Evidence;
using RestoreOps.Local;
using RestoreOps.Model;

namespace RestoreOps.Automation;

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
internal static class DrillRunner
{
    /// <summary>The RestoreOps version written into records.</summary>
    public static string ToolVersion { get; } =
        typeof(DrillRunner).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>A new drill id: UTC time plus randomness, usable in paths, Kubernetes names and labels.</summary>
    public static string NewDrillId() =>
        $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant()}";

    /// <summary>Runs the drill. Returns the record in every case; <paramref name="onRestoreCreated"/> sees the restore as soon as it exists.</summary>
    public static Task<DrillRecord> RunAsync(DrillOptions options, IProgress<DrillProgress>? progress, CancellationToken cancellationToken,
        Action<LocalRestore>? onRestoreCreated = null) =>
        RunAsync(options, RestoreTargetKind.Local, (backup, drillId, token) =>
        {
            var restore = LocalRestore.Create(backup, options.RecoveryTarget, options.Restore, drillId);
            onRestoreCreated?.Invoke(restore);
            return Task.FromResult<IRestoreHandle>(LocalHandle.Start(restore, token));
        }, progress, cancellationToken);

    /// <summary>
    /// The drill on any kind of target: <paramref name="start"/> creates it (and starts it; it is cancelled with the
    /// token it is given), the rest is the same for all kinds.
    /// </summary>
    internal static async Task<DrillRecord> RunAsync(DrillOptions options, RestoreTargetKind kind,
        Func<Backup, string, CancellationToken, Task<IRestoreHandle>> start, IProgress<DrillProgress>? progress, CancellationToken cancellationToken)
    {
        var record = new DrillRecord
        {
            DrillId = options.DrillId ?? NewDrillId(),
            ToolVersion = ToolVersion,
            Host = Environment.MachineName,
            Environment = DrillEnvironment.Current(options.KubernetesContext),
            StartedAt = DateTimeOffset.UtcNow,
            Purpose = options.Restore.Purpose,
            TargetKind = kind,
            Source = options.SourceDescription,
            RecoveryTarget = options.RecoveryTarget.ToString(),
        };
        // Registered before anything can fail, so no failure message or writer can carry them.
        Redactor.RegisterSecrets(options.Restore.ObjectStore);
        IRestoreHandle? restore = null;
        try
        {
            var discover = new PhaseTiming { Phase = DrillPhase.Discover, StartedAt = DateTimeOffset.UtcNow };
            record.Phases.Add(discover);
            progress?.Report(new DrillProgress(DrillPhase.Discover, "Finding the backup"));
            Backup backup;
            try
            {
                backup = await options.DiscoverBackup(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                record.Phases.Replace(discover, discover.End(false, null));
                throw;
            }
            var note = options.DiscoveryNote?.Invoke();
            record.Phases.Replace(discover, discover.End(true, note is null ? $"{backup.Method} backup {backup.Id}" : $"{backup.Method} {note}"));
            if (options.AfterDiscovery is { } plan)
            {
                options = plan(backup);
                record.RecoveryTarget = options.RecoveryTarget.ToString();
                record.Source = options.SourceDescription;
            }
            record.Source ??= backup.Source;
            record.Backup = BackupSummary.From(backup);
            record.BackupAge = backup.EndTime is { } end ? record.StartedAt - end : null;

            restore = await start(backup, record.DrillId, cancellationToken).ConfigureAwait(false);
            try
            {
                await restore.WaitReadyAsync(options.ReadyTimeout ?? (kind == RestoreTargetKind.Local ? Timeout.InfiniteTimeSpan : RestoreDefaults.ReadyTimeout),
                    progress, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ApplyRestore(record, restore.Cluster);
            }

            var checks = await RunChecksAsync(record, restore, backup, options, progress, cancellationToken).ConfigureAwait(false);
            SetVerdict(record, checks);
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
        {
            FailFrom(record, e, cancelled: true, options.Spelling);
        }
        catch (Exception e) when (IsDrillFailure(e))
        {
            FailFrom(record, e, cancelled: false, options.Spelling);
        }
        finally
        {
            // Before cleanup: a cleanup failure on a drill that met everything else is still an Error, not a Failed.
            ObjectiveEvaluator.Apply(record, options.Objectives, options.Spelling);
            if (restore is not null) await CleanUpAsync(record, restore, options, progress).ConfigureAwait(false);
            // Refused before any target existed (a reused drill id, a bad backup): there was nothing to remove, which is a
            // clean state, not an incomplete cleanup to alarm anyone about.
            else record.Cleanup.Succeeded = true;
            record.EndedAt = DateTimeOffset.UtcNow;
        }
        return record;
    }

    /// <summary>Copies what the restore measured into the record: its phases, restore duration and recovery point.</summary>
    internal static void ApplyRestore(DrillRecord record, RestoreCluster cluster)
    {
        record.Phases.AddRange(cluster.Phases);
        var first = cluster.Phases.FirstOrDefault();
        var ready = cluster.Phases.LastOrDefault(p => p.Phase == DrillPhase.Ready && p.Succeeded);
        if (first is not null && ready is not null) record.RestoreDuration = ready.EndedAt - first.StartedAt;
        record.AchievedRecoveryTime = cluster.AchievedRecoveryTime;
        record.AchievedRecoveryLsn = cluster.AchievedRecoveryLsn;
        record.PlannedReplayEndLsn = cluster.PlannedReplayEndLsn;
        record.ReplayEndLsn = cluster.ReplayEndLsn;
    }

    /// <summary>Runs the checks against a ready target and records them as the Checks phase.</summary>
    internal static async Task<PhaseTiming> RunChecksAsync(DrillRecord record, IRestoreHandle restore, Backup backup, DrillOptions options,
        IProgress<DrillProgress>? progress, CancellationToken cancellationToken)
    {
        var checks = new PhaseTiming { Phase = DrillPhase.Checks, StartedAt = DateTimeOffset.UtcNow };
        record.Phases.Add(checks);
        var succeeded = false;
        string? detail = null;
        try
        {
            await using var connections = await restore.OpenChecksAsync(cancellationToken).ConfigureAwait(false);
            var context = new CheckContext(connections.ConnectionFor, options.CheckStatementTimeout)
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
            succeeded = record.Checks.All(c => c.Status is CheckStatus.Passed or CheckStatus.Skipped);
            detail = $"{record.Checks.Count(c => c.Status == CheckStatus.Passed)} of {record.Checks.Count} passed";
        }
        finally
        {
            checks = record.Phases.Replace(checks, checks.End(succeeded, detail));
        }
        return checks;
    }

    /// <summary>Passed when every check passed (or was skipped), else Failed naming the checks that did not.</summary>
    internal static void SetVerdict(DrillRecord record, PhaseTiming checks)
    {
        if (checks.Succeeded)
        {
            record.Verdict = DrillVerdict.Passed;
            return;
        }
        var bad = record.Checks.Where(c => c.Status is CheckStatus.Failed or CheckStatus.Error).ToList();
        Fail(record, DrillVerdict.Failed, DrillFailureCategory.Checks, DrillPhase.Checks,
            $"{bad.Count} check(s) did not pass: " + string.Join("; ", bad.Select(c => c.Message)));
    }

    /// <summary>The verdict and category a failure earns: restore failures fail the drill, everything else is an error of the drill itself.</summary>
    internal static void FailFrom(DrillRecord record, Exception e, bool cancelled, InputSpelling spelling)
    {
        if (cancelled)
        {
            Fail(record, DrillVerdict.Error, DrillFailureCategory.Cancelled, CurrentPhase(record), "The drill was cancelled before it finished; nothing it proved so far counts as a pass.");
            return;
        }
        if (e is RestoreOpsException r)
        {
            var (verdict, category) = r.Kind switch
            {
                FailureKind.RestoreFailed => (DrillVerdict.Failed, DrillFailureCategory.Restore),
                FailureKind.Configuration => (DrillVerdict.Error, DrillFailureCategory.Configuration),
                _ => (DrillVerdict.Error, DrillFailureCategory.Infrastructure),
            };
            Fail(record, verdict, category, CurrentPhase(record), r.Render(spelling));
            return;
        }
        Fail(record, DrillVerdict.Error, DrillFailureCategory.Infrastructure, CurrentPhase(record), $"{e.GetType().Name}: {e.Message}");
    }

    /// <summary>The failures a drill turns into a record rather than let escape.</summary>
    internal static bool IsDrillFailure(Exception e) =>
        e is RestoreOpsException or IOException or UnauthorizedAccessException or Npgsql.NpgsqlException or TimeoutException;

    private static async Task CleanUpAsync(DrillRecord record, IRestoreHandle restore, DrillOptions options, IProgress<DrillProgress>? progress)
    {
        var timing = new PhaseTiming { Phase = DrillPhase.Cleanup, StartedAt = DateTimeOffset.UtcNow };
        record.Phases.Add(timing);
        if (options.Keep || (options.KeepOnFailure && record.Verdict != DrillVerdict.Passed) || restore.Cluster.Purpose == RestorePurpose.Recovery)
        {
            record.Cleanup.Kept = true;
            record.Cleanup.Succeeded = true;
            record.Phases.Replace(timing, timing.End(true, $"kept on request: {restore.Cluster.WorkDirectory ?? restore.Cluster.ToString()}"));
            return;
        }
        progress?.Report(new DrillProgress(DrillPhase.Cleanup, "Removing the restored instance"));
        // Cleanup must run to the end even when the drill itself was cancelled.
        CleanupOutcome outcome;
        try
        {
            outcome = await restore.RemoveAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (IsDrillFailure(e))
        {
            outcome = new CleanupOutcome { Succeeded = false };
            outcome.Problems.Add(FailureText.Of(e, options.Spelling));
        }
        record.Cleanup.Succeeded = outcome.Succeeded;
        record.Cleanup.Removed.AddRange(outcome.Removed);
        record.Cleanup.Problems.AddRange(outcome.Problems);
        record.Phases.Replace(timing, timing.End(outcome.Succeeded,
            outcome.Succeeded && outcome.Removed.Count == 0 ? "nothing to remove" : string.Join("; ", outcome.Succeeded ? outcome.Removed : outcome.Problems)));
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
