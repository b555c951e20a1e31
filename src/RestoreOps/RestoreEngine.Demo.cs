using System.Collections.Concurrent;
using RestoreOps.Automation;
using RestoreOps.Evidence;
using RestoreOps.Local;
using RestoreOps.Model;

namespace RestoreOps;

/// <summary>A demo source made by <see cref="RestoreEngine.NewDemoBackupAsync"/>: a real base backup with its WAL archive, the point to restore to, and the checks that hold there.</summary>
public sealed class DemoBackup
{
    /// <summary>The pg_basebackup -Ft backup of the sample shop database, with its WAL archive.</summary>
    public required Backup Backup { get; init; }

    /// <summary>A time between the writes the restore must have and the writes it must not have.</summary>
    public required RecoveryTarget RecoveryTarget { get; init; }

    /// <summary>The demo's check file (docs/examples/demo-checks.yaml), written next to the backup.</summary>
    public required string CheckPath { get; init; }

    /// <summary>The folder holding the sample source, the backup, the archive and the check file.</summary>
    public required string Directory { get; init; }
}

public sealed partial class RestoreEngine
{
    private readonly ConcurrentDictionary<string, DemoSource> _demos = new(StringComparer.Ordinal);

    /// <summary>
    /// Builds the demo source the CLI's <c>drill --demo</c> restores: a sample database, a real base backup and WAL
    /// archive, writes on both sides of a recovery target. It stays until <see cref="RemoveDemoBackup"/>, the engine's
    /// disposal or the process's exit, so several restores can be tried from it.
    /// </summary>
    /// <param name="workRoot">Parent folder of the demo's folder (default: the temp directory).</param>
    /// <param name="postgresBinDirectory">Folder of the PostgreSQL binaries (default: PG_BIN, PATH, /usr/lib/postgresql/&lt;major&gt;/bin).</param>
    /// <param name="osUser">OS account that runs the sample server when the process runs as root (default postgres).</param>
    /// <param name="progress">Progress of the steps.</param>
    /// <param name="ct">Stops the build; what was made is deleted.</param>
    public async Task<DemoBackup> NewDemoBackupAsync(string? workRoot, string? postgresBinDirectory, string? osUser, IProgress<DrillProgress>? progress, CancellationToken ct)
    {
        Redactor.UseEngineSet(_secrets);
        var options = new LocalRestoreOptions { WorkRoot = workRoot, PostgresBinDirectory = postgresBinDirectory, OsUser = osUser };
        var demo = await DemoSource.CreateAsync(options, progress, ct).ConfigureAwait(false);
        try
        {
            var checkPath = Path.Combine(demo.Directory, "demo-checks.yaml");
            await File.WriteAllTextAsync(checkPath, DemoSource.ChecksYaml(), CancellationToken.None).ConfigureAwait(false);
            _demos[demo.Directory] = demo;
            return new DemoBackup { Backup = demo.Backup, RecoveryTarget = demo.RecoveryTarget, CheckPath = checkPath, Directory = demo.Directory };
        }
        catch
        {
            await demo.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Deletes a demo source this engine made (its folder: sample data, backup, archive, check file). False when it made none there.</summary>
    public bool RemoveDemoBackup(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!_demos.TryRemove(directory, out var demo)) return false;
        demo.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return true;
    }

    /// <summary>The folders of the demo sources this engine made and has not deleted.</summary>
    public IReadOnlyList<string> DemoBackups => _demos.Keys.Order(StringComparer.Ordinal).ToList();

    private void RemoveDemoBackups()
    {
        foreach (var directory in _demos.Keys.ToArray()) RemoveDemoBackup(directory);
    }
}
