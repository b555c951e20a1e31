using System.Diagnostics;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Processes;
using RestoreOps.Tests.Automation;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.Restore;
using RestoreOps.Wal;
using Xunit;

namespace RestoreOps.Tests.Cli;

/// <summary>
/// kill -9 of the real CLI at each phase of a drill, followed by the sweep: nothing a killed run leaves may outlive the
/// sweep, and a server still replaying stops by itself once its owner is gone instead of waiting for WAL forever.
/// </summary>
[Collection("backups")]
public sealed class CliKillTests(BackupFixtures fx)
{
    [Theory]
    [InlineData("Download")]
    [InlineData("WalReplay")]
    [InlineData("Checks")]
    public async Task Kill_9_at_a_phase_then_the_sweep_leaves_nothing(string phase)
    {
        var root = Path.Combine(fx.WorkRoot, $"kill-{phase}-{Guid.NewGuid():N}"[..28]);
        var work = Path.Combine(root, "work");
        var archive = Path.Combine(root, "wal");
        Directory.CreateDirectory(work);
        Directory.CreateDirectory(archive);
        try
        {
            var backup = await RestoreOps.Backups.LocalBackupCatalog.ReadBaseBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, default);
            var held = WalFileName.FromSegmentNumber(WalFileName.Parse(backup.EndWal!).Timeline, WalFileName.Parse(backup.EndWal!).SegmentNumber() + 1).ToString();
            foreach (var f in Directory.GetFiles(fx.WalArchiveDirectory))
            {
                var name = Path.GetFileName(f);
                // In replay, the first segment after the backup never arrives: a FIFO nobody writes holds its fetch, so the
                // server is still waiting for WAL when its owner dies.
                if (phase == "WalReplay" && name == held)
                {
                    using var mkfifo = Process.Start("mkfifo", [Path.Combine(archive, name)])!;
                    await mkfifo.WaitForExitAsync();
                    Assert.Equal(0, mkfifo.ExitCode);
                }
                else
                    File.Copy(f, Path.Combine(archive, name));
            }

            var args = new List<string> { Path.Combine(AppContext.BaseDirectory, "RestoreOps.Cli.dll"), "drill", "--base-backup", fx.BaseBackupDirectory,
                "--wal-archive", archive, "--work-dir", work, "--database", "shop" };
            // A check that takes long enough to be killed in.
            if (phase == "Checks") args.AddRange(["--expect-sql", "select count(*) from (select pg_sleep(60)) s => 1"]);
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var cli = Process.Start(psi)!;
            _ = cli.StandardOutput.ReadToEndAsync();
            var seen = new List<string>();
            string? line;
            var marker = phase == "WalReplay" ? "postgres pid" : "";
            while ((line = await cli.StandardError.ReadLineAsync()) is not null)
            {
                seen.Add(line);
                if (line.Contains($"[{phase}]", StringComparison.Ordinal) && line.Contains(marker, StringComparison.Ordinal)) break;
            }
            Assert.True(line is not null, $"the drill never reached {phase}:\n" + string.Join("\n", seen));
            cli.Kill(); // SIGKILL
            await cli.WaitForExitAsync();

            var target = Assert.Single(Directory.GetDirectories(work, LocalTargets.DirectoryPrefix + "*"));
            Assert.True(File.Exists(Path.Combine(target, LocalTargets.MarkerFile)), "a killed run left a directory without its marker");
            if (phase == "WalReplay")
            {
                // The server was waiting for WAL only a dead process could deliver: it must stop by itself. The postmaster
                // is not our child, so there is no exit event to await; this polls, with a guard instead of a hang.
                var pid = int.Parse(System.Text.RegularExpressions.Regex.Match(line, @"postgres pid (\d+)").Groups[1].Value);
                using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(90));
                // A zombie (reparented, not yet reaped) has an empty command line: it no longer runs.
                bool Running() { try { return File.ReadAllText($"/proc/{pid}/cmdline").Contains(target, StringComparison.Ordinal); } catch (IOException) { return false; } }
                while (Running())
                    await Task.Delay(100, guard.Token);
                Assert.Contains("has exited", await File.ReadAllTextAsync(Path.Combine(target, "log", "postgres.log")));
            }

            var results = await TestEngine.Shared.RemoveOrphanedAsync(new RestoreClusterQuery { WorkRoot = work, Now = DateTimeOffset.UtcNow.AddDays(1) }, default);

            Assert.All(results, r => Assert.True(r.Outcome.Succeeded, string.Join("; ", r.Outcome.Problems)));
            Assert.Empty(Directory.GetFileSystemEntries(work));
            Assert.Empty(Leftovers.ProcessesMentioning(work));
        }
        finally
        {
            // After a failed assertion something may still run here; stop it so the failure, not this, is reported.
            foreach (var dir in Directory.Exists(work) ? Directory.GetDirectories(work) : [])
                if (LocalTargets.PostmasterPid(dir) is { } pid) Native.Signal(pid, Native.SIGKILL);
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { }
        }
    }
}
