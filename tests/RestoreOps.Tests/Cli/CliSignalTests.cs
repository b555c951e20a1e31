using System.Diagnostics;
using RestoreOps.Local;
using RestoreOps.Processes;
using RestoreOps.Tests.Restore;
using Xunit;

namespace RestoreOps.Tests.Cli;

/// <summary>
/// The real restoreops process, stopped the way users and schedulers stop it: Ctrl+C (SIGINT) in a terminal,
/// SIGTERM from Kubernetes at a CronJob's deadline. Either way the restore is removed and the record written.
/// </summary>
public sealed class CliSignalTests
{
    [Theory]
    [InlineData(Native.SIGINT)]
    [InlineData(Native.SIGTERM)]
    public async Task A_signal_during_the_restore_cancels_cleans_up_and_records(int signal)
    {
        var root = Path.Combine(Path.GetTempPath(), $"restoreops-signal-{Guid.NewGuid():N}"[..32]);
        var work = Path.Combine(root, "work");
        var evidence = Path.Combine(root, "evidence");
        Directory.CreateDirectory(work);
        try
        {
            var psi = new ProcessStartInfo("dotnet")
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "RestoreOps.Cli.dll"), "drill", "--demo", "--work-dir", work, "--evidence", evidence })
                psi.ArgumentList.Add(a);
            using var process = Process.Start(psi)!;
            var stdout = process.StandardOutput.ReadToEndAsync();

            // Signal once the restore has begun: the engine reports it on stderr before it starts unpacking.
            string? line;
            var seen = new List<string>();
            while ((line = await process.StandardError.ReadLineAsync()) is not null)
            {
                seen.Add(line);
                if (line.Contains("[Download]", StringComparison.Ordinal)) break;
            }
            Assert.True(line is not null, "the drill ended before the restore began:\n" + string.Join("\n", seen));
            Native.Signal(process.Id, signal);
            var rest = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();

            Assert.True(process.ExitCode == 3, $"exit {process.ExitCode}\n{await stdout}\n{rest}");
            Assert.Contains("cancelled", rest);
            var record = Assert.Single(Directory.GetFiles(evidence, "*.json"));
            Assert.Contains("\"failureCategory\": \"cancelled\"", await File.ReadAllTextAsync(record));
            Assert.Empty(Directory.GetFileSystemEntries(work));
            Assert.Empty(Leftovers.ProcessesMentioning(work));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
