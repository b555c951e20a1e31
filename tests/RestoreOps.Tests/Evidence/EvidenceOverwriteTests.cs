using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Evidence;

/// <summary>Evidence is never overwritten, and a drill id never takes a file outside the evidence folder.</summary>
public sealed class EvidenceOverwriteTests : IDisposable
{
    private readonly string _root = TestLocations.NewTempDirectory();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_second_record_with_the_same_drill_id_is_refused_and_the_first_kept_whole()
    {
        var dir = Path.Combine(_root, "evidence");
        var textfile = Path.Combine(_root, "textfile", "restoreops.prom");
        var first = await EvidenceWriter.WriteAllAsync(SampleRecords.Passed("nightly-1"), dir, new EvidenceOptions(), CancellationToken.None);
        var before = first.All.ToDictionary(p => p, File.ReadAllText);

        var second = SampleRecords.Failed("nightly-1");
        var e = await Assert.ThrowsAsync<ConfigurationException>(() =>
            EvidenceWriter.WriteAllAsync(second, dir, new EvidenceOptions { TextfileCollectorPath = textfile }, CancellationToken.None));

        Assert.Contains(Path.Combine(dir, "nightly-1.json"), e.Message);
        Assert.Contains("new drill id", e.Fix);
        foreach (var (path, text) in before) Assert.Equal(text, File.ReadAllText(path));
        // The textfile collector's copy is replaced by every drill by design: monitoring still sees this verdict.
        Assert.Contains("verdict=\"failed\"} 1", File.ReadAllText(textfile));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
        Assert.Throws<ConfigurationException>(() => EvidenceWriter.EnsureNewRecord(dir, "nightly-1"));
    }

    [Theory]
    [InlineData("x/../../victim")]
    [InlineData("../victim")]
    [InlineData("")]
    [InlineData("victim/")]
    [InlineData("a..b")]
    public async Task An_unsafe_drill_id_writes_nothing_anywhere(string drillId)
    {
        var dir = Path.Combine(_root, "evidence");
        Directory.CreateDirectory(Path.Combine(dir, "x"));
        var victim = Path.Combine(_root, "victim.json");
        await File.WriteAllTextAsync(victim, "an earlier record");

        await Assert.ThrowsAsync<ConfigurationException>(() => EvidenceWriter.WriteAllAsync(SampleRecords.Passed(drillId), dir, new EvidenceOptions(), CancellationToken.None));
        await Assert.ThrowsAsync<ConfigurationException>(() => DrillRecordJson.WriteAsync(SampleRecords.Passed(drillId), dir, CancellationToken.None));

        Assert.Equal("an earlier record", await File.ReadAllTextAsync(victim));
        Assert.Equal(new[] { victim }, Directory.GetFiles(_root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Generated_and_ordinary_drill_ids_are_accepted()
    {
        foreach (var id in new[] { RestoreOps.Automation.DrillRunner.NewDrillId(), "nightly-2026-11-21", "a", "A.b_c-9", new string('x', 63) })
        {
            Assert.True(DrillIds.IsValid(id), id);
            Assert.True(File.Exists(await DrillRecordJson.WriteAsync(SampleRecords.Passed(id), _root, CancellationToken.None)));
        }
        Assert.False(DrillIds.IsValid(new string('x', 64)));
        Assert.False(DrillIds.IsValid("-x"));
    }
}
