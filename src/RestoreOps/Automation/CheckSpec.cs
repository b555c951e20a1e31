using System.Collections;
using RestoreOps.Model;

namespace RestoreOps.Automation;

/// <summary>
/// Which checks to run and how to judge the drill: a check file, inline check dictionaries (PowerShell hashtables),
/// or both; with neither, a connectivity check on the restored database.
/// </summary>
/// <example>
/// <code>
/// var spec = new CheckSpec { Path = "checks.yaml", Objectives = new DrillObjectives { MaxBackupAge = TimeSpan.FromHours(26) } };
/// </code>
/// </example>
public sealed class CheckSpec
{
    /// <summary>A check file (docs/checks.md).</summary>
    public string? Path { get; init; }
    /// <summary>Inline checks, one dictionary each, shaped like a check file's entries.</summary>
    public IReadOnlyList<IDictionary> Checks { get; init; } = [];
    /// <summary>File-level settings for inline checks (<c>database</c>, <c>parallelism</c>…).</summary>
    public IDictionary? Settings { get; init; }
    /// <summary>RPO and RTO limits; a breach fails the drill.</summary>
    public DrillObjectives? Objectives { get; init; }
    /// <summary>Folder of earlier records, for checks relative to the previous drill.</summary>
    public string? EvidenceDirectory { get; init; }
    /// <summary>Per-statement timeout.</summary>
    public TimeSpan StatementTimeout { get; init; } = TimeSpan.FromMinutes(5);
}
