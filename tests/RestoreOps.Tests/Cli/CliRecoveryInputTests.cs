using Xunit;

namespace RestoreOps.Tests.Cli;

/// <summary>A recovery drill's own inputs are refused before anything is restored, naming the option and the fix.</summary>
public sealed class CliRecoveryInputTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("restoreops-cli-recovery-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData(new[] { "--purpose", "keep" }, "--purpose 'keep' is not a purpose", "--purpose recovery")]
    [InlineData(new[] { "--purpose", "recovery" }, "needs a name", "--name")]
    [InlineData(new[] { "--purpose", "recovery", "--name", "../escape" }, "--name '../escape' is not a usable drill id", "nightly")]
    [InlineData(new[] { "--purpose", "recovery", "--name", "a", "--drill-id", "b" }, "--name 'a' and --drill-id 'b' differ", "Pass only --name")]
    public async Task Bad_recovery_input_exits_2_before_anything_is_restored(string[] options, string message, string fix)
    {
        var dump = Path.Combine(_root, "app.dump");
        var (exit, _, err) = await CliProcess.RunAsync(_root, null, ["drill", "--dump", dump, "--work-dir", _root, .. options]);
        Assert.True(exit == 2, $"exit {exit}\n{err}");
        Assert.Contains(message, err);
        Assert.Contains(fix, err);
        Assert.Empty(Directory.GetDirectories(_root, "restoreops-*"));
    }
}
