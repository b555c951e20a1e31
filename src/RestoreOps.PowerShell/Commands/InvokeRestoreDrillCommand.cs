using System.Collections;
using System.Collections.Concurrent;
using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Evidence;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Runs whole restore drills: restore, wait, check, record, clean up in finally, one record per backup.</para>
/// <para type="description">For each backup from the pipeline: creates the restore target, waits for it, runs the checks, judges the objectives, writes the evidence (-EvidencePath), pings the heartbeat when it passed (-HeartbeatUrl), and removes the target whatever happened (unless -KeepOnFailure and it did not pass). Up to -ThrottleLimit drills run at once. Ctrl+C cancels the drills and still removes their targets.</para>
/// </summary>
/// <example><code>Get-CnpgBackup -Namespace prod -Latest | Invoke-RestoreDrill -Namespace drills -Path ./checks.yaml -EvidencePath ./evidence -ThrottleLimit 2</code></example>
[Cmdlet(VerbsLifecycle.Invoke, "RestoreDrill", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = CnpgSet)]
[OutputType(typeof(DrillRecord))]
public sealed class InvokeRestoreDrillCommand : RestoreTargetCmdlet
{
    private readonly BlockingCollection<DrillEvent> _events = new();
    private readonly List<Task> _running = [];
    // Drills by id, and the ids whose record reached the pipeline: after Ctrl+C the others are told through the host.
    private readonly ConcurrentDictionary<int, (Backup Backup, Task<DrillRun> Task)> _drills = new();
    private readonly HashSet<int> _written = [];
    private volatile bool _stopped;
    private int _pending;
    private int _next;

    /// <summary>A check file (YAML; see docs/checks.md). Also taken from a piped object's CheckPath (New-RestoreDemoBackup's).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("CheckPath")]
    public string? Path { get; set; }

    /// <summary>Inline checks, one hashtable each: @{ kind = 'row-count'; table = 'orders'; min = 1 }.</summary>
    [Parameter]
    public Hashtable[]? Check { get; set; }

    /// <summary>Database the inline checks run in.</summary>
    [Parameter]
    public string? Database { get; set; }

    /// <summary>RPO objective: the backup may be at most this old when the drill starts.</summary>
    [Parameter]
    [Duration]
    public TimeSpan? MaxBackupAge { get; set; }

    /// <summary>RPO objective: the restored data's newest commit may be at most this old.</summary>
    [Parameter]
    [Duration]
    public TimeSpan? MaxDataAge { get; set; }

    /// <summary>RTO objective: the restore (download to ready) may take at most this long.</summary>
    [Parameter]
    [Duration]
    public TimeSpan? MaxRestoreTime { get; set; }

    /// <summary>How long a target may take to accept sessions (default 30 minutes).</summary>
    [Parameter]
    [Duration]
    public TimeSpan Timeout { get; set; } = RestoreDefaults.ReadyTimeout;

    /// <summary>Keep the target when the drill did not pass, for a human to find out why (a sweep removes it after -Expiry).</summary>
    [Parameter]
    public SwitchParameter KeepOnFailure { get; set; }

    /// <summary>Write each drill's evidence (sealed JSON, JUnit, Markdown, HTML, Prometheus) to this folder; earlier records there feed relative checks.</summary>
    [Parameter]
    public string? EvidencePath { get; set; }

    /// <summary>Environment variable holding the HMAC signing key (default: RESTOREOPS_SIGNING_KEY when set).</summary>
    [Parameter]
    public string? SigningKeyVariable { get; set; }

    /// <summary>Ping this URL after each passed drill (silence is the alarm).</summary>
    [Parameter]
    public Uri? HeartbeatUrl { get; set; }

    /// <summary>Drills run at once (default 1: a restore uses a whole core or a whole CNPG instance).</summary>
    [Parameter]
    [ValidateRange(1, 64)]
    public int ThrottleLimit { get; set; } = 1;

    /// <summary>Who owns the procedure (default: the check file's owner:).</summary>
    [Parameter]
    public string? Owner { get; set; }

    /// <summary>Notes for the evidence, one per step that needed human judgement.</summary>
    [Parameter]
    public string[]? Note { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        DrillRequest request;
        try
        {
            if (!ShouldProcess(TargetDescription(Backup, null), "Restore, verify and remove (restore drill)")) return;
            if (HeartbeatUrl is { } url && (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)))
                throw new ConfigurationException($"-HeartbeatUrl '{url}' is not an absolute http:// or https:// URL.",
                    "Pass the ping URL your monitor shows, e.g. https://hc-ping.com/<uuid>.");
            var evidence = FullPath(EvidencePath);
            var key = RecordSeal.KeyFromEnvironment(SigningKeyVariable ?? RecordSeal.DefaultKeyVariable);
            if (SigningKeyVariable is not null && key is null)
                throw new ConfigurationException($"-SigningKeyVariable {SigningKeyVariable}: that environment variable is not set or empty.",
                    $"Set $env:{SigningKeyVariable}, or leave -SigningKeyVariable out.");
            request = new DrillRequest
            {
                Restore = Request(Backup, null, null, RestorePurpose.Drill),
                Checks = CheckParameters.Spec(this, Path, Check, Database, MaxBackupAge, MaxDataAge, MaxRestoreTime, evidence),
                ReadyTimeout = Timeout,
                KeepOnFailure = KeepOnFailure,
                EvidencePath = evidence,
                SigningKey = key,
                HeartbeatUrl = HeartbeatUrl,
                Owner = Owner,
                Notes = Note ?? [],
                Command = (Backup.Discovery is { } found ? found.Command + " | " : "") + CommandLine(),
            };
            // Input errors are ErrorRecords, found before anything starts; what happens during the drill is its record.
            Run(ct => Engine.ValidateAsync(request.Restore, request.Checks, evidence, ct));
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "InvokeRestoreDrillFailed", Backup);
            return;
        }
        while (_pending >= ThrottleLimit) Drain();
        Start(request);
    }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        while (_pending > 0) Drain();
    }

    private void Start(DrillRequest request)
    {
        var id = ++_next;
        // The cmdlet always names the backup (it comes down the pipeline); only the CLI leaves finding it to the drill.
        var backup = request.Restore.Backup ?? Backup;
        var progress = new EventProgress(_events, id, backup);
        var task = Task.Run(() => Engine.RunDrillAsync(request, progress, Cancellation));
        _pending++;
        _drills[id] = (backup, task);
        lock (_running) _running.Add(task);
        _ = task.ContinueWith(t => _events.Add(new DrillEvent(id, backup, null, t)), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Writes progress on this thread until one drill ends, then writes its outcome.</summary>
    private void Drain()
    {
        foreach (var e in _events.GetConsumingEnumerable())
        {
            if (e.Progress is { } p)
            {
                WriteProgress(new ProgressRecord(e.Id, $"Drill {e.Id}: {e.Backup.Source} {e.Backup.Id}", $"{p.Activity}{(p.Status is null ? "" : ": " + p.Status)}")
                {
                    CurrentOperation = p.Phase.ToString(),
                    PercentComplete = p.PercentComplete is { } pc ? (int)Math.Clamp(pc, 0, 100) : -1,
                    SecondsRemaining = p.Transfer?.Remaining is { } left ? (int)Math.Min(left.TotalSeconds, int.MaxValue) : -1,
                });
                continue;
            }
            _pending--;
            WriteProgress(new ProgressRecord(e.Id, $"Drill {e.Id}: {e.Backup.Source} {e.Backup.Id}", "Done") { RecordType = ProgressRecordType.Completed });
            try
            {
                var run = e.Done!.GetAwaiter().GetResult();
                foreach (var w in run.Warnings) WriteWarning(w);
                foreach (var f in run.EvidenceFiles) WriteVerbose($"evidence: {f}");
                if (run.Record.Verdict != DrillVerdict.Passed)
                    WriteVerbose($"Drill {run.Record.DrillId} {run.Record.Verdict}: {run.Record.FailureMessage}");
                WriteObject(run.Record);
                lock (_written) _written.Add(e.Id);
            }
            catch (Exception ex) when (IsReported(ex))
            {
                WriteFailure(ex, "InvokeRestoreDrillFailed", e.Backup);
            }
            return;
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // EndProcessing does not run after Ctrl+C: the cancelled drills are still removing their targets, and
            // the session must not move on (or exit) before they have.
            base.Dispose(disposing);
            Task[] running;
            lock (_running) running = [.. _running];
            try { Task.WaitAll(running); } catch (AggregateException) { /* each drill turns its failures into its record */ }
            _events.Dispose();
            if (_stopped) ReportStoppedDrills();
            return;
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    protected override void StopProcessing()
    {
        _stopped = true;
        base.StopProcessing();
    }

    /// <summary>
    /// After Ctrl+C PowerShell discards the cmdlet's writes, so the stopped drills' records never reach the pipeline:
    /// the host's UI says what each one's cleanup did, so the user knows what was removed and what is left.
    /// </summary>
    private void ReportStoppedDrills()
    {
        foreach (var (id, (backup, task)) in _drills.OrderBy(d => d.Key))
        {
            lock (_written) if (_written.Contains(id)) continue;
            string line;
            if (task.IsCompletedSuccessfully)
            {
                var record = task.Result.Record;
                var cleanup = record.Cleanup;
                line = cleanup.Kept ? $"Drill {record.DrillId} of {backup} was stopped; its restore target was kept: remove it with Remove-RestoreCluster."
                    : cleanup.Succeeded ? $"Drill {record.DrillId} of {backup} was stopped; its restore target was removed ({(cleanup.Removed.Count == 0 ? "nothing had been created" : string.Join(", ", cleanup.Removed))})."
                    : $"Drill {record.DrillId} of {backup} was stopped; its cleanup is INCOMPLETE ({string.Join("; ", cleanup.Problems)}): remove what is left with Remove-RestoreCluster.";
            }
            else
            {
                line = $"Drill of {backup} was stopped and did not report its cleanup ({task.Exception?.GetBaseException().Message ?? "cancelled"}): list what is left with Get-RestoreCluster.";
            }
            try { Host.UI.WriteWarningLine(line); }
            catch (Exception e) when (e is PipelineStoppedException or InvalidOperationException or NotImplementedException) { /* a host without a UI */ }
        }
    }

    private sealed record DrillEvent(int Id, Backup Backup, DrillProgress? Progress, Task<DrillRun>? Done);

    private sealed class EventProgress(BlockingCollection<DrillEvent> events, int id, Backup backup) : IProgress<DrillProgress>
    {
        public void Report(DrillProgress value)
        {
            try { events.Add(new DrillEvent(id, backup, value, null)); }
            catch (InvalidOperationException) { /* the command has ended (completed or disposed collection) */ }
        }
    }
}
