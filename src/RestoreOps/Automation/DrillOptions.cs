using RestoreOps.Checks;
using RestoreOps.Local;
using RestoreOps.Model;

namespace RestoreOps.Automation;

/// <summary>What a drill restores, how it verifies it, and where the evidence goes.</summary>
internal sealed record DrillOptions
{
    /// <summary>Finds the backup to restore (the Discover phase). Its time is recorded but is not restore time.</summary>
    public required Func<CancellationToken, Task<Backup>> DiscoverBackup { get; init; }
    /// <summary>Where replay stops.</summary>
    public RecoveryTarget RecoveryTarget { get; init; } = RecoveryTarget.Latest;
    /// <summary>Checks to run once the restore is ready.</summary>
    public IReadOnlyList<RestoreCheck> Checks { get; init; } = [];
    /// <summary>Local restore settings.</summary>
    public LocalRestoreOptions Restore { get; init; } = new();
    /// <summary>Per-statement timeout for checks.</summary>
    public TimeSpan CheckStatementTimeout { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>Parallelism and per-check timeout (a check file's settings); default: the runner's.</summary>
    public CheckRunOptions? CheckRun { get; init; }
    /// <summary>Folder of earlier drill records, for checks relative to the previous drill of the same source.</summary>
    public string? EvidenceDirectory { get; init => field = InputPaths.Absolute(value, InputKey.EvidencePath); }
    /// <summary>Leave the restored instance running after the drill (for a human to look at); a sweep or the user removes it.</summary>
    public bool Keep { get; init; }
    /// <summary>Keep the restored target only when the drill did not pass, for a human to find out why.</summary>
    public bool KeepOnFailure { get; init; }
    /// <summary>How long to wait for the target to accept sessions; null: the local restore's own timeout, 30 minutes for CNPG.</summary>
    public TimeSpan? ReadyTimeout { get; init; }
    /// <summary>Drill id; generated when null.</summary>
    /// <exception cref="ConfigurationException">Not a safe id (see <see cref="DrillIds"/>): it names files and directories.</exception>
    public string? DrillId { get; init => field = DrillIds.Validate(value); }
    /// <summary>Who owns the procedure, from the check file's <c>owner:</c>; the front end's owner wins.</summary>
    public string? Owner { get; init; }
    /// <summary>The source in the user's words, for the record.</summary>
    public string? SourceDescription { get; init; }
    /// <summary>RPO and RTO limits; a breach makes the verdict Failed. Null or empty: none are judged.</summary>
    public DrillObjectives? Objectives { get; init; }
    /// <summary>Whose spelling the record's messages name inputs in: the front end that runs the drill.</summary>
    public InputSpelling Spelling { get; init; }
    /// <summary>Kubernetes context the drill used, for the record's environment (null for local drills).</summary>
    public string? KubernetesContext { get; init; }
    /// <summary>
    /// What the drill does once it knows its backup: the checks' default database and a demo's own target and checks
    /// depend on it. Null: these options as they are.
    /// </summary>
    internal Func<Backup, DrillOptions>? AfterDiscovery { get; init; }
    /// <summary>Why discovery chose the backup it did, for the Discover phase's detail; read once it returned.</summary>
    internal Func<string?>? DiscoveryNote { get; init; }
}
