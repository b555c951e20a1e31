using System.Text.Json;
using RestoreOps.Evidence;
using RestoreOps.Model;
using Xunit;

namespace RestoreOps.Tests.Evidence;

public class SchemaTests
{
    private static readonly JsonSchemaSubset Schema = JsonSchemaSubset.Load(TestLocations.SchemaPath);

    [Fact]
    public void A_passed_sealed_and_signed_record_validates()
    {
        var record = SampleRecords.Passed();
        RecordSeal.Seal(record, "k3y-for-tests"u8.ToArray());
        var errors = Schema.Validate(DrillRecordJson.Serialize(record));
        Assert.Empty(errors);
    }

    [Fact]
    public void A_failed_record_with_every_status_validates()
    {
        var record = SampleRecords.Failed();
        RecordSeal.Seal(record, null);
        Assert.Empty(Schema.Validate(DrillRecordJson.Serialize(record)));
    }

    [Fact]
    public void A_minimal_error_record_validates()
    {
        // What a drill that failed before discovering anything leaves: no backup, no ages, no phases done.
        var record = new DrillRecord { DrillId = "x", ToolVersion = "1.0.0", Host = "h", StartedAt = SampleRecords.Start, EndedAt = SampleRecords.Start.AddSeconds(1) };
        record.FailureCategory = DrillFailureCategory.Configuration;
        record.FailureMessage = "bad";
        Assert.Empty(Schema.Validate(DrillRecordJson.Serialize(record)));
    }

    [Fact]
    public void The_schema_rejects_what_it_should()
    {
        var json = DrillRecordJson.Serialize(SampleRecords.Passed());
        string Mutate(Action<System.Text.Json.Nodes.JsonObject> change)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
            change(node);
            return node.ToJsonString();
        }
        Assert.Contains(Schema.Validate(Mutate(o => o["surprise"] = 1)), e => e.Contains("surprise"));
        Assert.Contains(Schema.Validate(Mutate(o => o.Remove("verdict"))), e => e.Contains("'verdict'"));
        Assert.Contains(Schema.Validate(Mutate(o => o["verdict"] = "Passed")), e => e.Contains("$.verdict"));
        Assert.Contains(Schema.Validate(Mutate(o => o["startedAt"] = "2026-11-21 06:00")), e => e.Contains("$.startedAt"));
        Assert.Contains(Schema.Validate(Mutate(o => o["startedAt"] = "2026-11-21T06:00:00+01:00")), e => e.Contains("$.startedAt"));
        Assert.Contains(Schema.Validate(Mutate(o => o["phases"]![0]!["duration"] = 12.5)), e => e.Contains("$.phases[0].duration"));
        Assert.Contains(Schema.Validate(Mutate(o => o["backup"]!["sourceKind"] = "tape")), e => e.Contains("$.backup.sourceKind"));
        Assert.Contains(Schema.Validate(Mutate(o => o["digest"] = "md5:abc")), e => e.Contains("$.digest"));
    }

    [Fact]
    public void Every_schema_property_has_a_description()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestLocations.SchemaPath));
        var missing = new List<string>();
        void Walk(JsonElement schema, string path)
        {
            if (!schema.TryGetProperty("properties", out var props)) return;
            foreach (var p in props.EnumerateObject())
            {
                // A $ref to a described definition documents the member.
                var described = p.Value.TryGetProperty("description", out _) ||
                    (p.Value.TryGetProperty("$ref", out var r) && doc.RootElement.GetProperty("$defs").GetProperty(r.GetString()!["#/$defs/".Length..]).TryGetProperty("description", out _));
                if (!described) missing.Add($"{path}.{p.Name}");
            }
        }
        Walk(doc.RootElement, "$");
        foreach (var def in doc.RootElement.GetProperty("$defs").EnumerateObject()) Walk(def.Value, "$defs." + def.Name);
        Assert.Empty(missing);
    }
}

/// <summary>The validator is test code that other tests trust: it must fail where it should.</summary>
public class JsonSchemaSubsetTests
{
    private static JsonSchemaSubset Parse(string schema) => new(JsonDocument.Parse(schema).RootElement.Clone());

    [Fact]
    public void Checks_type_required_enum_pattern_format_items_and_refs()
    {
        var s = Parse("""
            { "type": "object", "additionalProperties": false, "required": ["a"],
              "properties": { "a": { "$ref": "#/$defs/t" }, "b": { "type": "array", "items": { "type": "integer" } }, "c": { "enum": ["x", "y"] },
                              "d": { "type": "string", "pattern": "^z+$" } },
              "$defs": { "t": { "type": "string", "format": "date-time" } } }
            """);
        Assert.Empty(s.Validate("""{"a":"2026-11-21T06:00:00Z","b":[1,2],"c":"x","d":"zz"}"""));
        Assert.Single(s.Validate("""{"b":[1]}"""));
        Assert.Single(s.Validate("""{"a":"yesterday"}"""));
        Assert.Single(s.Validate("""{"a":"2026-11-21T06:00:00Z","b":[1,2.5]}"""));
        Assert.Single(s.Validate("""{"a":"2026-11-21T06:00:00Z","c":"q"}"""));
        Assert.Single(s.Validate("""{"a":"2026-11-21T06:00:00Z","d":"zy"}"""));
        Assert.Single(s.Validate("""{"a":"2026-11-21T06:00:00Z","e":1}"""));
        Assert.Single(s.Validate("""{"a":"2026-13-41T06:00:00Z"}"""));
    }

    [Fact]
    public void Refuses_keywords_it_does_not_implement()
    {
        var s = Parse("""{ "oneOf": [ { "type": "string" } ] }""");
        Assert.Throws<NotSupportedException>(() => s.Validate("1"));
    }
}
