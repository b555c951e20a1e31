using System.Collections;
using System.Text.Json;
using RestoreOps.Checks;
using Xunit;

namespace RestoreOps.Tests.Checks;

public sealed class CheckFileTests
{
    private static ConfigurationException Fails(string yaml) =>
        Assert.Throws<ConfigurationException>(() => CheckFile.Parse(yaml.ReplaceLineEndings("\n"), "checks.yaml"));

    [Fact]
    public void Unknown_key_names_the_line_the_key_and_what_is_allowed()
    {
        var e = Fails("""
            database: shop
            checks:
              - kind: connectivity
              - kind: schema
                tabels: [orders]
            """);
        Assert.StartsWith("checks.yaml line 5: unknown key 'tabels' in check 'schema' (expected: tables, views, functions, extensions", e.Message);
        Assert.Contains("did you mean 'tables'?", e.Message);
    }

    [Fact]
    public void Unknown_top_level_key_and_unknown_kind_name_their_lines()
    {
        Assert.StartsWith("checks.yaml line 2: unknown key 'paralelism' at the top of the file", Fails("""
            database: shop
            paralelism: 2
            checks: [{kind: sequences}]
            """).Message);
        Assert.StartsWith("checks.yaml line 3: unknown check kind 'rowcount'", Fails("""
            database: shop
            checks:
              - kind: rowcount
            """).Message);
    }

    [Fact]
    public void Wrong_type_names_the_line_the_key_and_the_expected_type()
    {
        var e = Fails("""
            database: shop
            checks:
              - kind: row-count
                table: orders
                min: lots
            """);
        Assert.StartsWith("checks.yaml line 5: key 'min' in check 'row-count' must be a whole number ≥ 0, not 'lots'", e.Message);
        Assert.StartsWith("checks.yaml line 4: key 'tables' in check 'schema' must be a list of text, not a mapping", Fails("""
            database: shop
            checks:
              - kind: schema
                tables: {orders: 1}
            """).Message);
        Assert.StartsWith("checks.yaml line 3: key 'statementTimeout' at the top of the file must be a positive duration", Fails("""
            database: shop
            checks: [{kind: sequences}]
            statementTimeout: soon
            """).Message);
    }

    [Fact]
    public void Quoted_numbers_are_text_not_numbers()
    {
        Assert.Contains("key 'exact' in check 'row-count' must be a whole number", Fails("""
            database: shop
            checks:
              - {kind: row-count, table: orders, exact: "12"}
            """).Message);
    }

    [Fact]
    public void Missing_required_key_names_the_check_line_and_the_key()
    {
        Assert.StartsWith("checks.yaml line 3: check 'read-write' is missing required key 'role'", Fails("""
            database: shop
            checks:
              - kind: read-write
                read: select 1
            """).Message);
        Assert.StartsWith("checks.yaml line 2: check 'sequences' is missing required key 'database'", Fails("""
            checks:
              - kind: sequences
            """).Message);
    }

    [Fact]
    public void Every_error_in_the_file_is_reported_at_once()
    {
        var e = Fails("""
            database: shop
            checks:
              - kind: schema
                tabels: [orders]
              - kind: row-count
                table: orders
                max: -1
            """);
        Assert.Contains("has 2 errors", e.Message);
        Assert.Contains("line 4: unknown key 'tabels'", e.Message);
        Assert.Contains("line 7: key 'max'", e.Message);
    }

    [Fact]
    public void Duplicate_names_and_check_validation_errors_carry_lines()
    {
        Assert.Contains("line 4: check name 'rows public.orders' is already used on line 3", Fails("""
            database: shop
            checks:
              - {kind: row-count, table: public.orders, exact: 1}
              - {kind: row-count, table: public.orders, min: 1}
            """).Message);
        Assert.Contains("line 3: The grants check for app names unknown table privilege 'selekt'", Fails("""
            database: shop
            checks:
              - kind: grants
                role: app
                tables: {orders: [selekt]}
            """).Message);
        // YamlDotNet reports where it noticed the unclosed list: the end of the input.
        Assert.StartsWith("checks.yaml line 4: not valid YAML", Fails("""
            checks:
              - kind: schema
                tables: [orders
            """).Message);
    }

    [Fact]
    public void A_full_file_builds_every_kind_with_its_settings()
    {
        var suite = CheckFile.Load(Path.Combine(RestoreOps.Tests.Fixtures.RepositoryPaths.Root, "docs", "examples", "checks.yaml"));
        Assert.Equal(CheckFile.Kinds.Keys.Order(), suite.Checks.Select(c => c.Category switch
        {
            "integrity" => "amcheck",
            "sql" => "sql",
            var k => k,
        }).Distinct().Order());
        var rows = suite.Checks.OfType<RowCountCheck>().Single(c => c.MaxDropPercent is not null);
        Assert.Equal(5, rows.MaxDropPercent);
        var grants = suite.Checks.OfType<GrantCheck>().Single();
        Assert.Equal(["select", "insert", "update"], grants.Tables["public.orders"]);
        Assert.True(suite.RunOptions.MaxParallelism >= 1);
        Assert.NotNull(suite.RunOptions.StatementTimeout);
        Assert.Contains(suite.Checks, c => c.Timeout is not null);
    }

    [Fact]
    public void Hashtables_build_the_same_checks_and_errors_name_the_path()
    {
        var suite = CheckSuite.FromDictionaries(
            [
                new Hashtable { ["kind"] = "schema", ["tables"] = "orders" },
                new Hashtable { ["kind"] = "row-count", ["table"] = "orders", ["min"] = 10, ["timeout"] = TimeSpan.FromSeconds(5) },
                new Hashtable { ["kind"] = "grants", ["role"] = "app", ["tables"] = new Hashtable { ["orders"] = new object[] { "select", "insert" } } },
            ],
            new Hashtable { ["database"] = "shop", ["parallelism"] = 2 });
        Assert.Equal(2, suite.RunOptions.MaxParallelism);
        Assert.Equal(["orders"], suite.Checks.OfType<SchemaCheck>().Single().Tables);
        Assert.Equal(10, suite.Checks.OfType<RowCountCheck>().Single().Minimum);
        Assert.Equal(TimeSpan.FromSeconds(5), suite.Checks[1].Timeout);
        Assert.Equal(["select", "insert"], suite.Checks.OfType<GrantCheck>().Single().Tables["orders"]);

        var e = Assert.Throws<ConfigurationException>(() => CheckSuite.FromDictionaries([new Hashtable { ["kind"] = "row-count", ["table"] = "orders", ["min"] = "ten" }], new Hashtable { ["database"] = "shop" }));
        Assert.StartsWith("hashtable $.checks[0].min: key 'min' in check 'row-count' must be a whole number", e.Message);
    }

    // ---- The JSON Schema and the parser must describe the same language ----

    private static JsonElement Schema()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RestoreOps.Tests.Fixtures.RepositoryPaths.Root, "docs", "schemas", "checks.schema.json")));
        return doc.RootElement.Clone();
    }

    [Fact]
    public void The_json_schema_allows_exactly_the_keys_the_parser_allows()
    {
        var schema = Schema();
        Assert.Equal(CheckFile.FileKeys.Order(), schema.GetProperty("properties").EnumerateObject().Select(p => p.Name).Order());
        Assert.False(schema.GetProperty("additionalProperties").GetBoolean());
        var defs = schema.GetProperty("$defs");
        var kindsInSchema = schema.GetProperty("properties").GetProperty("checks").GetProperty("items").GetProperty("oneOf").EnumerateArray()
            .Select(r => r.GetProperty("$ref").GetString()!.Split('/')[^1]).ToList();
        Assert.Equal(CheckFile.Kinds.Count, kindsInSchema.Count);
        foreach (var def in kindsInSchema)
        {
            var d = defs.GetProperty(def);
            var kind = d.GetProperty("properties").GetProperty("kind").GetProperty("const").GetString()!;
            Assert.True(CheckFile.Kinds.ContainsKey(kind), $"schema kind {kind} unknown to the parser");
            Assert.False(d.GetProperty("additionalProperties").GetBoolean());
            Assert.Equal(CheckFile.CommonCheckKeys.Concat(CheckFile.Kinds[kind]).Order(), d.GetProperty("properties").EnumerateObject().Select(p => p.Name).Order());
            Assert.Contains("kind", d.GetProperty("required").EnumerateArray().Select(x => x.GetString()));
        }
        var tools = defs.GetProperty("migrations").GetProperty("properties").GetProperty("tool").GetProperty("enum").EnumerateArray().Select(x => x.GetString());
        Assert.Equal(CheckFile.ToolNames.Keys.Order(), tools.Order());
    }

    [Fact]
    public void Example_files_use_only_schema_keys_with_schema_types()
    {
        var schema = Schema();
        var defs = schema.GetProperty("$defs");
        foreach (var file in new[] { "checks.yaml", "demo-checks.yaml" })
        {
            var yaml = new YamlDotNet.RepresentationModel.YamlStream();
            yaml.Load(new StringReader(File.ReadAllText(Path.Combine(RestoreOps.Tests.Fixtures.RepositoryPaths.Root, "docs", "examples", file))));
            var root = (YamlDotNet.RepresentationModel.YamlMappingNode)yaml.Documents[0].RootNode;
            foreach (var (k, v) in root.Children.Where(c => ((YamlDotNet.RepresentationModel.YamlScalarNode)c.Key).Value != "checks"))
                AssertFits(schema.GetProperty("properties").GetProperty(((YamlDotNet.RepresentationModel.YamlScalarNode)k).Value!), v, defs, $"{file}:{k}");
            foreach (var check in ((YamlDotNet.RepresentationModel.YamlSequenceNode)root["checks"]).Children.Cast<YamlDotNet.RepresentationModel.YamlMappingNode>())
            {
                var kind = ((YamlDotNet.RepresentationModel.YamlScalarNode)check["kind"]).Value!;
                var props = defs.GetProperty(kind).GetProperty("properties");
                foreach (var (k, v) in check.Children)
                    AssertFits(props.GetProperty(((YamlDotNet.RepresentationModel.YamlScalarNode)k).Value!), v, defs, $"{file}:{kind}.{k}");
            }
        }
    }

    /// <summary>A structural check of a YAML value against the schema fragments this schema uses (type, $ref, enum, pattern).</summary>
    private static void AssertFits(JsonElement s, YamlDotNet.RepresentationModel.YamlNode v, JsonElement defs, string where)
    {
        if (s.TryGetProperty("$ref", out var r))
        {
            AssertFits(defs.GetProperty(r.GetString()!.Split('/')[^1]), v, defs, where);
            return;
        }
        if (s.TryGetProperty("oneOf", out var one) || s.TryGetProperty("anyOf", out one))
        {
            Assert.True(one.EnumerateArray().Any(alt => Fits(alt, v, defs)), $"{where} matches no alternative");
            return;
        }
        Assert.True(Fits(s, v, defs), $"{where} does not fit the schema");
    }

    private static bool Fits(JsonElement s, YamlDotNet.RepresentationModel.YamlNode v, JsonElement defs)
    {
        try { AssertFitsStrict(s, v, defs); return true; } catch (Xunit.Sdk.XunitException) { return false; }
    }

    private static void AssertFitsStrict(JsonElement s, YamlDotNet.RepresentationModel.YamlNode v, JsonElement defs)
    {
        if (s.TryGetProperty("$ref", out _) || s.TryGetProperty("oneOf", out _) || s.TryGetProperty("anyOf", out _)) { AssertFits(s, v, defs, "value"); return; }
        var type = s.TryGetProperty("type", out var t) ? t.GetString() : null;
        switch (v)
        {
            case YamlDotNet.RepresentationModel.YamlScalarNode sc:
                var plain = sc.Style == YamlDotNet.Core.ScalarStyle.Plain;
                var text = sc.Value ?? "";
                switch (type)
                {
                    case "integer": Assert.True(plain && long.TryParse(text, out _)); break;
                    case "number": Assert.True(plain && double.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out _)); break;
                    case "boolean": Assert.True(plain && text is "true" or "false"); break;
                    case "string":
                        if (s.TryGetProperty("pattern", out var p)) Assert.Matches(p.GetString()!, text);
                        if (s.TryGetProperty("enum", out var en)) Assert.Contains(text, en.EnumerateArray().Select(x => x.GetString()));
                        if (s.TryGetProperty("const", out var c)) Assert.Equal(c.GetString(), text);
                        break;
                    default: Assert.Fail($"scalar where schema wants {type}"); break;
                }
                break;
            case YamlDotNet.RepresentationModel.YamlSequenceNode seq:
                Assert.Equal("array", type);
                foreach (var item in seq.Children) AssertFitsStrict(s.GetProperty("items"), item, defs);
                break;
            case YamlDotNet.RepresentationModel.YamlMappingNode map:
                Assert.Equal("object", type);
                foreach (var (key, val) in map.Children)
                    AssertFitsStrict(s.TryGetProperty("properties", out var named)
                        ? named.GetProperty(((YamlDotNet.RepresentationModel.YamlScalarNode)key).Value!)
                        : s.GetProperty("additionalProperties"), val, defs);
                break;
        }
    }
}
