using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;
using Xunit.Abstractions;

namespace RestoreOps.Tests.Evidence;

public class HtmlReportTests(ITestOutputHelper output)
{
    private static DrillRecord WithHistory(out List<DrillRecord> earlier)
    {
        earlier = Enumerable.Range(1, 6)
            .Select(i => SampleRecords.Passed($"2026111{i}-060000-00000{i}", start: SampleRecords.Start.AddDays(-7 + i), restoreSeconds: 80 + i * 7, backupAgeHours: 3 + i % 3, dataAgeMinutes: 2 + i))
            .ToList<DrillRecord>();
        earlier[2].Verdict = DrillVerdict.Failed;
        var record = SampleRecords.Passed();
        ObjectiveEvaluator.Apply(record, new DrillObjectives { MaxBackupAge = TimeSpan.FromHours(26), MaxRestoreTime = TimeSpan.FromMinutes(2) });
        return record;
    }

    [Fact]
    public void The_page_is_self_contained_and_carries_the_timeline_and_trends()
    {
        var html = HtmlReportWriter.Write(WithHistory(out var earlier), earlier);
        Assert.Contains("<svg id=\"timeline\"", html);
        var record = SampleRecords.Passed();
        foreach (var p in record.Phases) Assert.Contains($"data-phase=\"{p.Phase}\"", html);
        Assert.Contains("<svg id=\"trend-restore-time\"", html);
        Assert.Contains("<svg id=\"trend-backup-age\"", html);
        Assert.Contains("<svg id=\"trend-data-age\"", html);
        Assert.Contains("Trends (7 drills of this source)", html);
        // No external assets: nothing to fetch, so it opens from an artifact store or a mail attachment.
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("<link", html);
        Assert.DoesNotContain("src=", html);
        Assert.DoesNotContain("url(", html);
        Assert.DoesNotContain("http://", html);
    }

    [Fact]
    public void Without_history_the_page_says_where_trends_come_from()
    {
        var html = HtmlReportWriter.Write(SampleRecords.Passed());
        Assert.Contains("id=\"trends-empty\"", html);
        Assert.Contains("<svg id=\"timeline\"", html);
    }

    [Fact]
    public async Task Headless_chromium_renders_the_timeline_and_the_trends()
    {
        var dir = TestLocations.Artifacts;
        var htmlPath = Path.Combine(dir, "drill-report.html");
        File.WriteAllText(htmlPath, HtmlReportWriter.Write(WithHistory(out var earlier), earlier));

        // The first screen, as a reader opening the report sees it: the timeline must be on it.
        var (width, height, pixels) = await ScreenshotAsync(htmlPath, Path.Combine(dir, "drill-report.png"), 1280, 900);
        Assert.Equal((1280, 900), (width, height));
        // The timeline's bars are the only large areas in the passed-phase green (#2da44e).
        var green = Count(pixels, 0x2d, 0xa4, 0x4e);
        output.WriteLine($"{green} timeline-green pixels");
        Assert.True(green > 2000, $"only {green} pixels of the timeline colour: the timeline did not render (see drill-report.png)");

        // The whole page: the trend lines (#0969da) are below the fold.
        (_, _, pixels) = await ScreenshotAsync(htmlPath, Path.Combine(dir, "drill-report-full.png"), 1280, 1900);
        var blue = Count(pixels, 0x09, 0x69, 0xda);
        output.WriteLine($"{blue} trend-blue pixels");
        Assert.True(blue > 1000, $"only {blue} pixels of the trend colour: the trend charts did not render (see drill-report-full.png)");
    }

    private static int Count(byte[] rgba, int r, int g, int b)
    {
        var n = 0;
        for (var i = 0; i < rgba.Length; i += 4)
            if (Math.Abs(rgba[i] - r) < 8 && Math.Abs(rgba[i + 1] - g) < 8 && Math.Abs(rgba[i + 2] - b) < 8) n++;
        return n;
    }

    private async Task<(int Width, int Height, byte[] Rgba)> ScreenshotAsync(string htmlPath, string pngPath, int width, int height)
    {
        File.Delete(pngPath);
        var profile = TestLocations.NewTempDirectory();
        var psi = new ProcessStartInfo("chromium")
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
            ArgumentList =
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--hide-scrollbars", $"--user-data-dir={profile}", $"--screenshot={pngPath}", $"--window-size={width},{height}", new Uri(htmlPath).AbsoluteUri,
            },
        };
        using var chromium = Process.Start(psi) ?? throw new InvalidOperationException("chromium did not start; install Debian's chromium package (scripts/setup.sh does).");
        var stdout = chromium.StandardOutput.ReadToEndAsync();
        var stderr = chromium.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try { await chromium.WaitForExitAsync(deadline.Token); }
        catch (OperationCanceledException) { chromium.Kill(entireProcessTree: true); throw new TimeoutException("chromium did not finish the screenshot within 2 minutes."); }
        output.WriteLine(await stdout + await stderr);
        Directory.Delete(profile, recursive: true);
        Assert.True(File.Exists(pngPath), $"chromium exited {chromium.ExitCode} without writing {pngPath}");
        return Png.Decode(File.ReadAllBytes(pngPath));
    }
}

/// <summary>Just enough PNG decoding (8-bit RGB/RGBA, non-interlaced: what Chromium writes) to look at a screenshot's pixels.</summary>
internal static class Png
{
    public static (int Width, int Height, byte[] Rgba) Decode(byte[] png)
    {
        ReadOnlySpan<byte> signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
        if (!png.AsSpan(0, 8).SequenceEqual(signature)) throw new InvalidDataException("Not a PNG file.");
        int width = 0, height = 0, colorType = 0;
        using var idat = new MemoryStream();
        for (var pos = 8; pos < png.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(pos));
            var type = System.Text.Encoding.ASCII.GetString(png, pos + 4, 4);
            var data = png.AsSpan(pos + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                if (data[8] != 8 || data[12] != 0) throw new InvalidDataException($"Unsupported PNG: bit depth {data[8]}, interlace {data[12]}.");
                colorType = data[9];
            }
            else if (type == "IDAT") idat.Write(data);
            else if (type == "IEND") break;
            pos += 12 + length;
        }
        var channels = colorType switch { 2 => 3, 6 => 4, _ => throw new InvalidDataException($"Unsupported PNG colour type {colorType}.") };
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        var stride = width * channels;
        var rgba = new byte[width * height * 4];
        var previous = new byte[stride];
        var current = new byte[stride];
        for (var y = 0; y < height; y++)
        {
            var filter = bytes[y * (stride + 1)];
            Array.Copy(bytes, y * (stride + 1) + 1, current, 0, stride);
            for (var x = 0; x < stride; x++)
            {
                int a = x >= channels ? current[x - channels] : 0, b = previous[x], c = x >= channels ? previous[x - channels] : 0;
                current[x] = (byte)(current[x] + filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"Bad PNG filter {filter} in row {y}."),
                });
            }
            for (var x = 0; x < width; x++)
            {
                rgba[(y * width + x) * 4] = current[x * channels];
                rgba[(y * width + x) * 4 + 1] = current[x * channels + 1];
                rgba[(y * width + x) * 4 + 2] = current[x * channels + 2];
                rgba[(y * width + x) * 4 + 3] = channels == 4 ? current[x * channels + 3] : (byte)255;
            }
            (previous, current) = (current, previous);
        }
        return (width, height, rgba);
    }

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
