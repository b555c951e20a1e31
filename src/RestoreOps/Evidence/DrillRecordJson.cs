using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Xml;
using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>
/// Reads and writes drill records as JSON: camelCase, enums as names, instants in UTC, durations in seconds and
/// ISO 8601. Every string value passes through <see cref="Redactor"/> on the way out, so no caller can write a secret.
/// The shape is documented in docs/schemas/drill-record.schema.json.
/// </summary>
/// <example><code>var path = await DrillRecordJson.WriteAsync(record, "evidence", ct); var back = DrillRecordJson.Deserialize(File.ReadAllText(path));</code></example>
public static class DrillRecordJson
{
    /// <summary>The serializer settings every writer and reader uses.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var o = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            WriteIndented = true,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            // Phases, Checks, Cleanup and Objectives are get-only collections on the model: read them by filling in.
            PreferredObjectCreationHandling = JsonObjectCreationHandling.Populate,
        };
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        o.Converters.Add(new DurationConverter());
        o.Converters.Add(new UtcInstantConverter());
        return o;
    }

    /// <summary>The record as indented JSON text, secrets redacted. Digest and signature are written as they are on the record.</summary>
    public static string Serialize(DrillRecord record) => ToRedactedNode(record).ToJsonString(Options);

    /// <summary>Reads a record written by <see cref="Serialize"/> (any schema version this build knows).</summary>
    /// <exception cref="JsonException">The text is not a drill record; the message names the offending path.</exception>
    public static DrillRecord Deserialize(string json) =>
        JsonSerializer.Deserialize<DrillRecord>(json, Options) ?? throw new JsonException("The document is JSON null, not a drill record.");

    /// <summary>A deep copy of the record with every string redacted: what the non-JSON writers render from.</summary>
    public static DrillRecord RedactedCopy(DrillRecord record) => Deserialize(Serialize(record));

    /// <summary>
    /// Seals the record with a digest (see <see cref="RecordSeal"/>), writes <c>&lt;directory&gt;/&lt;drillId&gt;.json</c> and returns its path. Writes a temporary file first so a crash never leaves half a record.
    /// An existing record is never replaced.
    /// </summary>
    /// <exception cref="ConfigurationException">The drill id is not a safe file name, or a record with this drill id is already there.</exception>
    public static async Task<string> WriteAsync(DrillRecord record, string directory, CancellationToken cancellationToken) =>
        await WriteAsync(record, directory, signingKey: null, cancellationToken).ConfigureAwait(false);

    /// <summary>As <see cref="WriteAsync(DrillRecord, string, CancellationToken)"/>, and signs the record when <paramref name="signingKey"/> is given.</summary>
    /// <exception cref="ConfigurationException">The drill id is not a safe file name, or a record with this drill id is already there.</exception>
    public static async Task<string> WriteAsync(DrillRecord record, string directory, byte[]? signingKey, CancellationToken cancellationToken)
    {
        var path = RecordPath(directory, record.DrillId);
        EnsureNew(path, record.DrillId);
        RecordSeal.Seal(record, signingKey);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // A name of its own: two writers of one id must not share (and truncate) one temporary file.
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllTextAsync(temp, Serialize(record) + "\n", cancellationToken).ConfigureAwait(false);
        try
        {
            // Without overwrite the move is a link(2): it fails if the name exists, even if the record appeared after EnsureNew.
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temp);
            EnsureNew(path, record.DrillId);
            throw;
        }
        return path;
    }

    /// <summary>Where the record of <paramref name="drillId"/> lives in <paramref name="directory"/> (an absolute path).</summary>
    /// <exception cref="ConfigurationException">The drill id is not a safe file name (see <see cref="DrillIds"/>).</exception>
    public static string RecordPath(string directory, string drillId)
    {
        ArgumentNullException.ThrowIfNull(drillId);
        DrillIds.Validate(drillId);
        return Path.Combine(Path.GetFullPath(directory), drillId + ".json");
    }

    /// <summary>Refuses a record path that exists: evidence is never overwritten.</summary>
    internal static void EnsureNew(string path, string drillId)
    {
        if (File.Exists(path))
            throw new ConfigurationException(
                $"The evidence record {path} already exists: drill id '{drillId}' was used before, and evidence is never overwritten.",
                "Run the drill with a new drill id (or none, to get a generated one); move the old record away only if it is really not needed.");
    }

    private static JsonNode ToRedactedNode(DrillRecord record)
    {
        var node = JsonSerializer.SerializeToNode(record, Options)!;
        RedactStrings(node);
        return node;
    }

    private static void RedactStrings(JsonNode node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, child) in o.ToList())
                {
                    if (child is null) continue;
                    if (child is JsonValue v && v.TryGetValue<string>(out var text))
                    {
                        var redacted = Redactor.Redact(text);
                        if (!ReferenceEquals(redacted, text) && redacted != text) o[name] = redacted;
                    }
                    else RedactStrings(child);
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    if (a[i] is JsonValue v && v.TryGetValue<string>(out var text))
                    {
                        var redacted = Redactor.Redact(text);
                        if (redacted != text) a[i] = redacted;
                    }
                    else if (a[i] is { } child) RedactStrings(child);
                }
                break;
        }
    }

    /// <summary>Durations as <c>{"seconds": 12.345, "iso8601": "PT12.345S"}</c>: a number to compute with, a standard text to read.</summary>
    private sealed class DurationConverter : JsonConverter<TimeSpan>
    {
        public override TimeSpan Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType == JsonTokenType.Number) return TimeSpan.FromSeconds(reader.GetDouble());
            using var doc = JsonDocument.ParseValue(ref reader);
            return TimeSpan.FromSeconds(doc.RootElement.GetProperty("seconds").GetDouble());
        }

        public override void Write(Utf8JsonWriter writer, TimeSpan value, JsonSerializerOptions options)
        {
            writer.WriteStartObject();
            writer.WriteNumber("seconds", Math.Round(value.TotalSeconds, 3));
            writer.WriteString("iso8601", XmlConvert.ToString(TimeSpan.FromMilliseconds(Math.Round(value.TotalMilliseconds))));
            writer.WriteEndObject();
        }
    }

    private sealed class UtcInstantConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetDateTimeOffset().ToUniversalTime();

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture));
    }
}
