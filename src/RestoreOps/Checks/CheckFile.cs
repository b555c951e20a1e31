using System.Collections;
using System.Globalization;
using RestoreOps.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RestoreOps.Checks;

/// <summary>
/// A set of checks and how to run them, read from a check file (<see cref="CheckFile"/>) or built from dictionaries
/// (PowerShell hashtables). Documented in docs/checks.md; JSON Schema in docs/schemas/checks.schema.json.
/// </summary>
/// <example>
/// <code>
/// var suite = CheckFile.Load("checks.yaml");
/// var results = await suite.RunAsync(context, progress, ct);
/// </code>
/// </example>
public sealed class CheckSuite
{
    internal CheckSuite(string source, IReadOnlyList<RestoreCheck> checks, CheckRunOptions runOptions)
    {
        Source = source;
        Checks = checks;
        RunOptions = runOptions;
    }

    /// <summary>Where the checks came from (file name or <c>hashtable</c>).</summary>
    public string Source { get; }
    /// <summary>The checks, in file order.</summary>
    public IReadOnlyList<RestoreCheck> Checks { get; }
    /// <summary>Parallelism, per-check timeout and statement timeout from the file.</summary>
    public CheckRunOptions RunOptions { get; }
    /// <summary>Who owns the procedure (the file's top-level <c>owner:</c>): the evidence's owner unless the front end names one.</summary>
    public string? Owner { get; init; }
    /// <summary>Every database a check names, in first-use order.</summary>
    public IReadOnlyList<string> Databases => Checks.Select(c => c.Database).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Runs the checks with <see cref="RunOptions"/>.</summary>
    public Task<IReadOnlyList<CheckResult>> RunAsync(CheckContext context, IProgress<DrillProgress>? progress, CancellationToken cancellationToken) =>
        CheckRunner.RunAsync(Checks, context, RunOptions, progress, cancellationToken);

    /// <summary>
    /// Builds a suite from a dictionary shaped like the check file: keys <c>database</c>, <c>parallelism</c>, <c>checks</c>…;
    /// lists may be any <see cref="IEnumerable"/>, durations text (<c>30s</c>), numbers of seconds or <see cref="TimeSpan"/>.
    /// </summary>
    /// <example><code>CheckSuite.FromDictionary(new Hashtable { ["database"] = "shop", ["checks"] = new[] { new Hashtable { ["kind"] = "sequences" } } })</code></example>
    public static CheckSuite FromDictionary(IDictionary file, string sourceName = "hashtable") =>
        CheckFile.Build(CheckFile.FromObject(file, "$"), sourceName);

    /// <summary>Builds a suite from one dictionary per check (PowerShell: <c>@(@{ kind = 'schema'; tables = 'orders' })</c>) and optional file-level settings.</summary>
    /// <example><code>CheckSuite.FromDictionaries([new Hashtable { ["kind"] = "row-count", ["table"] = "orders", ["min"] = 1 }], new Hashtable { ["database"] = "shop" })</code></example>
    public static CheckSuite FromDictionaries(IEnumerable<IDictionary> checks, IDictionary? settings = null, string sourceName = "hashtable")
    {
        var root = new Hashtable(StringComparer.OrdinalIgnoreCase);
        if (settings is not null) foreach (DictionaryEntry e in settings) root[e.Key] = e.Value;
        root["checks"] = checks.ToList();
        return FromDictionary(root, sourceName);
    }
}

/// <summary>Reads check files: YAML with strict keys and types; every error names the file, the line and the key.</summary>
/// <example><code>var suite = CheckFile.Parse(File.ReadAllText("checks.yaml"), "checks.yaml");</code></example>
public static class CheckFile
{
    /// <summary>Keys allowed at the top of a check file.</summary>
    public static IReadOnlyList<string> FileKeys { get; } = ["version", "database", "parallelism", "checkTimeout", "statementTimeout", "owner", "checks"];

    /// <summary>Keys every check accepts.</summary>
    public static IReadOnlyList<string> CommonCheckKeys { get; } = ["kind", "name", "database", "timeout"];

    /// <summary>Each check kind and the keys it accepts besides <see cref="CommonCheckKeys"/>.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Kinds { get; } = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
    {
        ["connectivity"] = ["deadline"],
        ["schema"] = ["tables", "views", "functions", "extensions"],
        ["migrations"] = ["tool", "table", "minimum", "app"],
        ["row-count"] = ["table", "exact", "min", "max", "maxDropPercent"],
        ["key-records"] = ["table", "key", "keys", "columns", "hashes"],
        ["roles"] = ["roles", "login"],
        ["grants"] = ["role", "tables", "schemas", "owners"],
        ["read-write"] = ["role", "read", "write"],
        ["foreign-keys"] = ["schemas", "maxRowsPerKey"],
        ["sequences"] = ["schemas"],
        ["amcheck"] = ["maxRelations", "budget", "install", "heap"],
        ["recovery-point"] = ["table", "column", "commitTimestamps", "maxDataAge", "maxGapToTarget"],
        ["sql"] = ["query", "equals", "noRows", "minRows", "showValue"],
    };

    /// <summary>Migration tool names accepted by <c>tool</c>.</summary>
    public static IReadOnlyDictionary<string, MigrationTool?> ToolNames { get; } = new Dictionary<string, MigrationTool?>(StringComparer.Ordinal)
    {
        ["auto"] = null, ["flyway"] = MigrationTool.Flyway, ["liquibase"] = MigrationTool.Liquibase, ["alembic"] = MigrationTool.Alembic,
        ["efcore"] = MigrationTool.EfCore, ["rails"] = MigrationTool.Rails, ["golang-migrate"] = MigrationTool.GolangMigrate, ["django"] = MigrationTool.Django,
    };

    /// <summary>Reads and validates a check file.</summary>
    /// <exception cref="ConfigurationException">The file is missing or invalid; the message lists every problem with its line.</exception>
    public static CheckSuite Load(string path)
    {
        string text;
        try
        {
            YamlGuard.CheckFileSize(path, Path.GetFileName(path), "a check file");
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"Cannot read check file {path}: {e.Message}", "Pass the path of a readable YAML check file (see docs/checks.md).", e);
        }
        return Parse(text, Path.GetFileName(path));
    }

    /// <summary>Parses check-file text; <paramref name="sourceName"/> prefixes every error (e.g. <c>checks.yaml line 12: …</c>).</summary>
    /// <exception cref="ConfigurationException">The text is not a valid check file.</exception>
    public static CheckSuite Parse(string text, string sourceName)
    {
        // Before the tree is built: YamlStream would expand aliases and recurse once per nesting level.
        YamlGuard.Check(text, sourceName, "a check file");
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ConfigurationException($"{sourceName} line {e.Start.Line}: not valid YAML: {e.InnerException?.Message ?? e.Message}",
                "Fix the YAML syntax (indentation, quotes, a ':' after each key).", e);
        }
        if (stream.Documents.Count == 0)
            throw new ConfigurationException($"{sourceName} is empty.", "Write at least 'checks:' with one check (see docs/checks.md).");
        if (stream.Documents.Count > 1)
            throw new ConfigurationException($"{sourceName} line {stream.Documents[1].RootNode.Start.Line}: holds more than one YAML document.", "Keep one document per check file (remove the second '---').");
        return Build(FromYaml(stream.Documents[0].RootNode, sourceName), sourceName);
    }

    // ---- A small tree with line numbers, the common input of YAML and dictionaries ----

    internal abstract record Node(int? Line, string Path);
    internal sealed record Scalar(int? Line, string Path, string? Value, bool Plain, object? Raw) : Node(Line, Path);
    internal sealed record Sequence(int? Line, string Path, IReadOnlyList<Node> Items) : Node(Line, Path);
    internal sealed record Mapping(int? Line, string Path, IReadOnlyList<(string Key, int? Line, Node Value)> Entries) : Node(Line, Path);

    private sealed class Problem(string message) : Exception(message);

    private static Node FromYaml(YamlNode node, string source, string path = "$")
    {
        var line = (int)node.Start.Line;
        switch (node)
        {
            case YamlScalarNode s:
                var plain = s.Style == ScalarStyle.Plain;
                var isNull = plain && (s.Value is null or "" or "~" or "null" or "Null" or "NULL");
                return new Scalar(line, path, isNull ? null : s.Value, plain, null);
            case YamlSequenceNode q:
                return new Sequence(line, path, q.Children.Select((c, i) => FromYaml(c, source, $"{path}[{i}]")).ToList());
            case YamlMappingNode m:
                var entries = new List<(string, int?, Node)>();
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var (k, v) in m.Children)
                {
                    if (k is not YamlScalarNode { Value: { } key })
                        throw new ConfigurationException($"{source} line {k.Start.Line}: a key must be plain text.", "Write keys as 'name: value'.");
                    if (!seen.Add(key))
                        throw new ConfigurationException($"{source} line {k.Start.Line}: key '{key}' appears twice in the same mapping.", "Remove one of them.");
                    entries.Add((key, (int)k.Start.Line, FromYaml(v, source, $"{path}.{key}")));
                }
                return new Mapping(line, path, entries);
            default:
                throw new ConfigurationException($"{source} line {line}: aliases and tags are not supported.", "Write the value out in full.");
        }
    }

    internal static Node FromObject(object? value, string path, int depth = 0) => value switch
    {
        // A hashtable that contains itself would recurse until the stack overflows and the host dies.
        IEnumerable and not string when depth >= YamlGuard.MaxDepth => throw new ConfigurationException(
            $"{path}: the checks nest more than {YamlGuard.MaxDepth} levels of dictionaries and lists (does a hashtable contain itself?).",
            "Pass plain dictionaries and lists a few levels deep, shaped like the check file (docs/checks.md)."),
        null => new Scalar(null, path, null, true, null),
        string s => new Scalar(null, path, s, false, s),
        IDictionary d => new Mapping(null, path, d.Keys.Cast<object>().Select(k => (Convert.ToString(k, CultureInfo.InvariantCulture) ?? "", (int?)null,
            FromObject(d[k], $"{path}.{k}", depth + 1))).ToList()),
        IEnumerable e => new Sequence(null, path, e.Cast<object?>().Select((x, i) => FromObject(x, $"{path}[{i}]", depth + 1)).ToList()),
        bool b => new Scalar(null, path, b ? "true" : "false", true, b),
        TimeSpan t => new Scalar(null, path, t.TotalSeconds.ToString("R", CultureInfo.InvariantCulture) + "s", true, t),
        IFormattable f => new Scalar(null, path, f.ToString(null, CultureInfo.InvariantCulture), true, value),
        _ => new Scalar(null, path, value.ToString(), false, value),
    };

    // ---- Strict reading ----

    private sealed class Reader
    {
        private readonly Mapping _map;
        private readonly string _source;
        private readonly string _context;

        internal Reader(Mapping map, string source, string context, IReadOnlyList<string> allowed, string expectedList)
        {
            _map = map;
            _source = source;
            _context = context;
            foreach (var (key, line, _) in map.Entries)
                if (!allowed.Contains(key, StringComparer.Ordinal))
                    throw new Problem($"{At(line, $"{map.Path}.{key}")}unknown key '{key}' {context} (expected: {expectedList}){Suggest(key, allowed)}");
        }

        private static string Suggest(string key, IReadOnlyList<string> allowed)
        {
            var best = allowed.Select(a => (Key: a, Distance: Distance(key.ToLowerInvariant(), a.ToLowerInvariant()))).MinBy(x => x.Distance);
            return best.Key is not null && best.Distance <= 2 ? $"; did you mean '{best.Key}'?" : "";
        }

        private static int Distance(string a, string b)
        {
            var row = Enumerable.Range(0, b.Length + 1).ToArray();
            for (var i = 1; i <= a.Length; i++)
            {
                var diagonal = row[0];
                row[0] = i;
                for (var j = 1; j <= b.Length; j++)
                {
                    var above = row[j];
                    row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                    diagonal = above;
                }
            }
            return row[b.Length];
        }

        internal string At(int? line, string path) => line is { } l ? $"{_source} line {l}: " : $"{_source} {path}: ";

        private (int? Line, Node Value)? Find(string key)
        {
            foreach (var (k, line, v) in _map.Entries)
                if (k == key) return (line, v);
            return null;
        }

        internal bool Has(string key) => Find(key) is not null;

        private Problem TypeError(string key, int? line, Node v, string what)
        {
            var got = v switch
            {
                Scalar { Value: null } => "empty",
                Scalar s => $"'{s.Value}'",
                Sequence => "a list",
                _ => "a mapping",
            };
            return new Problem($"{At(line, v.Path)}key '{key}' {_context} must be {what}, not {got}");
        }

        internal string? String(string key)
        {
            if (Find(key) is not var (line, v)) return null;
            return v is Scalar { Value: { } s } ? s : throw TypeError(key, line, v, "text");
        }

        internal string Required(string key) => String(key) ?? throw new Problem($"{At(_map.Line, _map.Path)}{(_context.StartsWith("in ", StringComparison.Ordinal) ? _context[3..] : _context)} is missing required key '{key}'");

        internal long? Integer(string key, long minimum = long.MinValue)
        {
            if (Find(key) is not var (line, v)) return null;
            if (v is Scalar { Value: { } s, Plain: true } && long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= minimum)
                return n;
            throw TypeError(key, line, v, minimum == 0 ? "a whole number ≥ 0" : minimum == 1 ? "a whole number ≥ 1" : "a whole number");
        }

        internal double? Number(string key)
        {
            if (Find(key) is not var (line, v)) return null;
            if (v is Scalar { Value: { } s, Plain: true } && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n))
                return n;
            throw TypeError(key, line, v, "a number");
        }

        internal bool? Bool(string key)
        {
            if (Find(key) is not var (line, v)) return null;
            return v is Scalar { Value: "true" or "false", Plain: true } s ? s.Value == "true" : throw TypeError(key, line, v, "true or false");
        }

        internal TimeSpan? Duration(string key)
        {
            if (Find(key) is not var (line, v)) return null;
            if (v is Scalar { Raw: TimeSpan t } && t > TimeSpan.Zero && t <= InputLimits.MaxDuration) return t;
            // The command line's grammar, so a duration copied from one to the other means the same; a plain number
            // stays seconds, as check files always read it.
            if (v is Scalar { Value: { } s } && InputDuration.TryParse(s, out var d, numberIsSeconds: true)) return d;
            throw TypeError(key, line, v, $"a positive duration such as {InputDuration.Forms}");
        }

        internal List<string> List(string key)
        {
            if (Find(key) is not var (line, v)) return [];
            // A single value is a list of one: PowerShell unrolls one-element arrays into scalars.
            if (v is Scalar { Value: { } one }) return [one];
            if (v is not Sequence q) throw TypeError(key, line, v, "a list of text");
            return q.Items.Select(i => i is Scalar { Value: { } s } ? s : throw TypeError(key, i.Line ?? line, i, "a list of text")).ToList();
        }

        internal Dictionary<string, IReadOnlyList<string>> MapOfLists(string key)
        {
            var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            if (Find(key) is not var (line, v)) return result;
            if (v is not Mapping m) throw TypeError(key, line, v, "a mapping of name to a list of privileges");
            foreach (var (k, l, item) in m.Entries)
                result[k] = item switch
                {
                    Scalar { Value: { } s } => [s],
                    Sequence q => q.Items.Select(i => i is Scalar { Value: { } s } ? s : throw TypeError($"{key}.{k}", i.Line ?? l, i, "a list of text")).ToList(),
                    _ => throw TypeError($"{key}.{k}", l, item, "a list of text"),
                };
            return result;
        }

        internal Dictionary<string, string> StringMap(string key)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            if (Find(key) is not var (line, v)) return result;
            if (v is not Mapping m) throw TypeError(key, line, v, "a mapping of name to text");
            foreach (var (k, l, item) in m.Entries)
                result[k] = item is Scalar { Value: { } s } ? s : throw TypeError($"{key}.{k}", l, item, "text");
            return result;
        }

        internal Node? Raw(string key) => Find(key)?.Value;
        internal int? LineOf(string key) => Find(key)?.Line;
    }

    internal static CheckSuite Build(Node root, string source)
    {
        if (root is not Mapping top)
            throw new ConfigurationException($"{source}{(root.Line is { } l ? $" line {l}" : "")}: the file must be a mapping with a 'checks' list.", "Start the file with 'checks:' (see docs/checks.md).");
        var problems = new List<string>();
        Reader file;
        string? defaultDatabase;
        string? owner;
        CheckRunOptions options;
        try
        {
            file = new Reader(top, source, "at the top of the file", FileKeys, string.Join(", ", FileKeys));
            if (file.Integer("version") is { } v && v != 1)
                throw new Problem($"{file.At(file.LineOf("version"), "$.version")}version {v} is not supported (expected: 1)");
            defaultDatabase = file.String("database");
            owner = file.String("owner");
            options = new CheckRunOptions
            {
                MaxParallelism = (int)Math.Min(file.Integer("parallelism", 1) ?? CheckRunOptions.DefaultParallelism, 64),
                CheckTimeout = file.Duration("checkTimeout") ?? new CheckRunOptions().CheckTimeout,
                StatementTimeout = file.Duration("statementTimeout"),
            };
            if (!file.Has("checks")) throw new Problem($"{file.At(top.Line, "$")}the file is missing required key 'checks'");
        }
        catch (Problem p)
        {
            throw new ConfigurationException(p.Message + ".", "Edit the check file where the message points (reference: docs/checks.md).");
        }

        var checks = new List<RestoreCheck>();
        var names = new Dictionary<string, int?>(StringComparer.Ordinal);
        var list = file.Raw("checks");
        if (list is not Sequence seq || seq.Items.Count == 0)
            problems.Add($"{file.At(file.LineOf("checks"), "$.checks")}key 'checks' must be a non-empty list of checks");
        else
            foreach (var item in seq.Items)
            {
                try
                {
                    var check = BuildCheck(item, source, defaultDatabase);
                    if (names.TryGetValue(check.Name, out var firstLine))
                        throw new Problem($"{(item.Line is { } l ? $"{source} line {l}: " : $"{source} {item.Path}: ")}check name '{check.Name}' is already used{(firstLine is { } f ? $" on line {f}" : "")}; names must be unique (give this check a 'name')");
                    names[check.Name] = item.Line;
                    checks.Add(check);
                }
                catch (Problem p)
                {
                    problems.Add(p.Message);
                }
                catch (ConfigurationException e)
                {
                    // A check's own validation (bounds, privileges) does not know the line: add it here.
                    problems.Add($"{(item.Line is { } l ? $"{source} line {l}" : $"{source} {item.Path}")}: {e.Message}");
                }
            }
        if (problems.Count == 1)
            throw new ConfigurationException(problems[0].TrimEnd('.') + ".", "Edit the check file where the message points (reference: docs/checks.md).");
        if (problems.Count > 1)
            throw new ConfigurationException($"{source} has {problems.Count} errors: {problems[0]}.", "Edit the check file at each line listed (reference: docs/checks.md).",
                details: string.Join("\n", problems.Select(p => "  " + p)));
        return new CheckSuite(source, checks, options) { Owner = owner };
    }

    private static RestoreCheck BuildCheck(Node item, string source, string? defaultDatabase)
    {
        if (item is not Mapping m)
            throw new Problem($"{(item.Line is { } l ? $"{source} line {l}: " : $"{source} {item.Path}: ")}each check must be a mapping with a 'kind'");
        string? kind = null;
        foreach (var (k, _, v) in m.Entries)
            if (k == "kind") kind = (v as Scalar)?.Value;
        var at = m.Line is { } ml ? $"{source} line {ml}: " : $"{source} {m.Path}: ";
        if (kind is null)
            throw new Problem($"{at}check is missing required key 'kind' (one of: {string.Join(", ", Kinds.Keys)})");
        if (!Kinds.TryGetValue(kind, out var specific))
        {
            var kindLine = m.Entries.First(e => e.Key == "kind").Line;
            throw new Problem($"{(kindLine is { } kl ? $"{source} line {kl}: " : at)}unknown check kind '{kind}' (expected one of: {string.Join(", ", Kinds.Keys)})");
        }
        var label = m.Entries.FirstOrDefault(e => e.Key == "name").Value is Scalar { Value: { } n } ? $"'{n}' ({kind})" : $"'{kind}'";
        var r = new Reader(m, source, $"in check {label}", CommonCheckKeys.Concat(specific).ToList(),
            $"{string.Join(", ", specific)}; or any check's {string.Join(", ", CommonCheckKeys.Skip(1))}");
        var name = r.String("name");
        var database = r.String("database") ?? defaultDatabase
            ?? throw new Problem($"{at}check {label} is missing required key 'database' (or set 'database' at the top of the file)");
        var timeout = r.Duration("timeout");

        RestoreCheck check = kind switch
        {
            "connectivity" => new ConnectivityCheck(database, r.Duration("deadline") ?? TimeSpan.FromSeconds(30), name),
            "schema" => Schema(r, database, name, at, label),
            "migrations" => new MigrationCheck(database, Tool(r, label), r.String("table"), r.Required("minimum"), r.String("app"), name),
            "row-count" => RowCount(r, database, name, at, label),
            "key-records" => new KeyRecordCheck(database, r.Required("table"), r.Required("key"), r.List("keys"), r.List("columns"), r.StringMap("hashes"), name),
            "roles" => new RoleCheck(database, NonEmpty(r.List("roles"), "roles", r, at, label), r.Bool("login") ?? true, name),
            "grants" => Grants(r, database, name, at, label),
            "read-write" => new ReadWriteCheck(database, r.Required("role"), r.String("read"), r.String("write"), name),
            "foreign-keys" => new ForeignKeyCheck(database, r.List("schemas"), (int)Math.Min(r.Integer("maxRowsPerKey", 1) ?? 1000, int.MaxValue), name),
            "sequences" => new SequenceCheck(database, r.List("schemas"), name),
            "amcheck" => new AmcheckCheck(database, (int?)r.Integer("maxRelations", 1), r.Duration("budget") ?? TimeSpan.FromMinutes(1), r.Bool("install") ?? false, r.Bool("heap") ?? true, name),
            "recovery-point" => new RecoveryPointCheck(database, r.Required("table"), r.String("column"), r.Bool("commitTimestamps") ?? false, r.Duration("maxDataAge"), r.Duration("maxGapToTarget"), name),
            "sql" => Sql(r, database, name, at, label),
            _ => throw new InvalidOperationException(kind),
        };
        // The constructor already took its name; the timeout is the one setting every check shares.
        return timeout is null ? check : WithTimeout(check, timeout.Value);
    }

    private static RestoreCheck WithTimeout(RestoreCheck check, TimeSpan timeout)
    {
        check.SetTimeout(timeout);
        return check;
    }

    private static List<string> NonEmpty(List<string> list, string key, Reader r, string at, string label) =>
        list.Count > 0 ? list : throw new Problem($"{at}check {label} is missing required key '{key}' (a non-empty list)");

    private static MigrationTool? Tool(Reader r, string label)
    {
        var text = r.String("tool") ?? "auto";
        return ToolNames.TryGetValue(text, out var tool) ? tool
            : throw new Problem($"{r.At(r.LineOf("tool"), "tool")}key 'tool' in check {label} must be one of {string.Join(", ", ToolNames.Keys)}, not '{text}'");
    }

    private static SchemaCheck Schema(Reader r, string database, string? name, string at, string label)
    {
        var c = new SchemaCheck(database, r.List("tables"), r.List("views"), r.List("functions"), r.List("extensions"), name);
        if (c.Tables.Count + c.Views.Count + c.Functions.Count + c.Extensions.Count == 0)
            throw new Problem($"{at}check {label} names nothing: give at least one of tables, views, functions, extensions");
        return c;
    }

    private static RowCountCheck RowCount(Reader r, string database, string? name, string at, string label)
    {
        var table = r.Required("table");
        var exact = r.Integer("exact", 0);
        var min = r.Integer("min", 0);
        var max = r.Integer("max", 0);
        var drop = r.Number("maxDropPercent");
        if (exact is not null && (min is not null || max is not null))
            throw new Problem($"{r.At(r.LineOf("exact"), "exact")}key 'exact' in check {label} cannot be combined with 'min' or 'max'");
        if (exact is null && min is null && max is null && drop is null)
            throw new Problem($"{at}check {label} is missing required key 'exact', 'min', 'max' or 'maxDropPercent'");
        return new RowCountCheck(database, table, exact ?? min, exact ?? max, name, drop);
    }

    private static GrantCheck Grants(Reader r, string database, string? name, string at, string label)
    {
        var c = new GrantCheck(database, r.Required("role"), r.MapOfLists("tables"), r.MapOfLists("schemas"), r.StringMap("owners"), name);
        if (c.Tables.Count + c.Schemas.Count + c.Owners.Count == 0)
            throw new Problem($"{at}check {label} names nothing: give at least one of tables, schemas, owners");
        return c;
    }

    private static RestoreCheck Sql(Reader r, string database, string? name, string at, string label)
    {
        var query = r.Required("query");
        var checkName = name ?? throw new Problem($"{at}check {label} is missing required key 'name' (custom SQL needs a name that says what it proves)");
        var given = new[] { "equals", "noRows", "minRows" }.Where(r.Has).ToList();
        if (given.Count != 1)
            throw new Problem($"{at}check {label} needs exactly one of 'equals', 'noRows', 'minRows'{(given.Count > 1 ? $", not {string.Join(" and ", given)}" : "")}");
        if (given[0] == "equals")
        {
            var node = r.Raw("equals")!;
            var expected = node is Scalar s ? s.Value ?? "null" : throw new Problem($"{r.At(r.LineOf("equals"), "equals")}key 'equals' in check {label} must be a single value");
            return new SqlScalarCheck(checkName, database, query, expected, r.Bool("showValue") ?? false);
        }
        if (r.Has("showValue"))
            throw new Problem($"{r.At(r.LineOf("showValue"), "showValue")}key 'showValue' in check {label} only applies with 'equals' (noRows and minRows record a row count, never values)");
        if (given[0] == "noRows")
            return r.Bool("noRows") == true ? new SqlRowsCheck(checkName, database, query, null)
                : throw new Problem($"{r.At(r.LineOf("noRows"), "noRows")}key 'noRows' in check {label} must be true (omit it otherwise)");
        return new SqlRowsCheck(checkName, database, query, r.Integer("minRows", 1));
    }
}
