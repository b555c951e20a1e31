using System.Management.Automation;
using RestoreOps.Evidence;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Reads the drill records in an evidence folder, newest first; -Summary gives the last proven restore per source.</para>
/// <para type="description">Every record is checked against its digest on the way in; unreadable or tampered files are reported as warnings and left out. -Summary marks a source Stale when its last passed drill is older than -StaleAfter: the schedule stopped or keeps failing.</para>
/// </summary>
/// <example><code>Get-DrillHistory -Path ./evidence -Summary -StaleAfter 7.00:00:00 | Where-Object Status -ne Fresh</code></example>
[Cmdlet(VerbsCommon.Get, "DrillHistory", DefaultParameterSetName = RecordsSet)]
[OutputType(typeof(DrillRecord), ParameterSetName = [RecordsSet])]
[OutputType(typeof(ProvenRestore), ParameterSetName = [SummarySet])]
public sealed class GetDrillHistoryCommand : RestoreOpsCmdlet
{
    private const string RecordsSet = "Records";
    private const string SummarySet = "Summary";

    /// <summary>The evidence folder.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Directory")]
    public string Path { get; set; } = null!;

    /// <summary>Only records of this source (as records name it, e.g. s3://backups/pg/app-db or prod/app-db).</summary>
    [Parameter(ParameterSetName = RecordsSet)]
    public string? Source { get; set; }

    /// <summary>Only records with this verdict.</summary>
    [Parameter(ParameterSetName = RecordsSet)]
    public DrillVerdict? Verdict { get; set; }

    /// <summary>Only the newest N records.</summary>
    [Parameter(ParameterSetName = RecordsSet)]
    [ValidateRange(1, int.MaxValue)]
    public int? Last { get; set; }

    /// <summary>Per source, the last proven restore and whether it is fresh.</summary>
    [Parameter(Mandatory = true, ParameterSetName = SummarySet)]
    public SwitchParameter Summary { get; set; }

    /// <summary>A source whose last passed drill is older than this is Stale (default 7 days).</summary>
    [Parameter(ParameterSetName = SummarySet)]
    [Duration]
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromDays(7);

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var dir = FullPath(Path);
        try
        {
            if (!System.IO.Directory.Exists(dir))
                throw new ConfigurationException($"The evidence folder '{dir}' does not exist.", "Pass the folder Export-DrillEvidence or Invoke-RestoreDrill -EvidencePath wrote to.");
            var history = DrillHistory.Load(dir);
            foreach (var problem in history.Problems) WriteWarning($"{problem.Path}: {problem.Message}");
            if (Summary)
            {
                foreach (var p in history.LastProvenRestores(DateTimeOffset.UtcNow, StaleAfter)) WriteObject(p);
                return;
            }
            var records = (Source is null ? history.Records : history.ForSource(Source))
                .Where(r => Verdict is null || r.Verdict == Verdict)
                .OrderByDescending(r => r.StartedAt);
            foreach (var r in Last is { } n ? records.Take(n) : records) WriteObject(r);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "GetDrillHistoryFailed", dir);
        }
    }
}
