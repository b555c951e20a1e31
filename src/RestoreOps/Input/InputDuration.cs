using System.Globalization;
using System.Text.RegularExpressions;
using System.Xml;

namespace RestoreOps;

/// <summary>
/// The one duration grammar of every front end and file: <c>90s</c>, <c>30m</c>, <c>26h</c>, <c>7d</c>, <c>500ms</c>,
/// parts combined largest first (<c>1h30m</c>, <c>1d12h</c>, <c>2m30s</c>; decimals such as <c>1.5h</c> too), or ISO 8601
/// (<c>PT30M</c>, <c>P7D</c>). Where an input took plain numbers before (the CLI's <c>--timeout</c>, check files), a plain
/// number is seconds.
/// </summary>
/// <example><code>TimeSpan maxAge = InputDuration.Parse("26h", InputKey.MaxBackupAge);</code></example>
public static partial class InputDuration
{
    /// <summary>What the error's fix shows as the accepted forms.</summary>
    public const string Forms = "90s, 30m, 1h30m, 26h, 7d, 500ms, or ISO 8601 such as PT30M";

    private const string Number = @"\d+(?:\.\d+)?";

    // Units in descending order, each at most once; 'm' is minutes and never the start of 'ms'.
    [GeneratedRegex($@"^(?:(?<d>{Number})\s*d\s*)?(?:(?<h>{Number})\s*h\s*)?(?:(?<m>{Number})\s*m(?!s)\s*)?(?:(?<s>{Number})\s*s\s*)?(?:(?<ms>{Number})\s*ms)?$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Compact();

    [GeneratedRegex($@"^{Number}$", RegexOptions.CultureInvariant)]
    private static partial Regex PlainNumber();

    /// <summary>Parses a duration the user gave as <paramref name="input"/>; errors refer to it by key, so each front end names it in its spelling.</summary>
    /// <param name="text">What the user wrote.</param>
    /// <param name="input">The input it came from.</param>
    /// <param name="maximum">The longest value accepted; default <see cref="InputLimits.MaxDuration"/> (ten years).</param>
    /// <param name="numberIsSeconds">Accept a plain number as seconds (for inputs that always did).</param>
    /// <exception cref="ConfigurationException">Not a duration, not positive, or longer than <paramref name="maximum"/>.</exception>
    public static TimeSpan Parse(string text, InputKey input, TimeSpan? maximum = null, bool numberIsSeconds = false) =>
        Parse(text, input.Ref(), maximum, numberIsSeconds, input);

    /// <summary>Parses a duration named in errors by <paramref name="inputName"/> (a check-file key, a file and line).</summary>
    /// <param name="text">What the user wrote.</param>
    /// <param name="inputName">How the error names the input.</param>
    /// <param name="maximum">The longest value accepted; default <see cref="InputLimits.MaxDuration"/> (ten years).</param>
    /// <param name="numberIsSeconds">Accept a plain number as seconds.</param>
    /// <exception cref="ConfigurationException">Not a duration, not positive, or longer than <paramref name="maximum"/>.</exception>
    public static TimeSpan Parse(string text, string inputName, TimeSpan? maximum = null, bool numberIsSeconds = false) =>
        Parse(text, inputName, maximum, numberIsSeconds, null);

    /// <summary>True when <paramref name="text"/> is a positive duration within <paramref name="maximum"/>.</summary>
    public static bool TryParse(string? text, out TimeSpan value, TimeSpan? maximum = null, bool numberIsSeconds = false)
    {
        value = default;
        if (text is null) return false;
        try
        {
            value = Parse(text, "duration", maximum, numberIsSeconds, null);
            return true;
        }
        catch (ConfigurationException)
        {
            return false;
        }
    }

    private static TimeSpan Parse(string text, string name, TimeSpan? maximum, bool numberIsSeconds, InputKey? key)
    {
        ArgumentNullException.ThrowIfNull(text);
        var max = maximum ?? InputLimits.MaxDuration;
        var t = text.Trim();
        TimeSpan value;
        if (t.StartsWith('P') || t.StartsWith('p'))
        {
            try { value = XmlConvert.ToTimeSpan(t.ToUpperInvariant()); }
            catch (FormatException) { throw Invalid(text, name, numberIsSeconds, key); }
            catch (OverflowException) { throw TooLong(text, name, max, key); }
        }
        else if (numberIsSeconds && PlainNumber().IsMatch(t))
        {
            if (!double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) || seconds > max.TotalSeconds) throw TooLong(text, name, max, key);
            value = TimeSpan.FromSeconds(seconds);
        }
        else
        {
            var m = Compact().Match(t);
            // Every part needs its unit: a bare "30" could mean seconds or minutes, which differ 60-fold.
            if (t.Length == 0 || !m.Success) throw Invalid(text, name, numberIsSeconds, key);
            double Part(string g) => m.Groups[g].Success ? double.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture) : 0;
            // Bounded as a double first: a part alone can overflow TimeSpan (99999999999999d). Then summed part by
            // part, which is exact (26h stays 1d2h, not a tick short of it).
            if (Part("d") + Part("h") / 24 + Part("m") / 1440 + Part("s") / 86400 + Part("ms") / 86_400_000 > max.TotalDays) throw TooLong(text, name, max, key);
            value = TimeSpan.FromDays(Part("d")) + TimeSpan.FromHours(Part("h")) + TimeSpan.FromMinutes(Part("m")) + TimeSpan.FromSeconds(Part("s"))
                + TimeSpan.FromMilliseconds(Part("ms"));
        }
        if (value <= TimeSpan.Zero)
            throw new ConfigurationException($"{name} '{Shorten(text)}' is not a positive duration.", "Give a duration greater than zero, e.g. 30m or 26h.", parameter: key);
        if (value > max) throw TooLong(text, name, max, key);
        return value;
    }

    /// <summary>A short human form: <c>2d3h</c>, <c>4h12m</c>, <c>7m30s</c>, <c>12.3s</c>; parses back with <see cref="Parse(string, string, TimeSpan?, bool)"/>.</summary>
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

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";

    private static ConfigurationException TooLong(string text, string name, TimeSpan max, InputKey? key) =>
        new($"{name} '{Shorten(text)}' is longer than the {Format(max)} it allows.", $"Give a duration of at most {Format(max)}, e.g. 30m, 26h or 7d.", parameter: key);

    private static ConfigurationException Invalid(string text, string name, bool numberIsSeconds, InputKey? key) =>
        new($"{name} '{Shorten(text)}' is not a duration.",
            $"Write it as {Forms}{(numberIsSeconds ? ", or a number of seconds" : "")}.", parameter: key);
}
