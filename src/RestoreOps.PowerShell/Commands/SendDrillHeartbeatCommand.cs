using System.Management.Automation;
using RestoreOps.Evidence;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Pings a dead man's switch (healthchecks.io, Cronitor, Uptime Kuma) when a drill passed.</para>
/// <para type="description">Nothing is sent for a drill that did not pass: the missing ping is what raises the alarm, so a monitor that expects one ping a day catches both failing drills and drills that stopped running.</para>
/// </summary>
/// <example><code>Invoke-RestoreDrill -Backup $b -Local -Path ./checks.yaml | Send-DrillHeartbeat -Url $env:HEARTBEAT_URL</code></example>
[Cmdlet(VerbsCommunications.Send, "DrillHeartbeat")]
[OutputType(typeof(DeliveryOutcome))]
public sealed class SendDrillHeartbeatCommand : RestoreOpsCmdlet
{
    /// <summary>The drill record (also taken by property name from Export-DrillEvidence's output).</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("InputObject")]
    public DrillRecord Record { get; set; } = null!;

    /// <summary>The ping URL (it usually embeds its secret; messages name only the host).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    public Uri Url { get; set; } = null!;

    /// <summary>Requests made before giving up (default 3).</summary>
    [Parameter]
    [ValidateRange(1, 10)]
    public int Attempts { get; set; } = 3;

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            if (!Url.IsAbsoluteUri || (Url.Scheme != Uri.UriSchemeHttp && Url.Scheme != Uri.UriSchemeHttps))
                throw new ConfigurationException($"-Url '{Url}' is not an absolute http:// or https:// URL.", "Pass the ping URL your monitor shows, e.g. https://hc-ping.com/<uuid>.");
            var outcome = Run(ct => Heartbeat.SendAsync(Record, new HeartbeatOptions { Url = Url, Attempts = Attempts }, ct));
            if (Record.Verdict == DrillVerdict.Passed && !outcome.Sent)
                WriteError(new ErrorRecord(new InvalidOperationException(outcome.Message), "HeartbeatNotSent", ErrorCategory.ConnectionError, Url)
                {
                    ErrorDetails = new ErrorDetails(outcome.Message) { RecommendedAction = "Check the URL and that this host can reach the monitor; the drill itself passed." },
                });
            else
                WriteVerbose(outcome.Message);
            WriteObject(outcome);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "SendDrillHeartbeatFailed", Record);
        }
    }
}
