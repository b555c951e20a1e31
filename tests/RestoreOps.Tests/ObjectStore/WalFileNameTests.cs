using RestoreOps.Model;
using RestoreOps.Wal;
using Xunit;

namespace RestoreOps.Tests.ObjectStore;

public sealed class WalFileNameTests
{
    [Fact]
    public void Parse_splits_timeline_log_and_segment()
    {
        var wal = WalFileName.Parse("00000002000000AB0000001F");
        Assert.Equal(new WalFileName(2, 0xAB, 0x1F), wal);
        Assert.Equal("00000002000000AB0000001F", wal.ToString());
        Assert.Equal("00000002000000AB", wal.HashDirectory);
    }

    [Fact]
    public void Parse_accepts_lower_case_and_prints_upper_case()
    {
        Assert.Equal("0000000100000000000000FE", WalFileName.Parse("0000000100000000000000fe").ToString());
    }

    [Theory]
    [InlineData("00000001.history")]
    [InlineData("000000010000000000000002.00000028.backup")]
    [InlineData("000000010000000000000002.partial")]
    [InlineData("00000001000000000000000")]
    [InlineData("00000001000000000000000G")]
    [InlineData("")]
    public void TryParse_rejects_everything_but_segment_names(string name)
    {
        Assert.False(WalFileName.TryParse(name, out _));
        Assert.Throws<FormatException>(() => WalFileName.Parse(name));
    }

    [Fact]
    public void History_files_are_recognised_with_their_timeline()
    {
        Assert.True(WalFileName.IsHistoryFile("0000000A.history", out var tli));
        Assert.Equal(10u, tli);
        Assert.False(WalFileName.IsHistoryFile("0000000A.history.gz", out _));
        Assert.False(WalFileName.IsHistoryFile("000000010000000000000001", out _));
    }

    [Fact]
    public void Ordering_is_by_position_then_timeline()
    {
        var names = new[] { "000000020000000100000000", "0000000100000000000000FF", "000000010000000100000000", "000000020000000000000005", "000000010000000000000005" };
        var sorted = names.Select(WalFileName.Parse).Order().Select(w => w.ToString()).ToArray();
        Assert.Equal(new[] { "000000010000000000000005", "000000020000000000000005", "0000000100000000000000FF", "000000010000000100000000", "000000020000000100000000" }, sorted);
    }

    [Fact]
    public void Segment_numbers_depend_on_segment_size()
    {
        var wal = WalFileName.Parse("000000010000000100000002");
        Assert.Equal(256UL + 2, wal.SegmentNumber());                       // 16 MiB: 256 segments per log
        Assert.Equal(64UL + 2, wal.SegmentNumber(64 * 1024 * 1024));        // 64 MiB: 64 per log
        Assert.Equal(wal, WalFileName.FromSegmentNumber(1, 258));
        Assert.Equal(new WalFileName(3, 0, 0xFF), WalFileName.FromSegmentNumber(3, 255));
        Assert.Equal(new WalFileName(3, 1, 0), WalFileName.FromSegmentNumber(3, 256));
    }

    [Fact]
    public void FromLsn_finds_the_segment_holding_the_location()
    {
        Assert.Equal("000000010000000000000005", WalFileName.FromLsn(1, Lsn.Parse("0/5000028")).ToString());
        Assert.Equal("0000000200000001000000A0", WalFileName.FromLsn(2, Lsn.Parse("1/A0FFFFFF")).ToString());
    }
}
