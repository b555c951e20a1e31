using RestoreOps.Local;
using RestoreOps.Processes;
using Xunit;

namespace RestoreOps.Tests.Restore;

/// <summary>A binaries directory the user names is used or refused, never silently swapped for another PostgreSQL.</summary>
public sealed class PostgresBinariesTests
{
    [Fact]
    public async Task A_named_directory_without_postgres_is_a_configuration_error_naming_it()
    {
        var empty = Path.Combine(Path.GetTempPath(), "restoreops-nobin-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(empty);
        try
        {
            var e = await Assert.ThrowsAsync<ConfigurationException>(() => PostgresBinaries.FindAsync(15, empty, CancellationToken.None));
            Assert.Contains(empty, e.Message);
            Assert.Contains("--pg-bin", e.FixFor(InputSpelling.Cli));
            Assert.Contains("-PostgresBinDirectory", e.FixFor(InputSpelling.PowerShell));
            var missing = Path.Combine(empty, "no-such-dir");
            Assert.Contains("does not exist", (await Assert.ThrowsAsync<ConfigurationException>(() => PostgresBinaries.FindAsync(null, missing, CancellationToken.None))).Message);
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [Fact]
    public async Task A_named_directory_of_another_major_version_is_refused()
    {
        var real = await PostgresBinaries.FindAsync(15, null, CancellationToken.None);
        Assert.Equal(real.Directory, (await PostgresBinaries.FindAsync(15, real.Directory, CancellationToken.None)).Directory);

        var e = await Assert.ThrowsAsync<ConfigurationException>(() => PostgresBinaries.FindAsync(16, real.Directory, CancellationToken.None));
        Assert.Contains(real.Directory, e.Message);
        Assert.Contains($"PostgreSQL {real.Version}", e.Message);
        Assert.Contains("major version 16", e.Message);
    }
}
