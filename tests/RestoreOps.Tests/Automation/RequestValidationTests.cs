using RestoreOps.Automation;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Automation;

/// <summary>Requests the facade refuses before anything is created.</summary>
public sealed class RequestValidationTests
{
    [Fact]
    public async Task A_CNPG_backup_restored_locally_is_refused_with_the_catalogue_to_read_instead()
    {
        var root = Path.Combine(Path.GetTempPath(), "restoreops-validation-" + Guid.NewGuid().ToString("N")[..8]);
        var backup = new Backup
        {
            Id = "20261121T050000",
            Name = "app-db-20261121",
            SourceKind = BackupSourceKind.CnpgBackup,
            Source = "prod/app-db",
            Method = "barmanObjectStore",
            Location = new BackupLocation { DestinationPath = "s3://backups/pg", ServerName = "app-db" },
        };

        var e = await Assert.ThrowsAsync<ConfigurationException>(() =>
            RestoreSession.NewAsync(new RestoreRequest { Backup = backup, Kind = RestoreTargetKind.Local, WorkRoot = root }, CancellationToken.None));

        Assert.Contains("Get-BarmanBackup -DestinationPath s3://backups/pg -ServerName app-db -BackupId 20261121T050000", e.Fix);
        Assert.False(Directory.Exists(root), "nothing may be created for a refused request");
        Assert.DoesNotContain(RestoreSession.Tracked, c => c.Backup == backup);
    }
}
