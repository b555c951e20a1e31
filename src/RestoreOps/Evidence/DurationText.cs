using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml;

namespace RestoreOps.Evidence;

/// <summary>Durations as people write them on a command line: <c>90s</c>, <c>30m</c>, <c>26h</c>, <c>7d</c>, <c>1d12h</c>, or ISO 8601 (<c>PT30M</c>, <c>P7D</c>).</summary>
/// <example><code>TimeSpan maxAge = DurationText.Parse("26h", "--max-backup-age");</code></example>
public static partial class DurationText
{
    [GeneratedRegex(@"^(?:(?<d>\d+(?:\.\d+)?)d)?(?:(?<h>\d+(?:\.\d+)?)h)?(?:(?<m>\d+(?:\.\d+)?)m)?(?:(?<s>\d+(?:\.\d+)?)s)?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Compact();

    /// <summary>Parses <paramref name="text"/>; <paramref name="optionName"/> names the input in the error.</summary>
    /// <param name="text">What the user wrote.</param>
    /// <param name="optionName">The option or parameter, named in the error.</param>
    /// <param name="maximum">The longest value accepted; default <see cref="InputLimits.MaxDuration"/> (ten years).</param>
    /// <exception cref="ConfigurationException">Not a duration, not positive, or longer than <paramref name="maximum"/>.</exception>
    public static TimeSpan Parse(string text, string optionName, TimeSpan? maximum = null)
    {
        var max = maximum ?? InputLimits.MaxDuration;
        var t = text.Trim();
        TimeSpan value;
        if (t.StartsWith('P') || t.StartsWith('p'))
        {
            try { value = XmlConvert.ToTimeSpan(t.ToUpperInvariant()); }
            catch (FormatException) { throw Invalid(text, optionName); }
            catch (OverflowException) { throw TooLong(text, optionName, max); }
        }
        else
        {
            var m = Compact().Match(t);
            if (t.Length == 0 || !m.Success) throw Invalid(text, optionName);
            double Part(string g) => m.Groups[g].Success ? double.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture) : 0;
            // Bounded as a double first: a part alone can overflow TimeSpan (99999999999999d). Then summed part by
            // part, which is exact (26h stays 1d2h, not a tick short of it).
            if (Part("d") + Part("h") / 24 + Part("m") / 1440 + Part("s") / 86400 > max.TotalDays) throw TooLong(text, optionName, max);
            value = TimeSpan.FromDays(Part("d")) + TimeSpan.FromHours(Part("h")) + TimeSpan.FromMinutes(Part("m")) + TimeSpan.FromSeconds(Part("s"));
        }
        if (value <= TimeSpan.Zero)
            throw new ConfigurationException($"{optionName} '{text}' is not a positive duration.", "Give a limit greater than zero, e.g. 30m or 26h.");
        if (value > max) throw TooLong(text, optionName, max);
        return value;
    }

    private static ConfigurationException TooLong(string text, string optionName, TimeSpan max) =>
        new($"{optionName} '{Shorten(text)}' is longer than the {Format(max)} this option allows.", $"Give a duration of at most {Format(max)}, e.g. 26h or 7d.");

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";

    /// <summary>A short human form: <c>2d3h</c>, <c>4h12m</c>, <c>7m30s</c>, <c>12.3s</c>.</summary>
    public static string Format(TimeSpan value)
    {
        var sign = value < TimeSpan.Zero ? "-" : "";
        var a = value.Duration();
        var body = a.TotalDays >= 1 ? $"{(int)a.TotalDays}d{a.Hours}h"
            : a.TotalHours >= 1 ? $"{(int)a.TotalHours}h{a.Minutes}m"
            : a.TotalMinutes >= 1 ? $"{(int)a.TotalMinutes}m{a.Seconds}s"
            : a.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "s";
        return sign + body;
    }

    private static ConfigurationException Invalid(string text, string optionName) =>
        new($"{optionName} '{Shorten(text)}' is not a duration.", "Write it as 90s, 30m, 26h, 7d, 1d12h, or ISO 8601 such as PT30M.");
}
