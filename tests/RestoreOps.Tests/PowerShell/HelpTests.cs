using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using RestoreOps.Tests.Fixtures;
using Xunit;

namespace RestoreOps.Tests.PowerShell;

/// <summary>
/// The cmdlet help (POWERSHELL.md §5): one platyPS page per cmdlet in docs/cmdlets/ whose parameter metadata says what
/// the compiled cmdlet classes say, read from the built module with MetadataLoadContext (the module's
/// System.Management.Automation is a reference stub that cannot be loaded for execution here), and the MAML that
/// tools/RestoreOps.HelpBuilder builds from those pages.
/// </summary>
[Collection(ModuleMetadataCollection.Name)]
public sealed partial class HelpTests(ModuleMetadata module, HelpTests.Builder builder) : IClassFixture<HelpTests.Builder>
{
    private const string AllSets = "__AllParameterSets";
    private const string MamlCommand = "http://schemas.microsoft.com/maml/dev/command/2004/10";
    private const string Maml = "http://schemas.microsoft.com/maml/2004/10";

    private static string DocsDirectory => Path.Combine(RepositoryPaths.Root, "docs", "cmdlets");

    // ---- (a) pages against the cmdlet classes ----------------------------------------------------------------

    [Fact]
    public void Every_cmdlet_has_a_page_and_every_page_a_cmdlet()
    {
        Assert.NotEmpty(module.Cmdlets);
        var cmdlets = module.Cmdlets.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var pages = PageFiles().Select(p => Path.GetFileNameWithoutExtension(p)!).ToHashSet(StringComparer.Ordinal);
        var missing = cmdlets.Except(pages).Order().ToList();
        var extra = pages.Except(cmdlets).Order().ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"Cmdlets without a docs/cmdlets/<Name>.md page: {Join(missing)}. Pages without a cmdlet: {Join(extra)}.");
    }

    [Fact]
    public void Every_parameter_is_documented_with_the_metadata_of_the_code()
    {
        var problems = new List<string>();
        foreach (var cmdlet in module.Cmdlets)
        {
            var file = PagePath(cmdlet.Name);
            if (!File.Exists(file)) continue; // reported by Every_cmdlet_has_a_page_and_every_page_a_cmdlet
            var page = Page.Read(file);
            var expected = Expected(cmdlet);
            var documented = page.Parameters.Keys.ToHashSet(StringComparer.Ordinal);

            foreach (var name in expected.Keys.Where(n => !documented.Contains(n)).Order())
                problems.Add($"{cmdlet.Name}: -{name} has no '### -{name}' section under ## PARAMETERS");
            foreach (var name in documented.Where(n => !expected.ContainsKey(n)).Order())
                problems.Add($"{cmdlet.Name}: '### -{name}' documents a parameter the cmdlet does not have");

            foreach (var (name, parameter) in expected)
            {
                if (!page.Parameters.TryGetValue(name, out var blocks)) continue;
                var where = $"{cmdlet.Name} -{name}";
                if (blocks.Count == 0)
                {
                    problems.Add($"{where}: no ```yaml block");
                    continue;
                }
                foreach (var block in blocks)
                {
                    foreach (var key in new[] { "Type", "Parameter Sets", "Aliases", "Required", "Position", "Default value", "Accept pipeline input", "Accept wildcard characters" })
                        if (!block.ContainsKey(key)) problems.Add($"{where}: the yaml block has no '{key}:'");
                    if (block.TryGetValue("Type", out var type) && type != parameter.Type)
                        problems.Add($"{where}: Type is '{type}', the code says '{parameter.Type}'");
                    if (block.TryGetValue("Aliases", out var aliases) && !List(aliases).Order().SequenceEqual(parameter.Aliases.Order()))
                        problems.Add($"{where}: Aliases are '{aliases}', the code says '{string.Join(", ", parameter.Aliases)}'");
                }

                // Per parameter set: the block that covers it must state that set's Required, Position and pipeline input.
                var covered = new HashSet<string>(StringComparer.Ordinal);
                foreach (var set in parameter.Sets)
                {
                    var label = set.Name == AllSets ? "(All)" : set.Name;
                    var block = blocks.FirstOrDefault(b => b.TryGetValue("Parameter Sets", out var sets) && SetsOf(sets).Contains(label));
                    if (block is null)
                    {
                        problems.Add($"{where}: no yaml block has 'Parameter Sets' {label} (the code declares it {(set.Name == AllSets ? "in every parameter set" : "in set " + set.Name)})");
                        continue;
                    }
                    covered.Add(label);
                    if (block.TryGetValue("Required", out var required) && !string.Equals(required, set.Mandatory.ToString(), StringComparison.OrdinalIgnoreCase))
                        problems.Add($"{where} [{label}]: Required is '{required}', the code says {set.Mandatory}");
                    var position = set.Position is { } p ? p.ToString(System.Globalization.CultureInfo.InvariantCulture) : "Named";
                    if (block.TryGetValue("Position", out var documentedPosition) && !string.Equals(documentedPosition, position, StringComparison.OrdinalIgnoreCase))
                        problems.Add($"{where} [{label}]: Position is '{documentedPosition}', the code says {position}");
                    if (block.TryGetValue("Accept pipeline input", out var pipeline))
                    {
                        var (byValue, byName) = Pipeline(pipeline);
                        if (byValue != set.ByValue || byName != set.ByPropertyName)
                            problems.Add($"{where} [{label}]: Accept pipeline input is '{pipeline}', the code says {PipelineText(set.ByValue, set.ByPropertyName)}");
                    }
                }
                var declared = blocks.SelectMany(b => b.TryGetValue("Parameter Sets", out var s) ? SetsOf(s) : []).ToList();
                foreach (var extra in declared.Where(s => !covered.Contains(s)).Distinct())
                    problems.Add($"{where}: 'Parameter Sets' names {extra}, which the code does not declare for this parameter");
            }
        }
        Assert.True(problems.Count == 0, "The cmdlet pages disagree with the code:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void Every_page_shows_the_cmdlets_parameter_sets()
    {
        var problems = new List<string>();
        foreach (var cmdlet in module.Cmdlets)
        {
            var file = PagePath(cmdlet.Name);
            if (!File.Exists(file)) continue;
            var page = Page.Read(file);
            var named = cmdlet.Parameters.SelectMany(p => p.Attributes).Select(a => Named<string>(a, "ParameterSetName"))
                .OfType<string>().Where(s => s != AllSets).Distinct().Order().ToList();
            var shown = page.SyntaxSets.Select(s => s.Name).OfType<string>().Order().ToList();
            if (named.Count == 0)
            {
                if (page.SyntaxSets.Count != 1 || page.SyntaxSets[0].Name is not null)
                    problems.Add($"{cmdlet.Name}: one parameter set, so ## SYNTAX should be one ``` block without a '### Set' heading");
                continue;
            }
            if (!named.SequenceEqual(shown))
                problems.Add($"{cmdlet.Name}: ## SYNTAX shows sets {Join(shown)}, the code declares {Join(named)}");
            var defaultSet = cmdlet.Named<string>("DefaultParameterSetName");
            var markedDefault = page.SyntaxSets.Where(s => s.IsDefault).Select(s => s.Name).ToList();
            if (defaultSet is not null && !markedDefault.SequenceEqual([defaultSet]))
                problems.Add($"{cmdlet.Name}: the default set is {defaultSet}; mark it '### {defaultSet} (Default)' (marked: {Join(markedDefault.OfType<string>())})");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_page_has_the_schema_sections_and_at_least_two_examples()
    {
        var problems = new List<string>();
        foreach (var file in PageFiles())
        {
            var page = Page.Read(file);
            var name = Path.GetFileName(file);
            foreach (var key in new[] { "external help file", "Module Name", "online version", "schema" })
                if (!page.Header.ContainsKey(key)) problems.Add($"{name}: the YAML header has no '{key}:'");
            if (page.Header.GetValueOrDefault("external help file") != "RestoreOps.PowerShell.dll-Help.xml")
                problems.Add($"{name}: 'external help file' must be RestoreOps.PowerShell.dll-Help.xml");
            if (page.Header.GetValueOrDefault("Module Name") != "RestoreOps") problems.Add($"{name}: 'Module Name' must be RestoreOps");
            if (page.Header.GetValueOrDefault("schema") != "2.0.0") problems.Add($"{name}: 'schema' must be 2.0.0");
            if (page.Title != Path.GetFileNameWithoutExtension(file)) problems.Add($"{name}: the H1 is '{page.Title}'");
            foreach (var section in new[] { "SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS" })
                if (!page.Sections.Contains(section)) problems.Add($"{name}: no '## {section}'");
            if (!page.HasCommonParameters) problems.Add($"{name}: no '### CommonParameters' under ## PARAMETERS");
            if (page.Examples.Count < 2) problems.Add($"{name}: {page.Examples.Count} example(s); write at least two runbook steps");
            foreach (var (title, hasCode) in page.Examples)
                if (!hasCode) problems.Add($"{name}: example '{title}' has no ```powershell block");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void The_index_links_every_page()
    {
        var index = File.ReadAllText(Path.Combine(DocsDirectory, "README.md"));
        var unlinked = PageFiles().Select(Path.GetFileName).Where(f => !index.Contains($"]({f})", StringComparison.Ordinal)).ToList();
        Assert.True(unlinked.Count == 0, $"docs/cmdlets/README.md does not link {Join(unlinked!)}.");
    }

    // ---- (b) the MAML the builder makes ------------------------------------------------------------------------

    [Fact]
    public void The_builder_turns_the_pages_into_well_formed_maml_with_one_command_per_cmdlet()
    {
        var output = Path.Combine(builder.Scratch, "real", "RestoreOps.PowerShell.dll-Help.xml");
        var run = builder.Run(DocsDirectory, output);
        Assert.True(run.ExitCode == 0, $"The help builder failed ({run.ExitCode}):\n{run.Output}");

        // Well-formed: XmlReader refuses anything that is not (undeclared prefixes included).
        XDocument doc;
        using (var reader = XmlReader.Create(output, new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit }))
            doc = XDocument.Load(reader);
        Assert.Equal(XName.Get("helpItems", "http://msh"), doc.Root!.Name);
        Assert.Equal("maml", (string?)doc.Root.Attribute("schema"));

        var commands = doc.Root.Elements(XName.Get("command", MamlCommand)).ToList();
        var names = commands.Select(c => c.Element(XName.Get("details", MamlCommand))!.Element(XName.Get("name", MamlCommand))!.Value).ToList();
        Assert.Equal(module.Cmdlets.Select(c => c.Name).Order(), names.Order());

        foreach (var command in commands)
        {
            var name = command.Element(XName.Get("details", MamlCommand))!.Element(XName.Get("name", MamlCommand))!.Value;
            var page = Page.Read(PagePath(name));
            var details = command.Element(XName.Get("details", MamlCommand))!;
            Assert.Equal(name.Split('-')[0], details.Element(XName.Get("verb", MamlCommand))!.Value);
            Assert.Equal(name[(name.IndexOf('-') + 1)..], details.Element(XName.Get("noun", MamlCommand))!.Value);
            Assert.NotEmpty(details.Element(XName.Get("description", Maml))!.Elements(XName.Get("para", Maml)));

            // One parameter per documented parameter, by name.
            var parameters = command.Element(XName.Get("parameters", MamlCommand))!.Elements(XName.Get("parameter", MamlCommand))
                .Select(p => p.Element(XName.Get("name", Maml))!.Value).Order().ToList();
            Assert.Equal(page.Parameters.Keys.Order(), parameters);

            // One syntax item per parameter set the page shows.
            Assert.Equal(page.SyntaxSets.Count, command.Element(XName.Get("syntax", MamlCommand))!.Elements(XName.Get("syntaxItem", MamlCommand)).Count());
            Assert.Equal(page.Examples.Count, command.Element(XName.Get("examples", MamlCommand))!.Elements(XName.Get("example", MamlCommand)).Count());
            foreach (var required in new[] { XName.Get("inputTypes", MamlCommand), XName.Get("returnValues", MamlCommand), XName.Get("alertSet", Maml), XName.Get("relatedLinks", Maml) })
                Assert.NotNull(command.Element(required));
        }
    }

    [Fact]
    public void The_builder_fails_naming_the_file_when_a_page_has_no_synopsis()
    {
        var docs = Path.Combine(builder.Scratch, "broken-docs");
        Directory.CreateDirectory(docs);
        foreach (var file in Directory.GetFiles(DocsDirectory, "*.md")) File.Copy(file, Path.Combine(docs, Path.GetFileName(file)), overwrite: true);
        var victim = Path.Combine(docs, "Get-LocalBackup.md");
        var text = File.ReadAllText(victim);
        var withoutSynopsis = SynopsisSection().Replace(text, "", 1);
        Assert.NotEqual(text, withoutSynopsis);
        File.WriteAllText(victim, withoutSynopsis);

        var output = Path.Combine(builder.Scratch, "broken", "RestoreOps.PowerShell.dll-Help.xml");
        var run = builder.Run(docs, output);

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("Get-LocalBackup.md", run.Output, StringComparison.Ordinal);
        Assert.Contains("SYNOPSIS", run.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(output), "nothing may be written when a page is broken");
    }

    // ---- the code's side ----------------------------------------------------------------------------------------

    private sealed record SetMetadata(string Name, bool Mandatory, int? Position, bool ByValue, bool ByPropertyName);

    private sealed record ExpectedParameter(string Type, IReadOnlyList<string> Aliases, IReadOnlyList<SetMetadata> Sets);

    /// <summary>Every parameter PowerShell will bind for <paramref name="cmdlet"/>: [Parameter] properties (inherited ones included) plus WhatIf/Confirm for ShouldProcess.</summary>
    private static Dictionary<string, ExpectedParameter> Expected(CmdletInfo cmdlet)
    {
        var result = new Dictionary<string, ExpectedParameter>(StringComparer.Ordinal);
        foreach (var p in cmdlet.Parameters)
        {
            var sets = p.Attributes.Select(a => new SetMetadata(
                Named<string>(a, "ParameterSetName") ?? AllSets,
                Named<bool>(a, "Mandatory"),
                a.NamedArguments.Any(n => n.MemberName == "Position") && Named<int>(a, "Position") is var pos && pos != int.MinValue ? (int?)pos : null,
                Named<bool>(a, "ValueFromPipeline"),
                Named<bool>(a, "ValueFromPipelineByPropertyName"))).ToList();
            result[p.Name] = new ExpectedParameter(TypeName(p.Type), p.Aliases, sets);
        }
        if (cmdlet.SupportsShouldProcess)
        {
            result["WhatIf"] = new ExpectedParameter("SwitchParameter", ["wi"], [new SetMetadata(AllSets, false, null, false, false)]);
            result["Confirm"] = new ExpectedParameter("SwitchParameter", ["cf"], [new SetMetadata(AllSets, false, null, false, false)]);
        }
        return result;
    }

    private static T? Named<T>(CustomAttributeData attribute, string name) =>
        attribute.NamedArguments.Where(n => n.MemberName == name).Select(n => n.TypedValue.Value).OfType<T>().FirstOrDefault();

    /// <summary>A type as the pages write it: the short name, T[] for arrays, Nullable[T] for nullable value types.</summary>
    private static string TypeName(Type type)
    {
        if (type.IsArray) return TypeName(type.GetElementType()!) + "[]";
        if (type.IsConstructedGenericType && type.GetGenericTypeDefinition().FullName == "System.Nullable`1")
            return $"Nullable[{TypeName(type.GetGenericArguments()[0])}]";
        return type.Name;
    }

    // ---- the pages' side ---------------------------------------------------------------------------------------

    private static IEnumerable<string> PageFiles() =>
        Directory.GetFiles(DocsDirectory, "*.md").Where(f => Path.GetFileName(f) != "README.md").Order(StringComparer.Ordinal);

    private static string PagePath(string cmdlet) => Path.Combine(DocsDirectory, cmdlet + ".md");

    private static List<string> List(string text) => text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    private static List<string> SetsOf(string text) => text.Trim() == "(All)" ? ["(All)"] : List(text);

    private static (bool ByValue, bool ByPropertyName) Pipeline(string text)
    {
        if (text.Equals("False", StringComparison.OrdinalIgnoreCase)) return (false, false);
        var m = PipelineText().Match(text);
        if (!m.Success) return (false, false);
        var kinds = List(m.Groups[1].Value);
        return (kinds.Contains("ByValue"), kinds.Contains("ByPropertyName"));
    }

    private static string PipelineText(bool byValue, bool byName) =>
        !byValue && !byName ? "False" : $"True ({string.Join(", ", new[] { byValue ? "ByValue" : null, byName ? "ByPropertyName" : null }.OfType<string>())})";

    private static string Join(IEnumerable<string> items) => items.Any() ? string.Join(", ", items) : "(none)";

    [GeneratedRegex(@"^True \(([A-Za-z, ]+)\)$", RegexOptions.IgnoreCase)]
    private static partial Regex PipelineText();

    [GeneratedRegex(@"^## SYNOPSIS\n(?:(?!## ).*\n)*", RegexOptions.Multiline)]
    private static partial Regex SynopsisSection();

    /// <summary>A page read just far enough to compare it with the code: independent of the builder's own parser.</summary>
    private sealed class Page
    {
        public Dictionary<string, string> Header { get; } = new(StringComparer.Ordinal);
        public string? Title { get; private set; }
        public HashSet<string> Sections { get; } = new(StringComparer.Ordinal);
        public List<(string? Name, bool IsDefault)> SyntaxSets { get; } = [];
        public List<(string Title, bool HasCode)> Examples { get; } = [];
        /// <summary>Parameter name → its yaml blocks (key → value).</summary>
        public Dictionary<string, List<Dictionary<string, string>>> Parameters { get; } = new(StringComparer.Ordinal);
        public bool HasCommonParameters { get; private set; }

        public static Page Read(string path)
        {
            var page = new Page();
            var lines = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
            var i = 0;
            if (lines[0] == "---")
            {
                for (i = 1; i < lines.Length && lines[i] != "---"; i++)
                {
                    var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
                    if (colon > 0) page.Header[lines[i][..colon].Trim()] = lines[i][(colon + 1)..].Trim();
                }
                i++;
            }
            string? section = null, sub = null;
            var fenced = false;
            var syntaxBlocks = 0;
            StringBuilder? yaml = null;
            for (; i < lines.Length; i++)
            {
                var line = lines[i];
                if (line.StartsWith("```", StringComparison.Ordinal))
                {
                    if (!fenced)
                    {
                        fenced = true;
                        var language = line[3..].Trim();
                        if (section == "PARAMETERS" && sub is not null && language == "yaml") yaml = new StringBuilder();
                        if (section == "EXAMPLES" && sub is not null && language == "powershell")
                            page.Examples[^1] = (page.Examples[^1].Title, true);
                        if (section == "SYNTAX" && sub is null) syntaxBlocks++;
                    }
                    else
                    {
                        fenced = false;
                        if (yaml is not null)
                        {
                            page.Parameters[sub!].Add(Yaml(yaml.ToString()));
                            yaml = null;
                        }
                    }
                    continue;
                }
                if (fenced)
                {
                    yaml?.Append(line).Append('\n');
                    continue;
                }
                if (line.StartsWith("# ", StringComparison.Ordinal)) page.Title = line[2..].Trim();
                else if (line.StartsWith("## ", StringComparison.Ordinal))
                {
                    section = line[3..].Trim();
                    sub = null;
                    page.Sections.Add(section);
                }
                else if (line.StartsWith("### ", StringComparison.Ordinal))
                {
                    var title = line[4..].Trim();
                    sub = null;
                    switch (section)
                    {
                        case "SYNTAX":
                            var isDefault = title.EndsWith("(Default)", StringComparison.Ordinal);
                            page.SyntaxSets.Add((isDefault ? title[..^"(Default)".Length].Trim() : title, isDefault));
                            break;
                        case "EXAMPLES":
                            page.Examples.Add((title, false));
                            sub = title;
                            break;
                        case "PARAMETERS" when title.StartsWith('-'):
                            sub = title[1..];
                            page.Parameters[sub] = [];
                            break;
                        case "PARAMETERS" when title == "CommonParameters":
                            page.HasCommonParameters = true;
                            break;
                    }
                }
            }
            if (page.SyntaxSets.Count == 0 && syntaxBlocks == 1) page.SyntaxSets.Add((null, true));
            return page;
        }

        private static Dictionary<string, string> Yaml(string text)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var line in text.Split('\n'))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0) values[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
            return values;
        }
    }

    // ---- running the builder -----------------------------------------------------------------------------------

    /// <summary>tools/RestoreOps.HelpBuilder built once for these tests into a private folder, and run as the package scripts run it.</summary>
    public sealed class Builder : IDisposable
    {
        public Builder()
        {
            Scratch = Directory.CreateTempSubdirectory("restoreops-help-").FullName;
            var configuration = typeof(Builder).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration is { Length: > 0 } c ? c : "Debug";
            var output = Path.Combine(Scratch, "builder");
            var project = Path.Combine(RepositoryPaths.Root, "tools", "RestoreOps.HelpBuilder", "RestoreOps.HelpBuilder.csproj");
            var build = Execute(["build", project, "-c", configuration, "-o", output, "--nologo", "--verbosity", "quiet"], TimeSpan.FromMinutes(5));
            if (build.ExitCode != 0) throw new InvalidOperationException($"dotnet build tools/RestoreOps.HelpBuilder failed ({build.ExitCode}):\n{build.Output}");
            BuilderPath = Path.Combine(output, "RestoreOps.HelpBuilder.dll");
        }

        public string Scratch { get; }

        public string BuilderPath { get; }

        public (int ExitCode, string Output) Run(string docs, string output) =>
            Execute([BuilderPath, "--docs", docs, "--out", output], TimeSpan.FromMinutes(1));

        public void Dispose()
        {
            try { Directory.Delete(Scratch, recursive: true); }
            catch (IOException) { /* a temp folder; swept eventually */ }
        }

        private static (int ExitCode, string Output) Execute(IEnumerable<string> arguments, TimeSpan timeout)
        {
            var start = new ProcessStartInfo("dotnet", arguments)
            {
                WorkingDirectory = RepositoryPaths.Root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"dotnet {string.Join(" ", arguments)} took more than {timeout}.");
            }
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }
}
