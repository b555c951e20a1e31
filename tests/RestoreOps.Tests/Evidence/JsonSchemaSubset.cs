using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace RestoreOps.Tests.Evidence;

/// <summary>
/// A JSON Schema (2020-12) validator for the subset docs/schemas uses: type, required, properties,
/// additionalProperties (false or a schema), enum, const, pattern, minLength, minimum, format date-time, items,
/// and $ref to #/$defs/…. It exists because no full validator on the package feed restores here (JsonSchema.Net,
/// NJsonSchema and Corvus all miss dependencies). Any keyword outside the subset is an error, so the schema can
/// never lean on something this validator silently ignores.
/// </summary>
internal sealed class JsonSchemaSubset
{
    private static readonly HashSet<string> Annotations = ["$schema", "$id", "title", "description", "$defs", "$comment", "examples", "default"];
    private static readonly HashSet<string> Supported = ["type", "required", "properties", "additionalProperties", "enum", "const", "pattern", "minLength", "minimum", "format", "items", "$ref"];

    private readonly JsonElement _root;

    public JsonSchemaSubset(JsonElement root) => _root = root;

    public static JsonSchemaSubset Load(string path) => new(JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone());

    /// <summary>Errors as "path: problem"; empty when the instance is valid.</summary>
    public IReadOnlyList<string> Validate(JsonElement instance)
    {
        var errors = new List<string>();
        Check(_root, instance, "$", errors);
        return errors;
    }

    public IReadOnlyList<string> Validate(string json) => Validate(JsonDocument.Parse(json).RootElement);

    private void Check(JsonElement schema, JsonElement value, string path, List<string> errors)
    {
        if (schema.ValueKind == JsonValueKind.True) return;
        if (schema.ValueKind == JsonValueKind.False) { errors.Add($"{path}: no value is allowed here"); return; }
        foreach (var keyword in schema.EnumerateObject())
            if (!Annotations.Contains(keyword.Name) && !Supported.Contains(keyword.Name))
                throw new NotSupportedException($"Schema keyword '{keyword.Name}' at {path} is outside the supported subset.");

        if (schema.TryGetProperty("$ref", out var reference)) Check(Resolve(reference.GetString()!), value, path, errors);
        if (schema.TryGetProperty("type", out var type))
        {
            var allowed = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToList() : [type.GetString()!];
            if (!allowed.Any(t => IsType(value, t))) { errors.Add($"{path}: expected {string.Join(" or ", allowed)}, got {value.ValueKind}"); return; }
        }
        if (schema.TryGetProperty("enum", out var options) && !options.EnumerateArray().Any(o => JsonElement.DeepEquals(o, value)))
            errors.Add($"{path}: {value.GetRawText()} is not one of {options.GetRawText()}");
        if (schema.TryGetProperty("const", out var constant) && !JsonElement.DeepEquals(constant, value))
            errors.Add($"{path}: {value.GetRawText()} is not {constant.GetRawText()}");
        if (value.ValueKind == JsonValueKind.String)
        {
            var s = value.GetString()!;
            if (schema.TryGetProperty("pattern", out var pattern) && !Regex.IsMatch(s, pattern.GetString()!))
                errors.Add($"{path}: \"{s}\" does not match {pattern.GetString()}");
            if (schema.TryGetProperty("minLength", out var minLength) && s.Length < minLength.GetInt32())
                errors.Add($"{path}: shorter than {minLength.GetInt32()}");
            if (schema.TryGetProperty("format", out var format))
            {
                if (format.GetString() != "date-time") throw new NotSupportedException($"format '{format.GetString()}' at {path} is outside the supported subset.");
                if (!IsRfc3339(s)) errors.Add($"{path}: \"{s}\" is not an RFC 3339 date-time");
            }
        }
        if (value.ValueKind == JsonValueKind.Number && schema.TryGetProperty("minimum", out var minimum) && value.GetDouble() < minimum.GetDouble())
            errors.Add($"{path}: {value.GetDouble()} is below {minimum.GetDouble()}");
        if (value.ValueKind == JsonValueKind.Object)
        {
            if (schema.TryGetProperty("required", out var required))
                foreach (var name in required.EnumerateArray().Select(n => n.GetString()!))
                    if (!value.TryGetProperty(name, out _)) errors.Add($"{path}: required member '{name}' is missing");
            schema.TryGetProperty("properties", out var properties);
            foreach (var member in value.EnumerateObject())
            {
                if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(member.Name, out var memberSchema))
                    Check(memberSchema, member.Value, $"{path}.{member.Name}", errors);
                else if (schema.TryGetProperty("additionalProperties", out var additional))
                    Check(additional, member.Value, $"{path}.{member.Name}", errors);
            }
        }
        if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
        {
            var i = 0;
            foreach (var item in value.EnumerateArray()) Check(items, item, $"{path}[{i++}]", errors);
        }
    }

    private JsonElement Resolve(string reference)
    {
        const string prefix = "#/$defs/";
        if (!reference.StartsWith(prefix, StringComparison.Ordinal)) throw new NotSupportedException($"$ref '{reference}' is outside the supported subset (#/$defs/NAME only).");
        return _root.GetProperty("$defs").TryGetProperty(reference[prefix.Length..], out var target)
            ? target : throw new InvalidOperationException($"$ref '{reference}' points at nothing.");
    }

    private static bool IsType(JsonElement v, string type) => type switch
    {
        "object" => v.ValueKind == JsonValueKind.Object,
        "array" => v.ValueKind == JsonValueKind.Array,
        "string" => v.ValueKind == JsonValueKind.String,
        "number" => v.ValueKind == JsonValueKind.Number,
        "integer" => v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) && d == decimal.Truncate(d),
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => v.ValueKind == JsonValueKind.Null,
        _ => throw new NotSupportedException($"type '{type}'"),
    };

    private static bool IsRfc3339(string s) =>
        Regex.IsMatch(s, @"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
        && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _);
}
