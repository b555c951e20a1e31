namespace RestoreOps.Tests.Automation;

/// <summary>
/// The engine the facade tests share, as one PowerShell session shares the module's: tests that are about the engine
/// itself (isolation between engines, disposal) make their own.
/// </summary>
internal static class TestEngine
{
    public static RestoreEngine Shared { get; } = new();
}
