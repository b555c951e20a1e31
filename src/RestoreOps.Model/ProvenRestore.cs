namespace RestoreOps.Model;

/// <summary>Whether a source has a recent enough proof that its backups restore.</summary>
public enum ProofStatus
{
    /// <summary>The last passed drill is within the threshold.</summary>
    Fresh,
    /// <summary>The last passed drill is older than the threshold.</summary>
    Stale,
    /// <summary>Drills ran, but none passed.</summary>
    NeverProven,
}

/// <summary>The last proven restore of one source.</summary>
/// <param name="Source">The source, as records name it (<c>unknown</c> when they do not).</param>
/// <param name="LastPassed">The newest passed record, if any.</param>
/// <param name="LastRun">The newest record, whatever its verdict.</param>
/// <param name="Age">Now minus the end of <paramref name="LastPassed"/>.</param>
/// <param name="Status">Fresh, Stale or NeverProven.</param>
public sealed record ProvenRestore(string Source, DrillRecord? LastPassed, DrillRecord LastRun, TimeSpan? Age, ProofStatus Status);
