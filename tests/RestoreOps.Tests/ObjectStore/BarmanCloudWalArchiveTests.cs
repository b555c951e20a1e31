using System.IO.Compression;
using System.Text;
using RestoreOps.ObjectStore;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Wal;
using Xunit;

namespace RestoreOps.Tests.ObjectStore;

[Collection("s3rver")]
public sealed class BarmanCloudWalArchiveTests(S3rverServer s3)
{
    private static byte[] Gzip(string text)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest)) gz.Write(Encoding.UTF8.GetBytes(text));
        return ms.ToArray();
    }

    private static string Wal(string name) => $"wals/{name[..16]}/{name}";

    // A two-timeline archive as barman-cloud-wal-archive lays it out, with the extras it also writes.
    private async Task<string> ArchiveAsync(bool compressed)
    {
        var root = $"wal-{Guid.NewGuid():N}/pg1/";
        var sfx = compressed ? ".gz" : "";
        var keys = new List<string>();
        for (var seg = 1; seg <= 0x12; seg++) keys.Add(Wal($"0000000100000000{seg:X8}") + sfx);
        keys.Add(Wal("000000010000000100000000") + sfx);
        keys.Add(Wal("000000010000000100000001") + sfx);
        keys.Add(Wal("00000001000000000000000A.00000028.backup") + sfx);
        keys.Add(Wal("000000010000000000000012.partial") + sfx);
        keys.Add("wals/00000002.history" + sfx);
        keys.Add(Wal("000000020000000000000012") + sfx);
        keys.Add(Wal("000000020000000000000013") + sfx);
        keys.Add("wals/00000003.history" + sfx);
        keys.Add(Wal("000000030000000000000013") + sfx);
        using var client = s3.CreateClient();
        foreach (var key in keys)
        {
            var name = Path.GetFileName(key);
            await s3.PutAsync(client, root + key, compressed ? Gzip($"content of {name}") : Encoding.UTF8.GetBytes($"content of {name}"));
        }
        return root.TrimEnd('/');
    }

    private BarmanCloudWalArchive Archive(string root, int maxKeys = 1000)
    {
        var slash = root.LastIndexOf('/');
        return new BarmanCloudWalArchive(s3.CreateStore(maxKeys), root[..slash], root[(slash + 1)..], ownsStore: true);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Lists_from_the_start_segment_on_plus_later_timelines_without_labels_or_partials(bool compressed)
    {
        var root = await ArchiveAsync(compressed);
        using var archive = Archive(root, maxKeys: 3);
        var files = await archive.ListAsync(WalFileName.Parse("00000001000000000000000A"), CancellationToken.None);

        var expected = new List<string>();
        for (var seg = 0xA; seg <= 0x12; seg++) expected.Add($"0000000100000000{seg:X8}");
        expected.AddRange(["000000010000000100000000", "000000010000000100000001", "00000002.history", "000000020000000000000012", "000000020000000000000013", "00000003.history", "000000030000000000000013"]);
        Assert.Equal(expected, files.Select(f => f.Name));
        Assert.All(files, f => Assert.Equal(compressed ? "gzip" : null, f.Compression));
        Assert.All(files, f => Assert.EndsWith(f.Name + (compressed ? ".gz" : ""), f.Location));
        Assert.All(files, f => Assert.True(f.Size > 0));
        Assert.Equal($"s3://backups/{root}/wals/", archive.Description);
    }

    [Fact]
    public async Task The_first_segment_of_a_log_folder_is_included()
    {
        var root = await ArchiveAsync(compressed: false);
        using var archive = Archive(root);
        var files = await archive.ListAsync(WalFileName.Parse("000000010000000100000000"), CancellationToken.None);
        Assert.Equal("000000010000000100000000", files[0].Name);
        Assert.DoesNotContain(files, f => f.Name == "0000000100000000000000FF" || f.Name == "000000010000000000000012");
    }

    [Fact]
    public async Task A_later_timeline_start_includes_its_own_history_file_but_not_older_timelines()
    {
        var root = await ArchiveAsync(compressed: true);
        using var archive = Archive(root);
        var files = await archive.ListAsync(WalFileName.Parse("000000020000000000000012"), CancellationToken.None);
        Assert.Equal(new[] { "00000002.history", "000000020000000000000012", "000000020000000000000013", "00000003.history", "000000030000000000000013" }, files.Select(f => f.Name));
    }

    [Fact]
    public async Task Open_returns_decompressed_content()
    {
        var root = await ArchiveAsync(compressed: true);
        using var archive = Archive(root);
        var files = await archive.ListAsync(WalFileName.Parse("000000020000000000000013"), CancellationToken.None);
        var history = files.Single(f => f.Name == "00000003.history");
        await using var stream = await archive.OpenAsync(history, CancellationToken.None);
        using var reader = new StreamReader(stream);
        Assert.Equal("content of 00000003.history.gz", await reader.ReadToEndAsync());
    }

    [Fact]
    public async Task Opening_a_segment_that_vanished_is_a_restore_failure()
    {
        var root = await ArchiveAsync(compressed: false);
        using var archive = Archive(root);
        var ghost = new WalArchiveFile("000000010000000000000099", $"{root}/wals/0000000100000000/000000010000000000000099", null, 16);
        var ex = await Assert.ThrowsAsync<RestoreFailedException>(() => archive.OpenAsync(ghost, CancellationToken.None));
        Assert.Contains("000000010000000000000099", ex.Message);
    }

    [Fact]
    public async Task An_empty_archive_lists_nothing()
    {
        using var archive = Archive($"wal-{Guid.NewGuid():N}/none");
        Assert.Empty(await archive.ListAsync(WalFileName.Parse("000000020000000000000001"), CancellationToken.None));
    }
}
