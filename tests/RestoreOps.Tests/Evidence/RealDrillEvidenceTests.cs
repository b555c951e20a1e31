using RestoreOps.Cli;
using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Evidence;

/// <summary>
/// The one evidence test that needs PostgreSQL 15 (scripts/setup.sh installs it): a real demo drill, so the schema,
/// the seal and the writers see a record the engine produced rather than one built by hand.
/// </summary>
public class RealDrillEvidenceTests
{
    [Fact]
    public async Task A_real_drill_record_validates_verifies_and_renders_in_every_format()
    {
        var root = TestLocations.NewTempDirectory();
        // PostgreSQL runs as the postgres account when the tests run as root: it must be able to enter the folder.
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        var evidence = Path.Combine(root, "evidence");
        var work = Path.Combine(root, "work");
        Directory.CreateDirectory(work);
        File.SetUnixFileMode(work, (UnixFileMode)0b111_101_101);
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var exit = await CliApp.RunAsync(["drill", "--demo", "--evidence", evidence, "--work-dir", work], stdout, stderr);

        Assert.True(exit == CliApp.Passed, $"exit {exit}\n{stdout}\n{stderr}");
        var path = Assert.Single(Directory.GetFiles(evidence, "*.json"));
        var json = await File.ReadAllTextAsync(path);
        Assert.Empty(JsonSchemaSubset.Load(TestLocations.SchemaPath).Validate(json));
        Assert.Equal(SealStatus.Valid, RecordSeal.Verify(json, null).Status);

        var record = DrillRecordJson.Deserialize(json);
        Assert.NotNull(record.Environment);
        Assert.NotNull(record.DataAge);
        // Durations are written to the millisecond; instants to the microsecond.
        Assert.Equal((record.StartedAt - record.AchievedRecoveryTime!.Value).TotalSeconds, record.DataAge!.Value.TotalSeconds, 3);

        var paths = await EvidenceWriter.WriteAllAsync(record, Path.Combine(root, "all"), new EvidenceOptions(), CancellationToken.None);
        Assert.All(paths.All, p => Assert.True(new FileInfo(p).Length > 200, $"{p} is nearly empty"));
        Assert.Empty(JsonSchemaSubset.Load(TestLocations.SchemaPath).Validate(await File.ReadAllTextAsync(paths.Json)));
        File.Copy(paths.Html, Path.Combine(TestLocations.Artifacts, "real-demo-drill.html"), overwrite: true);
        File.Copy(paths.JUnit, Path.Combine(TestLocations.Artifacts, "real-demo-drill.junit.xml"), overwrite: true);
        File.Copy(paths.Prometheus[0], Path.Combine(TestLocations.Artifacts, "real-demo-drill.prom"), overwrite: true);
        JUnitWriterTests.ValidateAgainstXsd(await File.ReadAllTextAsync(paths.JUnit));
        var (code, output) = PrometheusWriterTests.Promtool(await File.ReadAllTextAsync(paths.Prometheus[0]));
        Assert.True(code == 0 && output.Trim().Length == 0, output);
    }
}
