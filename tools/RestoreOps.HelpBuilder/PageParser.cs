using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace RestoreOps.HelpBuilder;

/// <summary>
/// Reads one cmdlet page in the platyPS 2.0 Markdown schema. Strict: every section the schema names must be
/// there, every parameter section needs a complete yaml block, and the SYNTAX blocks must agree with the
/// yaml blocks. Every problem found is reported with the file and section it is in.
/// </summary>
internal static partial class PageParser
{
    public const string AllSets = "(All)";

    /// <summary>The level-2 sections of a page, in the recommended order; all are required.</summary>
    public static readonly IReadOnlyList<string> Sections =
        ["SYNOPSIS", "SYNTAX", "DESCRIPTION", "EXAMPLES", "PARAMETERS", "INPUTS", "OUTPUTS", "NOTES", "RELATED LINKS"];

    private static readonly string[] HeaderKeys = ["external help file", "Module Name", "online version", "schema"];

    private static readonly string[] YamlKeys =
        ["Type", "Parameter Sets", "Aliases", "Accepted values", "Required", "Position", "Default value", "Accept pipeline input", "Accept wildcard characters"];

    private static readonly string[] RequiredYamlKeys =
        ["Type", "Parameter Sets", "Aliases", "Required", "Position", "Default value", "Accept pipeline input", "Accept wildcard characters"];

    /// <summary>Parses <paramref name="path"/>; returns null and adds to <paramref name="problems"/> when the page does not follow the schema.</summary>
    /// <param name="path">The page.</param>
    /// <param name="displayPath">How messages name the file.</param>
    /// <param name="helpFileName">The MAML file the header's "external help file" must name.</param>
    /// <param name="problems">Where problems are collected.</param>
    public static HelpPage? Parse(string path, string displayPath, string helpFileName, List<PageException> problems)
    {
        var before = problems.Count;
        void Fail(string section, string message) => problems.Add(new PageException(displayPath, section, message));

        var lines = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var i = 0;

        // ---- YAML header
        var header = new Dictionary<string, string>(StringComparer.Ordinal);
        if (lines.Length == 0 || lines[0].Trim() != "---")
        {
            Fail("YAML header", "the page must start with a '---' line opening the YAML header (external help file, Module Name, online version, schema)");
        }
        else
        {
            var end = Array.FindIndex(lines, 1, l => l.Trim() == "---");
            if (end < 0)
            {
                Fail("YAML header", "the header opened by '---' is never closed by a second '---' line");
                end = lines.Length - 1;
            }
            for (var h = 1; h < end; h++)
            {
                if (lines[h].Trim().Length == 0) continue;
                var colon = lines[h].IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0)
                {
                    Fail("YAML header", $"line {h + 1} is not 'key: value': '{lines[h].Trim()}'");
                    continue;
                }
                header[lines[h][..colon].Trim()] = lines[h][(colon + 1)..].Trim();
            }
            foreach (var key in HeaderKeys.Where(k => !header.ContainsKey(k)))
                Fail("YAML header", $"missing key '{key}'");
            if (header.TryGetValue("schema", out var schema) && schema != "2.0.0")
                Fail("YAML header", $"'schema: {schema}': this builder reads platyPS schema 2.0.0");
            if (header.TryGetValue("external help file", out var helpFile) && !string.Equals(helpFile, helpFileName, StringComparison.Ordinal))
                Fail("YAML header", $"'external help file: {helpFile}' must be '{helpFileName}', the file this page is built into");
            if (header.TryGetValue("Module Name", out var module) && module.Length == 0)
                Fail("YAML header", "'Module Name' is empty");
            i = end + 1;
        }

        // ---- H1 and level-2 sections (headings inside code fences do not count)
        string? name = null;
        var sections = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        List<string>? current = null;
        var fenced = false;
        for (; i < lines.Length; i++)
        {
            var line = lines[i];
            if (IsFence(line)) fenced = !fenced;
            if (!fenced && line.StartsWith("# ", StringComparison.Ordinal))
            {
                if (name is not null) Fail("# name", $"a second level-1 heading '{line}'; a page documents one command");
                else name = line[2..].Trim();
                current = null;
                continue;
            }
            if (!fenced && line.StartsWith("## ", StringComparison.Ordinal))
            {
                var title = line[3..].Trim();
                if (!Sections.Contains(title, StringComparer.Ordinal))
                {
                    Fail($"## {title}", $"unknown section (expected: {string.Join(", ", Sections.Select(s => "## " + s))})");
                    current = []; // read and dropped
                }
                else if (sections.ContainsKey(title))
                {
                    Fail($"## {title}", "the section appears twice");
                    current = [];
                }
                else
                {
                    sections[title] = current = [];
                }
                continue;
            }
            if (current is not null) current.Add(line);
            else if (line.Trim().Length > 0 && name is not null && !fenced && !IsFence(line))
                Fail("# name", $"text between the name and the first section: '{line.Trim()}'");
        }
        if (fenced) Fail("page", "a code block is opened with ``` and never closed");

        var fileStem = Path.GetFileNameWithoutExtension(path);
        if (name is null)
            Fail("# name", "missing the level-1 heading with the command name ('# Verb-Noun')");
        else if (!string.Equals(name, fileStem, StringComparison.Ordinal))
            Fail("# name", $"the heading names '{name}' but the file is {fileStem}.md; name the file after the command");
        if (name is not null && !VerbNoun().IsMatch(name))
            Fail("# name", $"'{name}' is not a Verb-Noun command name");

        foreach (var s in Sections.Where(s => !sections.ContainsKey(s)))
            Fail($"## {s}", "missing section");

        List<string> Section(string s) => sections.TryGetValue(s, out var body) ? body : [];

        // ---- SYNOPSIS, DESCRIPTION, NOTES
        var synopsis = Paragraphs(Section("SYNOPSIS"));
        if (sections.ContainsKey("SYNOPSIS") && synopsis.Count == 0) Fail("## SYNOPSIS", "the section is empty");
        var description = Paragraphs(Section("DESCRIPTION"));
        if (sections.ContainsKey("DESCRIPTION") && description.Count == 0) Fail("## DESCRIPTION", "the section is empty");
        var notes = Paragraphs(Section("NOTES"));
        if (sections.ContainsKey("NOTES") && notes.Count == 0) Fail("## NOTES", "the section is empty");

        // ---- SYNTAX
        var syntax = new List<SyntaxBlock>();
        if (sections.ContainsKey("SYNTAX")) syntax = ReadSyntax(Section("SYNTAX"), name ?? fileStem, Fail);

        // ---- EXAMPLES
        var examples = new List<Example>();
        if (sections.ContainsKey("EXAMPLES"))
        {
            var (pre, subs) = Subsections(Section("EXAMPLES"));
            if (Paragraphs(pre).Count > 0) Fail("## EXAMPLES", "text before the first example; put it in an example or in DESCRIPTION");
            if (subs.Count == 0) Fail("## EXAMPLES", "no examples: add at least one '### Example 1: ...' with a ```powershell code block");
            foreach (var (title, body) in subs)
            {
                var fence = body.FindIndex(IsFence);
                if (fence < 0)
                {
                    Fail($"## EXAMPLES / ### {title}", "the example has no ```powershell code block");
                    continue;
                }
                var close = body.FindIndex(fence + 1, IsFence);
                if (close < 0) close = body.Count;
                var code = string.Join("\n", body.Skip(fence + 1).Take(close - fence - 1)).Trim('\n');
                if (code.Trim().Length == 0) Fail($"## EXAMPLES / ### {title}", "the example's code block is empty");
                var remarks = Paragraphs(body.Take(fence).ToList()).Concat(Paragraphs(body.Skip(close + 1).ToList())).ToList();
                examples.Add(new Example(title, code, remarks));
            }
        }

        // ---- PARAMETERS
        var parameters = new List<Parameter>();
        if (sections.ContainsKey("PARAMETERS"))
            parameters = ReadParameters(Section("PARAMETERS"), syntax, Fail);

        // ---- SYNTAX against PARAMETERS
        if (syntax.Count > 0 && sections.ContainsKey("PARAMETERS")) CrossCheck(syntax, parameters, Fail);

        // ---- INPUTS, OUTPUTS
        var inputs = sections.ContainsKey("INPUTS") ? ReadTypes("INPUTS", Section("INPUTS"), Fail) : [];
        var outputs = sections.ContainsKey("OUTPUTS") ? ReadTypes("OUTPUTS", Section("OUTPUTS"), Fail) : [];

        // ---- RELATED LINKS
        var links = new List<Link>();
        foreach (var raw in Section("RELATED LINKS"))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            var m = LinkLine().Match(line);
            if (!m.Success)
            {
                Fail("## RELATED LINKS", $"'{line}' is not a link line '[text](url)'");
                continue;
            }
            links.Add(new Link(m.Groups[1].Value.Trim(), m.Groups[2].Value.Trim()));
        }

        if (problems.Count > before || name is null) return null;
        return new HelpPage
        {
            File = displayPath,
            Name = name,
            Header = header,
            Synopsis = synopsis,
            Description = description,
            Syntax = syntax,
            Examples = examples,
            Parameters = parameters,
            Inputs = inputs,
            Outputs = outputs,
            Notes = notes,
            Links = links,
        };
    }

    // ---- SYNTAX ------------------------------------------------------------------------------------------

    private static List<SyntaxBlock> ReadSyntax(List<string> body, string command, Action<string, string> fail)
    {
        var blocks = new List<SyntaxBlock>();
        var (pre, subs) = Subsections(body);
        if (subs.Count == 0)
        {
            var codes = CodeBlocks(pre);
            if (codes.Count != 1)
            {
                fail("## SYNTAX", codes.Count == 0
                    ? "no syntax block: add a ``` block with the command's syntax (or one '### SetName' block per parameter set)"
                    : "several syntax blocks without '### SetName' headings: name each parameter set");
                return blocks;
            }
            if (Read(null, false, codes[0]) is { } only) blocks.Add(only);
            return blocks;
        }
        if (Paragraphs(pre).Count > 0 || CodeBlocks(pre).Count > 0)
            fail("## SYNTAX", "text before the first '### SetName' heading; with parameter sets every syntax block goes under its set's heading");
        foreach (var (title, lines) in subs)
        {
            var isDefault = title.EndsWith("(Default)", StringComparison.Ordinal);
            var set = isDefault ? title[..^"(Default)".Length].Trim() : title.Trim();
            if (!SetName().IsMatch(set))
            {
                fail($"## SYNTAX / ### {title}", $"'{set}' is not a parameter set name");
                continue;
            }
            if (blocks.Any(b => b.SetName == set))
            {
                fail($"## SYNTAX / ### {title}", "the parameter set appears twice");
                continue;
            }
            var codes = CodeBlocks(lines);
            if (codes.Count != 1)
            {
                fail($"## SYNTAX / ### {title}", "each parameter set needs exactly one ``` syntax block");
                continue;
            }
            if (Read(set, isDefault, codes[0]) is { } block) blocks.Add(block);
        }
        if (blocks.Count(b => b.IsDefault) > 1) fail("## SYNTAX", "more than one parameter set is marked (Default)");
        return blocks;

        SyntaxBlock? Read(string? set, bool isDefault, string code)
        {
            var where = set is null ? "## SYNTAX" : $"## SYNTAX / ### {set}";
            var text = Regex.Replace(code, @"\s+", " ").Trim();
            if (!text.StartsWith(command + " ", StringComparison.Ordinal) && text != command)
            {
                fail(where, $"the syntax must start with the command name '{command}'");
                return null;
            }
            var rest = text[command.Length..];
            var parameters = new List<SyntaxParameter>();
            var common = false;
            var pos = 0;
            while (pos < rest.Length)
            {
                if (rest[pos] == ' ') { pos++; continue; }
                var m = SyntaxToken().Match(rest, pos);
                if (!m.Success || m.Index != pos)
                {
                    fail(where, $"cannot read the syntax at '{rest[pos..Math.Min(rest.Length, pos + 40)]}' (expected forms: -Name <Type>, [-Name <Type>], [-Name] <Type>, [[-Name] <Type>], -Switch, [-Switch], [<CommonParameters>])");
                    return null;
                }
                pos += m.Length;
                if (m.Groups["common"].Success) { common = true; continue; }
                if (common)
                {
                    fail(where, "[<CommonParameters>] must come last");
                    return null;
                }
                SyntaxParameter p =
                    m.Groups["optpos"].Success ? new(m.Groups["optpos"].Value, false, true, m.Groups["optpost"].Value) :
                    m.Groups["reqpos"].Success ? new(m.Groups["reqpos"].Value, true, true, m.Groups["reqpost"].Value) :
                    m.Groups["optnamed"].Success ? new(m.Groups["optnamed"].Value, false, false, m.Groups["optnamedt"].Value) :
                    m.Groups["optswitch"].Success ? new(m.Groups["optswitch"].Value, false, false, null) :
                    m.Groups["reqnamed"].Success ? new(m.Groups["reqnamed"].Value, true, false, m.Groups["reqnamedt"].Value) :
                    new(m.Groups["reqswitch"].Value, true, false, null);
                if (parameters.Any(x => string.Equals(x.Name, p.Name, StringComparison.OrdinalIgnoreCase)))
                {
                    fail(where, $"-{p.Name} is listed twice");
                    return null;
                }
                parameters.Add(p);
            }
            if (!common) fail(where, "the syntax must end with [<CommonParameters>]");
            return new SyntaxBlock(set, isDefault, code, parameters);
        }
    }

    // ---- PARAMETERS --------------------------------------------------------------------------------------

    private static List<Parameter> ReadParameters(List<string> body, List<SyntaxBlock> syntax, Action<string, string> fail)
    {
        var result = new List<Parameter>();
        var (pre, subs) = Subsections(body);
        if (Paragraphs(pre).Count > 0) fail("## PARAMETERS", "text before the first '### -Name' heading");
        var sawCommon = false;
        var setNames = syntax.Where(b => b.SetName is not null).Select(b => b.SetName!).ToList();
        foreach (var (title, lines) in subs)
        {
            if (title is "CommonParameters" or "<CommonParameters>")
            {
                sawCommon = true;
                continue;
            }
            var where = $"## PARAMETERS / ### {title}";
            if (!title.StartsWith('-') || !Identifier().IsMatch(title[1..]))
            {
                fail(where, "a parameter heading must be '### -Name' (or '### CommonParameters')");
                continue;
            }
            var name = title[1..];
            if (result.Any(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                fail(where, "the parameter is documented twice");
                continue;
            }
            var firstYaml = lines.FindIndex(l => IsFence(l) && l.Trim().TrimStart('`').Trim() == "yaml");
            var description = Paragraphs(firstYaml < 0 ? lines : lines.Take(firstYaml).ToList());
            if (description.Count == 0) fail(where, "the parameter has no description");
            var metadata = new List<ParameterMetadata>();
            var yamlBlocks = CodeBlocks(lines, "yaml");
            if (yamlBlocks.Count == 0)
            {
                fail(where, "the parameter has no ```yaml block (Type, Parameter Sets, Aliases, Required, Position, Default value, Accept pipeline input, Accept wildcard characters)");
                continue;
            }
            foreach (var yaml in yamlBlocks)
                if (ReadYaml(yaml, where, setNames, fail) is { } m) metadata.Add(m);
            if (metadata.Count != yamlBlocks.Count) continue;
            if (metadata.Select(m => m.Type).Distinct().Count() > 1)
                fail(where, "the yaml blocks disagree on Type");
            if (metadata.Select(m => string.Join(",", m.Aliases)).Distinct().Count() > 1)
                fail(where, "the yaml blocks disagree on Aliases");
            if (metadata.Count > 1 && metadata.Any(m => m.AllSets))
                fail(where, "a block for (All) parameter sets cannot be combined with other blocks");
            var sets = metadata.SelectMany(m => m.Sets).ToList();
            if (sets.Count != sets.Distinct(StringComparer.Ordinal).Count())
                fail(where, "a parameter set is named in more than one yaml block");
            result.Add(new Parameter { Name = name, Description = description, Metadata = metadata });
        }
        if (!sawCommon) fail("## PARAMETERS", "missing '### CommonParameters' (every cmdlet supports the common parameters)");
        return result;
    }

    private static ParameterMetadata? ReadYaml(string yaml, string where, List<string> setNames, Action<string, string> fail)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var ok = true;
        foreach (var raw in yaml.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var key = colon > 0 ? line[..colon].Trim() : line;
            if (colon <= 0 || !YamlKeys.Contains(key, StringComparer.Ordinal))
            {
                fail(where, $"unknown yaml line '{line}' (expected keys: {string.Join(", ", YamlKeys)})");
                ok = false;
                continue;
            }
            if (!values.TryAdd(key, line[(colon + 1)..].Trim()))
            {
                fail(where, $"yaml key '{key}' appears twice");
                ok = false;
            }
        }
        foreach (var key in RequiredYamlKeys.Where(k => !values.ContainsKey(k)))
        {
            fail(where, $"the yaml block is missing '{key}:'");
            ok = false;
        }
        if (!ok) return null;

        var type = values["Type"];
        if (type.Length == 0) { fail(where, "'Type:' is empty"); ok = false; }

        var setsText = values["Parameter Sets"];
        var all = setsText == AllSets;
        var sets = all ? [] : List(setsText);
        if (!all && sets.Count == 0) { fail(where, "'Parameter Sets:' is empty; write (All) or the set names"); ok = false; }
        foreach (var s in sets.Where(s => !setNames.Contains(s, StringComparer.Ordinal)))
        {
            fail(where, setNames.Count == 0
                ? $"'Parameter Sets: {setsText}': the SYNTAX section shows a single set, so write (All)"
                : $"parameter set '{s}' is not one of the SYNTAX section's sets ({string.Join(", ", setNames)})");
            ok = false;
        }

        bool? Bool(string key)
        {
            var v = values[key];
            if (v.Equals("True", StringComparison.OrdinalIgnoreCase)) return true;
            if (v.Equals("False", StringComparison.OrdinalIgnoreCase)) return false;
            fail(where, $"'{key}: {v}' must be True or False");
            return null;
        }

        var required = Bool("Required");
        var wildcards = Bool("Accept wildcard characters");
        int? position = null;
        var positionText = values["Position"];
        if (!positionText.Equals("Named", StringComparison.OrdinalIgnoreCase))
        {
            if (int.TryParse(positionText, NumberStyles.None, CultureInfo.InvariantCulture, out var p)) position = p;
            else { fail(where, $"'Position: {positionText}' must be Named or a number (0 for the first position)"); ok = false; }
        }

        bool byValue = false, byName = false;
        var pipeline = values["Accept pipeline input"];
        var pm = PipelineInput().Match(pipeline);
        if (!pm.Success)
        {
            fail(where, $"'Accept pipeline input: {pipeline}' must be False or True (ByValue), True (ByPropertyName) or True (ByValue, ByPropertyName)");
            ok = false;
        }
        else if (pm.Groups["kinds"].Success)
        {
            foreach (var kind in List(pm.Groups["kinds"].Value))
            {
                if (kind == "ByValue") byValue = true;
                else if (kind == "ByPropertyName") byName = true;
                else { fail(where, $"'{kind}' in 'Accept pipeline input' is neither ByValue nor ByPropertyName"); ok = false; }
            }
        }

        if (!ok || required is null || wildcards is null) return null;
        return new ParameterMetadata(type, all, sets, List(values["Aliases"]), List(values.GetValueOrDefault("Accepted values") ?? ""),
            required.Value, position, values["Default value"], byValue, byName, wildcards.Value);
    }

    private static void CrossCheck(List<SyntaxBlock> syntax, List<Parameter> parameters, Action<string, string> fail)
    {
        foreach (var block in syntax)
        {
            var where = block.SetName is null ? "## SYNTAX" : $"## SYNTAX / ### {block.SetName}";
            foreach (var sp in block.Parameters)
            {
                var p = parameters.FirstOrDefault(x => string.Equals(x.Name, sp.Name, StringComparison.Ordinal));
                if (p is null)
                {
                    fail(where, $"-{sp.Name} has no '### -{sp.Name}' section under ## PARAMETERS");
                    continue;
                }
                var m = p.For(block.SetName);
                if (m is null)
                {
                    fail(where, $"-{sp.Name} is listed, but its yaml 'Parameter Sets' does not include {block.SetName ?? "this set"}");
                    continue;
                }
                if (m.Required != sp.Required)
                    fail(where, $"-{sp.Name} is shown as {(sp.Required ? "required" : "optional")} but its yaml says Required: {m.Required}");
                if ((m.Position is not null) != sp.Positional)
                    fail(where, $"-{sp.Name} is shown as {(sp.Positional ? "positional" : "named")} but its yaml says Position: {m.Position?.ToString(CultureInfo.InvariantCulture) ?? "Named"}");
                if (p.IsSwitch != (sp.ValueType is null))
                    fail(where, $"-{sp.Name} is shown {(sp.ValueType is null ? "without" : "with")} a value but its yaml says Type: {p.Type}");
                else if (sp.ValueType is not null && sp.ValueType != p.Type)
                    fail(where, $"-{sp.Name} is shown as <{sp.ValueType}> but its yaml says Type: {p.Type}");
            }
            foreach (var p in parameters.Where(p => p.For(block.SetName) is not null && !block.Parameters.Any(sp => sp.Name == p.Name)))
                fail(where, $"-{p.Name} belongs to {block.SetName ?? "the cmdlet's only set"} (yaml 'Parameter Sets') but the syntax block does not list it");
        }
    }

    // ---- INPUTS / OUTPUTS --------------------------------------------------------------------------------

    private static List<TypeEntry> ReadTypes(string section, List<string> body, Action<string, string> fail)
    {
        var (pre, subs) = Subsections(body);
        if (Paragraphs(pre).Count > 0) fail($"## {section}", "text before the first '### TypeName' heading");
        if (subs.Count == 0) fail($"## {section}", "no entries: add a '### TypeName' heading per type (or '### None')");
        return subs.Select(s => new TypeEntry(s.Title, Paragraphs(s.Lines))).ToList();
    }

    // ---- Markdown helpers ---------------------------------------------------------------------------------

    private static bool IsFence(string line) => line.TrimStart().StartsWith("```", StringComparison.Ordinal);

    /// <summary>Splits a section at its level-3 headings (outside code blocks).</summary>
    private static (List<string> Preamble, List<(string Title, List<string> Lines)> Subsections) Subsections(List<string> lines)
    {
        var pre = new List<string>();
        var subs = new List<(string, List<string>)>();
        List<string> current = pre;
        var fenced = false;
        foreach (var line in lines)
        {
            if (IsFence(line)) fenced = !fenced;
            if (!fenced && line.StartsWith("### ", StringComparison.Ordinal))
            {
                current = [];
                subs.Add((line[4..].Trim(), current));
                continue;
            }
            current.Add(line);
        }
        return (pre, subs);
    }

    /// <summary>The contents of the fenced code blocks in <paramref name="lines"/> (only those tagged <paramref name="language"/> when given).</summary>
    private static List<string> CodeBlocks(List<string> lines, string? language = null)
    {
        var blocks = new List<string>();
        StringBuilder? current = null;
        var take = false;
        foreach (var line in lines)
        {
            if (IsFence(line))
            {
                if (current is null)
                {
                    current = new StringBuilder();
                    take = language is null || line.Trim().TrimStart('`').Trim() == language;
                }
                else
                {
                    if (take) blocks.Add(current.ToString().TrimEnd('\n'));
                    current = null;
                }
                continue;
            }
            current?.Append(line).Append('\n');
        }
        return blocks;
    }

    /// <summary>
    /// Prose as paragraphs: blank lines separate them, wrapped lines are joined, list items start their own
    /// paragraph, code blocks become one paragraph each (lines kept), and Markdown links become their text.
    /// </summary>
    internal static List<string> Paragraphs(IReadOnlyList<string> lines)
    {
        var result = new List<string>();
        var text = new List<string>();
        List<string>? code = null;
        void Flush()
        {
            if (text.Count > 0) result.Add(Inline(string.Join(" ", text)));
            text.Clear();
        }
        foreach (var raw in lines)
        {
            if (IsFence(raw))
            {
                if (code is null) { Flush(); code = []; }
                else { if (code.Count > 0) result.Add(string.Join("\n", code)); code = null; }
                continue;
            }
            if (code is not null) { code.Add(raw); continue; }
            var line = raw.Trim();
            if (line.Length == 0) { Flush(); continue; }
            if (line.StartsWith("- ", StringComparison.Ordinal) || line.StartsWith("* ", StringComparison.Ordinal)) Flush();
            text.Add(line);
        }
        Flush();
        return result;
    }

    private static string Inline(string text) => MarkdownLink().Replace(text, m =>
        m.Groups[2].Value.StartsWith("http", StringComparison.OrdinalIgnoreCase) ? $"{m.Groups[1].Value} ({m.Groups[2].Value})" : m.Groups[1].Value);

    private static List<string> List(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();

    [GeneratedRegex(@"^[A-Z][A-Za-z]*-[A-Z][A-Za-z0-9]*$")]
    private static partial Regex VerbNoun();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex SetName();

    [GeneratedRegex(@"^\[(.+?)\]\((.*)\)$")]
    private static partial Regex LinkLine();

    [GeneratedRegex(@"\[([^\]]+)\]\(([^)\s]*)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"^(?:False|True \((?<kinds>[A-Za-z, ]+)\))$", RegexOptions.IgnoreCase)]
    private static partial Regex PipelineInput();

    [GeneratedRegex(@"\G(?:\[\[-(?<optpos>\w+)\] <(?<optpost>[^>]+)>\]|\[-(?<reqpos>\w+)\] <(?<reqpost>[^>]+)>|\[-(?<optnamed>\w+) <(?<optnamedt>[^>]+)>\]|\[-(?<optswitch>\w+)\]|-(?<reqnamed>\w+) <(?<reqnamedt>[^>]+)>|-(?<reqswitch>\w+)(?=\s|$)|(?<common>\[<CommonParameters>\]))")]
    private static partial Regex SyntaxToken();
}
