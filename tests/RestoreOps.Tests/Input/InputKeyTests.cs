using System.CommandLine;
using System.Text.RegularExpressions;
using RestoreOps.Automation;
using RestoreOps.Backups;
using RestoreOps.Cli;
using RestoreOps.Kubernetes;
using RestoreOps.Model;
using RestoreOps.ObjectStore;
using RestoreOps.Tests.Fixtures;
using RestoreOps.Tests.PowerShell;
using Xunit;

namespace RestoreOps.Tests.Input;

/// <summary>The options and parameters the two front ends really have: the CLI's command tree, the cmdlets' compiled metadata.</summary>
internal static class FrontEndInputs
{
    /// <summary>Every option name and alias of every <c>restoreops</c> command, built as the CLI builds it.</summary>
    public static IReadOnlySet<string> CliOptions()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        void Walk(Command c)
        {
            foreach (var o in c.Options)
            {
                names.Add(o.Name);
                foreach (var a in o.Aliases) names.Add(a);
            }
            foreach (var s in c.Subcommands) Walk(s);
        }
        Walk(CliApp.BuildRoot(TextWriter.Null, TextWriter.Null));
        // Help and version are System.CommandLine's, not inputs a message could ask for.
        names.ExceptWith(["--help", "-h", "-?", "/h", "/?", "--version"]);
        return names;
    }

    /// <summary>Every parameter name and alias of every cmdlet, without the dash.</summary>
    public static IReadOnlySet<string> PowerShellParameters(ModuleMetadata module) =>
        module.Cmdlets.SelectMany(c => c.Parameters).SelectMany(p => p.Aliases.Prepend(p.Name)).ToHashSet(StringComparer.Ordinal);
}

/// <summary>
/// Each input key names a parameter that exists in each front end, or is marked as having none there; and the engine
/// itself spells no front end's parameters (it refers to keys, which each front end renders).
/// </summary>
[Collection(ModuleMetadataCollection.Name)]
public sealed class InputKeyFrontEndTests(ModuleMetadata module)
{
    public static TheoryData<InputKey> Keys => new(Enum.GetValues<InputKey>());

    [Fact]
    public void Every_key_has_words_and_a_spelling_in_at_least_one_front_end()
    {
        foreach (var key in Enum.GetValues<InputKey>())
        {
            Assert.True(InputKeys.All.TryGetValue(key, out var s), $"{key} has no entry in InputKeys.All");
            Assert.StartsWith(s.Words.StartsWith("a ", StringComparison.Ordinal) ? "a " : "the ", s.Words);
            Assert.True(s.Cli is not null || s.PowerShell is not null, $"{key} is an input of neither front end");
        }
    }

    [Theory]
    [MemberData(nameof(Keys))]
    public void The_CLI_spelling_of_each_key_is_an_option_it_has(InputKey key)
    {
        var cli = InputKeys.All[key].Cli;
        var rendered = InputKeys.Render($"Pass {key.Ref()}.", InputSpelling.Cli);
        if (cli is null)
        {
            // Marked as having no such option: the message then describes the input in words, naming no option.
            Assert.False(InputKeys.Exists(key, InputSpelling.Cli));
            Assert.DoesNotContain("--", rendered);
            Assert.Equal($"Pass {InputKeys.All[key].Words}.", rendered);
            return;
        }
        Assert.Contains(cli, FrontEndInputs.CliOptions());
        Assert.Equal($"Pass {cli}.", rendered);
    }

    [Theory]
    [MemberData(nameof(Keys))]
    public void The_PowerShell_spelling_of_each_key_is_a_parameter_a_cmdlet_has(InputKey key)
    {
        var ps = InputKeys.All[key].PowerShell;
        var rendered = InputKeys.Render($"Pass {key.Ref()}.", InputSpelling.PowerShell);
        if (ps is null)
        {
            Assert.False(InputKeys.Exists(key, InputSpelling.PowerShell));
            Assert.DoesNotMatch(@"\s-[A-Z]", rendered);
            Assert.Equal($"Pass {InputKeys.All[key].Words}.", rendered);
            return;
        }
        Assert.Contains(ps, FrontEndInputs.PowerShellParameters(module));
        Assert.Equal($"Pass -{ps}.", rendered);
    }

    [Fact]
    public void Engine_messages_spell_no_front_ends_parameter()
    {
        var cli = FrontEndInputs.CliOptions();
        var ps = FrontEndInputs.PowerShellParameters(module);
        var found = new List<string>();
        var engine = Path.Combine(RepositoryPaths.Root, "src", "RestoreOps");
        foreach (var file in Directory.EnumerateFiles(engine, "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)) continue;
            // The spelling table itself: the one place the engine holds both front ends' names.
            if (Path.GetRelativePath(engine, file) == Path.Combine("Input", "InputKey.cs")) continue;
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                var code = lines[i].TrimStart();
                if (code.StartsWith("//", StringComparison.Ordinal)) continue;
                foreach (Match literal in Regex.Matches(code, @"""(?:[^""\\]|\\.)*"""))
                {
                    foreach (Match flag in Regex.Matches(literal.Value, @"(?<![\w-])--[a-z][a-z0-9-]*"))
                        if (cli.Contains(flag.Value)) found.Add($"{Path.GetRelativePath(engine, file)}:{i + 1}: {flag.Value}");
                    foreach (Match parameter in Regex.Matches(literal.Value, @"(?<![\w-])-([A-Z][A-Za-z]+)"))
                        if (ps.Contains(parameter.Groups[1].Value)) found.Add($"{Path.GetRelativePath(engine, file)}:{i + 1}: {parameter.Value}");
                }
            }
        }
        Assert.True(found.Count == 0, "Engine strings name a front end's parameter; refer to it with InputKey.X.Ref() instead:\n" + string.Join("\n", found));
    }
}

/// <summary>Real engine failures rendered in each front end's spelling: each names its own parameter and never the other's.</summary>
public sealed class InputKeyRenderingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("restoreops-keys-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static void AssertSpellings(RestoreOpsException e, InputKey key, string cli, string powershell)
    {
        Assert.Equal(key, e.Parameter);
        var forCli = e.Render(InputSpelling.Cli);
        var forPowerShell = e.MessageFor(InputSpelling.PowerShell) + " " + e.FixFor(InputSpelling.PowerShell);
        Assert.Contains(cli, forCli);
        Assert.Contains(powershell, forPowerShell);
        // Each spelling only where it belongs; the exception's own message (logs, bare engine use) in words.
        var (_, cliName, powershellName) = InputKeys.All[key];
        if (cliName is not null)
        {
            Assert.DoesNotContain(cliName, forPowerShell);
            Assert.DoesNotContain(cliName, e.Message);
        }
        if (powershellName is not null)
        {
            Assert.DoesNotContain($"-{powershellName}", forCli);
            Assert.DoesNotContain($"-{powershellName}", e.Message);
        }
        Assert.DoesNotContain('\uE000', e.Message + forCli + forPowerShell);
    }

    [Fact]
    public async Task A_folder_that_is_no_base_backup_names_the_base_backup_input()
    {
        var e = await Assert.ThrowsAsync<ConfigurationException>(() => LocalBackupCatalog.ReadBaseBackupAsync(_root, null, CancellationToken.None));
        AssertSpellings(e, InputKey.BaseBackup, "Point --base-backup at", "Point -Path at");
    }

    [Fact]
    public void A_key_id_without_its_secret_names_no_option_the_CLI_lacks()
    {
        var e = Assert.Throws<ConfigurationException>(() => new ObjectStoreOptions { AccessKeyId = "AKIAEXAMPLE" }.Resolve(_ => null));
        // The CLI takes the secret only from the environment: there is no --secret-key to point at.
        AssertSpellings(e, InputKey.SecretAccessKey, "Pass the secret access key or set AWS_SECRET_ACCESS_KEY", "Pass -Credential or set AWS_SECRET_ACCESS_KEY");
        Assert.DoesNotContain("--secret-key", e.Render(InputSpelling.Cli));
    }

    [Fact]
    public void A_missing_kubeconfig_names_the_kubeconfig_input()
    {
        var e = Assert.Throws<ConfigurationException>(() => KubernetesConfig.Load(Path.Combine(_root, "no-such-kubeconfig")));
        AssertSpellings(e, InputKey.Kubeconfig, "(--kubeconfig)", "(-Kubeconfig)");
    }

    [Fact]
    public void Whole_number_inputs_name_the_input()
    {
        var e = Assert.Throws<ConfigurationException>(() => InputCount.Parse("0", InputKey.WalParallelism, 8, 1, 64, "WAL files"));
        Assert.StartsWith("--wal-parallelism '0' is not a whole number of WAL files from 1 to 64.", e.Render(InputSpelling.Cli));
        // No cmdlet takes it: PowerShell users read it in words.
        Assert.StartsWith("the WAL parallelism '0'", e.MessageFor(InputSpelling.PowerShell));
    }

    [Theory]
    [InlineData(InputSpelling.Cli, "Pass the directory pg_basebackup -Ft wrote (--base-backup).")]
    [InlineData(InputSpelling.PowerShell, "Pass the directory pg_basebackup -Ft wrote (-Path).")]
    public async Task A_drill_record_names_inputs_as_the_front_end_that_ran_it(InputSpelling spelling, string expected)
    {
        var missing = Path.Combine(_root, "no-such-backup");
        var record = await DrillRunner.RunAsync(new DrillOptions
        {
            DiscoverBackup = ct => LocalBackupCatalog.ReadBaseBackupAsync(missing, null, ct),
            Spelling = spelling,
            Objectives = new DrillObjectives { MaxDataAge = TimeSpan.FromMinutes(5) },
        }, null, CancellationToken.None);

        Assert.Equal(DrillVerdict.Error, record.Verdict);
        Assert.EndsWith(expected, record.FailureMessage);
        var dataAge = Assert.Single(record.Objectives).Message;
        Assert.Contains(spelling == InputSpelling.Cli ? "drop --max-data-age" : "drop -MaxDataAge", dataAge);
    }
}
