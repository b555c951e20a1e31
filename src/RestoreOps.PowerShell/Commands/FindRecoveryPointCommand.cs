using System.Management.Automation;
using RestoreOps.Automation;
using RestoreOps.Model;
using RestoreOps.PowerShell.Infrastructure;

namespace RestoreOps.PowerShell.Commands;

/// <summary>
/// <para type="synopsis">Finds the bad change: destructive transactions in a window of archived WAL, newest first, each with the recovery target just before it.</para>
/// <para type="description">Reads the archived WAL of a Barman Cloud server (or a local WAL directory) with pg_waldump and lists every committed TRUNCATE, DROP, and DELETE or UPDATE of at least -MinimumRows rows of one table: commit time, transaction id, table, rows. Only the window's WAL is fetched, and nothing returned contains row data. Each result's RecoveryTarget restores to just before it (the transaction id, exclusive). -ResolveConnectionString names tables from a database's catalogue: the source database, or a target restored to before the change (dropped and truncated tables are named only there).</para>
/// </summary>
/// <example><code>Find-RecoveryPoint -DestinationPath s3://backups/pg -ServerName app-db -From 2h | Format-Table</code></example>
/// <example><code>$bad = Find-RecoveryPoint -WalPath /var/lib/pgarchive -From '2026-11-21T14:00:00Z' -To '2026-11-21T15:00:00Z' | Select-Object -First 1
/// Get-LocalBackup -Path /backups/base -WalPath /var/lib/pgarchive | New-RestoreCluster -Local -TargetXid $bad.Xid -TargetExclusive</code></example>
[Cmdlet(VerbsCommon.Find, "RecoveryPoint", DefaultParameterSetName = "Barman")]
[OutputType(typeof(RecoveryPoint))]
public sealed class FindRecoveryPointCommand : RestoreOpsCmdlet
{
    /// <summary>Barman Cloud destination path, e.g. s3://backups/pg.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Barman", ValueFromPipelineByPropertyName = true)]
    public string DestinationPath { get; set; } = null!;

    /// <summary>Barman server name: the folder under the destination path.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = "Barman", ValueFromPipelineByPropertyName = true)]
    public string ServerName { get; set; } = null!;

    /// <summary>S3-compatible endpoint URL (default: AWS_ENDPOINT_URL_S3, then AWS itself).</summary>
    [Parameter(ParameterSetName = "Barman")]
    public string? EndpointUrl { get; set; }

    /// <summary>Object store region.</summary>
    [Parameter(ParameterSetName = "Barman")]
    public string? Region { get; set; }

    /// <summary>Access key (user name) and secret key (password); default: the AWS environment and credential chain.</summary>
    [Parameter(ParameterSetName = "Barman")]
    [Credential]
    public PSCredential? Credential { get; set; }

    /// <summary>A local WAL archive directory (what archive_command copies into).</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Local")]
    public string WalPath { get; set; } = null!;

    /// <summary>Start of the window: a time (UTC without an offset) or how long ago ('2h', '90m'). Default: 24 hours before -To.</summary>
    [Parameter]
    public string? From { get; set; }

    /// <summary>End of the window: a time or how long ago. Default: when the newest segment was archived.</summary>
    [Parameter]
    public string? To { get; set; }

    /// <summary>Rows one transaction must delete or update in one table to be listed (default 1000).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int MinimumRows { get; set; } = 1000;

    /// <summary>A connection string whose catalogue names the tables (the source, or a target restored to before the change).</summary>
    [Parameter]
    public string? ResolveConnectionString { get; set; }

    /// <summary>PostgreSQL binaries whose pg_waldump reads the WAL (default: the one matching its version).</summary>
    [Parameter]
    public string? PostgresBinDirectory { get; set; }

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        var where = ParameterSetName == "Local" ? WalPath : $"{DestinationPath.TrimEnd('/')}/{ServerName}";
        try
        {
            var now = DateTimeOffset.UtcNow;
            var query = new RecoveryPointQuery
            {
                DestinationPath = ParameterSetName == "Barman" ? DestinationPath : null,
                ServerName = ParameterSetName == "Barman" ? ServerName : null,
                ObjectStore = ParameterSetName == "Barman" ? ObjectStoreFrom(EndpointUrl, Region, Credential) : null,
                WalDirectory = ParameterSetName == "Local" ? FullPath(WalPath) : null,
                From = From is null ? null : InputTime.Parse(From, InputKey.From, now),
                To = To is null ? null : InputTime.Parse(To, InputKey.To, now),
                MinimumRows = MinimumRows,
                ResolveConnectionString = ResolveConnectionString,
                PostgresBinDirectory = FullPath(PostgresBinDirectory),
            };
            foreach (var point in Run("Find-RecoveryPoint", (ct, progress) => Engine.FindRecoveryPointsAsync(query, progress, ct)))
                WriteObject(point);
        }
        catch (Exception e) when (IsReported(e))
        {
            WriteFailure(e, "FindRecoveryPointFailed", where);
        }
    }
}
