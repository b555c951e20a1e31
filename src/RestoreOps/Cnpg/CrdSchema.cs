using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace RestoreOps.Cnpg;

/// <summary>
/// A CustomResourceDefinition's OpenAPI v3 schema, checked the way the API server checks a create with strict
/// field validation: types, required fields, enums, patterns, bounds and unknown fields. CEL rules
/// (x-kubernetes-validations) are not evaluated; everything else a structural schema says is.
/// </summary>
/// <example>
/// <code>
/// var problems = CrdSchema.For("postgresql.cnpg.io", "clusters").Validate(cluster);
/// if (problems.Count > 0) throw new ConfigurationException(string.Join("; ", problems));
/// </code>
/// </example>
internal sealed partial class CrdSchema
{
    private static readonly ConcurrentDictionary<string, CrdSchema> Cache = new(StringComparer.Ordinal);
    private readonly JsonObject _schema;

    private CrdSchema(string group, string plural, string kind, string version, JsonObject schema)
    {
        Group = group;
        Plural = plural;
        Kind = kind;
        Version = version;
        _schema = schema;
    }

    /// <summary>API group, e.g. postgresql.cnpg.io.</summary>
    public string Group { get; }
    /// <summary>Plural resource name, e.g. clusters.</summary>
    public string Plural { get; }
    /// <summary>Kind, e.g. Cluster.</summary>
    public string Kind { get; }
    /// <summary>The served, stored version whose schema this is.</summary>
    public string Version { get; }

    /// <summary>The embedded schema of <c>&lt;plural&gt;.&lt;group&gt;</c>.</summary>
    public static CrdSchema For(string group, string plural) =>
        Cache.GetOrAdd($"{group}_{plural}", key =>
        {
            using var stream = typeof(CrdSchema).Assembly.GetManifestResourceStream($"RestoreOps.Cnpg.Crds.{key}.yaml")
                ?? throw new InvalidOperationException($"No embedded CRD for {plural}.{group}.");
            using var reader = new StreamReader(stream);
            return Parse(reader.ReadToEnd());
        });

    /// <summary>Parses a CRD document (YAML) and takes its storage version's schema.</summary>
    public static CrdSchema Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var crd = (JsonObject)ToJson(stream.Documents[0].RootNode)!;
        var spec = crd["spec"]!.AsObject();
        var version = spec["versions"]!.AsArray().Select(v => v!.AsObject())
            .First(v => v["storage"]?.GetValue<bool>() == true);
        return new CrdSchema(spec["group"]!.GetValue<string>(), spec["names"]!["plural"]!.GetValue<string>(),
            spec["names"]!["kind"]!.GetValue<string>(), version["name"]!.GetValue<string>(),
            version["schema"]!["openAPIV3Schema"]!.AsObject());
    }

    /// <summary>Every way <paramref name="resource"/> breaks the schema, as <c>field.path: reason</c>; empty when valid.</summary>
    public IReadOnlyList<string> Validate(JsonObject resource)
    {
        var problems = new List<string>();
        var apiVersion = resource["apiVersion"]?.GetValue<string>();
        if (apiVersion != $"{Group}/{Version}") problems.Add($"apiVersion: must be {Group}/{Version}, is {apiVersion ?? "missing"}");
        if (resource["kind"]?.GetValue<string>() != Kind) problems.Add($"kind: must be {Kind}");
        ValidateMetadata(resource["metadata"] as JsonObject, problems);
        // metadata is the API server's own (ObjectMeta), not part of the CRD's structural schema.
        var copy = resource.DeepClone().AsObject();
        copy.Remove("metadata");
        Check(_schema, copy, "", problems, skipMetadata: true);
        return problems;
    }

    private static void ValidateMetadata(JsonObject? metadata, List<string> problems)
    {
        if (metadata?["name"]?.GetValue<string>() is not { } name)
        {
            problems.Add("metadata.name: required");
            return;
        }
        if (name.Length > 253 || !DnsSubdomain().IsMatch(name))
            problems.Add($"metadata.name: '{name}' is not a DNS-1123 subdomain (lowercase letters, digits, '-', '.')");
        foreach (var section in new[] { "labels", "annotations" })
        {
            if (metadata[section] is not JsonObject map) continue;
            foreach (var (key, value) in map)
            {
                var keyName = key.Contains('/') ? key[(key.IndexOf('/') + 1)..] : key;
                if (keyName.Length is 0 or > 63 || !QualifiedName().IsMatch(keyName))
                    problems.Add($"metadata.{section}: key '{key}' is not a valid qualified name");
                if (section == "labels" && value is not null && (value.GetValue<string>() is var v) && (v.Length > 63 || !LabelValue().IsMatch(v)))
                    problems.Add($"metadata.labels.{key}: value '{v}' is not a valid label value (63 characters, alphanumerics, '-', '_', '.')");
            }
        }
    }

    private static void Check(JsonObject schema, JsonNode? value, string path, List<string> problems, bool skipMetadata = false)
    {
        var at = path.Length == 0 ? "(root)" : path;
        if (value is null)
        {
            if (schema["nullable"]?.GetValue<bool>() != true) problems.Add($"{at}: must not be null");
            return;
        }
        if (schema["x-kubernetes-int-or-string"]?.GetValue<bool>() == true)
        {
            if (!(IsString(value) || IsInteger(value))) problems.Add($"{at}: must be an integer or a string");
            return;
        }
        var type = schema["type"]?.GetValue<string>();
        switch (type)
        {
            case "object":
                if (value is not JsonObject obj) { problems.Add($"{at}: must be an object"); return; }
                var properties = schema["properties"] as JsonObject;
                foreach (var required in (schema["required"] as JsonArray ?? []).Select(r => r!.GetValue<string>()))
                    if (!obj.ContainsKey(required) && !(skipMetadata && required == "metadata"))
                        problems.Add($"{Join(path, required)}: required");
                foreach (var (key, child) in obj)
                {
                    if (properties?[key] is JsonObject childSchema) Check(childSchema, child, Join(path, key), problems);
                    else if (schema["additionalProperties"] is JsonObject additional) Check(additional, child, Join(path, key), problems);
                    else if (schema["x-kubernetes-preserve-unknown-fields"]?.GetValue<bool>() != true && properties is not null)
                        problems.Add($"{Join(path, key)}: unknown field");
                }
                break;
            case "array":
                if (value is not JsonArray arr) { problems.Add($"{at}: must be an array"); return; }
                if (Number(schema["minItems"]) is { } minItems && arr.Count < minItems) problems.Add($"{at}: needs at least {minItems} items");
                if (Number(schema["maxItems"]) is { } maxItems && arr.Count > maxItems) problems.Add($"{at}: allows at most {maxItems} items");
                if (schema["items"] is JsonObject items)
                    for (var i = 0; i < arr.Count; i++) Check(items, arr[i], $"{at}[{i}]", problems);
                break;
            case "string":
                if (!IsString(value)) { problems.Add($"{at}: must be a string"); return; }
                var s = value.GetValue<string>();
                if (Number(schema["minLength"]) is { } minLength && s.Length < minLength) problems.Add($"{at}: must be at least {minLength} characters");
                if (Number(schema["maxLength"]) is { } maxLength && s.Length > maxLength) problems.Add($"{at}: must be at most {maxLength} characters");
                if (schema["pattern"]?.GetValue<string>() is { } pattern && !Regex.IsMatch(s, pattern)) problems.Add($"{at}: '{s}' does not match {pattern}");
                break;
            case "integer":
                if (!IsInteger(value)) { problems.Add($"{at}: must be an integer"); return; }
                CheckBounds(schema, Number(value)!.Value, at, problems);
                break;
            case "number":
                if (Number(value) is not { } d) { problems.Add($"{at}: must be a number"); return; }
                CheckBounds(schema, d, at, problems);
                break;
            case "boolean":
                if (value is not JsonValue b || !b.TryGetValue<bool>(out _)) problems.Add($"{at}: must be true or false");
                break;
        }
        if (schema["enum"] is JsonArray allowed && !allowed.Any(a => JsonNode.DeepEquals(a, value)))
            problems.Add($"{at}: '{value.ToJsonString().Trim('"')}' is not one of {string.Join(", ", allowed.Select(a => a!.ToJsonString().Trim('"')))}");
    }

    private static void CheckBounds(JsonObject schema, double value, string at, List<string> problems)
    {
        if (Number(schema["minimum"]) is { } min && value < min) problems.Add($"{at}: must be at least {min}");
        if (Number(schema["maximum"]) is { } max && value > max) problems.Add($"{at}: must be at most {max}");
    }

    /// <summary>
    /// A JSON number whatever the node holds underneath (a parsed element, or a long/int/double built in code):
    /// JsonValue.GetValue refuses conversions between numeric CLR types.
    /// </summary>
    internal static double? Number(JsonNode? n)
    {
        if (n is not JsonValue v) return null;
        if (v.TryGetValue<double>(out var d)) return d;
        if (v.TryGetValue<long>(out var l)) return l;
        if (v.TryGetValue<int>(out var i)) return i;
        if (v.TryGetValue<System.Text.Json.JsonElement>(out var e) && e.ValueKind == System.Text.Json.JsonValueKind.Number) return e.GetDouble();
        return null;
    }

    private static bool IsString(JsonNode n) => n is JsonValue v && v.TryGetValue<string>(out _);

    private static bool IsInteger(JsonNode n) => Number(n) is { } d && Math.Abs(d % 1) < double.Epsilon;

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    /// <summary>YAML to JSON with YAML 1.2 core-schema typing of plain scalars.</summary>
    internal static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(kv => KeyValuePair.Create(((YamlScalarNode)kv.Key).Value!, ToJson(kv.Value)))),
        YamlSequenceNode s => new JsonArray(s.Children.Select(ToJson).ToArray()),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } p => p.Value switch
        {
            null or "" or "null" or "~" => null,
            "true" => JsonValue.Create(true),
            "false" => JsonValue.Create(false),
            var t when long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => JsonValue.Create(l),
            var t when double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => JsonValue.Create(d),
            var t => JsonValue.Create(t),
        },
        YamlScalarNode q => JsonValue.Create(q.Value),
        _ => null,
    };

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex("^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex QualifiedName();

    [GeneratedRegex("^$|^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();
}
