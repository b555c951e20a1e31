using System.Collections;
using System.Text;
using RestoreOps.Checks;
using Xunit;

namespace RestoreOps.Tests.Checks;

/// <summary>Check files and dictionaries built to exhaust memory or the stack are refused with a message, before they are expanded.</summary>
public sealed class CheckFileHostileInputTests
{
    private static ConfigurationException Fails(string yaml) =>
        Assert.Throws<ConfigurationException>(() => CheckFile.Parse(yaml.ReplaceLineEndings("\n"), "checks.yaml"));

    [Fact]
    public void An_alias_bomb_is_refused_at_its_first_anchor()
    {
        // Nine levels of nine aliases: 9^9 (387 million) checks once expanded.
        var yaml = new StringBuilder("database: shop\nl0: &l0 {kind: sequences}\n");
        for (var level = 1; level <= 9; level++)
            yaml.Append($"l{level}: &l{level} [{string.Join(", ", Enumerable.Repeat($"*l{level - 1}", 9))}]\n");
        yaml.Append("checks: *l9\n");
        var e = Fails(yaml.ToString());
        Assert.StartsWith("checks.yaml line 2: the anchor '&l0' is not allowed in a check file.", e.Message);
        Assert.Contains("write each value out in full", e.Fix);
    }

    [Fact]
    public void A_single_alias_is_refused_too()
    {
        var e = Fails("""
            database: shop
            checks:
              - &same {kind: sequences}
              - *same
            """);
        Assert.StartsWith("checks.yaml line 3: the anchor '&same' is not allowed in a check file.", e.Message);
    }

    [Fact]
    public void Nesting_deeper_than_the_limit_is_refused_without_recursing()
    {
        var e = Fails("""
            database: shop
            checks:
              - kind: schema
                tables:
            """ + "\n    " + new string('[', 100) + new string(']', 100) + "\n");
        Assert.StartsWith("checks.yaml line 5: a check file nests more than 64 levels", e.Message);

        // Deep enough that a recursive reader overflows the stack and kills the process.
        var deep = Fails("checks: " + new string('[', 200_000) + new string(']', 200_000));
        Assert.StartsWith("checks.yaml line 1: a check file nests more than 64 levels", deep.Message);
    }

    [Fact]
    public void A_file_over_one_mebibyte_is_refused_before_it_is_read()
    {
        var text = "database: shop\nchecks:\n  - kind: sequences\n" + string.Concat(Enumerable.Repeat("# padding padding padding padding padding padding padding padding\n", 17_000));
        Assert.True(Encoding.UTF8.GetByteCount(text) > 1024 * 1024);
        var e = Fails(text);
        Assert.Contains("checks.yaml is 1,1", e.Message);
        Assert.Contains("at most 1,048,576 bytes", e.Message);

        var path = Path.Combine(Path.GetTempPath(), $"restoreops-big-{Guid.NewGuid():N}.yaml");
        try
        {
            File.WriteAllText(path, text);
            var fromFile = Assert.Throws<ConfigurationException>(() => CheckFile.Load(path));
            Assert.StartsWith($"{Path.GetFileName(path)} is 1,1", fromFile.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_hashtable_that_contains_itself_is_refused()
    {
        var check = new Hashtable { ["kind"] = "schema" };
        check["tables"] = new ArrayList { check };
        var e = Assert.Throws<ConfigurationException>(() => CheckSuite.FromDictionaries([check], new Hashtable { ["database"] = "shop" }));
        Assert.Contains("nest more than 64 levels", e.Message);
    }

    [Fact]
    public void Show_value_is_read_for_equals_and_refused_elsewhere()
    {
        var suite = CheckFile.Parse("""
            database: shop
            checks:
              - kind: sql
                name: currency
                query: select currency from settings
                equals: EUR
                showValue: true
            """.ReplaceLineEndings("\n"), "checks.yaml");
        Assert.True(Assert.IsType<SqlScalarCheck>(suite.Checks[0]).ShowValue);
        Assert.StartsWith("checks.yaml line 7: key 'showValue' in check 'x' (sql) only applies with 'equals'", Fails("""
            database: shop
            checks:
              - kind: sql
                name: x
                query: select 1
                noRows: true
                showValue: true
            """).Message);
    }
}
