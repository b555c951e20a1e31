using System.Diagnostics;
using RestoreOps.Backups;
using RestoreOps.Checks;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Processes;
using RestoreOps.Tests.Fixtures;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Restore;

/// <summary>
/// Many drills in a row, and a drill on a disk that fills up: whatever happens, each ends with a record and leaves no
/// process, port or directory behind. The soak's length comes from RESTOREOPS_SOAK_DRILLS (CI runs a short one; the
/// long run is documented in docs/reliability.md).
/// </summary>
[Collection("backups")]
public sealed class EnduranceTests(BackupFixtures fx, Xunit.Abstractions.ITestOutputHelper output)
{
    private const int AllRows = F.RowsAtBackup + F.RowsBeforeTarget + F.RowsAfterTarget;

    /// <summary>A drill of the fixture's pg_basebackup under <paramref name="root"/>, with one exact row count.</summary>
    private async Task<(DrillRecord Record, LocalRestore Restore)> DrillAsync(string root)
    {
        LocalRestore? restore = null;
        var record = await DrillRunner.RunAsync(new DrillOptions
        {
            DiscoverBackup = ct => LocalBackupCatalog.ReadBaseBackupAsync(fx.BaseBackupDirectory, fx.WalArchiveDirectory, ct),
            Checks = [new RowCountCheck("shop", "public.orders", AllRows, AllRows)],
            Restore = new LocalRestoreOptions { WorkRoot = root, ReadyTimeout = TimeSpan.FromMinutes(3) },
        }, null, CancellationToken.None, r => restore = r);
        return (record, restore!);
    }

    [Fact]
    public async Task Consecutive_local_drills_all_pass_and_leave_nothing_behind()
    {
        var count = int.TryParse(Environment.GetEnvironmentVariable("RESTOREOPS_SOAK_DRILLS"), out var n) && n > 0 ? n : 5;
        var root = Path.Combine(fx.WorkRoot, $"soak-{Guid.NewGuid():N}"[..20]);
        Directory.CreateDirectory(root);
        var ports = new List<int>();
        var pids = new List<int>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var (record, restore) = await DrillAsync(root);

                Assert.True(record.Verdict == DrillVerdict.Passed, $"drill {i + 1} of {count}: {record.FailureMessage}");
                Assert.True(record.Cleanup.Succeeded, string.Join("; ", record.Cleanup.Problems));
                ports.Add(restore.Instance!.Port);
                pids.Add(restore.Instance.LastProcessId!.Value);
            }

            // The count of leftovers after the whole run: each kind must be zero.
            Assert.Empty(Directory.GetFileSystemEntries(root));
            Assert.Empty(Leftovers.ProcessesMentioning(root));
            Assert.DoesNotContain(ports, LocalRestore.IsListening);
            Assert.DoesNotContain(pids, Native.ProcessExists);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_disk_that_fills_during_the_restore_ends_the_drill_with_a_record_and_nothing_left()
    {
        if (!Native.IsRoot)
        {
            // Mounting the small file system this needs takes root; CI runs as root, so there it always runs.
            Assert.NotEqual("true", Environment.GetEnvironmentVariable("CI"));
            output.WriteLine("not run: mounting a small tmpfs needs root");
            return;
        }
        var root = Path.Combine(fx.WorkRoot, $"full-{Guid.NewGuid():N}"[..20]);
        Directory.CreateDirectory(root);
        // Smaller than the base backup: the download runs out of space part-way.
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=12m,mode=0755", "tmpfs", root);
        try
        {
            var (record, restore) = await DrillAsync(root);

            Assert.NotEqual(DrillVerdict.Passed, record.Verdict);
            Assert.Contains("space", record.FailureMessage, StringComparison.OrdinalIgnoreCase);
            Assert.True(record.Cleanup.Succeeded, string.Join("; ", record.Cleanup.Problems));
            Assert.Empty(Directory.GetFileSystemEntries(root));
            Leftovers.AssertNone(restore);
        }
        finally
        {
            await RunAsync("umount", root);
            Directory.Delete(root);
        }
    }

    private static async Task RunAsync(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { UseShellExecute = false, RedirectStandardError = true })!;
        var err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {err}");
    }
}
