using System.Diagnostics;
using System.Text;
using RestoreOps.Compression;
using Xunit;

namespace RestoreOps.Tests.ObjectStore;

public sealed class DecompressionTests
{
    // Compressible but not trivial: text plus pseudo-random bytes, bigger than the pipe buffers so the
    // external decompressors have to stream.
    private static readonly byte[] Payload = MakePayload();

    private static byte[] MakePayload()
    {
        var random = new Random(42);
        var ms = new MemoryStream();
        for (var i = 0; i < 20_000; i++)
        {
            ms.Write(Encoding.ASCII.GetBytes($"line {i} of the test payload\n"));
            var noise = new byte[16];
            random.NextBytes(noise);
            ms.Write(noise);
        }
        return ms.ToArray();
    }

    /// <summary>The bytes <paramref name="program"/> (gzip, xz, zstd…) writes for <paramref name="input"/>: real compressed data for the decoders.</summary>
    internal static byte[] Compress(string program, byte[] input, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var writer = Task.Run(() => { process.StandardInput.BaseStream.Write(input); process.StandardInput.Close(); });
        using var output = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(output);
        writer.Wait();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        return output.ToArray();
    }

    private static async Task<byte[]> DecompressAsync(byte[] compressed, string? compression)
    {
        await using var stream = Decompression.Open(new MemoryStream(compressed), compression);
        using var result = new MemoryStream();
        await stream.CopyToAsync(result);
        return result.ToArray();
    }

    [Theory]
    [InlineData("gzip", "gzip")]
    [InlineData("bzip2", "bzip2")]
    [InlineData("xz", "xz")]
    [InlineData("zstd", "zstd")]
    [InlineData("lz4", "lz4")]
    public async Task Round_trips_real_tool_output(string program, string compression)
    {
        var compressed = Compress(program, Payload, "-c");
        Assert.NotEqual(Payload.Length, compressed.Length);
        var restored = await DecompressAsync(compressed, compression);
        Assert.Equal(Payload.Length, restored.Length);
        Assert.True(Payload.AsSpan().SequenceEqual(restored), $"{compression} output differs from the input");
    }

    [Fact]
    public void Synchronous_reads_work_through_an_external_decompressor()
    {
        var compressed = Compress("xz", Payload, "-c");
        using var stream = Decompression.Open(new MemoryStream(compressed), "xz");
        using var result = new MemoryStream();
        stream.CopyTo(result);
        Assert.True(Payload.AsSpan().SequenceEqual(result.ToArray()));
    }

    [Fact]
    public void Uncompressed_streams_pass_through()
    {
        var input = new MemoryStream(Payload);
        Assert.Same(input, Decompression.Open(input, null));
        Assert.Same(input, Decompression.Open(input, "none"));
    }

    [Theory]
    [InlineData("xz")]
    [InlineData("zstd")]
    public async Task A_truncated_file_fails_as_invalid_data_naming_the_tool(string tool)
    {
        var compressed = Compress(tool, Payload, "-c");
        var truncated = compressed[..(compressed.Length / 2)];
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => DecompressAsync(truncated, tool));
        Assert.Contains(tool, ex.Message);
        Assert.Contains("exit code", ex.Message);
    }

    [Fact]
    public async Task Garbage_fails_as_invalid_data_for_external_tools()
    {
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => DecompressAsync(Encoding.ASCII.GetBytes("this is not xz data at all"), "xz"));
        Assert.Contains("xz", ex.Message);
    }

    [Fact]
    public async Task A_truncated_gzip_file_fails()
    {
        var compressed = Compress("gzip", Payload, "-c");
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => DecompressAsync(compressed[..(compressed.Length / 2)], "gzip"));
        Assert.Contains("truncated", ex.Message);
        // cut inside the 8-byte trailer: all data is there, the end-of-stream proof is not
        await Assert.ThrowsAnyAsync<Exception>(() => DecompressAsync(compressed[..^3], "gzip"));
    }

    [Fact]
    public void A_truncated_gzip_file_fails_on_synchronous_reads_too()
    {
        var compressed = Compress("gzip", Payload, "-c");
        using var stream = Decompression.Open(new MemoryStream(compressed[..(compressed.Length * 3 / 4)]), "gzip");
        Assert.Throws<InvalidDataException>(() => stream.CopyTo(Stream.Null));
    }

    [Fact]
    public void Gzip_of_empty_input_round_trips()
    {
        using var stream = Decompression.Open(new MemoryStream(Compress("gzip", [], "-c")), "gzip");
        Assert.Equal(-1, stream.ReadByte());
    }

    [Fact]
    public async Task A_truncated_bzip2_file_fails()
    {
        var compressed = Compress("bzip2", Payload, "-c");
        await Assert.ThrowsAnyAsync<Exception>(() => DecompressAsync(compressed[..(compressed.Length / 2)], "bzip2"));
    }

    [Fact]
    public void Disposing_early_stops_the_external_process()
    {
        var compressed = Compress("zstd", Payload, "-c");
        var stream = Decompression.Open(new MemoryStream(compressed), "zstd");
        var buffer = new byte[100];
        Assert.Equal(100, stream.ReadAtLeast(buffer, 100));
        Assert.Equal(Payload[..100], buffer);
        stream.Dispose();   // must not hang or throw with most of the output unread
    }

    [Fact]
    public void Snappy_is_refused_with_the_way_out()
    {
        var ex = Assert.Throws<RestoreFailedException>(() => Decompression.Open(new MemoryStream([1, 2, 3]), "snappy"));
        Assert.Contains("snappy", ex.Message);
        Assert.Contains("--gzip", ex.Message);
        Assert.Contains("--bzip2", ex.Message);
    }

    [Fact]
    public void Unknown_compressions_are_configuration_errors()
    {
        var ex = Assert.Throws<ConfigurationException>(() => Decompression.Open(new MemoryStream(), "brotli"));
        Assert.Contains("brotli", ex.Message);
    }

    [Theory]
    [InlineData("000000010000000000000008.gz", "000000010000000000000008", "gzip")]
    [InlineData("000000010000000000000008.bz2", "000000010000000000000008", "bzip2")]
    [InlineData("000000010000000000000008.xz", "000000010000000000000008", "xz")]
    [InlineData("000000010000000000000008.zst", "000000010000000000000008", "zstd")]
    [InlineData("000000010000000000000008.lz4", "000000010000000000000008", "lz4")]
    [InlineData("000000010000000000000008.snappy", "000000010000000000000008", "snappy")]
    [InlineData("000000010000000000000008", "000000010000000000000008", null)]
    [InlineData("00000002.history.gz", "00000002.history", "gzip")]
    [InlineData("00000001000000000000000A.00000028.backup.gz", "00000001000000000000000A.00000028.backup", "gzip")]
    [InlineData(".gz", ".gz", null)]
    public void SplitSuffix_recognises_barman_suffixes(string name, string baseName, string? compression)
    {
        Assert.Equal((baseName, compression), Decompression.SplitSuffix(name));
    }

    [Theory]
    [InlineData("data.tar", null)]
    [InlineData("data.tar.gz", "gzip")]
    [InlineData("data_0001.tar.bz2", "bzip2")]
    [InlineData("16385.tar.snappy", "snappy")]
    public void FromArchiveName_reads_the_archive_suffix(string name, string? compression)
    {
        Assert.Equal(compression, Decompression.FromArchiveName(name));
    }
}
