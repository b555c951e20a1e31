namespace RestoreOps.PowerShell.Infrastructure;

/// <summary>
/// The module's one engine, made on first use by any cmdlet and disposed by the last Remove-Module. The engine
/// assembly itself can only be loaded once per process (PowerShell never unloads a module's assembly), so
/// import → remove → import gets a new engine over the same assembly.
/// </summary>
internal static class ModuleEngine
{
    private static readonly object Gate = new();
    private static RestoreEngine? s_engine;

    /// <summary>The engine; created on first use.</summary>
    public static RestoreEngine Current
    {
        get
        {
            // Records the engine writes name inputs as PowerShell parameters (-WorkRoot, not --work-dir).
            lock (Gate) return s_engine ??= new RestoreEngine(InputSpelling.PowerShell);
        }
    }

    /// <summary>
    /// Disposes the engine if one was made: its local drill targets and demo sources are removed (recovery targets
    /// stay). Returns one line per thing removed or left, for the user.
    /// </summary>
    public static IReadOnlyList<string> Release()
    {
        RestoreEngine? engine;
        lock (Gate)
        {
            engine = s_engine;
            s_engine = null;
        }
        if (engine is null) return [];
        var lines = new List<string>();
        foreach (var result in engine.RemoveLocalDrillTargetsAsync().GetAwaiter().GetResult())
        {
            lines.Add(result.Outcome.Succeeded
                ? $"RestoreOps removed local restore target {result.Cluster.Name} ({result.Cluster.WorkDirectory})."
                : $"RestoreOps could not remove local restore target {result.Cluster.Name}: {string.Join("; ", result.Outcome.Problems)}. Remove-RestoreCluster -Orphaned removes it after its expiry.");
        }
        foreach (var kept in engine.Tracked.Where(c => c.Kind == Model.RestoreTargetKind.Local))
            lines.Add($"RestoreOps kept restore target {kept.Name} ({kept.Purpose}, {kept.WorkDirectory}): remove it with Remove-RestoreCluster when it is no longer needed.");
        foreach (var demo in engine.DemoBackups)
            lines.Add($"RestoreOps removed the demo backup in {demo}.");
        engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return lines;
    }
}
