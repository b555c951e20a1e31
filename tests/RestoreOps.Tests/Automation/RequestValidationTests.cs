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
            TestEngine.Shared.NewAsync(new RestoreRequest { Backup = backup, Kind = RestoreTargetKind.Local, WorkRoot = root }, CancellationToken.None));

        Assert.Contains("-DestinationPath s3://backups/pg -ServerName app-db -BackupId 20261121T050000", e.FixFor(InputSpelling.PowerShell));
        Assert.Equal(InputKey.Local, e.Parameter);
        Assert.False(Directory.Exists(root), "nothing may be created for a refused request");
        Assert.DoesNotContain(TestEngine.Shared.Tracked, c => c.Backup == backup);
    }

    private static Backup DumpBackup(string root) => new()
    {
        Id = "shop.dump",
        SourceKind = BackupSourceKind.LocalDump,
        Source = Path.Combine(root, "shop.dump"),
        Method = "pg_dump",
        Location = new BackupLocation { DumpFile = Path.Combine(root, "shop.dump") },
    };

    [Theory]
    [InlineData("x/../../victim")]
    [InlineData("")]
    [InlineData("drill id with spaces")]
    public void Every_engine_entry_refuses_an_unsafe_drill_id(string drillId)
    {
        var root = Path.Combine(Path.GetTempPath(), "restoreops-validation-" + Guid.NewGuid().ToString("N")[..8]);
        var e = Assert.Throws<ConfigurationException>(() => new RestoreRequest { Backup = DumpBackup(root), DrillId = drillId });
        Assert.Contains("drill id", e.Message);
        Assert.Throws<ConfigurationException>(() => new RestoreOps.Automation.DrillOptions { DiscoverBackup = _ => Task.FromResult(DumpBackup(root)), DrillId = drillId });
        Assert.False(Directory.Exists(root));
    }

    [Fact]
    public async Task A_drill_whose_record_exists_is_refused_before_anything_is_restored()
    {
        var root = Path.Combine(Path.GetTempPath(), "restoreops-validation-" + Guid.NewGuid().ToString("N")[..8]);
        var evidence = Path.Combine(root, "evidence");
        var work = Path.Combine(root, "work");
        Directory.CreateDirectory(evidence);
        try
        {
            var earlier = Path.Combine(evidence, "nightly-1.json");
            await File.WriteAllTextAsync(earlier, "the earlier record");

            var e = await Assert.ThrowsAsync<ConfigurationException>(() => TestEngine.Shared.RunDrillAsync(new DrillRequest
            {
                Restore = new RestoreRequest { Backup = DumpBackup(root), Kind = RestoreTargetKind.Local, DrillId = "nightly-1", WorkRoot = work },
                EvidencePath = evidence,
            }, null, CancellationToken.None));

            Assert.Contains(earlier, e.Message);
            Assert.Equal("the earlier record", await File.ReadAllTextAsync(earlier));
            Assert.False(Directory.Exists(work), "nothing may be created for a refused drill");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
