using System.Text.Json;
using System.Text.Json.Serialization;
using System.Xml;
using RestoreOps.Model;

namespace RestoreOps.Evidence;

/// <summary>Reads and writes drill records as JSON: camelCase, enums as names, instants in UTC, durations in seconds and ISO 8601.</summary>
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
        };
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        o.Converters.Add(new DurationConverter());
        o.Converters.Add(new UtcInstantConverter());
        return o;
    }

    /// <summary>The record as JSON text.</summary>
    public static string Serialize(DrillRecord record) => JsonSerializer.Serialize(record, Options);

    /// <summary>Writes <c>&lt;directory&gt;/&lt;drillId&gt;.json</c> and returns its path. Writes a temporary file first so a crash never leaves half a record.</summary>
    public static async Task<string> WriteAsync(DrillRecord record, string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, record.DrillId + ".json");
        var temp = path + ".tmp";
        await File.WriteAllTextAsync(temp, Serialize(record) + "\n", cancellationToken).ConfigureAwait(false);
        File.Move(temp, path, overwrite: true);
        return path;
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
