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

    /// <summary>Disposes the engine if one was made: its local drill targets are removed (recovery targets stay).</summary>
    public static void Release()
    {
        RestoreEngine? engine;
        lock (Gate)
        {
            engine = s_engine;
            s_engine = null;
        }
        engine?.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
