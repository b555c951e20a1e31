using System.Collections;
using System.Diagnostics;
using RestoreOps.Automation;
using RestoreOps.Local;
using RestoreOps.Model;
using RestoreOps.Tests.Restore;
using RestoreOps.Wal;
using Xunit;
using F = RestoreOps.Tests.Fixtures.BackupFixtures;

namespace RestoreOps.Tests.Automation;

/// <summary>What the facade tests share: inline checks shaped as PowerShell passes them, a WAL gate, leftover checks.</summary>
internal static class Facade
{
    /// <summary>Orders in every fixture backup restored to the end of its archive (and in the dump).</summary>
    public const int AllRows = F.RowsAtBackup + F.RowsBeforeTarget + F.RowsAfterTarget;

    /// <summary>An exact row count on a fixture table, as <c>Invoke-RestoreCheck -Check @{ kind = 'row-count'; … }</c> passes it.</summary>
    public static CheckSpec Rows(string table, int exact, string name = "orders restored") => new()
    {
        Checks = [new Hashtable { ["kind"] = "row-count", ["name"] = name, ["table"] = table, ["exact"] = exact }],
        Settings = new Hashtable { ["database"] = "shop" },
    };

    /// <summary>A fresh folder under the fixture's work root, so listings and leftover checks see only this test's targets.</summary>
    public static string NewRoot(F fx, string prefix)
    {
        var root = Path.Combine(fx.WorkRoot, $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)]);
        Directory.CreateDirectory(root);
        return root;
    }

    public static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 11)];

    /// <summary>True while <paramref name="pid"/> runs. A zombie has exited: it holds no port, file or memory.</summary>
    public static bool Alive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>True when <paramref name="pid"/> has exited but its parent has not reaped it.</summary>
    public static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Asserts a local target left nothing: no work directory, no external socket directory, no postmaster
    /// (<paramref name="pid"/>, captured while it ran), no listener on its port, no process naming its directory.
    /// </summary>
    public static void AssertGone(RestoreCluster cluster, int? pid, int? port, string? socketDirectory)
    {
        var work = cluster.WorkDirectory!;
        Assert.False(Directory.Exists(work), $"work directory {work} was left behind");
        if (socketDirectory is not null) Assert.False(Directory.Exists(socketDirectory), $"socket directory {socketDirectory} was left behind");
        if (pid is { } p) Assert.False(Alive(p), $"postmaster {p} is still running");
        if (port is { } tcp) Assert.False(LocalRestore.IsListening(tcp), $"port {tcp} is still listening");
        var survivors = Leftovers.ProcessesMentioning(work);
        Assert.True(survivors.Count == 0, $"processes still refer to {work}: {string.Join("; ", survivors)}");
    }

    /// <summary>The pid in a cleanup line such as "postgres pid 4711 stopped (fast shutdown)".</summary>
    public static int StoppedPid(IEnumerable<string> removed) =>
        int.Parse(Assert.Single(removed, r => r.StartsWith("postgres pid ", StringComparison.Ordinal)).Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// Holds every WAL segment after a backup's end until opened: the server cannot finish recovery (PostgreSQL 15
/// even reads ahead into them before it declares consistency), so a restore stays mid-replay for as long as a
/// test needs. <see cref="Reached"/> completes when the prefetcher first asks for a held segment, which happens
/// after the work directory and its marker exist.
/// </summary>
internal sealed class WalGate(Backup backup)
{
    private readonly WalFileName _end = WalFileName.Parse(backup.EndWal!);
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Reached => _reached.Task;

    public void Open() => _open.TrySetResult();

    public IWalArchive Wrap(IWalArchive inner) => new Held(inner, this);

    private sealed class Held(IWalArchive inner, WalGate gate) : IWalArchive
    {
        public string Description => inner.Description;

        public Task<IReadOnlyList<WalArchiveFile>> ListAsync(WalFileName from, CancellationToken ct) => inner.ListAsync(from, ct);

        public async Task<Stream> OpenAsync(WalArchiveFile file, CancellationToken ct)
        {
            if (WalFileName.TryParse(file.Name, out var w) && w.CompareTo(gate._end) > 0)
            {
                gate._reached.TrySetResult();
                await gate._open.Task.WaitAsync(ct);
            }
            return await inner.OpenAsync(file, ct);
        }
    }
}

/// <summary>Progress reported inline (Progress&lt;T&gt; would post to the thread pool, after the moment has passed).</summary>
internal sealed class SyncProgress(Action<DrillProgress> onReport) : IProgress<DrillProgress>
{
    public void Report(DrillProgress value) => onReport(value);
}

/// <summary>The real restoreops CLI as a separate process, as a scheduler runs it.</summary>
internal static class CliProcess
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(CancellationToken ct, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "RestoreOps.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);
            return (process.ExitCode, await stdout, await stderr);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
    }
}
