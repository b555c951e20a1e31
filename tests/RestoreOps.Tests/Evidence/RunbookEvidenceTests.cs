using RestoreOps.Checks;
using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Evidence;

/// <summary>Owner, notes and the runbook: in the schema, under the seal, and shown by every human-readable file.</summary>
public class RunbookEvidenceTests
{
    private static readonly JsonSchemaSubset Schema = JsonSchemaSubset.Load(TestLocations.SchemaPath);

    private static DrillRecord Annotated()
    {
        var r = SampleRecords.Passed();
        r.Owner = "dba-oncall <pager>";
        r.Notes.Add("chose the TRUNCATE at 14:47 | not the DELETE");
        r.Notes.Add("app team confirmed the row count");
        var t = r.StartedAt;
        r.Runbook.Add(new RunbookStep { Stage = "discover", Command = "Get-BarmanBackup -BackupId '20261121T010000' -DestinationPath 's3://backups/prod' -ServerName 'pg-main'", StartedAt = t, Duration = TimeSpan.FromSeconds(1), Succeeded = true, Outcome = "backup 20261121T010000" });
        r.Runbook.Add(new RunbookStep { Stage = "create", Command = "New-RestoreCluster -Local -TargetXid 733 -TargetExclusive -Purpose Recovery -Name 'orders-before' -Force", StartedAt = t.AddSeconds(1), Duration = TimeSpan.FromSeconds(0.2), Succeeded = true });
        r.Runbook.Add(new RunbookStep { Stage = "wait", Command = "Wait-ClusterReady -Timeout '00:30:00'", StartedAt = t.AddSeconds(2), Duration = TimeSpan.FromSeconds(90), Succeeded = true, Outcome = "Ready" });
        return r;
    }

    [Fact]
    public void A_record_with_owner_notes_and_runbook_validates_and_the_schema_rejects_a_malformed_step()
    {
        var record = Annotated();
        RecordSeal.Seal(record, null);
        var json = DrillRecordJson.Serialize(record);
        Assert.Empty(Schema.Validate(json));
        Assert.Contains("\"owner\":", json);

        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        node["runbook"]![0]!.AsObject().Remove("command");
        Assert.Contains(Schema.Validate(node.ToJsonString()), e => e.Contains("'command'"));
        var back = DrillRecordJson.Deserialize(json);
        Assert.Equal(["discover", "create", "wait"], back.Runbook.Select(s => s.Stage));
        Assert.Equal(record.Notes, back.Notes);
        Assert.Equal("dba-oncall <pager>", back.Owner);
    }

    [Theory]
    [InlineData("owner", "someone-else")]
    [InlineData("notes", "[\"nothing needed judgement\"]")]
    [InlineData("runbook-command", "New-RestoreCluster -Local")]
    public async Task Owner_notes_and_runbook_are_under_the_seal(string member, string forged)
    {
        var dir = TestLocations.NewTempDirectory();
        var path = await DrillRecordJson.WriteAsync(Annotated(), dir, CancellationToken.None);
        var node = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(path))!.AsObject();
        Assert.Equal(SealStatus.Valid, RecordSeal.Verify(node.ToJsonString(), null).Status);
        switch (member)
        {
            case "owner": node["owner"] = forged; break;
            case "notes": node["notes"] = System.Text.Json.Nodes.JsonNode.Parse(forged); break;
            default: node["runbook"]![1]!["command"] = forged; break;
        }
        Assert.Equal(SealStatus.DigestMismatch, RecordSeal.Verify(node.ToJsonString(), null).Status);
    }

    [Fact]
    public void Markdown_and_html_show_the_owner_and_the_notes()
    {
        var record = Annotated();
        var md = MarkdownWriter.Write(record);
        Assert.Contains("| Owner | dba-oncall &lt;pager> |", md);
        Assert.Contains("## Notes", md);
        Assert.Contains("- chose the TRUNCATE at 14:47 \\| not the DELETE", md);
        var html = HtmlReportWriter.Write(record);
        Assert.Contains("<tr><th>Owner</th><td>dba-oncall &lt;pager&gt;</td></tr>", html);
        Assert.Contains("<ul id=\"notes\"><li>chose the TRUNCATE at 14:47 | not the DELETE</li><li>app team confirmed the row count</li></ul>", html);
    }

    [Fact]
    public async Task The_runbook_lists_the_steps_in_order_with_commands_timings_recovery_point_and_checks()
    {
        var dir = TestLocations.NewTempDirectory();
        var paths = await EvidenceWriter.WriteAllAsync(Annotated(), dir, new EvidenceOptions(), CancellationToken.None);
        Assert.Equal(Path.Combine(dir, "20261121-060000-abc123.runbook.md"), paths.Runbook);
        Assert.Contains(paths.Runbook, paths.All);
        var text = await File.ReadAllTextAsync(paths.Runbook!);
        var discover = text.IndexOf("1. **discover** at 2026-11-21 06:00:00Z, 1.000 s: ok (backup 20261121T010000)", StringComparison.Ordinal);
        var create = text.IndexOf("2. **create**", StringComparison.Ordinal);
        var wait = text.IndexOf("3. **wait** at 2026-11-21 06:00:02Z, 90.000 s: ok (Ready)", StringComparison.Ordinal);
        Assert.True(discover >= 0 && create > discover && wait > create, text);
        Assert.Contains("   ```powershell\n   New-RestoreCluster -Local -TargetXid 733 -TargetExclusive -Purpose Recovery -Name 'orders-before' -Force\n   ```", text);
        Assert.Contains("- Achieved: 2026-11-21 05:57:00Z at 0/12000060", text);
        Assert.Contains("| orders rows | Passed | between 10000 and 12000 | 11000 |", text);
        Assert.Contains("Owner: dba-oncall &lt;pager>", text);
    }

    [Fact]
    public void A_check_file_names_the_owner_and_a_front_end_owner_wins()
    {
        var suite = CheckFile.Parse("owner: team-db\ndatabase: shop\nchecks:\n  - kind: connectivity\n", "checks.yaml");
        Assert.Equal("team-db", suite.Owner);
        var e = Assert.Throws<ConfigurationException>(() => CheckFile.Parse("owner: [a, b]\ndatabase: shop\nchecks:\n  - kind: connectivity\n", "checks.yaml"));
        Assert.Contains("line 1", e.Message);
        Assert.Contains("owner", e.Message);

        var record = SampleRecords.Passed();
        record.Owner = suite.Owner;
        RestoreOps.Tests.Automation.TestEngine.Shared.Annotate(record, "  night-shift  ", ["", "  kept it for the app team  "]);
        Assert.Equal("night-shift", record.Owner);
        Assert.Equal(["kept it for the app team"], record.Notes);
    }
}
