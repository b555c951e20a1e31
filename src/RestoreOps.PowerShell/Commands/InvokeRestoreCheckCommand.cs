using System.Collections;
using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Verifies a restored database and returns the drill record: checks, timings, objectives and a verdict.</para>
/// <para type="description">Runs a check file (-Path) and/or inline checks (-Check hashtables) against a ready restore target; with neither, a connectivity check. The record pipes to Export-DrillEvidence. The target stays until Remove-RestoreCluster.</para>
/// </summary>
/// <example><code>$cluster | Invoke-RestoreCheck -Path ./checks.yaml -MaxBackupAge 1.02:00:00 | Export-DrillEvidence -Path ./evidence</code></example>
[Cmdlet(VerbsLifecycle.Invoke, "RestoreCheck")]
[OutputType(typeof(DrillRecord))]
public sealed class InvokeRestoreCheckCommand : KubernetesCmdlet
{
    /// <summary>The ready restore target (from Wait-ClusterReady).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    [Alias("Cluster")]
    public RestoreCluster InputObject { get; set; } = null!;

    /// <summary>A check file (YAML; see docs/checks.md).</summary>
    [Parameter]
    public string? Path { get; set; }

    /// <summary>Inline checks, one hashtable each, shaped like a check file's entries: @{ kind = 'row-count'; table = 'orders'; min = 1 }.</summary>
    [Parameter]
    public Hashtable[]? Check { get; set; }

    /// <summary>Database the inline checks run in (default: the restored application database).</summary>
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

    /// <summary>Folder of earlier drill records, for checks relative to the previous drill of the same source.</summary>
    [Parameter]
    public string? PreviousEvidencePath { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            var spec = CheckParameters.Spec(this, Path, Check, Database, MaxBackupAge, MaxDataAge, MaxRestoreTime, PreviousEvidencePath);
            var started = DateTimeOffset.UtcNow;
            var record = Run($"Checking {InputObject}", (ct, progress) => Engine.CheckAsync(InputObject, spec, Access, progress, ct));
            Engine.RecordStep(InputObject, "check", CommandLine(), started, record.Verdict == DrillVerdict.Passed,
                $"{record.Verdict.ToString().ToLowerInvariant()}: {record.Checks.Count(c => c.Status == CheckStatus.Passed)} of {record.Checks.Count} check(s) passed", record);
            foreach (var c in record.Checks) WriteVerbose(c.ToString());
            WriteObject(record);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "InvokeRestoreCheckFailed", InputObject);
        }
    }
}
