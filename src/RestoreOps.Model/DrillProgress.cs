namespace RestoreOps.Model;

/// <summary>One progress report from the engine, rendered by each front end (Write-Progress, a terminal line).</summary>
/// <param name="Phase">The drill phase.</param>
/// <param name="Activity">What is happening, in words.</param>
/// <param name="PercentComplete">0–100 when known.</param>
/// <param name="Status">Detail such as bytes or segments.</param>
public sealed record DrillProgress(DrillPhase Phase, string Activity, double? PercentComplete = null, string? Status = null);
