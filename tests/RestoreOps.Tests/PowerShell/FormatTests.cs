using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using RestoreOps.Tests.Fixtures;
using Xunit;

namespace RestoreOps.Tests.PowerShell;

/// <summary>
/// module/RestoreOps/RestoreOps.Format.ps1xml and RestoreOps.Types.ps1xml, checked without a PowerShell host
/// (POWERSHELL.md §5): PowerShell would only report a mistake in them at Import-Module (bad element, duplicate member)
/// or, worse, show an empty column (a property name that does not exist). So: the elements are the ones PowerShell's
/// loaders know, every type is a real RestoreOps.Model type, every property a view or a script reads exists, every
/// cmdlet output has a default table view, and no computed property collides with a .NET member or a parameter that
/// binds by property name.
/// </summary>
[Collection(ModuleMetadataCollection.Name)]
public sealed partial class FormatTests(ModuleMetadata module)
{
    private const BindingFlags Instance = BindingFlags.Public | BindingFlags.Instance;

    private static readonly string ModuleSource = Path.Combine(RepositoryPaths.Root, "module", "RestoreOps");
    private static readonly Assembly Model = typeof(global::RestoreOps.Model.Backup).Assembly;
    private static readonly Lazy<XDocument> FormatFile = new(() => Load("RestoreOps.Format.ps1xml"));
    private static readonly Lazy<XDocument> TypesFile = new(() => Load("RestoreOps.Types.ps1xml"));

    // The parts of the about_Format.ps1xml / about_Types.ps1xml schemas these files may use: each element and the
    // child elements it may contain. Leaves (text only) map to an empty list. Anything else is a typo PowerShell's
    // loader would reject at Import-Module.
    private static readonly Dictionary<string, string[]> FormatSchema = new(StringComparer.Ordinal)
    {
        ["Configuration"] = ["SelectionSets", "Controls", "ViewDefinitions", "DefaultSettings"],
        ["ViewDefinitions"] = ["View"],
        ["View"] = ["Name", "ViewSelectedBy", "GroupBy", "TableControl", "ListControl", "WideControl", "CustomControl", "OutOfBand"],
        ["ViewSelectedBy"] = ["TypeName", "SelectionSetName"],
        ["TableControl"] = ["AutoSize", "HideTableHeaders", "TableHeaders", "TableRowEntries"],
        ["TableHeaders"] = ["TableColumnHeader"],
        ["TableColumnHeader"] = ["Label", "Width", "Alignment"],
        ["TableRowEntries"] = ["TableRowEntry"],
        ["TableRowEntry"] = ["Wrap", "EntrySelectedBy", "TableColumnItems"],
        ["EntrySelectedBy"] = ["TypeName", "SelectionSetName"],
        ["TableColumnItems"] = ["TableColumnItem"],
        ["TableColumnItem"] = ["Alignment", "FormatString", "PropertyName", "ScriptBlock"],
        ["ListControl"] = ["ListEntries"],
        ["ListEntries"] = ["ListEntry"],
        ["ListEntry"] = ["EntrySelectedBy", "ListItems"],
        ["ListItems"] = ["ListItem"],
        ["ListItem"] = ["Label", "PropertyName", "ScriptBlock", "FormatString"],
        ["Name"] = [], ["TypeName"] = [], ["SelectionSetName"] = [], ["AutoSize"] = [], ["HideTableHeaders"] = [], ["Label"] = [],
        ["Width"] = [], ["Alignment"] = [], ["Wrap"] = [], ["PropertyName"] = [], ["ScriptBlock"] = [], ["FormatString"] = [],
    };

    private static readonly Dictionary<string, string[]> TypesSchema = new(StringComparer.Ordinal)
    {
        ["Types"] = ["Type"],
        ["Type"] = ["Name", "Members"],
        ["Members"] = ["NoteProperty", "AliasProperty", "ScriptProperty", "ScriptMethod", "PropertySet", "MemberSet"],
        ["ScriptProperty"] = ["Name", "GetScriptBlock", "SetScriptBlock"],
        ["AliasProperty"] = ["Name", "ReferencedMemberName", "TypeName"],
        ["NoteProperty"] = ["Name", "Value", "TypeName"],
        ["ScriptMethod"] = ["Name", "Script"],
        ["Name"] = [], ["GetScriptBlock"] = [], ["SetScriptBlock"] = [], ["ReferencedMemberName"] = [], ["TypeName"] = [],
        ["Value"] = [], ["Script"] = [],
    };

    [Fact]
    public void Both_files_are_well_formed_and_use_only_elements_PowerShell_knows()
    {
        var problems = SchemaProblems(FormatFile.Value.Root!, "Configuration", FormatSchema)
            .Concat(SchemaProblems(TypesFile.Value.Root!, "Types", TypesSchema)).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_type_named_is_a_RestoreOps_Model_type()
    {
        var names = FormatFile.Value.Descendants("TypeName").Select(t => t.Value.Trim())
            .Concat(TypesFile.Value.Root!.Elements("Type").Select(t => t.Element("Name")!.Value.Trim()))
            .Distinct(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(names);
        var unknown = names.Where(n => Model.GetType(n) is null).ToList();
        Assert.True(unknown.Count == 0, $"Not a type of {Model.GetName().Name} (full names, case as in C#): {string.Join(", ", unknown)}.");
    }

    [Fact]
    public void Every_view_selects_one_type_and_view_names_are_unique()
    {
        var views = Views().ToList();
        Assert.NotEmpty(views);
        var problems = new List<string>();
        foreach (var view in views)
        {
            var selected = view.Element("ViewSelectedBy")?.Elements("TypeName").Count() ?? 0;
            if (selected != 1) problems.Add($"view {ViewName(view)} selects {selected} type names (one expected)");
            var controls = view.Elements().Count(e => e.Name.LocalName.EndsWith("Control", StringComparison.Ordinal));
            if (controls != 1) problems.Add($"view {ViewName(view)} has {controls} controls (one expected)");
        }
        problems.AddRange(views.GroupBy(ViewName, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => $"view name {g.Key} is used {g.Count()} times"));
        // PowerShell takes the first view of a kind for a type; a second one would be dead and misleading.
        problems.AddRange(views.GroupBy(v => $"{SelectedType(v)} {Control(v).Name.LocalName}", StringComparer.Ordinal)
            .Where(g => g.Count() > 1).Select(g => $"{g.Key}: {g.Count()} views of the same kind for one type"));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_table_has_as_many_headers_as_columns_and_each_column_reads_one_thing()
    {
        var problems = new List<string>();
        foreach (var view in Views())
        {
            var control = Control(view);
            List<XElement> items;
            if (control.Name.LocalName == "TableControl")
            {
                var headers = control.Element("TableHeaders")?.Elements("TableColumnHeader").ToList() ?? new List<XElement>();
                foreach (var row in control.Descendants("TableRowEntry"))
                {
                    var columns = row.Element("TableColumnItems")?.Elements("TableColumnItem").Count() ?? 0;
                    if (columns != headers.Count) problems.Add($"{ViewName(view)}: {headers.Count} headers but {columns} columns");
                }
                foreach (var header in headers)
                {
                    if (header.Element("Width") is { } width && !(int.TryParse(width.Value, out var w) && w > 0))
                        problems.Add($"{ViewName(view)}: width '{width.Value}' is not a positive whole number");
                    if (header.Element("Alignment") is { } align && align.Value is not ("Left" or "Right" or "Center"))
                        problems.Add($"{ViewName(view)}: alignment '{align.Value}' is not Left, Right or Center");
                }
                items = control.Descendants("TableColumnItem").ToList();
                // A script column without a label gets an empty header.
                foreach (var row in control.Descendants("TableRowEntry"))
                {
                    var columns = row.Element("TableColumnItems")?.Elements("TableColumnItem").ToList() ?? new List<XElement>();
                    for (var i = 0; i < Math.Min(columns.Count, headers.Count); i++)
                        if (columns[i].Element("ScriptBlock") is not null && headers[i].Element("Label") is null)
                            problems.Add($"{ViewName(view)}: column {i + 1} shows a script but its header has no Label");
                }
            }
            else
            {
                items = control.Descendants("ListItem").ToList();
                // A script item without a label is labelled with the script's text.
                problems.AddRange(items.Where(i => i.Element("ScriptBlock") is not null && i.Element("Label") is null)
                    .Select(_ => $"{ViewName(view)}: a list item shows a script but has no Label"));
            }
            if (items.Count == 0) problems.Add($"{ViewName(view)} shows nothing");
            foreach (var item in items)
            {
                var reads = item.Elements().Where(e => e.Name.LocalName is "PropertyName" or "ScriptBlock").ToList();
                if (reads.Count != 1 || reads[0].Value.Trim().Length == 0)
                    problems.Add($"{ViewName(view)}: an item must name exactly one non-empty PropertyName or ScriptBlock, this one has {reads.Count}");
                if (item.Element("FormatString") is { } format && !format.Value.Contains("{0", StringComparison.Ordinal))
                    problems.Add($"{ViewName(view)}: FormatString '{format.Value}' has no {{0}} placeholder");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_property_a_view_column_names_exists_on_the_type_or_in_the_types_file()
    {
        var problems = new List<string>();
        var checkedCount = 0;
        foreach (var view in Views())
        {
            var typeName = SelectedType(view);
            var type = Model.GetType(typeName);
            if (type is null) continue; // reported by Every_type_named_is_a_RestoreOps_Model_type
            foreach (var property in Control(view).Descendants("PropertyName").Select(p => p.Value.Trim()))
            {
                checkedCount++;
                if (!HasProperty(type, property)) problems.Add($"{ViewName(view)}: {typeName} has no property '{property}' (nor does RestoreOps.Types.ps1xml add one)");
            }
        }
        Assert.True(checkedCount > 0, "No PropertyName found in RestoreOps.Format.ps1xml.");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_property_a_script_reads_exists_on_the_type_or_in_the_types_file()
    {
        // Views: $_ is the row object. A construct that rebinds $_ (ForEach-Object, .Where(), switch, catch) would make
        // the names below ambiguous, so the scripts use foreach loops and local variables instead.
        var problems = new List<string>();
        var checkedCount = 0;
        foreach (var view in Views())
        {
            var typeName = SelectedType(view);
            var type = Model.GetType(typeName);
            if (type is null) continue;
            foreach (var script in Control(view).Descendants("ScriptBlock").Select(s => s.Value))
            {
                if (RebindsDollarUnder().IsMatch(script))
                    problems.Add($"{ViewName(view)}: a script rebinds $_ ({RebindsDollarUnder().Match(script).Value.Trim()}); use foreach and a variable: {Shorten(script)}");
                foreach (Match m in DollarUnderMember().Matches(script))
                {
                    checkedCount++;
                    if (!HasProperty(type, m.Groups["name"].Value)) problems.Add($"{ViewName(view)}: a script reads $_.{m.Groups["name"].Value}, which {typeName} does not have");
                }
            }
        }
        // Types: $this is the object; $_ means nothing there.
        foreach (var (type, typeName, member) in TypeMembers())
        {
            foreach (var script in member.Elements().Where(e => e.Name.LocalName is "GetScriptBlock" or "SetScriptBlock" or "Script").Select(e => e.Value))
            {
                if (script.Contains("$_", StringComparison.Ordinal)) problems.Add($"{typeName}.{MemberName(member)}: uses $_ (a type member script reads $this)");
                foreach (Match m in DollarThisMember().Matches(script))
                {
                    checkedCount++;
                    if (type is not null && !HasProperty(type, m.Groups["name"].Value))
                        problems.Add($"{typeName}.{MemberName(member)}: reads $this.{m.Groups["name"].Value}, which {typeName} does not have");
                }
            }
        }
        Assert.True(checkedCount > 0, "No script reads any property: the pattern no longer matches the files.");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_model_type_a_script_names_exists()
    {
        var scripts = FormatFile.Value.Descendants("ScriptBlock")
            .Concat(TypesFile.Value.Descendants().Where(e => e.Name.LocalName is "GetScriptBlock" or "SetScriptBlock" or "Script"))
            .Select(e => e.Value).ToList();
        var named = scripts.SelectMany(s => ModelTypeLiteral().Matches(s).Select(m => m.Groups["name"].Value)).Distinct(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(named);
        // PowerShell resolves type literals case-insensitively; the enum members compared against must exist too.
        var unknown = named.Where(n => Model.GetTypes().All(t => !string.Equals(t.FullName, n, StringComparison.OrdinalIgnoreCase))).ToList();
        Assert.True(unknown.Count == 0, $"Scripts name types RestoreOps.Model does not have: {string.Join(", ", unknown)}.");
        var members = scripts.SelectMany(s => ModelEnumMember().Matches(s).Select(m => (Type: m.Groups["name"].Value, Member: m.Groups["member"].Value))).Distinct().ToList();
        var missing = members.Where(x => Model.GetType(x.Type) is not { IsEnum: true } e || !Enum.GetNames(e).Contains(x.Member, StringComparer.OrdinalIgnoreCase))
            .Select(x => $"[{x.Type}]::{x.Member}").ToList();
        Assert.True(missing.Count == 0, $"Scripts name enum values that do not exist: {string.Join(", ", missing)}.");
    }

    [Fact]
    public void Every_cmdlet_output_type_has_a_default_table_view()
    {
        var tables = Views().Where(v => Control(v).Name.LocalName == "TableControl").Select(SelectedType).ToHashSet(StringComparer.Ordinal);
        // Text (Get-RestoreOpsRbac's YAML) formats itself; every object type needs a view.
        var all = module.Cmdlets.SelectMany(c => c.OutputTypes.Select(t => (Cmdlet: c.Name, Type: t.FullName!))).ToList();
        Assert.True(all.Count >= module.Cmdlets.Count, $"Only {all.Count} [OutputType] entries for {module.Cmdlets.Count} cmdlets.");
        var outputs = all.Where(o => o.Type != typeof(string).FullName).ToList();
        var missing = outputs.Where(o => !tables.Contains(o.Type)).Select(o => $"{o.Cmdlet} outputs {o.Type}").ToList();
        Assert.True(missing.Count == 0, $"No table view in RestoreOps.Format.ps1xml for: {string.Join("; ", missing)}.");
    }

    [Fact]
    public void No_computed_property_duplicates_a_dotnet_member_or_another_computed_property()
    {
        var problems = new List<string>();
        foreach (var group in TypeMembers().GroupBy(m => m.TypeName, StringComparer.Ordinal))
        {
            var type = group.First().Type;
            if (type is null) continue;
            // PowerShell member names are case-insensitive: 'age' would collide with Age.
            var dotnet = type.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.FlattenHierarchy)
                .Where(m => m.MemberType != MemberTypes.Constructor).Select(m => m.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (_, typeName, member) in group)
            {
                var name = MemberName(member);
                if (dotnet.Contains(name)) problems.Add($"{typeName}.{name} already exists on the .NET type; PowerShell refuses or shadows it");
                if (!seen.Add(name)) problems.Add($"{typeName}.{name} is defined twice");
            }
        }
        Assert.NotEmpty(TypeMembers());
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Alias_properties_point_at_real_properties()
    {
        var problems = new List<string>();
        foreach (var (type, typeName, member) in TypeMembers().Where(m => m.Member.Name.LocalName == "AliasProperty"))
        {
            var target = member.Element("ReferencedMemberName")?.Value.Trim() ?? "";
            if (type is not null && type.GetProperties(Instance).All(p => !string.Equals(p.Name, target, StringComparison.OrdinalIgnoreCase)))
                problems.Add($"{typeName}.{MemberName(member)} aliases '{target}', which {typeName} does not have");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void No_computed_property_is_named_like_a_parameter_that_binds_by_property_name()
    {
        // A member named Path or DrillId would silently start binding these objects to the next cmdlet's parameter.
        var byPropertyName = module.Cmdlets
            .SelectMany(c => c.Parameters.Where(p => p.ByPropertyName).SelectMany(p => new[] { p.Name }.Concat(p.Aliases).Select(n => (Name: n, Where: $"{c.Name} -{p.Name}"))))
            .ToLookup(x => x.Name, x => x.Where, StringComparer.OrdinalIgnoreCase);
        Assert.True(byPropertyName.Count > 0, "No parameter binds by property name: the metadata was not read.");
        var problems = TypeMembers().Where(m => byPropertyName.Contains(MemberName(m.Member)))
            .Select(m => $"{m.TypeName}.{MemberName(m.Member)} would bind to {string.Join(", ", byPropertyName[MemberName(m.Member)])}").ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void The_manifest_loads_both_files_and_the_package_carries_them()
    {
        var psd1 = File.ReadAllText(BuiltModule.SourceManifestPath);
        Assert.Equal(new[] { "RestoreOps.Format.ps1xml" }, SurfaceTests.ManifestList(psd1, "FormatsToProcess").ToArray());
        Assert.Equal(new[] { "RestoreOps.Types.ps1xml" }, SurfaceTests.ManifestList(psd1, "TypesToProcess").ToArray());
        var files = SurfaceTests.ManifestList(psd1, "FileList");
        Assert.Contains("RestoreOps.Format.ps1xml", files);
        Assert.Contains("RestoreOps.Types.ps1xml", files);
        foreach (var name in new[] { "RestoreOps.Format.ps1xml", "RestoreOps.Types.ps1xml" })
        {
            var packaged = Path.Combine(BuiltModule.Instance.Directory, name);
            Assert.True(File.Exists(packaged), $"{name} is not in the packaged module ({BuiltModule.Instance.Directory}).");
            Assert.Equal(File.ReadAllText(Path.Combine(ModuleSource, name)), File.ReadAllText(packaged));
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    private static XDocument Load(string name)
    {
        var path = Path.Combine(ModuleSource, name);
        Assert.True(File.Exists(path), $"{path} is missing.");
        // XDocument.Load throws on anything that is not well-formed XML, naming the line.
        var doc = XDocument.Load(path, LoadOptions.SetLineInfo);
        Assert.True(doc.Root!.Name.Namespace == XNamespace.None, $"{name}: PowerShell expects elements without an XML namespace.");
        return doc;
    }

    private static IEnumerable<string> SchemaProblems(XElement root, string rootName, Dictionary<string, string[]> schema)
    {
        if (root.Name.LocalName != rootName)
        {
            yield return $"root element is <{root.Name.LocalName}>, expected <{rootName}>";
            yield break;
        }
        foreach (var element in root.DescendantsAndSelf())
        {
            var name = element.Name.LocalName;
            if (!schema.TryGetValue(name, out var children))
            {
                yield return $"line {((System.Xml.IXmlLineInfo)element).LineNumber}: <{name}> is not an element these files may use";
                continue;
            }
            foreach (var child in element.Elements().Where(c => !children.Contains(c.Name.LocalName, StringComparer.Ordinal)))
                yield return $"line {((System.Xml.IXmlLineInfo)child).LineNumber}: <{child.Name.LocalName}> cannot be inside <{name}>";
            if (children.Length == 0 && element.HasElements)
                yield return $"line {((System.Xml.IXmlLineInfo)element).LineNumber}: <{name}> holds text only";
        }
    }

    private static IEnumerable<XElement> Views() => FormatFile.Value.Descendants("View");

    private static string ViewName(XElement view) => view.Element("Name")?.Value.Trim() ?? "(unnamed view)";

    private static string SelectedType(XElement view) => view.Element("ViewSelectedBy")?.Element("TypeName")?.Value.Trim() ?? "";

    private static XElement Control(XElement view) =>
        view.Elements().FirstOrDefault(e => e.Name.LocalName.EndsWith("Control", StringComparison.Ordinal))
        ?? throw new Xunit.Sdk.XunitException($"view {ViewName(view)} has no control");

    /// <summary>Every member RestoreOps.Types.ps1xml defines, with its .NET type (null when the name is no Model type).</summary>
    private static List<(Type? Type, string TypeName, XElement Member)> TypeMembers() =>
        TypesFile.Value.Root!.Elements("Type")
            .SelectMany(t => (t.Element("Members")?.Elements() ?? Enumerable.Empty<XElement>()).Select(m => (Model.GetType(t.Element("Name")!.Value.Trim()), t.Element("Name")!.Value.Trim(), m)))
            .ToList();

    private static string MemberName(XElement member) => member.Element("Name")?.Value.Trim() ?? "";

    /// <summary>A public instance property of the .NET type, or a member RestoreOps.Types.ps1xml adds to it (case-insensitive, as in PowerShell).</summary>
    private static bool HasProperty(Type type, string name) =>
        type.GetProperties(Instance).Any(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        || TypeMembers().Any(m => m.TypeName == type.FullName && string.Equals(MemberName(m.Member), name, StringComparison.OrdinalIgnoreCase));

    private static string Shorten(string script)
    {
        var oneLine = Whitespace().Replace(script.Trim(), " ");
        return oneLine.Length <= 80 ? oneLine : oneLine[..80] + "…";
    }

    [GeneratedRegex(@"\$_\.(?<name>[A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex DollarUnderMember();

    [GeneratedRegex(@"\$this\.(?<name>[A-Za-z_][A-Za-z0-9_]*)", RegexOptions.IgnoreCase)]
    private static partial Regex DollarThisMember();

    [GeneratedRegex(@"ForEach-Object|Where-Object|\.ForEach\s*\(|\.Where\s*\(|\bswitch\b|\bcatch\b|\|\s*[%?]\s*\{", RegexOptions.IgnoreCase)]
    private static partial Regex RebindsDollarUnder();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"\[(?<name>RestoreOps\.Model\.[A-Za-z_][A-Za-z0-9_.]*)\]")]
    private static partial Regex ModelTypeLiteral();

    [GeneratedRegex(@"\[(?<name>RestoreOps\.Model\.[A-Za-z_][A-Za-z0-9_.]*)\]::(?<member>[A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex ModelEnumMember();
}
