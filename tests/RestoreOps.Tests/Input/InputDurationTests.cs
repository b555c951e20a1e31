using System.Collections;
using System.Text.Json;
using System.Text.RegularExpressions;
using RestoreOps.Checks;
using RestoreOps.Tests.Fixtures;
using Xunit;

namespace RestoreOps.Tests.Input;

/// <summary>One duration grammar for every input: command line options, cmdlet check hashtables and check files.</summary>
public sealed class InputDurationTests
{
    [Theory]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("26h", 93600)]
    [InlineData("7d", 604800)]
    [InlineData("1d12h", 129600)]
    [InlineData("1h30m", 5400)]
    [InlineData("2m30s", 150)]
    [InlineData("1.5h", 5400)]
    [InlineData("500ms", 0.5)]
    [InlineData("1s500ms", 1.5)]
    [InlineData(" 30M ", 1800)]
    [InlineData("PT30M", 1800)]
    [InlineData("pt1h30m", 5400)]
    [InlineData("P7D", 604800)]
    public void Durations_parse_as_people_write_them(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), InputDuration.Parse(text, InputKey.MaxBackupAge));

    [Fact]
    public void A_plain_number_is_seconds_only_where_an_input_always_took_seconds()
    {
        Assert.Equal(TimeSpan.FromSeconds(1800), InputDuration.Parse("1800", InputKey.Timeout, InputLimits.MaxTimeout, numberIsSeconds: true));
        Assert.Equal(TimeSpan.FromSeconds(1.5), InputDuration.Parse("1.5", InputKey.Timeout, InputLimits.MaxTimeout, numberIsSeconds: true));
        var e = Assert.Throws<ConfigurationException>(() => InputDuration.Parse("1800", InputKey.MaxBackupAge));
        Assert.Contains("is not a duration", e.Message);
        Assert.DoesNotContain("number of seconds", e.Fix);
    }

    [Theory]
    [InlineData("99999999999999d")]
    [InlineData("3651d")]
    [InlineData("87601h")]
    [InlineData("P3651D")]
    [InlineData("9999999999999999999999999999999999999999s")]
    [InlineData("999999999999999999ms")]
    public void Durations_past_ten_years_name_the_input_instead_of_overflowing(string text)
    {
        var e = Assert.Throws<ConfigurationException>(() => InputDuration.Parse(text, InputKey.MaxBackupAge));
        Assert.Contains("--max-backup-age", e.Render(InputSpelling.Cli));
        Assert.Contains("3650d0h", e.Message);
        Assert.Equal(InputKey.MaxBackupAge, e.Parameter);
    }

    [Fact]
    public void A_caller_can_hold_a_duration_to_a_shorter_maximum()
    {
        Assert.Equal(TimeSpan.FromDays(3650), InputDuration.Parse("3650d", InputKey.MaxBackupAge));
        Assert.Equal(TimeSpan.FromDays(7), InputDuration.Parse("604800", InputKey.Timeout, InputLimits.MaxTimeout, numberIsSeconds: true));
        Assert.Throws<ConfigurationException>(() => InputDuration.Parse("8d", InputKey.Timeout, InputLimits.MaxTimeout));
        Assert.Throws<ConfigurationException>(() => InputDuration.Parse("604801", InputKey.Timeout, InputLimits.MaxTimeout, numberIsSeconds: true));
    }

    [Theory]
    [InlineData("")]
    [InlineData("7 days")]
    [InlineData("0s")]
    [InlineData("0")]
    [InlineData("-5m")]
    [InlineData("30m1h")]
    [InlineData("1h1h")]
    [InlineData("m")]
    [InlineData("P")]
    public void Bad_durations_name_the_input_in_each_front_ends_spelling_and_the_fix(string text)
    {
        var e = Assert.Throws<ConfigurationException>(() => InputDuration.Parse(text, InputKey.MaxRestoreTime, numberIsSeconds: true));
        Assert.StartsWith($"--max-restore-time '{text}'", e.Render(InputSpelling.Cli));
        Assert.StartsWith($"-MaxRestoreTime '{text}'", e.MessageFor(InputSpelling.PowerShell));
        Assert.StartsWith($"the restore time objective '{text}'", e.Message);
        Assert.Contains("26h", e.Fix);
    }

    [Fact]
    public void Formatted_durations_parse_back()
    {
        foreach (var value in new[] { TimeSpan.FromSeconds(12.5), TimeSpan.FromMinutes(7.5), TimeSpan.FromHours(4.2), TimeSpan.FromDays(2.125) })
        {
            var text = InputDuration.Format(value);
            Assert.Equal(InputDuration.Format(InputDuration.Parse(text, "x")), text);
        }
    }

    private static CheckSuite Suite(string timeout) => CheckFile.Parse($"""
        database: shop
        checkTimeout: {timeout}
        checks:
          - kind: connectivity
            timeout: {timeout}
        """.ReplaceLineEndings("\n"), "checks.yaml");

    [Theory]
    [InlineData("1h30m", 5400)]
    [InlineData("500ms", 0.5)]
    [InlineData("PT30M", 1800)]
    [InlineData("45", 45)]
    public void Check_files_read_the_same_grammar(string text, double seconds)
    {
        var suite = Suite(text);
        Assert.Equal(TimeSpan.FromSeconds(seconds), suite.RunOptions.CheckTimeout);
        Assert.Equal(TimeSpan.FromSeconds(seconds), Assert.Single(suite.Checks).Timeout);
        var inline = CheckSuite.FromDictionaries([new Hashtable { ["kind"] = "connectivity", ["timeout"] = text }], new Hashtable { ["database"] = "shop" });
        Assert.Equal(TimeSpan.FromSeconds(seconds), Assert.Single(inline.Checks).Timeout);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("0s")]
    [InlineData("99999999999999d")]
    public void Check_files_refuse_what_the_command_line_refuses(string text)
    {
        var e = Assert.Throws<ConfigurationException>(() => CheckFile.Parse($"""
            checkTimeout: {text}
            database: shop
            checks:
              - kind: connectivity
            """.ReplaceLineEndings("\n"), "checks.yaml"));
        Assert.StartsWith($"checks.yaml line 1: key 'checkTimeout' at the top of the file must be a positive duration such as {InputDuration.Forms}", e.Message);
    }

    [Theory]
    [InlineData("90s", true)]
    [InlineData("1h30m", true)]
    [InlineData("1d12h", true)]
    [InlineData("500ms", true)]
    [InlineData("1s500ms", true)]
    [InlineData("1.5h", true)]
    [InlineData("45", true)]
    [InlineData("2.5", true)]
    [InlineData("PT30M", true)]
    [InlineData("P7D", true)]
    [InlineData("soon", false)]
    [InlineData("7 days", false)]
    [InlineData("30m1h", false)]
    [InlineData("1h30", false)]
    [InlineData("m", false)]
    [InlineData("P", false)]
    [InlineData("", false)]
    public void The_check_file_schema_describes_the_same_grammar(string text, bool valid)
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Root, "docs", "schemas", "checks.schema.json")));
        var pattern = schema.RootElement.GetProperty("$defs").GetProperty("duration").GetProperty("oneOf")[0].GetProperty("pattern").GetString()!;
        Assert.Equal(valid, InputDuration.TryParse(text, out _, numberIsSeconds: true));
        Assert.Equal(valid, Regex.IsMatch(text, pattern));
    }
}
