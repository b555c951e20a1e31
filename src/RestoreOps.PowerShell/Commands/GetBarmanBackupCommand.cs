using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.ObjectStore;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Gets the backups of a Barman Cloud server in object storage, newest first.</para>
/// <para type="description">Reads the Barman Cloud catalogue (what CNPG and barman-cloud-backup write) directly from S3, so it works when the cluster itself is gone. Failed and unfinished backups are left out unless -IncludeUnusable.</para>
/// </summary>
/// <example><code>Get-BarmanBackup -DestinationPath s3://backups/pg -ServerName app-db -Latest | New-RestoreCluster -Local</code></example>
[Cmdlet(VerbsCommon.Get, "BarmanBackup")]
[OutputType(typeof(Backup))]
public sealed class GetBarmanBackupCommand : RestoreOpsCmdlet
{
    /// <summary>Barman Cloud destination path, e.g. s3://backups/pg.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    public string DestinationPath { get; set; } = null!;

    /// <summary>Barman server name: the folder under the destination path (CNPG: the cluster name unless serverName is set).</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    public string ServerName { get; set; } = null!;

    /// <summary>Only the backup with this id (YYYYMMDDTHHMMSS) or name.</summary>
    [Parameter]
    public string? BackupId { get; set; }

    /// <summary>Only the newest usable backup.</summary>
    [Parameter]
    public SwitchParameter Latest { get; set; }

    /// <summary>Also list failed and unfinished backups.</summary>
    [Parameter]
    public SwitchParameter IncludeUnusable { get; set; }

    /// <summary>S3-compatible endpoint URL (default: AWS_ENDPOINT_URL_S3, then AWS itself).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? EndpointUrl { get; set; }

    /// <summary>Object store region.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? Region { get; set; }

    /// <summary>Access key (user name) and secret key (password); default: the AWS environment and credential chain.</summary>
    [Parameter]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var where = $"{DestinationPath.TrimEnd('/')}/{ServerName}";
        var started = DateTimeOffset.UtcNow;
        try
        {
            var options = ObjectStoreFrom(EndpointUrl, Region, Credential);
            WriteVerbose($"Reading the Barman Cloud catalogue of {where} (endpoint {EndpointUrl ?? "from AWS_ENDPOINT_URL_S3 or AWS"}, credentials {(Credential is null ? "from the AWS environment" : "from -Credential")}).");
            var all = Run(ct => Engine.GetBarmanBackupsAsync(DestinationPath, ServerName, options, IncludeUnusable || BackupId is not null, ct));
            WriteVerbose($"{all.Count} backup(s) in {where}{(IncludeUnusable || BackupId is not null ? " (unusable ones included)" : " usable")}; newest: {(all.Count == 0 ? "none" : all[0].Id)}.");
            var backups = all.Where(b => BackupId is null || b.Id == BackupId || b.Name == BackupId).ToList();
            if (backups.Count == 0)
            {
                WriteError(ErrorRecords.NotFound(
                    BackupId is null ? $"No usable backup in {where}." : $"No backup with id or name '{BackupId}' in {where}.",
                    "Check -DestinationPath and -ServerName (the server is the folder under the path); list everything with -IncludeUnusable.",
                    "NoBarmanBackup", where));
                return;
            }
            foreach (var b in Latest ? backups.Take(1) : backups)
            {
                // Pinned to this backup: repeating "-Latest" next week would restore another one.
                b.Discovery = Engine.NewStep("discover", CommandLine(["Latest", "BackupId", "IncludeUnusable"], [("BackupId", b.Id)]), started, true,
                    $"backup {b.Id}{(b.EndTime is { } end ? $", ended {end:yyyy-MM-dd HH:mm:ss}Z" : "")}");
                WriteObject(b);
            }
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "GetBarmanBackupFailed", where);
        }
    }
}
