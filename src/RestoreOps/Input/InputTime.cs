using System.Globalization;

namespace RestoreOps;

/// <summary>
/// A point in time as users type it: ISO 8601 (<c>2026-11-21T14:46:30Z</c>; no offset means UTC), or a duration meaning
/// that long ago (<c>2h</c>, <c>90m</c>, <c>PT30M</c>), which is how an incident is described at 3 a.m.
/// </summary>
/// <example><code>var from = InputTime.Parse("2h", InputKey.From, DateTimeOffset.UtcNow);</code></example>
public static class InputTime
{
    /// <summary>Parses <paramref name="text"/>; a duration counts back from <paramref name="now"/>.</summary>
    /// <exception cref="ConfigurationException">Neither a time nor a duration; the message names <paramref name="input"/>.</exception>
    public static DateTimeOffset Parse(string text, InputKey input, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)) return t;
        if (InputDuration.TryParse(text, out var ago)) return now - ago;
        var shown = text.Length <= 40 ? text : text[..40] + "…";
        throw new ConfigurationException($"{input.Ref()} '{shown}' is neither a time nor a duration.",
            $"Write a time as ISO 8601 (2026-11-21T14:46:30Z; no offset means UTC) or how long ago (2h, 90m).", parameter: input);
    }
}
