using System.Globalization;

namespace RestoreOps;

/// <summary>
/// Whole-number inputs taken as text, so a bad one is refused naming the input, the range and the default instead of
/// with a parser's generic complaint.
/// </summary>
/// <example><code>int width = InputCount.Parse("16", InputKey.WalParallelism, 8, 1, InputLimits.MaxWalParallelism, "WAL files");</code></example>
public static class InputCount
{
    /// <summary><paramref name="text"/> as a whole number from <paramref name="min"/> to <paramref name="max"/>; null gives <paramref name="defaultValue"/>.</summary>
    /// <param name="text">What the user wrote, or null when the input was not given.</param>
    /// <param name="input">The input it came from, named in the error.</param>
    /// <param name="defaultValue">The value when not given.</param>
    /// <param name="min">The smallest value accepted.</param>
    /// <param name="max">The largest value accepted.</param>
    /// <param name="unit">What is counted, for the error ("WAL files").</param>
    /// <exception cref="ConfigurationException">Not a whole number, or out of range.</exception>
    public static int Parse(string? text, InputKey input, int defaultValue, int min, int max, string unit)
    {
        if (text is null) return defaultValue;
        if (int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max) return n;
        var shown = text.Length <= 40 ? text : text[..40] + "…";
        throw new ConfigurationException($"{input.Ref()} '{shown}' is not a whole number of {unit} from {min} to {max}.",
            $"Pass {input.Ref()} with a number from {min} to {max} (default {defaultValue}).", parameter: input);
    }
}
