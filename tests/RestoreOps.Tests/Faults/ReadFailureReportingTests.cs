using RestoreOps.Cli;
using RestoreOps.Compression;
using RestoreOps.ObjectStore;
using Xunit;

namespace RestoreOps.Tests.Faults;

/// <summary>A failed read stays the failure it is on its way up: through a decompressor, and from the command line's options.</summary>
public sealed class ReadFailureReportingTests
{
    [Theory]
    [InlineData("xz")]
    [InlineData("zstd")]
    [InlineData("lz4")]
    public async Task An_object_store_that_gives_up_mid_file_is_not_reported_as_corrupt_data(string program)
    {
        var payload = new byte[2_000_000];
        new Random(5).NextBytes(payload);
        var compressed = RestoreOps.Tests.ObjectStore.DecompressionTests.Compress(program, payload, "-c");
        var failure = new InfrastructureException("Gave up reading s3://backups/pg/wals/x.xz from the object store at http://store: no data for 60 s.");
        await using var stream = Decompression.Open(new FailingStream(compressed, compressed.Length / 2, failure), program);

        // The decompressor sees its input end early and fails too; the cause is the store, not the backup.
        var ex = await Assert.ThrowsAsync<InfrastructureException>(() => stream.CopyToAsync(Stream.Null));
        Assert.Same(failure, ex);
    }

    [Theory]
    [InlineData("0s")]
    [InlineData("-5s")]
    [InlineData("soon")]
    public async Task A_read_timeout_that_is_not_a_positive_duration_is_a_usage_error_naming_the_option(string value)
    {
        var stderr = new StringWriter();
        var exit = await CliApp.RunAsync(["backups", "list", "--source", "s3://backups/pg", "--server-name", "main", "--read-timeout", value],
            new StringWriter(), stderr);
        Assert.Equal(CliApp.UsageError, exit);
        Assert.Contains("--read-timeout", stderr.ToString());
    }

    [Fact]
    public void The_read_timeout_must_be_positive_for_every_front_end()
    {
        var ex = Assert.Throws<ConfigurationException>(() =>
            new ObjectStoreOptions { ReadInactivityTimeout = TimeSpan.Zero }.Resolve(_ => null));
        Assert.Contains("read timeout", ex.Message);
        Assert.Equal(TimeSpan.FromSeconds(60), new ObjectStoreOptions().Resolve(_ => null).EffectiveReadInactivityTimeout);
    }

    /// <summary>Delivers the first <paramref name="failAt"/> bytes, then throws <paramref name="failure"/>.</summary>
    private sealed class FailingStream(byte[] data, int failAt, Exception failure) : Stream
    {
        private int _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= failAt) throw failure;
            var n = Math.Min(count, failAt - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }
    }
}
