using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Creates a restore target from a backup: a temporary CNPG Cluster, or a local PostgreSQL with -Local; with -Purpose Recovery, a kept one for an incident.</para>
/// <para type="description">Returns at once with a RestoreCluster object; the restore runs on (the operator restores a CNPG Cluster, a local restore runs in the background). Pipe it to Wait-ClusterReady.</para>
/// <para type="description">-Purpose Recovery -Name NAME makes a target that is kept: never removed by Remove-RestoreCluster -Orphaned, by Remove-Module or by the session's exit, until someone removes it by name. Creating one is a high-impact action: PowerShell asks for confirmation unless $ConfirmPreference is None or -Confirm:$false is given; scripts pass -Force.</para>
/// </summary>
/// <example><code>Get-CnpgBackup -Namespace prod -Cluster app-db -Latest | New-RestoreCluster -Namespace drills | Wait-ClusterReady</code></example>
/// <example><code>Get-BarmanBackup -DestinationPath s3://backups/pg -ServerName app-db -Latest | New-RestoreCluster -Local -TargetXid 7331 -TargetExclusive -Purpose Recovery -Name orders-before-truncate -Force | Wait-ClusterReady</code></example>
[Cmdlet(VerbsCommon.New, "RestoreCluster", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = CnpgSet)]
[OutputType(typeof(RestoreCluster))]
public sealed class NewRestoreClusterCommand : RestoreTargetCmdlet
{
    /// <summary>The target's name. CNPG: the recovery Cluster's name (default: &lt;source&gt;-drill-&lt;id&gt;). Local: its drill id (work directory restoreops-&lt;name&gt;). Required with -Purpose Recovery.</summary>
    [Parameter(ParameterSetName = CnpgSet)]
    [Parameter(ParameterSetName = LocalSet)]
    public string? Name { get; set; }

    /// <summary>Drill id (default: generated from the time and random bytes).</summary>
    [Parameter]
    public string? DrillId { get; set; }

    /// <summary>Drill (default: expires and is swept) or Recovery (kept, never swept: for a real incident; needs -Name and confirmation).</summary>
    [Parameter]
    public RestorePurpose Purpose { get; set; } = RestorePurpose.Drill;

    /// <summary>Create a recovery target without asking for confirmation (for scripts).</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        try
        {
            var description = TargetDescription(Backup, Name);
            if (!ShouldProcess(description, Purpose == RestorePurpose.Recovery ? "Create recovery target (kept until removed by name)" : "Create restore target")) return;
            var request = Request(Backup, Name, DrillId, Purpose);
            // Found now, not by the background restore that only whoever waits would hear from.
            Run(ct => Engine.ValidateAsync(request, null, null, ct));
            if (Purpose == RestorePurpose.Recovery && !ConfirmRecovery(description)) return;
            var started = DateTimeOffset.UtcNow;
            var cluster = Run(ct => Engine.NewAsync(request, ct));
            Engine.RecordStep(cluster, "create", CommandLine(), started, true, $"{cluster.Kind} {cluster.Purpose.ToString().ToLowerInvariant()} target {cluster} from backup {Backup.Id}");
            WriteVerbose(cluster.Purpose == RestorePurpose.Recovery
                ? $"Created {cluster.Kind} recovery target {cluster} (drill id {cluster.DrillId}); it is kept until removed: Remove-RestoreCluster -Name {cluster.Name}."
                : $"Created {cluster.Kind} restore target {cluster} for drill {cluster.DrillId}; it expires {cluster.ExpiresAt:u}.");
            WriteObject(cluster);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "NewRestoreClusterFailed", Backup);
        }
    }

    /// <summary>
    /// A recovery target is high impact (it lives on, holds production data, and costs until someone removes it): asked
    /// for as ConfirmImpact High would be, unless -Force, -Confirm (ShouldProcess asked already) or -Confirm:$false, or
    /// $ConfirmPreference None.
    /// </summary>
    private bool ConfirmRecovery(string description)
    {
        if (Force || MyInvocation.BoundParameters.ContainsKey("Confirm")) return true;
        var preference = GetVariableValue("ConfirmPreference") is { } p && Enum.TryParse<ConfirmImpact>(p.ToString(), true, out var v) ? v : ConfirmImpact.High;
        if (preference == ConfirmImpact.None) return true;
        try
        {
            return ShouldContinue($"Create {description} as a RECOVERY target? It is never swept and outlives this session and the module: remove it with Remove-RestoreCluster -Name {Name} when done.",
                "Create a kept recovery target");
        }
        catch (Exception e) when (e is PSInvalidOperationException or System.Management.Automation.Host.HostException or NotImplementedException)
        {
            throw new ConfigurationException($"Creating recovery target {Name} needs confirmation, and this session cannot ask for it ({e.Message.TrimEnd('.')}).",
                "In a script, pass -Force to confirm it.");
        }
    }
}
