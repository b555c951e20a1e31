using System.ComponentModel;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using ICSharpCode.SharpZipLib.BZip2;

namespace RestoreOps.Compression;

/// <summary>
/// The compressions Barman Cloud writes (<c>gzip</c>, <c>bzip2</c>, <c>xz</c>, <c>zstd</c>, <c>lz4</c>, <c>snappy</c>):
/// recognising them by file suffix and opening decompressing streams.
/// </summary>
internal static class Decompression
{
    /// <summary>gzip (<c>.gz</c>).</summary>
    public const string Gzip = "gzip";
    /// <summary>bzip2 (<c>.bz2</c>).</summary>
    public const string Bzip2 = "bzip2";
    /// <summary>xz (<c>.xz</c>).</summary>
    public const string Xz = "xz";
    /// <summary>Zstandard (<c>.zst</c>).</summary>
    public const string Zstd = "zstd";
    /// <summary>LZ4 frame (<c>.lz4</c>).</summary>
    public const string Lz4 = "lz4";
    /// <summary>Snappy framing (<c>.snappy</c>), as python-snappy writes it.</summary>
    public const string Snappy = "snappy";

    private static readonly (string Suffix, string Compression)[] Suffixes =
    [
        (".gz", Gzip), (".bz2", Bzip2), (".xz", Xz), (".zst", Zstd), (".lz4", Lz4), (".snappy", Snappy),
    ];

    /// <summary>Splits a compression suffix off a file name: <c>000000010000000000000008.gz</c> → (<c>000000010000000000000008</c>, <c>gzip</c>).</summary>
    /// <returns>The name without the suffix and the compression, or the name unchanged and null.</returns>
    public static (string baseName, string? compression) SplitSuffix(string fileName)
    {
        var baseLength = SplitSuffix(fileName.AsSpan(), out var compression);
        return (baseLength == fileName.Length ? fileName : fileName[..baseLength], compression);
    }

    /// <summary>Span form of <see cref="SplitSuffix(string)"/> for hot listing loops: returns the base name's length.</summary>
    public static int SplitSuffix(ReadOnlySpan<char> fileName, out string? compression)
    {
        foreach (var (suffix, name) in Suffixes)
        {
            if (fileName.Length > suffix.Length && fileName.EndsWith(suffix, StringComparison.Ordinal))
            {
                compression = name;
                return fileName.Length - suffix.Length;
            }
        }
        compression = null;
        return fileName.Length;
    }

    /// <summary>The compression of a base-backup archive such as <c>data.tar.gz</c> or <c>16385.tar</c>; null when uncompressed.</summary>
    public static string? FromArchiveName(string name) => SplitSuffix(name).compression;

    /// <summary>
    /// Wraps <paramref name="compressed"/> in a decompressing stream (it takes ownership of it).
    /// null or <c>none</c> returns the stream unchanged.
    /// </summary>
    /// <exception cref="RestoreFailedException">snappy, which RestoreOps cannot read.</exception>
    /// <exception cref="InfrastructureException">xz, zstd or lz4 without the matching program on PATH.</exception>
    /// <exception cref="ConfigurationException">An unknown compression name.</exception>
    public static Stream Open(Stream compressed, string? compression)
    {
        ArgumentNullException.ThrowIfNull(compressed);
        switch (compression)
        {
            case null or "" or "none":
                return compressed;
            case Gzip:
                return new VerifiedGZipStream(compressed);
            case Bzip2:
            {
                // SharpZipLib's decoder pulls its input a byte at a time: without a buffer every byte would be a
                // call into the (network) stream beneath.
                var buffered = new BufferedStream(compressed, 1 << 16);
                return new DrainAtEndStream(new BZip2InputStream(buffered) { IsStreamOwner = true }, buffered);
            }
            case Xz or Zstd or Lz4:
                return ExternalDecompressorStream.Start(compression, compressed);
            case Snappy:
                compressed.Dispose();
                throw new RestoreFailedException(
                    "The backup is snappy-compressed, which RestoreOps cannot decompress (there is no maintained snappy-framing reader for .NET).",
                    "Take backups with --gzip or --bzip2 (CNPG: spec.backup.barmanObjectStore.data.compression / wal.compression = gzip or bzip2); restore this one with barman-cloud-restore.");
            default:
                compressed.Dispose();
                throw new ConfigurationException(
                    $"Unknown compression '{compression}'.",
                    "Use one of none, gzip, bzip2, xz, zstd, lz4.");
        }
    }

    /// <summary>Finds an executable on PATH; null when it is not there.</summary>
    internal static string? FindOnPath(string program)
    {
        var names = OperatingSystem.IsWindows() ? new[] { program + ".exe", program } : new[] { program };
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in names)
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }
}

/// <summary>
/// GZipStream that notices truncation. .NET's GZipStream treats the end of its input as the end of the data
/// even when the deflate stream is cut off mid-way, so a truncated <c>data.tar.gz</c> or WAL segment would read as
/// a short but valid file. zlib checks CRC and length once it reaches the trailer; this wrapper checks that the
/// trailer was reached: the input's last four bytes (ISIZE) must equal the decompressed length modulo 2^32.
/// </summary>
/// <remarks>
/// Every gzip writer Barman and PostgreSQL tooling use writes a single member. A concatenated multi-member file
/// would fail this check (its ISIZE covers only the last member), which is the safer error for a restore drill.
/// </remarks>
internal sealed class VerifiedGZipStream : ReadOnlyStream
{
    private readonly TailRecordingStream _source;
    private readonly GZipStream _gzip;
    private long _length;
    private bool _verified;

    public VerifiedGZipStream(Stream compressed)
    {
        _source = new TailRecordingStream(compressed);
        _gzip = new GZipStream(_source, CompressionMode.Decompress, leaveOpen: false);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = _gzip.Read(buffer);
        if (n > 0) _length += n;
        else if (buffer.Length > 0) Verify();
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await _gzip.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n > 0) _length += n;
        else if (buffer.Length > 0)
        {
            await _source.DrainAsync(cancellationToken).ConfigureAwait(false);
            Verify();
        }
        return n;
    }

    private void Verify()
    {
        if (_verified) return;
        _source.Drain();
        if (_source.TotalRead < 18 || _source.TrailerLength != (uint)_length)
            // InvalidDataException, not IOException: damaged data is the backup's fault, not the network's.
            throw new InvalidDataException(
                $"The gzip data ended before its end-of-stream trailer after {_source.TotalRead} compressed bytes ({_length} bytes decompressed): the file is truncated or damaged.");
        _verified = true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _gzip.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Passes reads through and remembers the last four bytes and the total read.</summary>
    private sealed class TailRecordingStream(Stream inner) : ReadOnlyStream
    {
        private uint _tail;   // last four bytes, little-endian order as they appear in the stream

        public long TotalRead { get; private set; }
        public uint TrailerLength => _tail;

        private void Record(ReadOnlySpan<byte> data)
        {
            TotalRead += data.Length;
            foreach (var b in data.Length > 4 ? data[^4..] : data)
                _tail = (_tail >> 8) | ((uint)b << 24);
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            Record(buffer[..n]);
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            Record(buffer.Span[..n]);
            return n;
        }

        // GZipStream may stop reading once its buffer holds the end; anything left after that is trailing data.
        public void Drain()
        {
            var scratch = new byte[4096];
            while (Read(scratch) > 0) { }
        }

        public async Task DrainAsync(CancellationToken cancellationToken)
        {
            var scratch = new byte[4096];
            while (await ReadAsync(scratch, cancellationToken).ConfigureAwait(false) > 0) { }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>
/// Reads the standard output of <c>xz -dc</c> / <c>zstd -dc</c> / <c>lz4 -dc</c> while a background task feeds
/// the compressed input into its standard input. A non-zero exit (corrupt or truncated input) surfaces as an
/// <see cref="InvalidDataException"/> at the end of the stream, so a damaged archive can never look like a short one.
/// </summary>
internal sealed class ExternalDecompressorStream : ReadOnlyStream
{
    private const int StderrLimit = 4096;

    private readonly Process _process;
    private readonly Stream _input;
    private readonly Stream _output;
    private readonly Task _feeder;
    private readonly Task<string> _stderr;
    private readonly CancellationTokenSource _cancel = new();
    private readonly string _program;
    private bool _finished;

    private ExternalDecompressorStream(Process process, Stream input, string program)
    {
        _process = process;
        _input = input;
        _program = program;
        _output = process.StandardOutput.BaseStream;
        _stderr = ReadLimitedAsync(process.StandardError);
        _feeder = Task.Run(FeedAsync);
    }

    public static Stream Start(string compression, Stream input)
    {
        var program = compression switch
        {
            Decompression.Xz => "xz",
            Decompression.Zstd => "zstd",
            _ => "lz4",
        };
        var path = Decompression.FindOnPath(program);
        if (path is null)
        {
            input.Dispose();
            throw new InfrastructureException(
                $"The file is {compression}-compressed and the '{program}' program is not on PATH.",
                $"Install it (Debian/Ubuntu: apt-get install {(program == "xz" ? "xz-utils" : program)}) or take backups with --gzip.");
        }

        var start = new ProcessStartInfo(path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        start.ArgumentList.Add("-dc");
        // lz4 with -c and no file names still guesses; -q keeps its banner off stderr.
        start.ArgumentList.Add("-q");
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned null.");
        }
        catch (Exception ex) when (ex is Win32Exception or InvalidOperationException)
        {
            input.Dispose();
            throw new InfrastructureException($"Could not start '{path}' to decompress a {compression} file: {ex.Message}.", $"Check that {path} is executable.", ex);
        }
        return new ExternalDecompressorStream(process, input, program);
    }

    private async Task FeedAsync()
    {
        var stdin = _process.StandardInput.BaseStream;
        try
        {
            await _input.CopyToAsync(stdin, 81920, _cancel.Token).ConfigureAwait(false);
        }
        catch (IOException) when (_process.HasExited || _cancel.IsCancellationRequested)
        {
            // The decompressor stopped reading (it failed, or we are disposing); its exit code tells the story.
        }
        finally
        {
            try { stdin.Dispose(); } catch (IOException) { }
        }
    }

    private static async Task<string> ReadLimitedAsync(StreamReader reader)
    {
        var text = new StringBuilder();
        var buffer = new char[1024];
        int n;
        while ((n = await reader.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
            if (text.Length < StderrLimit) text.Append(buffer, 0, Math.Min(n, StderrLimit - text.Length));
        return text.ToString().Trim();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = _output.Read(buffer);
        if (n == 0 && buffer.Length > 0) FinishAsync().GetAwaiter().GetResult();
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await _output.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n == 0 && buffer.Length > 0) await FinishAsync().ConfigureAwait(false);
        return n;
    }

    private async Task FinishAsync()
    {
        if (_finished) return;
        _finished = true;
        await _process.WaitForExitAsync().ConfigureAwait(false);
        Exception? feedError = null;
        try { await _feeder.ConfigureAwait(false); }
        catch (Exception ex) { feedError = ex; }
        var stderr = await _stderr.ConfigureAwait(false);
        // A failed input comes first: the decompressor then sees its input cut off and fails too, and reporting that
        // as corrupt data would blame the backup for a stalled or unreachable object store.
        if (feedError is RestoreOpsException or InvalidDataException)
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(feedError);
        if (feedError is not null)
            throw new IOException($"Reading the compressed input for {_program} failed: {feedError.Message}", feedError);
        if (_process.ExitCode != 0)
            throw new InvalidDataException($"{_program} -dc failed with exit code {_process.ExitCode}: {(stderr.Length > 0 ? stderr : "no message")} (the compressed data is corrupt or truncated).");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _cancel.Cancel();
            try
            {
                if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException) { }
            try { _feeder.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
            _output.Dispose();
            _input.Dispose();
            _process.Dispose();
            _cancel.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>
/// Reads the compressed input to its end once the decompressed data has ended. The bzip2 decoder stops at its
/// end-of-stream marker, and the object store checks an object's length and checksum only at the end of its body:
/// without this, a base archive or WAL file could be used without that check ever running.
/// </summary>
internal sealed class DrainAtEndStream(Stream decompressed, Stream compressed) : ReadOnlyStream
{
    private bool _drained;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = decompressed.Read(buffer);
        if (n == 0 && buffer.Length > 0 && !_drained)
        {
            compressed.CopyTo(Stream.Null);
            _drained = true;
        }
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await decompressed.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (n == 0 && buffer.Length > 0 && !_drained)
        {
            await compressed.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
            _drained = true;
        }
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) decompressed.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>A forward-only, read-only stream: what every decompressing wrapper here is; the rest of Stream's surface refuses.</summary>
internal abstract class ReadOnlyStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
