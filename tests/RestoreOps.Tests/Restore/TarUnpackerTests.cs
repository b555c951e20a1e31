using System.Formats.Tar;
using RestoreOps.Local;
using Xunit;

namespace RestoreOps.Tests.Restore;

/// <summary>
/// A base archive is untrusted input: entries that would land outside the restore directory, links, and special files
/// are refused or neutralised, and nothing is ever written outside the destination.
/// </summary>
public sealed class TarUnpackerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("restoreops-tar-").FullName;
    private string Destination => Path.Combine(_dir, "data");
    private string Outside => Path.Combine(_dir, "outside");

    public TarUnpackerTests()
    {
        Directory.CreateDirectory(Destination);
        Directory.CreateDirectory(Outside);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static MemoryStream Tar(params TarEntry[] entries)
    {
        var stream = new MemoryStream();
        using (var writer = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: true))
            foreach (var e in entries) writer.WriteEntry(e);
        stream.Position = 0;
        return stream;
    }

    private static PaxTarEntry File(string name, string content = "x") =>
        new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(content)) };

    private async Task<RestoreFailedException> RefusedAsync(params TarEntry[] entries) =>
        await Assert.ThrowsAsync<RestoreFailedException>(() => TarUnpacker.UnpackAsync(Tar(entries), Destination, "data.tar", default));

    [Theory]
    [InlineData("../outside/evil")]
    [InlineData("base/../../outside/evil")]
    public async Task An_entry_climbing_out_of_the_directory_is_refused(string name)
    {
        var e = await RefusedAsync(File("PG_VERSION", "15\n"), File(name));

        Assert.Contains(name, e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(Outside));
    }

    [Fact]
    public async Task An_absolute_entry_is_refused()
    {
        var target = Path.Combine(Outside, "evil");
        var e = await RefusedAsync(File(target));

        Assert.Contains("outside the restore directory", e.Message);
        Assert.False(System.IO.File.Exists(target));
    }

    [Theory]
    [InlineData(TarEntryType.HardLink)]
    [InlineData(TarEntryType.Fifo)]
    [InlineData(TarEntryType.CharacterDevice)]
    public async Task Links_and_special_files_a_base_backup_never_holds_are_refused(TarEntryType type)
    {
        var entry = new PaxTarEntry(type, "global/odd");
        if (type == TarEntryType.HardLink) entry.LinkName = "/etc/passwd";
        var e = await RefusedAsync(entry);

        Assert.Contains(type.ToString(), e.Message);
        Assert.False(System.IO.File.Exists(Path.Combine(Destination, "global", "odd")));
    }

    [Fact]
    public async Task A_symlink_is_reported_not_created_so_a_later_entry_under_its_name_stays_inside()
    {
        var link = new PaxTarEntry(TarEntryType.SymbolicLink, "pg_tblspc/16384") { LinkName = Outside };
        var stats = await TarUnpacker.UnpackAsync(Tar(link, File("pg_tblspc/16384/PG_15/evil")), Destination, "data.tar", default);

        Assert.Equal(Outside, stats.Symlinks["pg_tblspc/16384"]);
        Assert.Empty(Directory.GetFileSystemEntries(Outside));
        Assert.Null(new DirectoryInfo(Path.Combine(Destination, "pg_tblspc", "16384")).LinkTarget);
        Assert.True(System.IO.File.Exists(Path.Combine(Destination, "pg_tblspc", "16384", "PG_15", "evil")));
    }
}
