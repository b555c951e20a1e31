using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Reads a local backup: a pg_basebackup -Ft directory with its WAL archive, or a pg_dump -Fc file.</para>
/// <para type="description">Returns a Backup object that New-RestoreCluster -Local and Invoke-RestoreDrill -Local restore.</para>
/// </summary>
/// <example><code>Get-LocalBackup -Path /backups/base/2026-11-21 -WalPath /backups/wal | Invoke-RestoreDrill -Local</code></example>
[Cmdlet(VerbsCommon.Get, "LocalBackup")]
[OutputType(typeof(Backup))]
public sealed class GetLocalBackupCommand : RestoreOpsCmdlet
{
    /// <summary>The pg_basebackup -Ft directory or the pg_dump -Fc file.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    public string Path { get; set; } = null!;

    /// <summary>The WAL archive directory of a base backup (archive_command's destination).</summary>
    [Parameter]
    public string? WalPath { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var path = FullPath(Path);
        var wal = FullPath(WalPath);
        try
        {
            var started = DateTimeOffset.UtcNow;
            var backup = Run(ct => Engine.GetLocalBackupAsync(path, wal, ct));
            // Resolved paths: the runbook is read from another directory than this session's.
            backup.Discovery = Engine.NewStep("discover", CommandLine(["Path", "WalPath"], [("Path", path), ("WalPath", wal)]), started, true, $"backup {backup.Id}");
            WriteObject(backup);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "GetLocalBackupFailed", path);
        }
    }
}
