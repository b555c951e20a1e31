using System.Management.Automation;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Creates the demo backup: a sample shop database, a real pg_basebackup with its WAL archive, and writes on both sides of a recovery target.</para>
/// <para type="description">Needs only the PostgreSQL server binaries. Returns a Backup that carries TargetTime (the recovery target) and CheckPath (the demo's check file), which Invoke-RestoreDrill and New-RestoreCluster take from the pipeline. The demo source is deleted when the module is removed or PowerShell exits.</para>
/// </summary>
/// <example><code>New-RestoreDemoBackup | Invoke-RestoreDrill -Local -EvidencePath ./evidence</code></example>
[Cmdlet(VerbsCommon.New, "RestoreDemoBackup", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(Backup))]
public sealed class NewRestoreDemoBackupCommand : RestoreOpsCmdlet
{
    /// <summary>Parent folder of the demo's folder (default: the temp directory).</summary>
    [Parameter]
    public string? WorkRoot { get; set; }

    /// <summary>Folder of the PostgreSQL binaries (default: PG_BIN, PATH, /usr/lib/postgresql/&lt;major&gt;/bin).</summary>
    [Parameter]
    public string? PostgresBinDirectory { get; set; }

    /// <summary>OS account that runs the sample server when PowerShell runs as root (default postgres).</summary>
    [Parameter]
    public string? OsUser { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var root = FullPath(WorkRoot);
        try
        {
            if (!ShouldProcess($"a sample database and its backup under {root ?? System.IO.Path.GetTempPath()}", "Create demo backup")) return;
            var demo = Run("Creating the demo backup", (ct, progress) => Engine.NewDemoBackupAsync(root, FullPath(PostgresBinDirectory), OsUser, progress, ct));
            WriteVerbose($"Demo source in {demo.Directory}; restore it to {demo.RecoveryTarget} and check it with {demo.CheckPath}.");
            // Named after the parameters they feed: -TargetTime binds from the pipeline, -Path (alias CheckPath) too.
            var output = PSObject.AsPSObject(demo.Backup);
            output.Properties.Add(new PSNoteProperty("TargetTime", demo.RecoveryTarget.Time));
            output.Properties.Add(new PSNoteProperty("CheckPath", demo.CheckPath));
            output.Properties.Add(new PSNoteProperty("DemoDirectory", demo.Directory));
            WriteObject(output);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "NewRestoreDemoBackupFailed", root);
        }
    }
}
