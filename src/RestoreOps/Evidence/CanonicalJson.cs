using System.Globalization;
using System.Text;
using System.Text.Json;

namespace RestoreOps.Evidence;

/// <summary>
/// The canonical form a record's digest and signature are computed over, defined so that anyone can recompute
/// it without RestoreOps (docs/evidence.md, "Canonical form"): UTF-8; no insignificant whitespace; object members
/// sorted by name in ordinal (UTF-16 code unit) order; numbers exactly as written in the document; strings with
/// only <c>"</c>, <c>\</c> and U+0000–U+001F escaped (<c>\b \t \n \f \r</c> short forms, others <c>\u00xx</c>);
/// the top-level <c>digest</c> and <c>signature</c> members left out.
/// </summary>
/// <example><code>byte[] bytes = CanonicalJson.FromDocument(File.ReadAllText("20261121-064850-a1b2c3.json"));</code></example>
public static class CanonicalJson
{
    /// <summary>Top-level members that carry the seal itself and so are not part of what it covers.</summary>
    public static readonly IReadOnlyList<string> ExcludedMembers = ["digest", "signature"];

    /// <summary>The canonical UTF-8 bytes of a JSON record document.</summary>
    /// <exception cref="JsonException">The text is not JSON, or an object repeats a member name.</exception>
    public static byte[] FromDocument(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new JsonException("A drill record is a JSON object; this document's root is " + doc.RootElement.ValueKind + ".");
        var sb = new StringBuilder(json.Length);
        Write(sb, doc.RootElement, topLevel: true);
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    private static void Write(StringBuilder sb, JsonElement e, bool topLevel)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var members = e.EnumerateObject()
                    .Where(p => !topLevel || !ExcludedMembers.Contains(p.Name))
                    .ToList();
                members.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
                for (var i = 1; i < members.Count; i++)
                    if (members[i].Name == members[i - 1].Name)
                        throw new JsonException($"The record repeats the member \"{members[i].Name}\"; a canonical form would be ambiguous.");
                sb.Append('{');
                for (var i = 0; i < members.Count; i++)
                {
                    if (i > 0) sb.Append(',');
                    WriteString(sb, members[i].Name);
                    sb.Append(':');
                    Write(sb, members[i].Value, topLevel: false);
                }
                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                var first = true;
                foreach (var item in e.EnumerateArray())
                {
                    if (!first) sb.Append(',');
                    first = false;
                    Write(sb, item, topLevel: false);
                }
                sb.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(sb, e.GetString()!);
                break;
            case JsonValueKind.Number:
                sb.Append(e.GetRawText());
                break;
            case JsonValueKind.True: sb.Append("true"); break;
            case JsonValueKind.False: sb.Append("false"); break;
            default: sb.Append("null"); break;
        }
    }

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\t': sb.Append("\\t"); break;
                case '\n': sb.Append("\\n"); break;
                case '\f': sb.Append("\\f"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
